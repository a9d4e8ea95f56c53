"""Follow-ups of finished runs (`followup_status = PENDING`): retries, child fires, alarms.

For each such run, in one transaction per batch:
  * FAILED with retries left -> a RETRY fire at `failed_at + backoff`, for the failed shard only
    when the job is a sharding broadcast (contracts §2), resuming from the run's last checkpoint;
  * FAILED with no retry left -> one alarm row per configured channel (e-mail, webhook);
  * UNKNOWN (whether the executor got the /run cannot be known; the job delivers at most once)
    -> one alarm row per channel, and never a retry: a retry would run the job again when it may
    have run already;
  * SUCCESS -> a PARENT fire of each child job;
then the run's follow-up is DONE. Runs of jobs with pause on failure are counted in the same
transaction (pause_on_failure): a job reaching its limit stops itself, and the alarm of the run
that paused it says so. Every write is keyed (`uq_fire_once`, `uq_alarm_run_channel`)
and every time in it is derived from the run, not from the clock, so two scheduler nodes doing
the same run's follow-up write the same rows once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import sqlalchemy as sa

from ..db import Database
from ..firing.retry_delay import retry_delay_ms
from ..enums import AlarmChannel, AlarmStatus, FireStatus, FollowupStatus, RouteStrategy, RunStatus, StepStatus, TriggerType
from ..models import Alarm, Fire, Job, RunLog, WorkflowStepRun
from ..upserts import insert_ignoring_duplicates
from ..workflows.advance import advance_step_runs
from ..workflows.step_fires import UPSTREAM_MAX_BYTES
from .lease import Lease, LeaseHolder
from .pause_on_failure import announce_pause, count_runs

log = logging.getLogger("shardcron.admin.monitors.followups")

BATCH = 500


def parse_child_job_ids(text: str | None) -> list[int]:
    """`"12, 15,12"` -> [12, 15]; entries that are not ids are skipped (the API validates on save)."""
    ids: list[int] = []
    for part in (text or "").split(","):
        part = part.strip()
        if part.isascii() and part.isdigit() and int(part) not in ids:
            ids.append(int(part))
    return ids


def alarm_rows(job: Job, run_id: int, now_ms: int) -> list[dict]:
    rows = []
    for channel, target in ((AlarmChannel.EMAIL, (job.alarm_emails or "").strip()), (AlarmChannel.WEBHOOK, (job.alarm_webhook or "").strip())):
        if target:
            rows.append(
                {
                    "run_log_id": run_id,
                    "job_id": job.id,
                    "channel": channel.value,
                    "target": target,
                    "status": AlarmStatus.PENDING.value,
                    "attempts": 0,
                    "next_attempt_at_ms": now_ms,
                    "created_at_ms": now_ms,
                    "job_paused": False,
                }
            )
    return rows


def _fire(job_id: int, fire_at_ms: int, trigger_type: TriggerType, origin_ref: int, now_ms: int, **overrides) -> dict:
    row = {
        "job_id": job_id,
        "fire_at_ms": fire_at_ms,
        "trigger_type": trigger_type.value,
        "origin_ref": origin_ref,
        "status": FireStatus.PENDING.value,
        "owner": None,
        "lease_until_ms": 0,
        "param": None,
        "shard_index": None,
        "shard_total": None,
        "address": None,
        "attempt": 0,
        "created_at_ms": now_ms,
        "resume_from_run_id": None,
        "step_run_id": None,
    }
    row.update(overrides)
    return row


class FollowupMonitor(LeaseHolder):
    name = "followups"
    interval_s = 1.0

    def __init__(self, db: Database, node_id: str, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> None:
        self.db = db
        self.lease = Lease(db, "followups", node_id, lease_ms=30_000)
        self.upstream_max_bytes = upstream_max_bytes

    def tick(self, now_ms: int) -> None:
        if not self.lease.acquire(now_ms):
            return
        while self.process_batch(now_ms) == BATCH:
            pass

    def process_batch(self, now_ms: int) -> int:
        """Follow up to BATCH runs; returns how many were handled."""
        with self.db.session() as session:
            runs = list(
                session.scalars(
                    sa.select(RunLog)
                    .where(
                        RunLog.followup_status == FollowupStatus.PENDING,
                        RunLog.status.in_([RunStatus.SUCCESS, RunStatus.FAILED, RunStatus.UNKNOWN]),
                    )
                    .order_by(RunLog.id)
                    .limit(BATCH)
                )
            )
            if not runs:
                return 0
            jobs = self._jobs(session, {run.job_id for run in runs})
            children = {child for job in jobs.values() for child in parse_child_job_ids(job.child_job_ids)}
            existing_children = self._existing(session, children)
            # Workflow steps: a run's retry belongs to its step only while the step runs (a
            # cancelled or timed-out step's failed run is not tried again).
            steps = {run.step_run_id for run in runs if run.step_run_id is not None}
            running_steps = self._running_steps(session, steps)
            fires: list[dict] = []
            alarms: list[dict] = []
            for run in runs:
                job = jobs.get(run.job_id)
                if job is None:
                    continue  # the job was deleted: nothing to retry, fire or alarm about
                finished_at_ms = run.handle_at_ms or run.trigger_at_ms
                if run.status == RunStatus.UNKNOWN:
                    alarms.extend(alarm_rows(job, run.id, now_ms))
                elif run.status == RunStatus.FAILED:
                    if run.retry_remaining > 0 and (run.step_run_id is None or run.step_run_id in running_steps):
                        broadcast = job.route_strategy == RouteStrategy.SHARDING_BROADCAST
                        fires.append(
                            _fire(
                                job.id,
                                finished_at_ms + retry_delay_ms(job, run.attempt),
                                TriggerType.RETRY,
                                run.id,
                                now_ms,
                                param=run.param,
                                shard_index=run.shard_index if broadcast else None,
                                shard_total=run.shard_total if broadcast else None,
                                attempt=run.attempt + 1,
                                # Resumes from the failed run's last checkpoint, if it saved one.
                                resume_from_run_id=run.id,
                                # A workflow step's retries are the step's: its runs carry it on.
                                step_run_id=run.step_run_id,
                            )
                        )
                    else:
                        alarms.extend(alarm_rows(job, run.id, now_ms))
                else:
                    for child in parse_child_job_ids(job.child_job_ids):
                        if child != job.id and child in existing_children:
                            fires.append(_fire(child, finished_at_ms, TriggerType.PARENT, run.id, now_ms))
            pausing = count_runs(session, runs, jobs, now_ms)
            for alarm in alarms:
                alarm["job_paused"] = alarm["run_log_id"] in pausing
            insert_ignoring_duplicates(session, Fire.__table__, fires)
            insert_ignoring_duplicates(session, Alarm.__table__, alarms)
            announce_pause(session, pausing, now_ms)
            session.execute(
                sa.update(RunLog)
                .where(RunLog.id.in_([run.id for run in runs]), RunLog.followup_status == FollowupStatus.PENDING)
                .values(followup_status=FollowupStatus.DONE)
            )
        if fires or alarms:
            log.info("followed up %d run(s): %d fire(s), %d alarm(s)", len(runs), len(fires), len(alarms))
        # The catch-all of the callback's fast path: the steps these runs belong to move on (a
        # retry written above keeps its step running).
        advance_step_runs(self.db, steps, now_ms, upstream_max_bytes=self.upstream_max_bytes)
        return len(runs)

    @staticmethod
    def _jobs(session, job_ids: Iterable[int]) -> dict[int, Job]:
        return {job.id: job for job in session.scalars(sa.select(Job).where(Job.id.in_(sorted(job_ids))))}

    @staticmethod
    def _running_steps(session, step_ids: set[int]) -> set[int]:
        if not step_ids:
            return set()
        return set(session.scalars(sa.select(WorkflowStepRun.id).where(WorkflowStepRun.id.in_(sorted(step_ids)), WorkflowStepRun.status == StepStatus.FIRED)))

    @staticmethod
    def _existing(session, job_ids: set[int]) -> set[int]:
        if not job_ids:
            return set()
        return set(session.scalars(sa.select(Job.id).where(Job.id.in_(sorted(job_ids)))))
