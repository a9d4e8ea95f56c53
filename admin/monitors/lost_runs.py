"""Lost runs: runs that will never report, failed so that retries and alarms apply.

  * RUNNING, executor gone: the monitor notes when it first finds the run's executor not live
    (`executor_gone_at_ms`): for AUTO groups, no heartbeat in the last 90 s; for MANUAL groups,
    not listed any more or not answering `/beat`. If the executor is still not live
    `lost_run_after_s` later, the run is FAILED "lost: executor gone"; if it comes back first,
    the note is cleared. An executor that stops at T is therefore failed as lost by
    T + 90 s + lost_run_after_s + 2 x 10 s (the monitor's interval) at the latest.
  * RUNNING, executor live but without the run: an executor that restarted within the 90 s
    window looks live, yet its runs are gone. For runs older than `lost_run_after_s` the
    monitor asks the executor `/idleBeat` for the job; "idle" (no worker running or queued for
    it) is noted the same way, and an executor that stays idle for the job `lost_run_after_s`
    longer fails the run. The wait covers a result still on its way (executors re-send spooled
    results every 10-30 s); a busy answer (any run of the job) counts as still running. After an
    idle answer the executor is asked about the run's logId (`/log`): a shardcron executor that
    says its result is pending (ended, not yet accepted by an admin) keeps the run RUNNING (the
    result finishes it), however long that takes; one that does not say (XXL-JOB's executors)
    is judged by the wait alone.
  * PENDING, never acknowledged: the scheduler wrote the row but no answer of `/run` was ever
    recorded; after `lost_run_after_s` (far above the dispatcher's call timeout) the run is
    FAILED "lost: trigger never acknowledged" — unless its fire is still CLAIMED: then a
    scheduler lease term holds it (or will adopt it from an ended term) and sends or settles it
    with the executor; failing it here would start a retry of a run that may yet be sent, or
    may have run. Only PENDING runs whose fire is DONE, PENDING or gone are lost.
  * UNKNOWN runs are left alone: the scheduler gave up on knowing whether they were delivered,
    their alarm went out, and only a result from the executor finishes them.

Every update is guarded by status: a result that arrives first wins.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa

from ..db import Database, changed_rows
from ..enums import AddressType, FireStatus, FollowupStatus, RunStatus
from ..models import ExecutorGroup, Fire, RunLog, log_date_ms
from ..registry_view import live_addresses
from ..transport.executor_client import ExecutorClient
from .lease import Lease, LeaseHolder

log = logging.getLogger("shardcron.admin.monitors.lost_runs")

LOST_CODE = 500
BATCH = 1_000


class LostRuns(LeaseHolder):
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
        held = sa.exists().where(Fire.id == RunLog.fire_id, Fire.status == FireStatus.CLAIMED)
        failed = 0
        while True:
            with self.db.session() as session:
                # A plain read first, then an UPDATE of those rows only: an UPDATE ... WHERE NOT
                # EXISTS (sc_fire ...) would share-lock the fire rows it reads (InnoDB, repeatable
                # read), in the way of the fire loop's claims. The status guard keeps it exact: a
                # fire goes DONE only once its rows are answered.
                ids = list(
                    session.scalars(
                        sa.select(RunLog.id)
                        .where(RunLog.status == RunStatus.PENDING, RunLog.trigger_at_ms < now_ms - self.lost_after_ms, ~held)
                        .order_by(RunLog.id)
                        .limit(BATCH)
                    )
                )
                if ids:
                    failed += changed_rows(session.execute(
                        sa.update(RunLog)
                        .where(RunLog.id.in_(ids), RunLog.status == RunStatus.PENDING)
                        .values(status=RunStatus.FAILED, handle_code=LOST_CODE, handle_msg=msg, handle_at_ms=now_ms,
                                followup_status=FollowupStatus.PENDING)
                    ))
            if len(ids) < BATCH:
                break
        if failed:
            log.warning("failed %d run(s) whose trigger was never acknowledged", failed)

    # ------------------------------------------------------------------ RUNNING

    def _check_running(self, now_ms: int) -> None:
        with self.db.read_session() as session:
            rows = session.execute(
                sa.select(RunLog.id, RunLog.job_id, RunLog.group_id, RunLog.executor_address, RunLog.trigger_at_ms, RunLog.executor_gone_at_ms,
                          RunLog.fire_at_ms, RunLog.planned_at_ms)
                .where(RunLog.status == RunStatus.RUNNING)
                .order_by(RunLog.id)
                .limit(BATCH)
            ).all()
            if not rows:
                return
            groups = {g.id: g for g in session.scalars(sa.select(ExecutorGroup).where(ExecutorGroup.id.in_(sorted({r.group_id for r in rows}))))}
            live = {gid: set(live_addresses(session, group, now_ms)) for gid, group in groups.items()}
        # HTTP checks happen here, outside any transaction, once per address (or address and job) per tick.
        beats: dict[str, bool] = {}
        idle: dict[tuple[str, int], bool] = {}
        missing: dict[int, str] = {}  # run id -> why it is missing
        back = []
        for row in rows:
            group = groups.get(row.group_id)
            address = row.executor_address
            reason = None
            if not address or group is None or address not in live[row.group_id]:
                reason = f"lost: executor gone ({address or 'no address'} not live for {self.lost_after_ms // 1000} s or more)"
            elif group.address_type == AddressType.MANUAL and not self._answers_beat(address, beats):
                reason = f"lost: executor gone ({address} not answering /beat for {self.lost_after_ms // 1000} s or more)"
            elif row.trigger_at_ms < now_ms - self.lost_after_ms:
                key = (address, row.job_id)
                if key not in idle:
                    idle[key] = self.client.idle_beat(address, row.job_id).ok
                # Asked after /idleBeat (within this tick): a run that ended in between reads pending.
                if idle[key] and not self._result_on_its_way(address, row):
                    reason = (
                        f"lost: executor {address} no longer runs it (job {row.job_id} idle there for "
                        f"{self.lost_after_ms // 1000} s or more; the executor restarted or dropped the run)"
                    )
            if reason is not None:
                missing[row.id] = reason
            elif row.executor_gone_at_ms is not None:
                back.append(row.id)
        self._record(now_ms, rows, missing, back)

    def _result_on_its_way(self, address: str, row: Any) -> bool:
        """Whether the executor says the run ended and its result is not yet accepted (None, an
        executor that does not say, counts as no)."""
        if self.client.result_pending(address, log_date_ms(row.fire_at_ms, row.planned_at_ms), row.id):
            log.info("run ended on its executor, its result is on its way; not lost", extra={"run_id": row.id, "address": address})
            return True
        return False

    def _answers_beat(self, address: str, beats: dict[str, bool]) -> bool:
        if address not in beats:
            beats[address] = self.client.beat(address).ok
        return beats[address]

    def _record(self, now_ms: int, rows: Sequence[Any], missing: dict[int, str], back: list[int]) -> None:
        first_seen = [row.id for row in rows if row.id in missing and row.executor_gone_at_ms is None]
        overdue = defaultdict(list)
        for row in rows:
            if row.id in missing and row.executor_gone_at_ms is not None and now_ms - row.executor_gone_at_ms >= self.lost_after_ms:
                overdue[missing[row.id]].append(row.id)
        with self.db.session() as session:
            if first_seen:
                session.execute(
                    sa.update(RunLog).where(RunLog.id.in_(first_seen), RunLog.status == RunStatus.RUNNING, RunLog.executor_gone_at_ms.is_(None))
                    .values(executor_gone_at_ms=now_ms)
                )
            if back:
                session.execute(sa.update(RunLog).where(RunLog.id.in_(back)).values(executor_gone_at_ms=None))
            for msg, ids in overdue.items():
                failed = changed_rows(session.execute(
                    sa.update(RunLog)
                    .where(RunLog.id.in_(ids), RunLog.status == RunStatus.RUNNING)
                    .values(status=RunStatus.FAILED, handle_code=LOST_CODE, handle_msg=msg, handle_at_ms=now_ms,
                            followup_status=FollowupStatus.PENDING)
                ))
                log.warning("failed %d run(s): %s", failed, msg)
