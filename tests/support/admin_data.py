"""Rows for admin tests: groups, live executors, jobs, run logs, daily reports, users."""

from __future__ import annotations

import datetime as dt
from typing import Any

from shardcron.admin.db import Database
from shardcron.admin.enums import AddressType, RunStatus, TriggerType, UserRole
from shardcron.admin.models import DailyReport, ExecutorGroup, ExecutorRegistry, Job, RunLog
from shardcron.admin.services import users
from shardcron.admin.services.actor import SYSTEM_ACTOR, Actor

NOW = 1_767_225_600_000  # FakeClock's default start: 2026-01-01T00:00:00Z
PASSWORD = "s3cret-enough"


def add_group(db: Database, app_name: str, *, manual: list[str] | None = None) -> int:
    with db.session() as s:
        group = ExecutorGroup(
            app_name=app_name,
            title=app_name.title(),
            address_type=AddressType.MANUAL if manual else AddressType.AUTO,
            manual_addresses="\n".join(manual) if manual else None,
            created_at_ms=NOW,
            updated_at_ms=NOW,
        )
        s.add(group)
        s.flush()
        return group.id


def add_executor(db: Database, app_name: str, address: str, *, heartbeat_at_ms: int = NOW) -> None:
    with db.session() as s:
        s.add(ExecutorRegistry(registry_group="EXECUTOR", app_name=app_name, address=address, registered_at_ms=heartbeat_at_ms, heartbeat_at_ms=heartbeat_at_ms))


def add_job(db: Database, group_id: int, name: str = "job", **values: Any) -> int:
    fields: dict[str, Any] = dict(schedule_type="CRON", schedule_conf="0 * * * *", timezone="UTC", handler="demo", created_at_ms=NOW, updated_at_ms=NOW)
    fields.update(values)
    with db.session() as s:
        job = Job(group_id=group_id, name=name, **fields)
        s.add(job)
        s.flush()
        return job.id


def add_run(db: Database, job_id: int, group_id: int, *, status: RunStatus = RunStatus.SUCCESS, trigger_at_ms: int = NOW, **values: Any) -> int:
    fields: dict[str, Any] = dict(trigger_type=TriggerType.CRON, fire_at_ms=trigger_at_ms, handler="demo")
    fields.update(values)
    with db.session() as s:
        run = RunLog(job_id=job_id, group_id=group_id, status=status, trigger_at_ms=trigger_at_ms, **fields)
        s.add(run)
        s.flush()
        return run.id


def add_daily(db: Database, day: dt.date, group_id: int, success: int, failed: int, running: int = 0) -> None:
    with db.session() as s:
        s.add(DailyReport(day=day, group_id=group_id, success_count=success, fail_count=failed, running_count=running, updated_at_ms=NOW))


def add_user(db: Database, name: str, role: UserRole = UserRole.USER, groups: list[int] | None = None) -> Actor:
    with db.session() as s:
        view = users.create_user(s, SYSTEM_ACTOR, name, PASSWORD, role, groups or [], now_ms=NOW)
        actor = users.actor_for_user(s, view.id)
    assert actor is not None
    return actor
