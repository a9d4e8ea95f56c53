"""Where a database stands against this code's revisions: empty, unversioned, behind, current, ahead."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError
from sqlalchemy import Connection, inspect

from .spec import VersionedSchema


class SchemaState(StrEnum):
    #: None of the schema's tables: `init` creates them.
    EMPTY = "empty"
    #: Tables but no recorded revision: made by 0.1.0 (before versioned upgrades), or by a first
    #: create that stopped half-way. The baseline revision records (and completes) it.
    UNVERSIONED = "unversioned"
    BEHIND = "behind"
    CURRENT = "current"
    #: A revision this code does not know: a newer shardcron upgraded the database.
    AHEAD = "ahead"


@dataclass(frozen=True)
class SchemaStatus:
    state: SchemaState
    #: The recorded revision (None: none recorded).
    revision: str | None
    head: str
    #: Revisions an upgrade applies, oldest first.
    pending: tuple[str, ...]
    #: Tables the database lacks: at head, of the models (a damaged database); unversioned, of
    #: the baseline (a first create that stopped half-way).
    missing_tables: tuple[str, ...] = ()

    @property
    def is_current(self) -> bool:
        return self.state is SchemaState.CURRENT and not self.missing_tables


def alembic_config(schema: VersionedSchema, **attributes: object) -> Config:
    """An Alembic configuration for `schema`, without an ini file; `attributes` reach env.py."""
    config = Config()
    config.set_main_option("script_location", str(schema.script_location).replace("%", "%%"))
    config.attributes["schema"] = schema
    config.attributes.update(attributes)
    return config


@lru_cache(maxsize=8)
def _scripts(location: str) -> ScriptDirectory:
    return ScriptDirectory(location)


def scripts(schema: VersionedSchema) -> ScriptDirectory:
    """The schema's revision scripts (read once per process)."""
    return _scripts(str(schema.script_location))


def head_revision(schema: VersionedSchema) -> str:
    heads = scripts(schema).get_heads()
    if len(heads) != 1:  # a test keeps the history linear; this guards an installed tree
        raise RuntimeError(f"{schema.label} revisions have {len(heads)} heads ({', '.join(heads)}): expected one")
    return heads[0]


def revisions_after(schema: VersionedSchema, revision: str | None) -> tuple[str, ...]:
    """The revisions after `revision` (None: all of them), oldest first."""
    script = scripts(schema)
    lower = revision if revision is not None else "base"
    newest_first = [rev.revision for rev in script.iterate_revisions(head_revision(schema), lower) if rev.revision != revision]
    return tuple(reversed(newest_first))


def is_known(schema: VersionedSchema, revision: str) -> bool:
    try:
        return scripts(schema).get_revision(revision) is not None
    except CommandError:
        return False


def read_status(schema: VersionedSchema, conn: Connection) -> SchemaStatus:
    """Read the recorded revision and the table names; changes nothing."""
    tables = set(inspect(conn).get_table_names())
    head = head_revision(schema)
    recorded: tuple[str, ...] = ()
    if schema.version_table in tables:
        context = MigrationContext.configure(conn, opts={"version_table": schema.version_table})
        recorded = tuple(context.get_current_heads())
    if not recorded:
        ours = tables & (set(schema.baseline_tables) | set(schema.metadata.tables))
        if not ours:
            return SchemaStatus(SchemaState.EMPTY, None, head, revisions_after(schema, None))
        missing = tuple(name for name in schema.baseline_tables if name not in tables)
        return SchemaStatus(SchemaState.UNVERSIONED, None, head, revisions_after(schema, None), missing)
    if len(recorded) > 1 or not is_known(schema, recorded[0]):
        return SchemaStatus(SchemaState.AHEAD, ", ".join(recorded), head, ())
    revision = recorded[0]
    if revision == head:
        missing = tuple(name for name in schema.metadata.tables if name not in tables)
        return SchemaStatus(SchemaState.CURRENT, revision, head, (), missing)
    return SchemaStatus(SchemaState.BEHIND, revision, head, revisions_after(schema, revision))
