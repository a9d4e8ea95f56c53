"""`shardcron import-xxljob`: executor groups and jobs from an XXL-JOB database."""

from __future__ import annotations

import click

from shardcron.core.clock import SYSTEM_CLOCK

from ..db import Database, check_server, redact_url, require_current_schema
from ..schedules.schedule import ScheduleError, validate_schedule
from ..xxljob_import.importer import Action, ImportPlan, apply_plan, plan_import
from ..xxljob_import.source import read_xxljob


def _print_report(plan: ImportPlan, *, dry_run: bool) -> None:
    verb = "would create" if dry_run else "created"
    for kind in ("groups", "jobs"):
        created = plan.count(kind, Action.CREATE)
        kept = plan.count(kind, Action.EXISTS)
        skipped = plan.count(kind, Action.SKIP)
        click.echo(f"{kind}: {created} {verb}, {kept} already in shardcron (left unchanged), {skipped} skipped")
    for chain in plan.chains:
        where = f"workflow {chain.new_id}" if chain.new_id is not None else "new workflow"
        state = "enabled" if chain.enabled else "stopped"
        click.echo(f"  child jobs of xxl-job {chain.root_xxl_id} -> {where} {chain.name!r}: {len(chain.steps)} steps ({state})")
    for job in plan.jobs:
        if job.action is Action.CREATE:
            where = f"job {job.new_id}" if job.new_id is not None else "new job"
            state = "enabled" if job.draft.values["enabled"] else "stopped"
            group = job.group.draft.app_name if job.group is not None else "?"  # a job to create always has its group
            click.echo(f"  xxl-job {job.draft.source.id} -> {where} {job.draft.values['name']!r} in {group!r} ({state})")
    if plan.issues:
        click.echo(f"not carried over as it was ({len(plan.issues)}):")
        for issue in plan.issues:
            click.echo(f"  {issue.line()}")
    else:
        click.echo("everything was carried over as it was")


@click.command("import-xxljob")
@click.option("--from", "source_url", required=True, metavar="URL", help="The XXL-JOB database: mysql+pymysql://USER:PASSWORD@HOST:3306/xxl_job (only read).")
@click.option("--url", default=None, help="Admin database to import into (default: the configured database_url, else the embedded SQLite file).")
@click.option("--dry-run", is_flag=True, help="Print what would be imported and what would not carry over; write nothing.")
@click.option("--timezone", default=None, help="Zone XXL-JOB's cron expressions ran in (its JVM's zone; default: the default_timezone setting).")
@click.option("--stopped", is_flag=True, help="Import every job stopped, e.g. while the XXL-JOB admin still fires them.")
@click.option(
    "--child-jobs-as-workflows", "as_workflows", is_flag=True,
    help="Carry each chain of child jobs as a workflow (SUCCESS edges) that takes over its first job's schedule, instead of child job ids.",
)  # fmt: skip
@click.pass_obj
def import_xxljob(state, source_url: str, url: str | None, dry_run: bool, timezone: str | None, stopped: bool, as_workflows: bool) -> None:
    """Create executor groups and jobs from an XXL-JOB 2.4/3.x database, in one transaction.

    Safe to run again: groups (by app name) and jobs (by group and name) that already exist are
    left unchanged; only the missing ones are created.
    """
    config = state.config(database_url=url)
    zone = timezone or config.default_timezone
    try:
        validate_schedule("NONE", "", zone)
    except ScheduleError as exc:
        raise ScheduleError("--timezone", exc.reason) from None
    snapshot = read_xxljob(source_url)
    database = Database(config.effective_database_url, pool_size=1, create_folder=config.creates_database_folder)
    try:
        check_server(database.engine)
        require_current_schema(database.engine, upgrade_in_place=config.is_sqlite and not dry_run)
        now_ms = SYSTEM_CLOCK.now_ms()
        click.echo(f"reading XXL-JOB {snapshot.schema} database {snapshot.url}: {len(snapshot.groups)} groups, {len(snapshot.jobs)} jobs")
        if dry_run:
            with database.read_session() as session:
                plan = plan_import(session, snapshot, timezone=zone, now_ms=now_ms, stop_all=stopped, children_as_workflows=as_workflows)
        else:
            with database.session() as session:
                plan = plan_import(session, snapshot, timezone=zone, now_ms=now_ms, stop_all=stopped, children_as_workflows=as_workflows)
                apply_plan(session, plan, now_ms=now_ms, max_workflow_steps=config.workflow_max_steps)
        _print_report(plan, dry_run=dry_run)
        target = redact_url(database.url)
        click.echo(f"dry run: nothing was written to {target}" if dry_run else f"imported into {target} in one transaction")
    finally:
        database.dispose()
