"""The backfill advancer: turns RUNNING backfills (sc_backfill) into BACKFILL fires, a few at a time.

Every scheduler node runs it (`tick(now)`), each tick one transaction that:

1. locks the RUNNING backfills (`FOR UPDATE SKIP LOCKED` on MySQL/MariaDB/PostgreSQL: two nodes
   never advance the same backfill at once, and neither waits for the other);
2. counts, per backfill, its *active* fires — not DONE yet, or with a PENDING/RUNNING run;
3. inserts PENDING fires for its next planned times, as many as its pace leaves room for
   (`pace - active`), each at its planned time (`fire_at_ms`, so the run's `logDateTime` —
   `ctx.trigger_time_ms` — is that time), trigger type BACKFILL, `origin_ref` the backfill id;
   inserts skip a fire that exists (unique on job, time, type, origin);
4. moves the backfill's cursor (`next_at_ms`, `created`) past them, or marks it DONE once every
   planned time has a fire and none is active.

A node killed mid-way commits nothing of the tick; the next tick (on any node) redoes it, and the
unique key keeps a fire from being created twice. The fire loop claims the fires like any pending
fire; their overlap policy is the backfill's (RunStore). Nothing runs at all while no backfill
is RUNNING: one indexed query a tick.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import Database
from ..enums import BackfillStatus, FireStatus, OverlapPolicy, RunStatus, ScheduleType, TriggerType
from ..models import Backfill, Fire, Job, RunLog
from ..schedules.backfill_times import backfill_times
from ..schedules.schedule import ScheduleError
from .bulk_insert import insert_ignoring_duplicates
from .fire_store import retry_on_deadlock

log = logging.getLogger("shardcron.admin.scheduling")

#: Most backfills advanced in one tick.
BATCH = 100


def backfill_overlap_policies(session: Session, backfill_ids: list[int]) -> dict[int, OverlapPolicy]:
    """The overlap policy of each backfill (for deciding its fires in the claim transaction)."""
    table = Backfill.__table__.c
    rows = session.execute(sa.select(table.id, table.overlap_policy).where(table.id.in_(sorted(set(backfill_ids)))))
    return {backfill_id: OverlapPolicy(policy) for backfill_id, policy in rows}


class BackfillAdvancer:
    name = "backfills"
    interval_s = 1.0

    def __init__(self, db: Database) -> None:
        self.db = db
        self._locking = db.dialect != "sqlite"

    def tick(self, now_ms: int) -> None:
        self.advance(now_ms)

    def advance(self, now_ms: int) -> int:
        """Advance every RUNNING backfill this node can lock; returns the fires created."""
        return retry_on_deadlock(lambda: self._advance(now_ms))

    def _advance(self, now_ms: int) -> int:
        table = Backfill.__table__.c
        query = sa.select(Backfill).where(table.status == BackfillStatus.RUNNING.value).order_by(table.id).limit(BATCH)
        if self._locking:
            query = query.with_for_update(skip_locked=True)
        created = 0
        with self.db.session() as session:
            for backfill in session.scalars(query).all():
                created += self._advance_one(session, backfill, now_ms)
        return created

    def _advance_one(self, session: Session, backfill: Backfill, now_ms: int) -> int:
        job = session.get(Job, backfill.job_id)
        if job is None or job.schedule_type not in (ScheduleType.CRON, ScheduleType.FIX_RATE):
            log.warning("backfill %s stopped: its job %s is gone or has no schedule", backfill.id, backfill.job_id)
            backfill.status, backfill.finished_at_ms = BackfillStatus.CANCELLED, now_ms
            return 0
        active = self._active(session, backfill)
        if backfill.next_at_ms == 0:
            if active == 0:
                backfill.status, backfill.finished_at_ms = BackfillStatus.DONE, now_ms
            return 0
        room = backfill.pace - active
        if room <= 0:
            return 0
        kind = ScheduleType(job.schedule_type)
        try:
            times = backfill_times(kind, job.schedule_conf, job.timezone, backfill.from_ms, backfill.to_ms, after_ms=backfill.next_at_ms - 1, limit=room + 1)
        except (ScheduleError, ValueError) as exc:
            log.error("backfill %s stopped: job %s has an unusable schedule: %s", backfill.id, job.id, exc)
            backfill.status, backfill.finished_at_ms = BackfillStatus.CANCELLED, now_ms
            return 0
        due, following = times[:room], times[room:]
        insert_ignoring_duplicates(session, Fire.__table__, [
            {
                "job_id": job.id, "fire_at_ms": at_ms, "trigger_type": TriggerType.BACKFILL, "origin_ref": backfill.id,
                "status": FireStatus.PENDING, "lease_until_ms": 0, "attempt": 0, "created_at_ms": now_ms,
            }
            for at_ms in due
        ])
        backfill.created += len(due)
        backfill.next_at_ms = following[0] if following else 0
        return len(due)

    def _active(self, session: Session, backfill: Backfill) -> int:
        fire, run = Fire.__table__.c, RunLog.__table__.c
        running = sa.exists().where(run.fire_id == fire.id, run.status.in_([RunStatus.PENDING.value, RunStatus.RUNNING.value]))
        return session.execute(
            sa.select(sa.func.count()).where(
                fire.job_id == backfill.job_id, fire.trigger_type == TriggerType.BACKFILL.value, fire.origin_ref == backfill.id,
                (fire.status != FireStatus.DONE.value) | running,
            )
        ).scalar_one()
