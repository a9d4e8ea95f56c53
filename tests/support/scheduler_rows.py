"""Executor groups and jobs written straight into the admin database for scheduler tests."""

from __future__ import annotations

from typing import Any

from shardcron.admin.db import Database
from shardcron.admin.enums import AddressType, ScheduleType
from shardcron.admin.models import ExecutorGroup, ExecutorRegistry, Job
from shardcron.admin.schedules.schedule import next_fire_at_ms
from shardcron.core.protocol import REGISTRY_GROUP_EXECUTOR


def add_group(db: Database, app_name: str, now_ms: int, *, manual: list[str] | None = None) -> int:
    with db.session() as s:
        group = ExecutorGroup(
            app_name=app_name, title=app_name,
            address_type=AddressType.MANUAL if manual is not None else AddressType.AUTO,
            manual_addresses="\n".join(manual) if manual is not None else None,
            created_at_ms=now_ms, updated_at_ms=now_ms,
        )
        s.add(group)
        s.flush()
        return group.id


def register(db: Database, app_name: str, address: str, now_ms: int) -> None:
    with db.session() as s:
        s.add(ExecutorRegistry(registry_group=REGISTRY_GROUP_EXECUTOR, app_name=app_name, address=address, registered_at_ms=now_ms, heartbeat_at_ms=now_ms))


def add_job(db: Database, group_id: int, now_ms: int, **fields: Any) -> int:
    """An enabled job whose next fire is its first after `now_ms` (for CRON / FIX_RATE);
    `first_fire_ms` overrides that."""
    first = fields.pop("first_fire_ms", None)
    values: dict[str, Any] = {
        "name": "job", "handler": "echo", "schedule_type": ScheduleType.NONE, "schedule_conf": "",
        "timezone": "UTC", "enabled": True, "created_at_ms": now_ms, "updated_at_ms": now_ms,
    }
    values.update(fields)
    if first is None and values["schedule_type"] != ScheduleType.NONE:
        first = next_fire_at_ms(values["schedule_type"], values["schedule_conf"], values["timezone"], now_ms)
    values["next_fire_at_ms"] = first or 0
    with db.session() as s:
        job = Job(group_id=group_id, **values)
        s.add(job)
        s.flush()
        return job.id
