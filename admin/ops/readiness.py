"""Is this admin node ready for traffic? The database answers, and a scheduler is alive.

A web node serves nothing useful without its database; without any live scheduler process the
console works but nothing fires, which an operator wants the probe (and the alert on it) to
show. The scheduler check reads the newest heartbeat in sc_scheduler_node, which every
scheduler process refreshes while its loops run; `ready_scheduler_max_age_s = 0` turns it off.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import func, select
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from shardcron.core.sqlengine import DatabaseError

from ..models import SchedulerNode


@dataclass
class Readiness:
    checks: dict[str, str] = field(default_factory=dict)  # check name -> "ok" or the reason
    reasons: list[str] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.reasons

    def fail(self, check: str, reason: str) -> None:
        self.checks[check] = reason
        self.reasons.append(f"{check}: {reason}")


def check_readiness(ctx) -> Readiness:
    result = Readiness()
    try:
        ctx.db.ping()
    except DatabaseError:
        # the full message names the server; the probe only says which check failed
        result.fail("database", "not reachable")
        return result
    result.checks["database"] = "ok"
    max_age_s = ctx.config.ready_scheduler_max_age_s
    if max_age_s == 0:
        result.checks["scheduler"] = "not checked"
        return result
    try:
        with ctx.db.read_session() as session:
            newest = session.scalar(select(func.max(SchedulerNode.heartbeat_at_ms)))
    except (DBAPIError, SQLAlchemyError):
        result.fail("scheduler", "sc_scheduler_node cannot be read (run `shardcron db init`?)")
        return result
    now_ms = ctx.clock.now_ms()
    if newest is None:
        result.fail("scheduler", "no scheduler process has ever started on this database")
    elif now_ms - newest > max_age_s * 1000:
        result.fail("scheduler", f"no scheduler heartbeat in the last {max_age_s} s (newest {(now_ms - newest) // 1000} s ago)")
    else:
        result.checks["scheduler"] = "ok"
    return result
