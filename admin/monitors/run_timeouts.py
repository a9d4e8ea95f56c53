"""Run timeouts: a RUNNING run of a job with `timeout_s > 0` that is still running
`timeout_s + run_timeout_grace_s` after its trigger is FAILED with 502 "timed out", and its
executor is told to `/kill` the job.

The executor enforces the timeout itself and reports 502; this is the backstop for executors
that cannot (an XXL-JOB handler swallowing the interrupt, a lost callback). The clock starts at
the trigger, so time spent queued behind a SERIAL_EXECUTION run counts. The kill is sent only to
a live executor of the job's group, and only when no newer run of the job is running there (a
kill stops the job's worker on that executor, whatever it runs); a newer UNKNOWN run counts as
possibly running. UNKNOWN runs are not timed out: failing one would start a retry of a run that
may have run, and its alarm went out already. HTTP happens after the commit.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import sqlalchemy as sa

from ..db import Database, changed_rows
from ..enums import FollowupStatus, RunStatus
from ..models import ExecutorGroup, Job, RunLog
from ..registry_view import is_group_executor
from ..transport.executor_client import ExecutorClient
from .lease import Lease, LeaseHolder

log = logging.getLogger("shardcron.admin.monitors.run_timeouts")

TIMEOUT_CODE = 502


@dataclass(frozen=True)
class _TimedOut:
    run_id: int
    job_id: int
    address: str | None
    kill: bool


class RunTimeouts(LeaseHolder):
    name = "run-timeouts"
    interval_s = 5.0

    def __init__(self, db: Database, node_id: str, client: ExecutorClient, grace_s: int) -> None:
        self.db = db
        self.client = client
        self.grace_ms = grace_s * 1000
        self.lease = Lease(db, "run_timeouts", node_id, lease_ms=60_000)

    def tick(self, now_ms: int) -> None:
        if not self.lease.acquire(now_ms):
            return
        for item in self._fail_overdue(now_ms):
            if not item.kill or item.address is None:  # only runs with an address are marked to kill
                continue
            answer = self.client.kill(item.address, item.job_id)
            if not answer.ok:
                log.warning("run %d timed out; kill of job %d at %s failed: %s", item.run_id, item.job_id, item.address, answer.msg)

    def _fail_overdue(self, now_ms: int) -> list[_TimedOut]:
        timed_out: list[_TimedOut] = []
        with self.db.session() as session:
            rows = session.execute(
                sa.select(RunLog.id, RunLog.job_id, RunLog.executor_address, RunLog.trigger_at_ms, Job.timeout_s, Job.group_id)
                .join(Job, Job.id == RunLog.job_id)
                .where(
                    RunLog.status == RunStatus.RUNNING,
                    Job.timeout_s > 0,
                    RunLog.trigger_at_ms + Job.timeout_s * 1000 + self.grace_ms < now_ms,
                )
                .order_by(RunLog.id)
                .limit(500)
            ).all()
            for row in rows:
                kill = self._may_kill(session, row, now_ms)
                msg = (
                    f"timed out: still running {(now_ms - row.trigger_at_ms) // 1000} s after its trigger "
                    f"(job timeout {row.timeout_s} s + {self.grace_ms // 1000} s grace); "
                    + ("the executor was told to kill it" if kill else "no kill sent (its executor is not live, or runs a newer run of the job)")
                )
                changed = changed_rows(session.execute(
                    sa.update(RunLog)
                    .where(RunLog.id == row.id, RunLog.status == RunStatus.RUNNING)
                    .values(
                        status=RunStatus.FAILED,
                        handle_code=TIMEOUT_CODE,
                        handle_msg=msg,
                        handle_at_ms=now_ms,
                        followup_status=FollowupStatus.PENDING,
                    )
                ))
                if not changed:
                    continue  # its result arrived meanwhile
                timed_out.append(_TimedOut(row.id, row.job_id, row.executor_address, kill))
        if timed_out:
            log.warning("failed %d run(s) as timed out: %s", len(timed_out), [t.run_id for t in timed_out])
        return timed_out

    @staticmethod
    def _may_kill(session, row, now_ms: int) -> bool:
        if not row.executor_address:
            return False
        group = session.get(ExecutorGroup, row.group_id)
        if group is None or not is_group_executor(session, group, row.executor_address, now_ms):
            return False
        newer = session.execute(
            sa.select(RunLog.id)
            .where(RunLog.job_id == row.job_id, RunLog.executor_address == row.executor_address, RunLog.id > row.id,
                   RunLog.status.in_([RunStatus.PENDING, RunStatus.RUNNING, RunStatus.UNKNOWN]))
            .limit(1)
        ).first()
        return newer is None
