"""Retention: once an hour, delete run-log rows triggered more than `run_log_retention_days`
x 24 h ago (0 keeps them forever), with their finished alarms and the fire records that are done,
and audit-trail entries older than `audit_retention_days` (0 keeps them), in batches of 1,000
rows per transaction so no lock is held long. One node at a time; the hour is kept in the lease
row, so restarts do not repeat it.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from ..db import Database
from ..enums import AlarmStatus, FireStatus
from ..models import Alarm, AuditEntry, Fire, RunLog
from .lease import Lease, LeaseHolder

log = logging.getLogger("shardcron.admin.monitors.retention")

DAY_MS = 86_400_000
EVERY_MS = 3_600_000
BATCH = 1_000


class RunLogRetention(LeaseHolder):
    name = "run-log-retention"
    interval_s = 60.0

    def __init__(self, db: Database, node_id: str, retention_days: int, audit_retention_days: int = 0) -> None:
        self.db = db
        self.retention_days = retention_days
        self.audit_retention_days = audit_retention_days
        self.lease = Lease(db, "run_log_retention", node_id, lease_ms=600_000)

    def tick(self, now_ms: int) -> None:
        if (self.retention_days <= 0 and self.audit_retention_days <= 0) or not self.lease.acquire(now_ms):
            return
        if self.lease.last_run_at_ms and now_ms - self.lease.last_run_at_ms < EVERY_MS:
            return
        if self.retention_days > 0:
            cutoff_ms = now_ms - self.retention_days * DAY_MS
            runs = self._delete_in_batches(RunLog.__table__, RunLog.trigger_at_ms < cutoff_ms)
            alarms = self._delete_in_batches(Alarm.__table__, sa.and_(Alarm.created_at_ms < cutoff_ms, Alarm.status != AlarmStatus.PENDING))
            fires = self._delete_in_batches(Fire.__table__, sa.and_(Fire.status == FireStatus.DONE, Fire.created_at_ms < cutoff_ms))
            if runs or alarms or fires:
                log.info("retention (%d days): deleted %d run log(s), %d alarm(s), %d fire record(s)", self.retention_days, runs, alarms, fires)
        if self.audit_retention_days > 0:
            entries = self._delete_in_batches(AuditEntry.__table__, AuditEntry.at_ms < now_ms - self.audit_retention_days * DAY_MS)
            if entries:
                log.info("audit retention (%d days): deleted %d audit entr%s", self.audit_retention_days, entries, "y" if entries == 1 else "ies")
        self.lease.record_run(now_ms)

    def _delete_in_batches(self, table: sa.Table, condition: sa.ColumnElement[bool]) -> int:
        deleted = 0
        while True:
            with self.db.session() as session:
                ids = list(session.execute(sa.select(table.c.id).where(condition).order_by(table.c.id).limit(BATCH)).scalars())
                if ids:
                    session.execute(sa.delete(table).where(table.c.id.in_(ids)))
            deleted += len(ids)
            if len(ids) < BATCH:
                return deleted
