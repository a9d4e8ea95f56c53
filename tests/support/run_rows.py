"""Rows of the admin database for rpc and monitor tests: groups, jobs, run logs, registrations."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import AddressType, FollowupStatus, RouteStrategy, RunStatus, TriggerType
from shardcron.admin.models import ExecutorGroup, ExecutorRegistry, Fire, Job, RunLog
from shardcron.core.protocol import REGISTRY_GROUP_EXECUTOR

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, FakeClock's start


def open_db(url: str) -> Database:
    db = Database(url, pool_size=4)
    init_schema(db.engine)
    return db


def add_group(db: Database, app_name: str = "billing", *, manual: list[str] | None = None, now_ms: int = T0) -> int:
    with db.session() as s:
        group = ExecutorGroup(
            app_name=app_name,
            title=app_name,
            address_type=AddressType.MANUAL if manual is not None else AddressType.AUTO,
            manual_addresses="\n".join(manual) if manual is not None else None,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
        s.add(group)
        s.flush()
        return group.id


def add_job(db: Database, group_id: int, *, now_ms: int = T0, **fields: Any) -> int:
    values: dict[str, Any] = {"name": "job", "handler": "echo", "route_strategy": RouteStrategy.FIRST}
    values.update(fields)
    with db.session() as s:
        job = Job(group_id=group_id, created_at_ms=now_ms, updated_at_ms=now_ms, **values)
        s.add(job)
        s.flush()
        return job.id


def add_run(db: Database, job_id: int, *, status: RunStatus = RunStatus.RUNNING, **fields: Any) -> int:
    """A run-log row as the fire loop writes it (RUNNING = /run accepted)."""
    with db.session() as s:
        group_id = s.execute(sa.select(Job.group_id).where(Job.id == job_id)).scalar_one()
        values: dict[str, Any] = {
            "job_id": job_id,
            "group_id": group_id,
            "trigger_type": TriggerType.CRON,
            "fire_at_ms": T0,
            "trigger_at_ms": T0,
            "executor_address": "http://10.0.0.1:9999",
            "handler": "echo",
            "status": status,
            "trigger_code": 200 if status != RunStatus.PENDING else 0,
            "followup_status": FollowupStatus.NONE,
        }
        values.update(fields)
        run = RunLog(**values)
        s.add(run)
        s.flush()
        return run.id


def register(db: Database, app_name: str, address: str, heartbeat_at_ms: int) -> None:
    with db.session() as s:
        s.add(
            ExecutorRegistry(
                registry_group=REGISTRY_GROUP_EXECUTOR,
                app_name=app_name,
                address=address,
                registered_at_ms=heartbeat_at_ms,
                heartbeat_at_ms=heartbeat_at_ms,
            )
        )


def run_row(db: Database, run_id: int) -> RunLog:
    with db.session() as s:
        return s.get(RunLog, run_id)


def fires(db: Database) -> list[Fire]:
    with db.session() as s:
        return list(s.scalars(sa.select(Fire).order_by(Fire.id)))
