"""`shardcron backfill ...`: run a job for every planned time between two instants, from the
command line (the same checks, audit and limits as the console and the REST API)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import click

from shardcron.core.clock import SYSTEM_CLOCK

from ..db import Database, check_server, require_current_schema
from ..enums import BACKFILL_POLICIES
from ..models import Job
from ..schedules.zones import is_known_zone
from ..services import backfills
from ..services.actor import cli_actor
from ..services.backfills import BackfillView


@contextmanager
def _database(state, url: str | None) -> Iterator[Database]:
    config = state.config(database_url=url)
    database = Database(config.effective_database_url, pool_size=1, create_folder=config.creates_database_folder)
    try:
        check_server(database.engine)
        require_current_schema(database.engine, upgrade_in_place=False)
        yield database
    finally:
        database.dispose()


def _instant_ms(text: str, zone: ZoneInfo, option: str) -> int:
    """ISO 8601; without an offset, in the job's time zone."""
    try:
        moment = datetime.fromisoformat(text)
        return int((moment if moment.tzinfo is not None else moment.replace(tzinfo=zone)).timestamp() * 1000)
    except (ValueError, OverflowError):
        raise click.BadParameter(f"{text!r} is not an ISO 8601 date and time (2025-12-01T00:00, or with an offset)", param_hint=option) from None


def _utc(at_ms: int | None) -> str:
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ") if at_ms else "-"


def _line(view: BackfillView) -> str:
    return (
        f"backfill {view.id} of job {view.job_id}: {view.status.value}, {_utc(view.from_ms)} .. {_utc(view.to_ms)}, "
        f"{view.overlap_policy.value} pace {view.pace}; {view.started} of {view.planned} started, {view.running} running, "
        f"{view.succeeded} succeeded, {view.failed} failed, {view.skipped} skipped"
    )


@click.group()
def backfill() -> None:
    """Run a job for every planned time of its schedule between two instants."""


@backfill.command("create")
@click.argument("job_id", type=int)
@click.option("--from", "from_text", required=True, help="First instant (inclusive), ISO 8601; without an offset, in the job's time zone.")
@click.option("--to", "to_text", required=True, help="Last instant (inclusive), ISO 8601; not in the future.")
@click.option("--overlap", type=click.Choice([p.value for p in BACKFILL_POLICIES]), default="ALLOW_ALL", show_default=True,
              help="When another run of the job is active: start anyway, skip that time, or wait (SKIP and BUFFER_ALL go one at a time).")
@click.option("--pace", type=int, default=1, show_default=True, help="Most runs of this backfill active at once.")
@click.option("--dry-run", is_flag=True, help="Only say how many runs it would make.")
@click.option("--url", default=None, help="Admin database (default: the configured database_url, else the embedded SQLite file).")
@click.pass_obj
def create(state, job_id: int, from_text: str, to_text: str, overlap: str, pace: int, dry_run: bool, url: str | None) -> None:
    """Start a backfill of JOB_ID (a scheduler runs it), or with --dry-run preview it."""
    with _database(state, url) as database:
        with database.read_session() as session:
            job = session.get(Job, job_id)
            zone = ZoneInfo(job.timezone if job is not None and is_known_zone(job.timezone) else "UTC")
        body = {"from_ms": _instant_ms(from_text, zone, "--from"), "to_ms": _instant_ms(to_text, zone, "--to"), "overlap_policy": overlap, "pace": pace}
        now_ms = SYSTEM_CLOCK.now_ms()
        max_runs = state.config(database_url=url).backfill_max_runs
        if dry_run:
            with database.read_session() as session:
                req = backfills.preview_backfill(session, cli_actor(), job_id, body, now_ms=now_ms, max_runs=max_runs)
            click.echo(f"would run job {job_id} {req.planned} times, the first at {', '.join(_utc(t) for t in req.first_times_ms)}")
            return
        with database.session() as session:
            view = backfills.create_backfill(session, cli_actor(), job_id, body, now_ms=now_ms, max_runs=max_runs)
        click.echo(_line(view))


@backfill.command("list")
@click.argument("job_id", type=int)
@click.option("--url", default=None, help="Admin database (default: the configured one).")
@click.pass_obj
def list_(state, job_id: int, url: str | None) -> None:
    """The backfills of JOB_ID with their progress, newest first."""
    with _database(state, url) as database, database.read_session() as session:
        for view in backfills.list_backfills(session, cli_actor(), job_id):
            click.echo(_line(view))


@backfill.command("cancel")
@click.argument("backfill_id", type=int)
@click.option("--url", default=None, help="Admin database (default: the configured one).")
@click.pass_obj
def cancel(state, backfill_id: int, url: str | None) -> None:
    """Start nothing more of BACKFILL_ID; runs already started run to their end."""
    with _database(state, url) as database, database.session() as session:
        click.echo(_line(backfills.cancel_backfill(session, cli_actor(), backfill_id, now_ms=SYSTEM_CLOCK.now_ms())))
