"""`shardcron tasks ...`: the retry-task table of an application's database, for operators.

    shardcron tasks init    --url URL                       create the table, or upgrade it (idempotent)
    shardcron tasks upgrade --url URL [--sql [--from REV]]  bring the table to this version's revision
    shardcron tasks current --url URL [--check]             the table's revision
    shardcron tasks history                                 the table's revisions
    shardcron tasks stats   --url URL [--json]              counts by task code and status
    shardcron tasks show    --url URL --task-code C --request-no N [--json]
    shardcron tasks redrive --url URL (--all | --task-code C | --request-no N)
    shardcron tasks purge   --url URL --older-than-days D [--include-dead]

Errors are ShardcronErrors, printed by the `shardcron` group as one line with exit status 1.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict

import click

from shardcron.core.clock import ms_to_datetime
from shardcron.core.sqlengine import missing_sqlite_file
from .database import TaskDatabase, parse_url, redact_url
from .errors import TaskInputError, TaskNotFound, TasksDatabaseError
from .maintenance import RedriveScope
from .schema import RETRY_TASK_SCHEMA, TABLE_NAME
from .tasks import RetryTasks

URL_HELP = "The application database holding the retry-task table: sqlite:///PATH, mysql+pymysql://USER:PASS@HOST:3306/DB or postgresql+psycopg://USER:PASS@HOST:5432/DB."


def _refuse_missing_sqlite_file(url: str) -> None:
    """Commands that only read never create a SQLite file."""
    parsed = parse_url(url)
    if missing_sqlite_file(parsed) is not None:
        raise TasksDatabaseError(f"no SQLite file {parsed.database}: check --url, or run `shardcron tasks init --url ...` first")


@contextmanager
def _open(url: str) -> Iterator[RetryTasks]:
    """The table at `url`, which must exist at this code's revision."""
    _refuse_missing_sqlite_file(url)
    tasks = RetryTasks(url, owner="shardcron-cli", pool_size=1)
    try:
        if not tasks.db.has_table():
            raise TasksDatabaseError(f"no table {TABLE_NAME} in {redact_url(url)}: run `shardcron tasks init --url ...` first")
        from shardcron.core.schema_versions.messages import require_current

        require_current(RETRY_TASK_SCHEMA, tasks.db.schema_status(), redact_url(url), TasksDatabaseError)
        yield tasks
    finally:
        tasks.close()


def _when(at_ms: int | None) -> str:
    return "-" if at_ms is None else ms_to_datetime(at_ms).isoformat(timespec="seconds").replace("+00:00", "Z")


@click.group("tasks")
def tasks() -> None:
    """Retry tasks: create the table, inspect it, re-drive dead tasks, purge old ones."""


LOCK_HELP = "On MySQL/MariaDB and PostgreSQL, wait at most this long for another process's upgrade of the same table to finish."


def _upgrade(url: str, lock_timeout_s: float) -> None:
    from shardcron.core.schema_versions.commands import run_upgrade

    db = TaskDatabase(url, pool_size=1)
    try:
        run_upgrade(RETRY_TASK_SCHEMA, db.engine, lock_timeout_s=lock_timeout_s, error=TasksDatabaseError)
    finally:
        db.dispose()


@tasks.command("init")
@click.option("--url", required=True, help=URL_HELP)
@click.option("--lock-timeout", "lock_timeout_s", type=float, default=300.0, show_default=True, help=LOCK_HELP)
def init(url: str, lock_timeout_s: float) -> None:
    """Create the retry-task table and its indexes; on an existing table, upgrade it or say it is current."""
    _upgrade(url, lock_timeout_s)


@tasks.command("upgrade")
@click.option("--url", required=True, help=URL_HELP)
@click.option("--sql", "as_sql", is_flag=True, help="Print the DDL instead of running it (for DBAs); changes nothing.")
@click.option(
    "--from",
    "start",
    default=None,
    metavar="REVISION",
    help="With --sql: the revision to start from instead of reading it from the database ('base': no table, '0.1.0': made by 0.1.0).",
)
@click.option("--lock-timeout", "lock_timeout_s", type=float, default=300.0, show_default=True, help=LOCK_HELP)
def upgrade(url: str, as_sql: bool, start: str | None, lock_timeout_s: float) -> None:
    """Bring the retry-task table to this shardcron's revision (safe from several processes at once)."""
    if start is not None and not as_sql:
        raise TaskInputError("--from", start, "goes with --sql: a real upgrade reads the revision from the database")
    if not as_sql:
        _upgrade(url, lock_timeout_s)
        return
    from shardcron.core.schema_versions.commands import print_upgrade_sql

    if start is None:
        _refuse_missing_sqlite_file(url)
    db = TaskDatabase(url, pool_size=1)
    try:
        print_upgrade_sql(RETRY_TASK_SCHEMA, db.engine, start, db.schema_status, TasksDatabaseError)
    finally:
        db.dispose()


@tasks.command("current")
@click.option("--url", required=True, help=URL_HELP)
@click.option("--check", is_flag=True, help="Exit with status 1 unless the table is at this shardcron's revision.")
def current(url: str, check: bool) -> None:
    """Show the retry-task table's revision and whether it needs an upgrade."""
    from shardcron.core.schema_versions.commands import print_current

    _refuse_missing_sqlite_file(url)
    db = TaskDatabase(url, pool_size=1)
    try:
        status = db.schema_status()
    finally:
        db.dispose()
    print_current(RETRY_TASK_SCHEMA, status, redact_url(url), check=check, error=TasksDatabaseError)


@tasks.command("history")
def history() -> None:
    """List the retry-task table's revisions, newest first."""
    from shardcron.core.schema_versions.commands import print_history

    print_history(RETRY_TASK_SCHEMA)


@tasks.command("stats")
@click.option("--url", required=True, help=URL_HELP)
@click.option("--json", "as_json", is_flag=True, help="One JSON object per line instead of a table.")
def stats(url: str, as_json: bool) -> None:
    """Count tasks by task code and status (due = waiting for a drainer, leased = being worked)."""
    with _open(url) as retry_tasks:
        rows = retry_tasks.stats()
    if as_json:
        for row in rows:
            click.echo(json.dumps(asdict(row)))
        return
    if not rows:
        click.echo("no tasks")
        return
    width = max(9, *(len(row.task_code) for row in rows))
    click.echo(f"{'task_code':<{width}} {'status':<9} {'count':>9} {'due':>9} {'leased':>7}  oldest due")
    for row in rows:
        click.echo(f"{row.task_code:<{width}} {row.status.value:<9} {row.count:>9} {row.due:>9} {row.leased:>7}  {_when(row.oldest_due_at_ms)}")


@tasks.command("show")
@click.option("--url", required=True, help=URL_HELP)
@click.option("--task-code", required=True)
@click.option("--request-no", required=True)
@click.option("--json", "as_json", is_flag=True, help="The record as JSON.")
def show(url: str, task_code: str, request_no: str, as_json: bool) -> None:
    """Show one task: status, attempts, next attempt, stages, last error, result."""
    with _open(url) as retry_tasks:
        record = retry_tasks.get(task_code, request_no)
    if record is None:
        raise TaskNotFound(task_code, request_no)
    data = asdict(record)
    data.pop("created")
    if as_json:
        click.echo(json.dumps(data, ensure_ascii=False, default=str))
        return
    for key, value in data.items():
        if key.endswith("_at_ms") or key == "lease_until_ms":
            value = _when(value) if value else "-"
        elif not isinstance(value, (str, int)) or isinstance(value, bool):
            value = json.dumps(value, ensure_ascii=False, default=str)
        click.echo(f"{key:<19} {value}")


@tasks.command("redrive")
@click.option("--url", required=True, help=URL_HELP)
@click.option("--all", "everything", is_flag=True, help="Every DEAD task.")
@click.option("--task-code", default=None, help="The DEAD tasks of this task code.")
@click.option("--request-no", default=None, help="The DEAD task(s) with this request number.")
def redrive(url: str, everything: bool, task_code: str | None, request_no: str | None) -> None:
    """Re-queue DEAD tasks: due now, with a fresh set of attempts."""
    chosen = [name for name, on in (("--all", everything), ("--task-code", task_code is not None), ("--request-no", request_no is not None)) if on]
    if len(chosen) != 1:
        raise TaskInputError("re-drive scope", " ".join(chosen) or "(none)", "give exactly one of --all, --task-code CODE, --request-no NUMBER")
    if everything:
        scope = RedriveScope("all")
    elif task_code is not None:
        scope = _scope("task_code", task_code)
    else:
        scope = _scope("request_no", request_no or "")
    with _open(url) as retry_tasks:
        count = retry_tasks.redrive(scope)
    click.echo(f"re-drove {count} dead task{'s' if count != 1 else ''} ({scope.to_text()})")


def _scope(kind: str, value: str) -> RedriveScope:
    if not value.strip():
        raise TaskInputError(kind, value, "must not be blank")
    return RedriveScope(kind, value)  # type: ignore[arg-type]


@tasks.command("purge")
@click.option("--url", required=True, help=URL_HELP)
@click.option("--older-than-days", "older_than_days", required=True, help="Retention: delete rows finished more than this many days ago.")
@click.option("--include-dead", is_flag=True, help="Delete old DEAD tasks too (by default they stay for an operator).")
def purge(url: str, older_than_days: str, include_dead: bool) -> None:
    """Delete SUCCEEDED and FAILED tasks (and DEAD ones if asked) finished before the retention period."""
    try:
        days = float(older_than_days)
    except ValueError:
        days = math.nan
    if not math.isfinite(days) or days < 0:
        raise TaskInputError("--older-than-days", older_than_days, "expected a number of days >= 0")
    with _open(url) as retry_tasks:
        count = retry_tasks.purge(days, include_dead=include_dead)
    kinds = "SUCCEEDED, FAILED and DEAD" if include_dead else "SUCCEEDED and FAILED"
    click.echo(f"purged {count} {kinds} task{'s' if count != 1 else ''} finished more than {older_than_days} days ago")
