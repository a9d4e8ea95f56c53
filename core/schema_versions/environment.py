"""The body of every schema's env.py: how Alembic runs shardcron's revisions.

The caller hands over what env.py needs through `Config.attributes`: the `schema`, and either an
open `connection` (online) or a `dialect` name (offline `--sql`). Nothing is read from an ini
file or the environment.

On SQLite and PostgreSQL the caller has already begun the transaction the whole upgrade runs in
(both roll DDL back). On MySQL every DDL statement commits by itself, so each revision is its own
transaction and the version table moves forward revision by revision; a failed revision is run
again from its start by the next upgrade (see `steps`).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.types import TypeDecorator

from .spec import VersionedSchema

#: Dialects whose DDL runs inside a transaction and rolls back with it.
TRANSACTIONAL_DDL = frozenset({"sqlite", "postgresql"})


def render_item(type_: str, obj: Any, autogen_context: Any) -> str | bool:
    """Autogenerate writes a column type of the models (e.g. an enum stored as VARCHAR) as the
    plain SQL type it stores: revision scripts must not import the models, which change."""
    if type_ == "type" and isinstance(obj, TypeDecorator):
        return "sa." + repr(obj.impl_instance)
    return False


def _include_name(schema: VersionedSchema):
    def include(name: str | None, type_: str, parent_names: Any) -> bool:
        # Only our own tables: the retry-task table shares the application's database.
        return type_ != "table" or name is None or schema.owns(name)

    return include


def run_environment(default_schema: VersionedSchema) -> None:
    """Configure Alembic's context from `Config.attributes` and run the migrations."""
    from alembic import context

    attributes = context.config.attributes
    schema: VersionedSchema = attributes.get("schema", default_schema)
    dialect = attributes.get("dialect") if context.is_offline_mode() else attributes["connection"].dialect.name
    options: dict[str, Any] = {
        "target_metadata": schema.metadata,
        "version_table": schema.version_table,
        "include_name": _include_name(schema),
        "render_item": render_item,
        "compare_type": True,
        # SQLite, PostgreSQL: one transaction (ours online; BEGIN ... COMMIT in the script offline).
        # MySQL: DDL commits at once, so record each revision as soon as it is done.
        "transactional_ddl": dialect in TRANSACTIONAL_DDL,
        "transaction_per_migration": dialect not in TRANSACTIONAL_DDL,
    }
    if context.is_offline_mode():
        context.configure(dialect_name=dialect, literal_binds=True, **options)
    else:
        context.configure(connection=attributes["connection"], on_version_apply=attributes.get("on_version_apply", ()), **options)
    with context.begin_transaction():
        context.run_migrations()
