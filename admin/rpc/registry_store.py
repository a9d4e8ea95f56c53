"""Executor registrations (sc_executor_registry): a heartbeat upserts, a graceful stop removes.

Liveness is read by `scheduling.registry_view` (heartbeat younger than 90 s); the registry sweep
monitor deletes rows dead longer than that.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.protocol import RegistryParam

from ..db import changed_rows
from ..models import ExecutorRegistry
from ..upserts import upsert

_TABLE = ExecutorRegistry.__table__


def record_heartbeat(session: Session, param: RegistryParam, now_ms: int) -> None:
    """Insert the registration, or move its heartbeat to `now_ms` (one atomic statement)."""
    upsert(
        session,
        _TABLE,
        {
            "registry_group": param.registry_group,
            "app_name": param.registry_key,
            "address": param.registry_value,
            "registered_at_ms": now_ms,
            "heartbeat_at_ms": now_ms,
        },
        key=("registry_group", "app_name", "address"),
        update=("heartbeat_at_ms",),
    )


def remove_registration(session: Session, param: RegistryParam) -> int:
    """Delete the registration; returns how many rows went (0 when it was not registered)."""
    return changed_rows(session.execute(
        sa.delete(_TABLE).where(
            _TABLE.c.registry_group == param.registry_group,
            _TABLE.c.app_name == param.registry_key,
            _TABLE.c.address == param.registry_value,
        )
    ))
