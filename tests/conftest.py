"""Fixtures shared by the whole suite.

MySQL/MariaDB tests use the server named by SHARDCRON_TEST_MYSQL_URL, PostgreSQL tests the one
named by SHARDCRON_TEST_POSTGRES_URL (each a URL whose database part is a name prefix; each test
gets its own fresh database, dropped afterwards). Without the variable they skip, unless
CI=true, where a missing or unreachable server fails them.

PostgreSQL databases are created from template0 with the WAL_LOG strategy (no checkpoint) and
dropped WITH (FORCE): about 0.06 s and 0.09 s per test on the CI machine.
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.core.clock import FakeClock
from tests.support.alarm_receivers import SmtpReceiver, WebhookReceiver

MYSQL_ENV = "SHARDCRON_TEST_MYSQL_URL"
POSTGRES_ENV = "SHARDCRON_TEST_POSTGRES_URL"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _base_url(variable: str, server: str) -> sa.engine.URL:
    raw = os.environ.get(variable)
    if not raw:
        message = f"{variable} is not set: {server} tests need a server"
        if IN_CI:
            pytest.fail(message + " (CI=true: database tests must not skip)")
        pytest.skip(message)
    return sa.engine.make_url(raw)


def _mysql_base_url() -> sa.engine.URL:
    return _base_url(MYSQL_ENV, "MySQL/MariaDB")


def _server_url(base: sa.engine.URL) -> sa.engine.URL:
    return base.set(database="", query={"charset": "utf8mb4"})


@pytest.fixture
def mysql_url() -> Iterator[str]:
    """A fresh, empty MySQL/MariaDB database for this test; dropped afterwards."""
    base = _mysql_base_url()
    name = f"{base.database or 'shardcron_test'}_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(_server_url(base), isolation_level="AUTOCOMMIT")
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    except sa.exc.OperationalError as exc:
        server.dispose()
        pytest.fail(f"MySQL/MariaDB at {base.render_as_string(hide_password=True)} is unreachable: {exc.orig}")
    try:
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        server.dispose()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for this test (postgresql+psycopg://); dropped afterwards,
    along with any connection a test left open."""
    base = _base_url(POSTGRES_ENV, "PostgreSQL")
    name = f"{base.database or 'shardcron_test'}_{uuid.uuid4().hex[:10]}"
    server = sa.create_engine(base.set(drivername="postgresql+psycopg", database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.pool.NullPool)
    try:
        with server.connect() as conn:
            conn.exec_driver_sql(f'CREATE DATABASE "{name}" TEMPLATE template0 ENCODING \'UTF8\' STRATEGY WAL_LOG')
    except sa.exc.OperationalError as exc:
        server.dispose()
        pytest.fail(f"PostgreSQL at {base.render_as_string(hide_password=True)} is unreachable: {exc.orig}")
    try:
        yield base.set(drivername="postgresql+psycopg", database=name).render_as_string(hide_password=False)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        server.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'admin.db'}"


#: The servers a database test runs on besides SQLite, with their marks.
SERVER_PARAMS = [pytest.param("mysql", marks=pytest.mark.mysql), pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=["sqlite", *SERVER_PARAMS])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database URL: once on SQLite, once on MySQL/MariaDB, once on PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture(params=SERVER_PARAMS)
def server_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database on a server that several processes share: MySQL/MariaDB, PostgreSQL."""
    return request.getfixturevalue(f"{request.param}_url")


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def smtp() -> Iterator[SmtpReceiver]:
    """A real SMTP receiver on a free local port (alarm e-mails)."""
    server = SmtpReceiver().start()
    yield server
    server.stop()


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    """A real HTTP receiver of webhook alarms on a free local port."""
    receiver = WebhookReceiver().start()
    yield receiver
    receiver.stop()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen]]:
    """Processes a test starts; any still running at its end is killed."""
    started: list[subprocess.Popen] = []
    yield started
    for proc in started:
        if proc.poll() is None:
            proc.kill()
            proc.wait(30)
