"""Workflow instances: timeouts, and the sweep that moves on what no result reported.

Each tick, under the `workflows` lease:

- a RUNNING instance past its `deadline_at_ms` (started_at + the workflow's timeout) ends
  TIMED_OUT: its waiting steps are cancelled, its running steps' runs failed and their executors
  told to `/kill` after the commit (workflows.operate.stop_instance);
- every SWEEP_MS, each RUNNING instance is advanced in full: a step whose fire ended without a run
  (its job's overlap policy or a cap skipped it) has no result to report it, and a node that died
  between a callback's commit and its advance left its steps to the follow-up monitor, which
  this repeats for what it could not see.

Both are guarded by the instance's lock and its rows' statuses, so two nodes (or a node and a
callback) doing the same change it once.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import Database
from ..enums import WorkflowStatus
from ..firing.fire_store import retry_on_deadlock
from ..enums import RunStatus, StepStatus
from ..models import RunLog, WorkflowInstance, WorkflowStepRun
from ..transport.executor_client import ExecutorClient
from ..workflows.advance import advance_instance, has_moves
from ..workflows.operate import Kill, send_kills, stop_instance
from ..workflows.step_fires import UPSTREAM_MAX_BYTES
from .lease import Lease, LeaseHolder

log = logging.getLogger("shardcron.admin.monitors.workflows")

BATCH = 200


class WorkflowInstances(LeaseHolder):
    name = "workflow-instances"
    interval_s = 1.0
    #: How often every RUNNING instance is advanced in full.
    SWEEP_MS = 5000

    def __init__(self, db: Database, node_id: str, client: ExecutorClient, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> None:
        self.db = db
        self.client = client
        self.upstream_max_bytes = upstream_max_bytes
        self.lease = Lease(db, "workflows", node_id, lease_ms=30_000)
        self._swept_at_ms: int | None = None

    def tick(self, now_ms: int) -> None:
        if not self.lease.acquire(now_ms):
            return
        self.time_out(now_ms)
        if self._swept_at_ms is None or now_ms - self._swept_at_ms >= self.SWEEP_MS:
            self._swept_at_ms = now_ms
            self.sweep(now_ms)

    def time_out(self, now_ms: int) -> int:
        """End the RUNNING instances past their deadline; returns how many."""
        t = WorkflowInstance.__table__.c
        with self.db.read_session() as session:
            overdue = session.execute(
                sa.select(t.id, t.started_at_ms, t.deadline_at_ms)
                .where(t.status == WorkflowStatus.RUNNING.value, t.deadline_at_ms > 0, t.deadline_at_ms <= now_ms)
                .order_by(t.deadline_at_ms).limit(BATCH)
            ).all()
        ended = 0
        for instance_id, started_at_ms, deadline_at_ms in overdue:
            timeout_s = (deadline_at_ms - (started_at_ms or deadline_at_ms)) // 1000
            message = f"timed out: still running {(now_ms - (started_at_ms or now_ms)) // 1000} s after it started (workflow timeout {timeout_s} s)"

            def stop(instance_id: int = instance_id, message: str = message) -> list[Kill] | None:
                with self.db.session() as session:
                    return stop_instance(session, instance_id, WorkflowStatus.TIMED_OUT, message, now_ms)

            kills = retry_on_deadlock(stop)
            if kills is None:
                continue  # it ended meanwhile
            ended += 1
            log.warning("workflow instance %d timed out; %d run(s) killed", instance_id, len(kills))
            send_kills(self.client, kills)
        return ended

    def sweep(self, now_ms: int) -> None:
        with self.db.read_session() as session:
            moving = [instance_id for instance_id in candidates(session) if has_moves(session, instance_id)]
        for instance_id in moving:

            def advance(instance_id: int = instance_id) -> None:
                with self.db.session() as session:
                    advance_instance(session, instance_id, now_ms, upstream_max_bytes=self.upstream_max_bytes)

            try:
                retry_on_deadlock(advance)
            except Exception:  # one instance must not stop the sweep of the others
                log.exception("workflow instance %d not advanced by the sweep", instance_id)


def candidates(session: Session) -> list[int]:
    """RUNNING instances (at most BATCH, by id) that may have something to move: a FIRED step with
    no run PENDING or RUNNING (it may have ended), or no FIRED step at all (a ready step not
    started, or every step ended). Instances whose every FIRED step still has a run going are
    left out: their runs' results move them."""
    i, s, r = WorkflowInstance.__table__.c, WorkflowStepRun.__table__.c, RunLog.__table__.c
    running = i.status == WorkflowStatus.RUNNING.value
    active_run = sa.exists().where(r.step_run_id == s.id, r.status.in_([RunStatus.PENDING.value, RunStatus.RUNNING.value]))
    ended_fired = (
        sa.select(s.instance_id).join_from(WorkflowStepRun.__table__, WorkflowInstance.__table__, i.id == s.instance_id)
        .where(running, s.status == StepStatus.FIRED.value, ~active_run)
    )
    no_fired = sa.select(i.id).where(running, ~sa.exists().where(s.instance_id == i.id, s.status == StepStatus.FIRED.value))
    found = set(session.execute(ended_fired.distinct().order_by(s.instance_id).limit(BATCH)).scalars())
    found |= set(session.execute(no_fired.order_by(i.id).limit(BATCH)).scalars())
    return sorted(found)[:BATCH]
