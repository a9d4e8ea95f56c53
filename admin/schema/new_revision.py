"""A new revision written by Alembic's autogenerate from what the models changed.

The models are compared with a scratch SQLite database upgraded to the current head, so no
server is needed. The operations that have a re-runnable form are written as `steps.*` (see
`shardcron.core.schema_versions.steps`); review the file, then add its upgrade test.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext

from shardcron.core.errors import ShardcronError
from shardcron.core.schema_versions import status
from shardcron.core.schema_versions.environment import render_item
from shardcron.core.schema_versions.spec import VersionedSchema
from shardcron.core.schema_versions.upgrade import upgrade_schema
from shardcron.core.sqlengine import create_db_engine

_RERUNNABLE = re.compile(r"\bop\.(create_table|drop_table|create_index|drop_index|add_column|drop_column)\(")


def next_revision_id(schema: VersionedSchema) -> str:
    """Revisions are numbered 0001, 0002, ...: their order reads off the file names."""
    numbers = [int(script.revision) for script in status.scripts(schema).walk_revisions() if script.revision.isdigit()]
    return f"{max(numbers, default=0) + 1:04d}"


def model_changes(schema: VersionedSchema, conn) -> list:
    """What autogenerate finds between the database at `conn` and the models ([] when equal)."""
    context = MigrationContext.configure(
        conn,
        opts={
            "version_table": schema.version_table,
            "compare_type": True,
            "render_item": render_item,
            "include_name": lambda name, type_, parents: type_ != "table" or name is None or schema.owns(name),
        },
    )
    return compare_metadata(context, schema.metadata)


def new_revision(schema: VersionedSchema, message: str, *, empty: bool = False) -> Path:
    """Write `versions/NNNN_<message>.py`; returns its path. Refuses when there is nothing to
    write, unless `empty` (a revision written by hand, e.g. a data migration)."""
    with tempfile.TemporaryDirectory() as scratch:
        engine = create_db_engine(f"sqlite:///{scratch}/head.db", pool_size=1)
        try:
            upgrade_schema(schema, engine)
            with engine.connect() as conn:
                if not empty and not model_changes(schema, conn):
                    raise ShardcronError(f"the models equal the {schema.label}'s head revision: nothing to generate (--empty writes a revision by hand)")
                config = status.alembic_config(schema, connection=conn)
                script = command.revision(config, message, autogenerate=not empty, rev_id=next_revision_id(schema))
        finally:
            engine.dispose()
    status._scripts.cache_clear()  # the revisions changed under this process
    assert script is not None and not isinstance(script, list)
    path = Path(script.path)
    path.write_text(_RERUNNABLE.sub(r"steps.\1(", path.read_text(encoding="utf-8")), encoding="utf-8")
    return path
