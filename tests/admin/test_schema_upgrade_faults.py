"""Upgrades that go wrong or run twice at once: a revision failing half-way (rolled back on
SQLite, resumable on MySQL), two real processes upgrading together, a held lock."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.db import DatabaseError
from shardcron.admin.models import Base
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.schema_versions.named_lock import advisory_key, lock_name
from shardcron.core.schema_versions.status import SchemaState, head_revision
from shardcron.core.schema_versions.upgrade import upgrade_schema
from shardcron.core.sqlengine import create_db_engine
from tests.support.cli import assert_one_line_error, read_line, run_cli, start_cli
from tests.support.released import RELEASES, assert_rows_kept, released_database, table_names
from tests.support.schema_copies import failing_revision, schema_copy
from tests.support.schema_snapshot import snapshot

RELEASE = RELEASES[0]
CREATED = f"created {len(Base.metadata.tables)} tables"


def _columns(url: str, table: str) -> set[str]:
    engine = sa.create_engine(url)
    try:
        return {c["name"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _snapshot(url: str) -> dict:
    engine = sa.create_engine(url)
    try:
        return snapshot(engine, list(ADMIN_SCHEMA.baseline_tables))
    finally:
        engine.dispose()


def test_a_revision_failing_half_way_leaves_sqlite_as_it_was_and_mysql_resumable(db_url: str, tmp_path: Path) -> None:
    marker = tmp_path / "fail-now"
    marker.touch()
    head = head_revision(ADMIN_SCHEMA)
    failing = f"{int(head) + 1:04d}"
    schema = schema_copy(ADMIN_SCHEMA, tmp_path / "schema", revisions={f"{failing}_fails.py": failing_revision(failing, head, marker)})
    released_database(db_url, RELEASE, "admin", RELEASE.admin_rows)
    before = _snapshot(db_url)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        with pytest.raises(DatabaseError) as failed:
            upgrade_schema(schema, engine)
        line = str(failed.value)
        assert "\n" not in line and f"revision {failing} failed (RuntimeError: the disk is full)" in line
        if engine.dialect.name in ("sqlite", "postgresql"):  # transactional DDL
            assert line.endswith("the upgrade was rolled back, nothing changed")
            assert _snapshot(db_url) == before and ADMIN_SCHEMA.version_table not in table_names(db_url)
        else:
            assert re.search(rf"revisions? (\d{{4}}, )*{head} (is|are) applied; fix the cause and run `shardcron db upgrade` again to resume$", line), line
            assert "owner" in _columns(db_url, "sc_job") and "sc_node_lease" not in table_names(db_url)  # DDL committed as it ran
        marker.unlink()  # the cause is fixed: the same upgrade runs again and completes
        result = upgrade_schema(schema, engine)
    finally:
        engine.dispose()
    assert result.after.state is SchemaState.CURRENT and result.after.revision == failing
    assert "owner" in _columns(db_url, "sc_job") and "sc_node_lease" in table_names(db_url)
    assert_rows_kept(db_url, RELEASE.admin_rows)


def test_two_processes_initialising_at_once_create_the_schema_once(db_url: str, tmp_path: Path) -> None:
    processes = [start_cli("db", "init", "--url", db_url, home=tmp_path) for _ in range(2)]
    outputs = [proc.communicate(timeout=120) for proc in processes]
    assert [proc.returncode for proc in processes] == [0, 0], outputs
    said = sorted("created" if CREATED in out else "current" if "up to date; nothing changed" in out else out for out, _ in outputs)
    assert said == ["created", "current"]
    engine = sa.create_engine(db_url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql(f"SELECT version_num FROM {ADMIN_SCHEMA.version_table}").scalars().all() == [head_revision(ADMIN_SCHEMA)]
    engine.dispose()


@pytest.mark.mysql
def test_an_upgrade_waits_for_another_nodes_lock_or_gives_up_in_one_line(mysql_url: str, tmp_path: Path) -> None:
    released_database(mysql_url, RELEASE, "admin", RELEASE.admin_rows)
    name = lock_name(sa.engine.make_url(mysql_url).database or "", ADMIN_SCHEMA.version_table)
    engine = sa.create_engine(mysql_url)
    holder = engine.connect()  # another node, upgrading
    try:
        assert holder.exec_driver_sql("SELECT GET_LOCK(%s, 0)", (name,)).scalar() == 1
        refused = run_cli("db", "upgrade", "--url", mysql_url, "--lock-timeout", "1", home=tmp_path)
        assert_one_line_error(refused, f"another upgrade has held lock '{name}' for 1 s", "run `shardcron db upgrade` again")
        assert ADMIN_SCHEMA.version_table not in table_names(mysql_url)

        waiting = start_cli("db", "upgrade", "--url", mysql_url, home=tmp_path)
        assert "another upgrade of the admin database" in read_line(waiting, 60) and waiting.poll() is None
        assert ADMIN_SCHEMA.version_table not in table_names(mysql_url)  # nothing done while waiting
        holder.exec_driver_sql("SELECT RELEASE_LOCK(%s)", (name,))
        out, err = waiting.communicate(timeout=120)
    finally:
        holder.close()
        engine.dispose()
    assert waiting.returncode == 0, err
    assert "from the schema of shardcron 0.1.0 to revision" in out
    assert_rows_kept(mysql_url, RELEASE.admin_rows)


@pytest.mark.mysql
def test_a_killed_upgrader_releases_its_lock(mysql_url: str, tmp_path: Path) -> None:
    """The lock lives in the upgrader's session: kill -9 drops the connection and the lock with it."""
    name = lock_name(sa.engine.make_url(mysql_url).database or "", ADMIN_SCHEMA.version_table)
    hold = (
        "import sys, sqlalchemy as sa; c = sa.create_engine(sys.argv[1]).connect();"
        "print(c.exec_driver_sql('SELECT GET_LOCK(%s, 0)', (sys.argv[2],)).scalar(), flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, mysql_url, name], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(holder, 60).strip() == "1"
        holder.kill()
        holder.wait(timeout=30)
        result = run_cli("db", "upgrade", "--url", mysql_url, "--lock-timeout", "30", home=tmp_path)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert result.returncode == 0, result.stderr
    assert CREATED in result.stdout


@pytest.mark.postgres
def test_on_postgresql_an_upgrade_waits_for_the_advisory_lock_or_gives_up_in_one_line(postgres_url: str, tmp_path: Path) -> None:
    released_database(postgres_url, RELEASE, "admin", RELEASE.admin_rows)
    name = lock_name(sa.engine.make_url(postgres_url).database or "", ADMIN_SCHEMA.version_table)
    engine = sa.create_engine(postgres_url)
    holder = engine.connect()  # another node, in the middle of its upgrade transaction
    try:
        assert holder.exec_driver_sql("SELECT pg_try_advisory_xact_lock(%s)", (advisory_key(name),)).scalar() is True
        refused = run_cli("db", "upgrade", "--url", postgres_url, "--lock-timeout", "1", home=tmp_path)
        assert_one_line_error(refused, f"another upgrade has held lock '{name}' for 1 s", "run `shardcron db upgrade` again")
        assert ADMIN_SCHEMA.version_table not in table_names(postgres_url)

        waiting = start_cli("db", "upgrade", "--url", postgres_url, home=tmp_path)
        assert "another upgrade of the admin database" in read_line(waiting, 60) and waiting.poll() is None
        assert ADMIN_SCHEMA.version_table not in table_names(postgres_url)  # nothing done while waiting
        holder.rollback()  # the other node's transaction ends: its lock goes with it
        out, err = waiting.communicate(timeout=120)
    finally:
        holder.close()
        engine.dispose()
    assert waiting.returncode == 0, err
    assert "from the schema of shardcron 0.1.0 to revision" in out
    assert_rows_kept(postgres_url, RELEASE.admin_rows)


@pytest.mark.postgres
def test_on_postgresql_a_killed_upgrader_releases_its_lock(postgres_url: str, tmp_path: Path) -> None:
    """The lock lives in the upgrader's transaction: kill -9 ends the session and the lock with it."""
    key = advisory_key(lock_name(sa.engine.make_url(postgres_url).database or "", ADMIN_SCHEMA.version_table))
    hold = (
        "import sys, sqlalchemy as sa; c = sa.create_engine(sys.argv[1]).connect();"
        "print(c.exec_driver_sql('SELECT pg_try_advisory_xact_lock(%s)', (int(sys.argv[2]),)).scalar(), flush=True); sys.stdin.read()"
    )
    holder = subprocess.Popen([sys.executable, "-c", hold, postgres_url, str(key)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert read_line(holder, 60).strip() == "True"
        holder.kill()
        holder.wait(timeout=30)
        result = run_cli("db", "upgrade", "--url", postgres_url, "--lock-timeout", "30", home=tmp_path)
    finally:
        if holder.poll() is None:
            holder.kill()
    assert result.returncode == 0, result.stderr
    assert CREATED in result.stdout
