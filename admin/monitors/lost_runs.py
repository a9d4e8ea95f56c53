"""Lost runs: runs that will never report, failed so that retries and alarms apply.

  * RUNNING, executor gone: the monitor notes when it first finds the run's executor not live
    (`executor_gone_at_ms`): for AUTO groups, no heartbeat in the last 90 s; for MANUAL groups,
    not listed any more or not answering `/beat`. If the executor is still not live
    `lost_run_after_s` later, the run is FAILED "lost: executor gone"; if it comes back first,
    the note is cleared. An executor that stops at T is therefore failed as lost by
    T + 90 s + lost_run_after_s + 2 x 10 s (the monitor's interval) at the latest.
  * PENDING, never acknowledged: the scheduler wrote the row but no answer of `/run` was ever
    recorded (the scheduler died mid-dispatch); after `lost_run_after_s` (far above the
    dispatcher's call timeout) the run is FAILED "lost: trigger never acknowledged".

Both updates are guarded by status: a result that arrives first wins.
"""

from __future__ import annotations

import logging
from collections import defaultdict

import sqlalchemy as sa

from ..db import Database
from ..enums import AddressType, FollowupStatus, RunStatus
from ..models import ExecutorGroup, RunLog
from ..scheduling.executor_client import ExecutorClient
from ..scheduling.registry_view import live_addresses
from .lease import Lease

log = logging.getLogger("shardcron.admin.monitors.lost_runs")

LOST_CODE = 500
BATCH = 1_000


class LostRuns:
    name = "lost-runs"
    interval_s = 10.0

    def __init__(self, db: Database, node_id: str, client: ExecutorClient, lost_after_s: int) -> None:
        self.db = db
        self.client = client
        self.lost_after_ms = lost_after_s * 1000
        self.lease = Lease(db, "lost_runs", node_id, lease_ms=60_000)

    def tick(self, now_ms: int) -> None:
        if not self.lease.acquire(now_ms):
            return
        self._fail_unacknowledged(now_ms)
        self._check_running(now_ms)

    # ------------------------------------------------------------------ PENDING

    def _fail_unacknowledged(self, now_ms: int) -> None:
        msg = f"lost: trigger never acknowledged within {self.lost_after_ms // 1000} s (the scheduler stopped while dispatching it)"
        with self.db.session() as session:
            failed = session.execute(
                sa.update(RunLog)
                .where(RunLog.status == RunStatus.PENDING, RunLog.trigger_at_ms < now_ms - self.lost_after_ms)
                .values(status=RunStatus.FAILED, handle_code=LOST_CODE, handle_msg=msg, handle_at_ms=now_ms,
                        followup_status=FollowupStatus.PENDING)
            ).rowcount
        if failed:
            log.warning("failed %d run(s) whose trigger was never acknowledged", failed)

    # ------------------------------------------------------------------ RUNNING

    def _check_running(self, now_ms: int) -> None:
        with self.db.read_session() as session:
            rows = session.execute(
                sa.select(RunLog.id, RunLog.group_id, RunLog.executor_address, RunLog.executor_gone_at_ms)
                .where(RunLog.status == RunStatus.RUNNING)
                .order_by(RunLog.id)
                .limit(BATCH)
            ).all()
            if not rows:
                return
            groups = {g.id: g for g in session.scalars(sa.select(ExecutorGroup).where(ExecutorGroup.id.in_(sorted({r.group_id for r in rows}))))}
            live = {gid: set(live_addresses(session, group, now_ms)) for gid, group in groups.items()}
        manual_checks: dict[str, bool] = {}
        gone, back = [], []
        for row in rows:
            group = groups.get(row.group_id)
            is_live = bool(row.executor_address) and group is not None and row.executor_address in live[row.group_id]
            if is_live and group.address_type == AddressType.MANUAL:
                if row.executor_address not in manual_checks:  # one /beat per address per tick, outside any transaction
                    manual_checks[row.executor_address] = self.client.beat(row.executor_address).ok
                is_live = manual_checks[row.executor_address]
            if not is_live:
                gone.append(row)
            elif row.executor_gone_at_ms is not None:
                back.append(row.id)
        self._record(now_ms, gone, back)

    def _record(self, now_ms: int, gone: list, back: list[int]) -> None:
        first_seen = [row.id for row in gone if row.executor_gone_at_ms is None]
        overdue = defaultdict(list)
        for row in gone:
            if row.executor_gone_at_ms is not None and now_ms - row.executor_gone_at_ms >= self.lost_after_ms:
                overdue[row.executor_address].append(row.id)
        with self.db.session() as session:
            if first_seen:
                session.execute(
                    sa.update(RunLog).where(RunLog.id.in_(first_seen), RunLog.status == RunStatus.RUNNING, RunLog.executor_gone_at_ms.is_(None))
                    .values(executor_gone_at_ms=now_ms)
                )
            if back:
                session.execute(sa.update(RunLog).where(RunLog.id.in_(back)).values(executor_gone_at_ms=None))
            for address, ids in overdue.items():
                msg = f"lost: executor gone ({address or 'no address'} not live for {self.lost_after_ms // 1000} s or more)"
                failed = session.execute(
                    sa.update(RunLog)
                    .where(RunLog.id.in_(ids), RunLog.status == RunStatus.RUNNING)
                    .values(status=RunStatus.FAILED, handle_code=LOST_CODE, handle_msg=msg, handle_at_ms=now_ms,
                            followup_status=FollowupStatus.PENDING)
                ).rowcount
                log.warning("failed %d run(s) as lost: executor %s gone", failed, address)
