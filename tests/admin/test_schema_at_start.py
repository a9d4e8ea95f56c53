"""What the admin processes do at start with a schema that is not this code's: on MySQL and
PostgreSQL they refuse in one line naming the command to run; the embedded SQLite file is upgraded in place."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.schema_versions.status import head_revision
from tests.support.cli import assert_one_line_error, read_line, run_cli, start_cli
from tests.support.released import RELEASES, assert_rows_kept, released_database

RELEASE = RELEASES[0]


def _set_revision(url: str, revision: str) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE {ADMIN_SCHEMA.version_table} SET version_num = '{revision}'")
    engine.dispose()


@pytest.mark.parametrize("command", [["scheduler"], ["admin", "--no-scheduler"]])
def test_server_nodes_refuse_an_older_or_newer_schema(server_url: str, tmp_path: Path, command: list[str]) -> None:
    released_database(server_url, RELEASE, "admin", {})
    older = run_cli(*command, "--database-url", server_url, home=tmp_path, timeout=60)
    assert_one_line_error(older, "the schema of shardcron 0.1.0", "run `shardcron db upgrade`")
    assert run_cli("db", "upgrade", "--url", server_url, home=tmp_path).returncode == 0
    _set_revision(server_url, "9999")
    newer = run_cli(*command, "--database-url", server_url, home=tmp_path, timeout=60)
    assert_one_line_error(newer, "revision 9999, newer than this shardcron", "run the shardcron version that upgraded it")


def test_the_wsgi_app_refuses_an_older_server_schema(server_url: str, tmp_path: Path) -> None:
    released_database(server_url, RELEASE, "admin", {})
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env.update(SHARDCRON_DATABASE_URL=server_url, SHARDCRON_INSTANCE_DIR=str(tmp_path / "instance"))
    out = subprocess.run([sys.executable, "-c", "import shardcron.admin.wsgi"], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode != 0
    assert "the schema of shardcron 0.1.0 (before versioned upgrades)" in out.stderr and "run `shardcron db upgrade`" in out.stderr


def test_the_embedded_sqlite_file_is_upgraded_in_place_at_start(sqlite_url: str, tmp_path: Path) -> None:
    released_database(sqlite_url, RELEASE, "admin", RELEASE.admin_rows)
    proc = start_cli("scheduler", "--database-url", sqlite_url, home=tmp_path)
    try:
        logged = read_line(proc, 60, stderr=True)  # logged before the scheduler starts (it runs on until told)
        started = read_line(proc, 60)
    finally:
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    assert f"upgraded the admin database {sqlite_url} from the schema of shardcron 0.1.0 to revision {head_revision(ADMIN_SCHEMA)}" in logged, (logged, err)
    assert started.startswith("shardcron scheduler "), (started, err)
    assert "Traceback" not in err
    # (the scheduler ran meanwhile: it may have swept dead executors and moved missed fires on)
    assert_rows_kept(sqlite_url, {table: RELEASE.admin_rows[table] for table in ("sc_executor_group", "sc_user", "sc_user_group")})


def test_the_embedded_sqlite_file_is_never_downgraded(sqlite_url: str, tmp_path: Path) -> None:
    assert run_cli("db", "init", "--url", sqlite_url, home=tmp_path).returncode == 0
    _set_revision(sqlite_url, "9999")
    assert_one_line_error(run_cli("scheduler", "--database-url", sqlite_url, home=tmp_path, timeout=60), "revision 9999, newer than this shardcron")
    assert_one_line_error(run_cli("admin", "--database-url", sqlite_url, home=tmp_path, timeout=60), "revision 9999, newer than this shardcron")
