"""The workflow planner: starts the instances of scheduled workflows at their planned times.

Every scheduler node runs it (`tick(now_ms)`, once a second: it plans `lookahead_ms` ahead, like
the fire loop plans jobs). Each tick is one transaction that:

1. locks the enabled workflows whose `next_fire_at_ms` is within the look-ahead (`FOR UPDATE SKIP
   LOCKED` on MySQL/MariaDB/PostgreSQL: two nodes never plan the same workflow at once and neither
   waits for the other; SQLite: BEGIN IMMEDIATE holds the whole database);
2. computes each one's planned times with the job schedule code (schedules.due_fires: cron in the
   workflow's time zone, FIX_RATE on its grid; a misfire past `misfire_grace_ms` follows the
   workflow's misfire strategy: DO_NOTHING plans nothing for the missed times, FIRE_ONCE_NOW one
   MISFIRE instance now; the catch-up strategies have no window for workflows and act as
   DO_NOTHING);
3. starts an instance per planned time (`instances.start_instance`, trigger CRON or MISFIRE,
   `origin_ref` 0): its root steps' fires are at the planned time, so they go out on the
   millisecond; the instance key (`uq_workflow_instance_once`) keeps a planned time from being
   started twice even if two nodes planned it;
4. moves `next_fire_at_ms` / `last_fire_at_ms` on (a schedule that ended or cannot be read stops
   the workflow: `enabled` false, `next_fire_at_ms` 0, logged).

A node killed mid-way commits nothing of the tick; the next tick (any node) redoes it. An
instance copies the workflow's definition when it is created, so an edit reaches the instances
planned after it, never one already created. With no workflow due, a tick is one indexed query
(ix_workflow_due).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from ..db import Database
from ..enums import MisfireStrategy, ScheduleType, TriggerType
from ..firing.fire_store import retry_on_deadlock
from ..models import Workflow
from ..schedules.due_fires import plan_job_fires
from ..schedules.schedule import ScheduleError
from ..transport.executor_client import ExecutorClient
from .instances import start_instance, take_kills
from .operate import Kill, send_kills
from .step_fires import UPSTREAM_MAX_BYTES

log = logging.getLogger("shardcron.admin.workflows.planner")

#: Most workflows planned in one tick (the rest in the next ones, oldest planned time first).
BATCH = 100
#: Who started a planned instance (sc_workflow_instance.triggered_by).
TRIGGERED_BY = "schedule"
_SCHEDULED = (ScheduleType.CRON.value, ScheduleType.FIX_RATE.value)


@dataclass(frozen=True)
class Planned:
    """What one tick did: instances started (ids), workflows whose planned times were moved on."""

    instance_ids: list[int]
    workflows: int


class WorkflowPlanner:
    name = "workflow-planner"
    interval_s = 1.0

    def __init__(
        self, db: Database, *, lookahead_ms: int, misfire_grace_ms: int, client: ExecutorClient | None = None,
        upstream_max_bytes: int = UPSTREAM_MAX_BYTES,
    ) -> None:
        self.db = db
        self.lookahead_ms = lookahead_ms
        self.misfire_grace_ms = misfire_grace_ms
        self.client = client
        self.upstream_max_bytes = upstream_max_bytes
        self._locking = db.dialect != "sqlite"

    def tick(self, now_ms: int) -> None:
        self.plan(now_ms)

    def plan(self, now_ms: int) -> Planned:
        """Start the instances of every due workflow this node can lock."""
        planned, kills = retry_on_deadlock(lambda: self._plan(now_ms))
        if kills and self.client is not None:  # CANCEL_OTHER: HTTP only after the commit
            send_kills(self.client, kills)
        return planned

    def _plan(self, now_ms: int) -> tuple[Planned, list[Kill]]:
        t = Workflow.__table__.c
        query = (
            sa.select(Workflow)
            .where(
                t.enabled == sa.true(),  # `= 1`: the index ix_workflow_due(enabled, next_fire_at_ms) applies
                t.next_fire_at_ms > 0,
                t.next_fire_at_ms <= now_ms + self.lookahead_ms,
                t.schedule_type.in_(_SCHEDULED),
            )
            .order_by(t.next_fire_at_ms)
            .limit(BATCH)
        )
        if self._locking:
            query = query.with_for_update(skip_locked=True)
        started: list[int] = []
        kills: list[Kill] = []
        with self.db.session() as session:
            due = session.scalars(query).all()
            for workflow in due:
                started += self._plan_one(session, workflow, now_ms, kills)
        return Planned(started, len(due)), kills

    def _plan_one(self, session: Session, workflow: Workflow, now_ms: int, kills: list[Kill]) -> list[int]:
        misfire = MisfireStrategy(workflow.misfire_strategy)
        try:
            plan = plan_job_fires(
                ScheduleType(workflow.schedule_type), workflow.schedule_conf, workflow.timezone, misfire,
                workflow.next_fire_at_ms, now_ms, now_ms + self.lookahead_ms, self.misfire_grace_ms,
            )
        except (ScheduleError, ValueError) as exc:
            log.error("workflow %s has an unusable schedule and is stopped: %s", workflow.id, exc, extra={"workflow_id": workflow.id})
            workflow.enabled, workflow.next_fire_at_ms = False, 0
            return []
        if plan.misfired:
            log.warning(
                "workflow %s misfired (planned %s, now %s): %s", workflow.id, workflow.next_fire_at_ms, now_ms,
                "one instance now" if misfire == MisfireStrategy.FIRE_ONCE_NOW else "missed times not run",
                extra={"workflow_id": workflow.id, "planned_at_ms": workflow.next_fire_at_ms, "misfire_strategy": str(misfire)},
            )
        started: list[int] = []
        for planned_at_ms, trigger_type in plan.fires:
            instance_id = self._start(session, workflow, planned_at_ms, trigger_type, now_ms, kills)
            if instance_id is not None:
                started.append(instance_id)
        if plan.next_fire_at_ms is None:
            log.info("workflow %s has no further fire time and is stopped", workflow.id, extra={"workflow_id": workflow.id})
            workflow.enabled = False
        workflow.next_fire_at_ms = plan.next_fire_at_ms or 0
        workflow.last_fire_at_ms = max([workflow.last_fire_at_ms] + [at for at, _ in plan.fires])
        session.flush()
        return started

    def _start(
        self, session: Session, workflow: Workflow, planned_at_ms: int, trigger_type: TriggerType, now_ms: int, kills: list[Kill],
    ) -> int | None:
        """One planned instance; the kills its start asks for (CANCEL_OTHER) join `kills`. A
        definition the engine cannot start (a row written by hand, a bug) loses this planned
        time, logged, and not the other workflows' tick: its writes are rolled back to a
        savepoint, its kills dropped. Database errors (a deadlock) abort the whole tick, which
        is retried."""
        try:
            with session.begin_nested():
                instance_id = start_instance(
                    session, workflow, trigger_type=trigger_type, planned_at_ms=planned_at_ms, origin_ref=0, params=None,
                    now_ms=now_ms, triggered_by=TRIGGERED_BY, upstream_max_bytes=self.upstream_max_bytes,
                )
        except SQLAlchemyError:
            raise
        except Exception:
            take_kills(session)  # of writes rolled back
            log.exception("workflow %s: the instance planned at %s could not start", workflow.id, planned_at_ms, extra={"workflow_id": workflow.id})
            return None
        kills += take_kills(session)
        return instance_id
