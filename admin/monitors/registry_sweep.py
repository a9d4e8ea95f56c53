"""Registry sweep: delete registrations whose executor has been silent past the dead window.

Readers already ignore them (`registry_view.DEAD_AFTER_MS`); the sweep keeps the table to the
executors that exist, as XXL-JOB's registry monitor does every 30 s. One node at a time.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa

from ..db import Database, changed_rows
from ..models import ExecutorRegistry
from ..registry_view import DEAD_AFTER_MS
from .lease import Lease, LeaseHolder

log = logging.getLogger("shardcron.admin.monitors.registry_sweep")


class RegistrySweep(LeaseHolder):
    name = "registry-sweep"
    interval_s = 30.0

    def __init__(self, db: Database, node_id: str) -> None:
        self.db = db
        self.lease = Lease(db, "registry_sweep", node_id, lease_ms=90_000)

    def tick(self, now_ms: int) -> None:
        if not self.lease.acquire(now_ms):
            return
        with self.db.session() as session:
            gone = changed_rows(session.execute(sa.delete(ExecutorRegistry).where(ExecutorRegistry.heartbeat_at_ms <= now_ms - DEAD_AFTER_MS)))
        if gone:
            log.info("removed %d registration(s) silent for %d s or more", gone, DEAD_AFTER_MS // 1000)
