"""`shardcron backfill create/list/cancel`: the same checks as the API, one error line on bad input."""

from __future__ import annotations

import sqlalchemy as sa
from click.testing import CliRunner

from shardcron.admin.cli import main
from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import AuditEntry, Backfill, ExecutorGroup, Job


def _seed(url: str) -> None:
    db = Database(url, pool_size=1)
    try:
        init_schema(db.engine)
        with db.session() as session:
            group = ExecutorGroup(app_name="orders", title="Orders", created_at_ms=1, updated_at_ms=1)
            session.add(group)
            session.flush()
            session.add(Job(group_id=group.id, name="daily", handler="close", schedule_type="CRON", schedule_conf="0 2 * * *", timezone="Europe/Berlin",
                            created_at_ms=1, updated_at_ms=1))
            session.add(Job(group_id=group.id, name="by hand", handler="close", created_at_ms=1, updated_at_ms=1))
    finally:
        db.dispose()


def _rows(url: str) -> list[tuple]:
    db = Database(url, pool_size=1)
    try:
        with db.read_session() as s:
            rows = [(b.id, b.planned, b.pace, b.status) for b in s.scalars(sa.select(Backfill).order_by(Backfill.id))]
            rows.append(tuple(s.scalars(sa.select(AuditEntry.action).order_by(AuditEntry.id))))
            return rows
    finally:
        db.dispose()


def run(url: str, *args: str):
    return CliRunner().invoke(main, ["backfill", *args, "--url", url], catch_exceptions=False)


def test_backfill_cli_dry_run_create_list_cancel(sqlite_url: str) -> None:
    _seed(sqlite_url)
    preview = run(sqlite_url, "create", "1", "--from", "2025-12-01T00:00", "--to", "2025-12-10T23:59", "--dry-run")
    assert preview.exit_code == 0, preview.output
    assert "would run job 1 10 times, the first at 2025-12-01T01:00:00Z" in preview.output
    assert _rows(sqlite_url) == [()]
    created = run(sqlite_url, "create", "1", "--from", "2025-12-01T00:00", "--to", "2025-12-10T23:59", "--pace", "3")
    assert created.exit_code == 0, created.output
    assert "backfill 1 of job 1: RUNNING" in created.output and "0 of 10 started" in created.output
    assert "ALLOW_ALL pace 3" in run(sqlite_url, "list", "1").output
    assert "CANCELLED" in run(sqlite_url, "cancel", "1").output
    assert _rows(sqlite_url) == [(1, 10, 3, "CANCELLED"), ("backfill.create", "backfill.cancel")]


def test_backfill_cli_refuses_bad_input_in_one_line(sqlite_url: str) -> None:
    _seed(sqlite_url)
    too_many = run(sqlite_url, "create", "1", "--from", "2015-01-01T00:00Z", "--to", "2025-12-01T00:00Z")
    assert too_many.exit_code == 1 and "to_ms: the range holds 3987 planned times; a backfill runs at most 1000" in too_many.stderr
    # Every bad field at once: a bad pace does not hide the range's size.
    both = run(sqlite_url, "create", "1", "--from", "2015-01-01T00:00Z", "--to", "2025-12-01T00:00Z", "--pace", "0")
    assert both.exit_code == 1 and "2 invalid fields" in both.stderr and "pace: must be between 1 and 100" in both.stderr and "holds 3987 planned times" in both.stderr
    none = run(sqlite_url, "create", "2", "--from", "2025-12-01T00:00", "--to", "2025-12-02T00:00")
    assert none.exit_code == 1 and "job_id: job 2 has no schedule (NONE)" in none.stderr
    reversed_range = run(sqlite_url, "create", "1", "--from", "2025-12-02T00:00", "--to", "2025-12-01T00:00")
    assert reversed_range.exit_code == 1 and "to_ms: must not be before from_ms" in reversed_range.stderr
    assert run(sqlite_url, "create", "1", "--from", "yesterday", "--to", "2025-12-01T00:00").exit_code == 2
    assert _rows(sqlite_url) == [()]
