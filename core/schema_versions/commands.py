"""The bodies of `shardcron db upgrade|current|history` and `shardcron tasks upgrade|current|history`.

Both groups manage a versioned schema the same way; only the schema, the database and the error
class differ. Errors are the caller's `ShardcronError`, printed by the `shardcron` group as one line.
"""

from __future__ import annotations

from collections.abc import Callable

import click
from sqlalchemy import Engine

from ..errors import ShardcronError
from ..sqlengine import redact_url
from .messages import describe_status, describe_upgrade, require_current
from .offline import sql_dialect, status_from, upgrade_sql
from .spec import VersionedSchema
from .status import SchemaState, SchemaStatus, head_revision, scripts
from .upgrade import refuse_ahead, upgrade_schema


def run_upgrade(schema: VersionedSchema, engine: Engine, *, lock_timeout_s: float, error: type[ShardcronError], server: str | None = None) -> None:
    """Upgrade (or create) and say what changed; exit 1 when the result is not current."""
    where = redact_url(engine.url)

    def waiting() -> None:
        click.echo(f"another upgrade of the {schema.label} {where} is running; waiting up to {lock_timeout_s:g} s for it to finish")

    result = upgrade_schema(schema, engine, lock_timeout_s=lock_timeout_s, on_wait=waiting, error=error)
    for line in describe_upgrade(schema, result, where, server):
        click.echo(line)
    require_current(schema, result.after, where, error)


def print_upgrade_sql(schema: VersionedSchema, engine: Engine, start: str | None, read_status: Callable[[], SchemaStatus], error: type[ShardcronError]) -> None:
    """Print the DDL that brings the database (or one at `start`) to head; changes nothing."""
    status = status_from(schema, start, error) if start is not None else read_status()
    refuse_ahead(schema, status, engine.url, error)
    if status.state is SchemaState.UNVERSIONED and status.missing_tables:
        raise error(describe_status(schema, status, redact_url(engine.url)) + " (it can look at the tables; --sql cannot)")
    click.echo(upgrade_sql(schema, sql_dialect(engine.url), status), nl=False)


def print_current(schema: VersionedSchema, status: SchemaStatus, where: str, *, check: bool, error: type[ShardcronError]) -> None:
    """One line on where the database stands; with `check`, exit 1 unless it is current."""
    if check:
        require_current(schema, status, where, error)
    click.echo(describe_status(schema, status, where))


def print_history(schema: VersionedSchema) -> None:
    """The revisions, newest first, each with the first line of its description."""
    head = head_revision(schema)
    for script in scripts(schema).walk_revisions():
        summary = (script.doc or "").strip().splitlines()[0] if script.doc else ""
        marker = " (head)" if script.revision == head else ""
        click.echo(f"{script.revision}{marker}  {summary}")
