"""Fixtures shared by the whole suite.

MySQL/MariaDB tests use the server named by SHARDCRON_TEST_MYSQL_URL (a URL whose database part
is a name prefix; each test gets its own fresh database, dropped afterwards). Without that
variable they skip, unless CI=true, where a missing or unreachable server fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.executor.clock import FakeClock

MYSQL_ENV = "SHARDCRON_TEST_MYSQL_URL"
IN_CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _mysql_base_url() -> sa.engine.URL:
    raw = os.environ.get(MYSQL_ENV)
    if not raw:
        message = f"{MYSQL_ENV} is not set: MySQL/MariaDB tests need a server"
        if IN_CI:
            pytest.fail(message + " (CI=true: database tests must not skip)")
        pytest.skip(message)
    return sa.engine.make_url(raw)


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
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'admin.db'}"


@pytest.fixture(params=["sqlite", pytest.param("mysql", marks=pytest.mark.mysql)])
def db_url(request: pytest.FixtureRequest) -> str:
    """A fresh, empty database URL: once on SQLite, once on MySQL/MariaDB."""
    if request.param == "sqlite":
        return request.getfixturevalue("sqlite_url")
    return request.getfixturevalue("mysql_url")


@pytest.fixture
def fake_clock() -> FakeClock:
    return FakeClock()
