"""An upgrade as SQL text (`db upgrade --sql`): for DBAs who review and apply DDL themselves.

The script starts from the revision the database is at and ends by recording the head revision,
so after a DBA has run it shardcron sees the database as current.
"""

from __future__ import annotations

import io

from alembic import command
from sqlalchemy.engine import URL

from ..errors import ShardcronError
from .spec import VersionedSchema
from .status import SchemaState, SchemaStatus, alembic_config, head_revision, is_known, revisions_after, scripts

#: `--from` values that name no revision: an empty database, a database made by 0.1.0.
FROM_EMPTY = "base"
FROM_UNVERSIONED = "0.1.0"


def baseline_revision(schema: VersionedSchema) -> str:
    base = scripts(schema).get_base()
    assert base is not None
    return base


def upgrade_sql(schema: VersionedSchema, dialect: str, status: SchemaStatus) -> str:
    """The SQL that brings a database in `status` to head, for `dialect` ("sqlite", "mysql" or
    "postgresql").

    Callers refuse an AHEAD database first (`upgrade.refuse_ahead`); an unversioned one must hold
    every baseline table (a half-made one is completed by `upgrade_schema`, which can look).
    """
    if status.state is SchemaState.CURRENT:
        return f"-- the {schema.label} is at revision {status.revision}, this shardcron's head: nothing to apply\n"
    out = io.StringIO()
    config = alembic_config(schema, dialect=dialect)
    config.output_buffer = out
    head = head_revision(schema)
    if status.state is SchemaState.UNVERSIONED:
        # Tables of a release before versioned upgrades: record the baseline (it created them).
        baseline = baseline_revision(schema)
        command.stamp(config, baseline, sql=True)
        if head != baseline:
            command.upgrade(config, f"{baseline}:{head}", sql=True)
    elif status.state is SchemaState.EMPTY:
        command.upgrade(config, head, sql=True)
    else:
        command.upgrade(config, f"{status.revision}:{head}", sql=True)
    return out.getvalue()


def sql_dialect(url: URL) -> str:
    """The DDL dialect for a database URL: "sqlite", "postgresql" or "mysql" (MariaDB included)."""
    backend = url.get_backend_name()
    return backend if backend in ("sqlite", "postgresql") else "mysql"


def status_from(schema: VersionedSchema, start: str, error: type[ShardcronError]) -> SchemaStatus:
    """The status `--from START` stands for, without a database: "base" (empty), "0.1.0" (made
    by 0.1.0, no revision recorded) or a revision id."""
    head = head_revision(schema)
    if start == FROM_EMPTY:
        return SchemaStatus(SchemaState.EMPTY, None, head, revisions_after(schema, None))
    if start == FROM_UNVERSIONED:
        return SchemaStatus(SchemaState.UNVERSIONED, None, head, revisions_after(schema, None))
    if not is_known(schema, start):
        raise error(f"--from {start!r}: not a revision of the {schema.label}; use {FROM_EMPTY!r}, {FROM_UNVERSIONED!r} or a revision `{schema.history_command}` lists")
    if start == head:
        return SchemaStatus(SchemaState.CURRENT, start, head, ())
    return SchemaStatus(SchemaState.BEHIND, start, head, revisions_after(schema, start))
