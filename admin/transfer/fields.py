"""Which group and job columns an export document carries, derived from the ORM models.

A column added to `Job` or `ExecutorGroup` is exported by default; a column that must not be
exported is listed in `JOB_NOT_EXPORTED` / `GROUP_NOT_EXPORTED` with the reason.
"""

from __future__ import annotations

from ..models import ExecutorGroup, Job

#: Version of the export document (`"shardcron_export": 1`).
EXPORT_VERSION = 1

#: Job columns left out of a document, with why.
JOB_NOT_EXPORTED: dict[str, str] = {
    "id": "database id; jobs are referred to by group app name and job name",
    "group_id": "database id; replaced by the group's app name",
    "child_job_ids": "database ids; replaced by child references (group app name, job name)",
    "calendar_ids": "database ids; replaced by the calendars' names (`calendars`, defined in the top-level `calendars` list)",
    "next_fire_at_ms": "schedule state, recomputed by the importing admin",
    "last_fire_at_ms": "schedule state of the exporting admin",
    "glue_updated_at_ms": "set when the imported script is saved",
    "created_at_ms": "set by the importing admin",
    "updated_at_ms": "set by the importing admin",
    "consecutive_failures": "pause-on-failure state of the exporting admin's runs",
    "paused_at_ms": "pause-on-failure state of the exporting admin's runs",
    "paused_reason": "pause-on-failure state: names runs of the exporting admin",
}

#: Group columns left out of a document, with why.
GROUP_NOT_EXPORTED: dict[str, str] = {
    "id": "database id; groups are referred to by app name",
    "created_at_ms": "set by the importing admin",
    "updated_at_ms": "set by the importing admin",
}


def _exported(model: type[ExecutorGroup] | type[Job], skipped: dict[str, str]) -> tuple[str, ...]:
    return tuple(column.key for column in model.__table__.columns if column.key not in skipped)


def job_fields() -> tuple[str, ...]:
    """Job columns an export carries, in table order."""
    return _exported(Job, JOB_NOT_EXPORTED)


def group_fields() -> tuple[str, ...]:
    """Group columns an export carries, in table order."""
    return _exported(ExecutorGroup, GROUP_NOT_EXPORTED)
