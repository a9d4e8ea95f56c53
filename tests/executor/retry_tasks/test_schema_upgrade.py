"""Upgrading the retry-task table from each release, with its rows, in an application's database
that has migrations of its own; and the `shardcron tasks upgrade|current|history` commands."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.core.clock import FakeClock
from shardcron.executor.retry_tasks import RetryTasks, TaskStatus
from shardcron.executor.retry_tasks.maintenance import RedriveScope
from shardcron.executor.retry_tasks.schema import RETRY_TASK_SCHEMA, TABLE_NAME
from shardcron.core.schema_versions.status import SchemaState, head_revision
from tests.support.cli import assert_one_line_error, run_cli
from tests.support.released import RELEASES, Release, assert_rows_kept, released_database
from tests.support.released import rows_0_1_0 as facts

HEAD = head_revision(RETRY_TASK_SCHEMA)
VERSIONS = RETRY_TASK_SCHEMA.version_table


def _application_migrations(url: str) -> None:
    """The application's own table and its own Alembic version table, which we must not touch."""
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE orders (id INTEGER PRIMARY KEY, total INTEGER NOT NULL)")
        conn.exec_driver_sql("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)")
        conn.exec_driver_sql("INSERT INTO alembic_version (version_num) VALUES ('app_rev_7')")
    engine.dispose()


def _application_tables_untouched(url: str) -> None:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalars().all() == ["app_rev_7"]
        assert {c["name"] for c in sa.inspect(conn).get_columns("orders")} == {"id", "total"}
        assert conn.exec_driver_sql(f"SELECT version_num FROM {VERSIONS}").scalars().all() == [HEAD]
    engine.dispose()


@pytest.mark.parametrize("release", RELEASES, ids=str)
def test_upgrade_from_a_release_keeps_every_task_and_the_drainer_works_on_them(db_url: str, release: Release) -> None:
    _application_migrations(db_url)
    released_database(db_url, release, "retry_task", release.retry_task_rows)
    tasks = RetryTasks(db_url, clock=FakeClock(facts.T), owner="upgraded-drainer")
    try:
        assert tasks.db.schema_status().state is SchemaState.UNVERSIONED
        assert tasks.create_table() is False  # the table was there: recorded, not re-created
        assert tasks.db.schema_status().is_current
        assert_rows_kept(db_url, release.retry_task_rows)

        sent, stage_runs = [], []

        @tasks.handler("SEND_SMS")
        def send_sms(task):
            sent.append(task.request_no)
            return "sent"

        @tasks.handler("SYNC_ORDER")
        def sync_order(task):
            return task.stage(facts.SYNC_ORDER_STAGE_DONE[0], lambda: stage_runs.append(1) or {"rows": -1})

        report = tasks.drain()
        assert (report.claimed, report.succeeded) == (len(facts.DUE_TASKS), len(facts.DUE_TASKS))
        assert sent == ["req-1"] and stage_runs == []  # the stage finished under the release is not run again
        assert tasks.get(*facts.DUE_TASKS[1]).result == facts.SYNC_ORDER_STAGE_DONE[1]
        again = tasks.enqueue(*facts.FINISHED_TASK, {"phone": "x"})
        assert again.created is False and again.status == TaskStatus.SUCCEEDED  # (task_code, request_no) still unique
        assert tasks.redrive(RedriveScope("request_no", facts.DEAD_TASK[1])) == 1
        fresh = tasks.enqueue("SEND_SMS", "after-upgrade", {"phone": "y"})
        assert fresh.created and fresh.id > len(release.retry_task_rows["shardcron_retry_task"])
    finally:
        tasks.close()
    _application_tables_untouched(db_url)


def test_an_applications_own_sqlite_engine_gets_the_table_at_head(tmp_path: Path) -> None:
    """Given the application's engine (no shardcron connection set-up), the upgrade still runs in
    one transaction, on an engine of its own over the same file."""
    app_engine = sa.create_engine(f"sqlite:///{tmp_path / 'app.db'}")
    tasks = RetryTasks(app_engine)
    try:
        assert tasks.create_table() is True
        assert tasks.db.schema_status().is_current
    finally:
        tasks.close()
        app_engine.dispose()


def test_commands_on_a_table_of_a_release(db_url: str, tmp_path: Path) -> None:
    released_database(db_url, RELEASES[0], "retry_task", RELEASES[0].retry_task_rows)
    current = run_cli("tasks", "current", "--url", db_url, home=tmp_path)
    assert current.returncode == 0 and "the schema of shardcron 0.1.0" in current.stdout and "shardcron tasks upgrade --url ..." in current.stdout
    assert_one_line_error(run_cli("tasks", "stats", "--url", db_url, home=tmp_path), "shardcron 0.1.0", "run `shardcron tasks upgrade --url ...`")

    printed = run_cli("tasks", "upgrade", "--sql", "--url", db_url, home=tmp_path)
    assert printed.returncode == 0 and f"CREATE TABLE {VERSIONS}" in printed.stdout and f"CREATE TABLE {TABLE_NAME} (" not in printed.stdout

    upgraded = run_cli("tasks", "upgrade", "--url", db_url, home=tmp_path)
    assert upgraded.returncode == 0 and f"from the schema of shardcron 0.1.0 to revision {HEAD}" in upgraded.stdout
    assert run_cli("tasks", "current", "--check", "--url", db_url, home=tmp_path).returncode == 0
    stats = run_cli("tasks", "stats", "--url", db_url, home=tmp_path)
    assert stats.returncode == 0 and "SEND_SMS" in stats.stdout
    again = run_cli("tasks", "init", "--url", db_url, home=tmp_path)
    assert again.returncode == 0 and "up to date; nothing changed" in again.stdout


def test_history_and_sql_from_base(tmp_path: Path) -> None:
    history = run_cli("tasks", "history", home=tmp_path)
    assert history.returncode == 0 and history.stdout.startswith(f"{HEAD} (head)") and "retry-task table of shardcron 0.1.0" in history.stdout
    printed = run_cli("tasks", "upgrade", "--sql", "--from", "base", "--url", "mysql+pymysql://u@db.example/shop", home=tmp_path)
    assert printed.returncode == 0 and f"CREATE TABLE {TABLE_NAME} (" in printed.stdout and "ENGINE=InnoDB" in printed.stdout
    assert not (tmp_path / "shop").exists()


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["upgrade", "--url", "oracle://u@h/db"], ["unsupported database 'oracle'", "SQLite, MySQL/MariaDB and PostgreSQL"]),
        (["upgrade", "--url", "postgresql+psycopg2://u@h/db"], ["postgresql+psycopg2://u@h/db", "psycopg (version 3)"]),
        (["current", "--url", "mysql+pymysql://root@127.0.0.1:1/shop"], ["cannot reach the server"]),
        (["current", "--url", "postgresql://postgres@127.0.0.1:1/shop"], ["cannot reach the server", "127.0.0.1:1"]),
        (["current", "--url", "sqlite:///{tmp}/absent.db"], ["no SQLite file"]),
        (["upgrade", "--from", "base", "--url", "sqlite:///{tmp}/x.db"], ["goes with --sql"]),
    ],
)
def test_bad_input_gives_one_line(args: list[str], words: list[str], tmp_path: Path) -> None:
    args = [arg.replace("{tmp}", str(tmp_path)) for arg in args]
    assert_one_line_error(run_cli("tasks", *args, home=tmp_path), *words)
    assert not (tmp_path / "absent.db").exists()
