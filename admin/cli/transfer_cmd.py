"""`shardcron import`: groups, calendars and jobs from an export document (JSON or YAML), in one transaction."""

from __future__ import annotations

import sys

import click

from shardcron.core.clock import SYSTEM_CLOCK

from ..db import Database, check_server, redact_url, require_current_schema
from ..services.actor import cli_actor
from ..transfer.document import DocumentError, read_document
from ..transfer.importer import ImportRefused, import_document
from ..transfer.plan import Action, ImportOptions, ImportPlan, OnConflict

#: Exit status of a file that cannot be read as a document (as click's own usage errors).
EXIT_UNREADABLE = 2
#: Exit status of a document with problems (as every other refusal of the command line).
EXIT_REFUSED = 1

_VERBS = {
    True: {Action.CREATE: "would create", Action.UPDATE: "would update", Action.SKIP: "exists, would be left as it is"},
    False: {Action.CREATE: "created", Action.UPDATE: "updated", Action.SKIP: "exists, left as it is"},
}


def print_plan(plan: ImportPlan, *, dry_run: bool) -> None:
    verbs = _VERBS[dry_run]
    for group in plan.groups:
        note = " (no change)" if group.action is Action.UPDATE and group.unchanged else ""
        click.echo(f"group {group.app_name!r}: {verbs[group.action]}{note}")
    for calendar in plan.calendars:
        note = " (no change)" if calendar.action is Action.UPDATE and calendar.unchanged else ""
        click.echo(f"calendar {calendar.name!r}: {verbs[calendar.action]}{note}")
    for job in plan.jobs:
        state = ""
        if job.action is not Action.SKIP:
            state = ", enabled" if job.ends_enabled else ", stopped"
        target = f" (job {job.target_id})" if job.target_id is not None else ""
        click.echo(f"job {job.app_name}/{job.name}{target}: {verbs[job.action]}{state}")
    for workflow in plan.workflows:
        state = ""
        if workflow.action is not Action.SKIP:
            state = ", enabled" if workflow.ends_enabled else ", stopped"
        target = f" (workflow {workflow.target_id})" if workflow.target_id is not None else ""
        click.echo(f"workflow {workflow.name!r}{target}: {verbs[workflow.action]}{state}")
    for kind in ("groups", "calendars", "jobs", "workflows"):
        counts = ", ".join(f"{plan.count(kind, action)} {verbs[action].split(',')[0]}" for action in Action)
        click.echo(f"{kind}: {counts}")


def _read(file: str) -> tuple[bytes, str | None]:
    if file == "-":
        return sys.stdin.buffer.read(), None
    try:
        with open(file, "rb") as handle:
            return handle.read(), file
    except OSError as exc:
        click.echo(f"error: cannot read {file}: {exc.strerror}", err=True)
        sys.exit(EXIT_UNREADABLE)


@click.command("import")
@click.argument("file", metavar="FILE")
@click.option("--dry-run", is_flag=True, help="Check the document and print what would be done; write nothing.")
@click.option(
    "--on-conflict",
    type=click.Choice([c.value for c in OnConflict]),
    default=OnConflict.SKIP.value,
    show_default=True,
    help="A group or job that exists already: leave it (skip), overwrite it with the document's settings (update), or refuse the import (fail).",
)
@click.option("--keep-state", is_flag=True, help="Enable the jobs the document says are enabled (default: new jobs arrive stopped, updated jobs keep their state).")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default=None, help="Document format (default: by the file's extension, else by its content).")
@click.option("--url", default=None, help="Admin database to import into (default: the configured database_url, else the embedded SQLite file).")
@click.pass_obj
def import_(state, file: str, dry_run: bool, on_conflict: str, keep_state: bool, fmt: str | None, url: str | None) -> None:
    """Create (or update) executor groups and jobs from FILE, a `shardcron export` document; `-` reads standard input.

    Groups are matched by app name, jobs by group and name; child jobs are found in the document
    or in the database. Every problem is listed with its place in the document, and nothing is
    written unless there is none; everything is written in one transaction, audited as the
    command line's user.
    """
    config = state.config(database_url=url)
    raw, filename = _read(file)
    try:
        document = read_document(raw, max_bytes=config.import_max_bytes, fmt=fmt, filename=filename)
    except DocumentError as exc:
        click.echo(f"error: {file}: {exc.message}", err=True)
        sys.exit(EXIT_UNREADABLE)
    options = ImportOptions(on_conflict=OnConflict(on_conflict), keep_state=keep_state)
    database = Database(config.effective_database_url, pool_size=1, create_folder=config.creates_database_folder)
    try:
        check_server(database.engine)
        require_current_schema(database.engine, upgrade_in_place=config.is_sqlite and not dry_run)
        now_ms = SYSTEM_CLOCK.now_ms()
        try:
            if dry_run:
                with database.read_session() as session:
                    plan = import_document(
                        session, cli_actor(), document, options, dry_run=True, now_ms=now_ms, default_timezone=config.default_timezone, max_calendar_entries=config.calendar_max_entries,
                        max_workflow_steps=config.workflow_max_steps,
                    )
            else:
                with database.session() as session:
                    plan = import_document(
                        session, cli_actor(), document, options, dry_run=False, now_ms=now_ms, default_timezone=config.default_timezone, max_calendar_entries=config.calendar_max_entries,
                        max_workflow_steps=config.workflow_max_steps,
                    )
        except ImportRefused as exc:
            click.echo(f"error: {file}: import refused, nothing written ({len(exc.problems)} problems):", err=True)
            for problem in exc.problems:
                click.echo(f"  {problem.line()}", err=True)
            sys.exit(EXIT_REFUSED)
        print_plan(plan, dry_run=dry_run)
        target = redact_url(database.url)
        click.echo(f"dry run: nothing was written to {target}" if dry_run else f"imported into {target} in one transaction")
    finally:
        database.dispose()
