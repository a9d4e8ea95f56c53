"""Developer commands for schema changes (docs/development.md, "Schema changes").

    python -m shardcron.admin.schema revision -m "add sc_job.owner"   [--schema retry-tasks] [--empty]
    python -m shardcron.admin.schema sql [--check]      (sql/{mysql,postgresql,sqlite}/...)
"""

from __future__ import annotations

import sys

import click

from shardcron.core.errors import ShardcronError
from shardcron.executor.retry_tasks.schema import RETRY_TASK_SCHEMA

from . import ADMIN_SCHEMA

SCHEMAS = {"admin": ADMIN_SCHEMA, "retry-tasks": RETRY_TASK_SCHEMA}


@click.group()
def main() -> None:
    """Add schema revisions and regenerate sql/."""


@main.command("revision")
@click.option("-m", "--message", required=True, help="What the revision changes, e.g. 'add sc_job.owner'.")
@click.option("--schema", "schema_name", type=click.Choice(sorted(SCHEMAS)), default="admin", show_default=True)
@click.option("--empty", is_flag=True, help="An empty revision to write by hand (e.g. a data migration).")
def revision(message: str, schema_name: str, empty: bool) -> None:
    """Write the next revision from what the models changed since the head revision."""
    from .new_revision import new_revision  # deferred: only this command needs autogenerate

    try:
        path = new_revision(SCHEMAS[schema_name], message, empty=empty)
    except ShardcronError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {path}: review it, regenerate sql/ (`python -m shardcron.admin.schema sql`) and add its upgrade test")


@main.command("sql")
@click.option("--check", is_flag=True, help="Write nothing; exit 1 if a file is stale.")
def sql(check: bool) -> None:
    """Write sql/{mysql,postgresql,sqlite}/{admin,retry_task}.sql from the models."""
    from .sql_files import REPOSITORY_SQL_DIR, stale_files, write_files  # deferred: only this command writes DDL

    if check:
        stale = stale_files()
        if stale:
            click.echo(f"error: stale in {REPOSITORY_SQL_DIR}: {', '.join(stale)}: run `python -m shardcron.admin.schema sql`", err=True)
            sys.exit(1)
        click.echo("sql/ is up to date")
        return
    written = write_files()
    click.echo(f"wrote {', '.join(written)}" if written else "sql/ is up to date; nothing written")


if __name__ == "__main__":
    main()
