"""The admin database's schema history: Alembic revisions in `versions/`, one per change.

`ADMIN_SCHEMA` ties the revisions to the models (`shardcron.admin.models`, the schema at head)
and to the table recording a database's revision (`sc_alembic_version`). The commands that use
it are `shardcron db init | upgrade [--sql] | current | history`; developers add a revision and
regenerate `sql/` with `python -m shardcron.admin.schema` (docs/development.md).
"""

from __future__ import annotations

from pathlib import Path

from shardcron.core.schema_versions.spec import VersionedSchema

from ..models import Base

ADMIN_SCHEMA = VersionedSchema(
    label="admin database",
    script_location=Path(__file__).resolve().parent,
    version_table="sc_alembic_version",
    metadata=Base.metadata,
    # The tables of 0.1.0, the last release before versioned upgrades (frozen: never edit).
    baseline_tables=(
        "sc_meta",
        "sc_executor_group",
        "sc_executor_registry",
        "sc_job",
        "sc_fire",
        "sc_run_log",
        "sc_user",
        "sc_user_group",
        "sc_daily_report",
        "sc_alarm",
        "sc_scheduler_node",
        "sc_singleton_lease",
    ),
    command="shardcron db",
)
