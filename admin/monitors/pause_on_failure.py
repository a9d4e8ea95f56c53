"""Pause on failure: a job with `pause_after_failures = N > 0` stops itself after N consecutive
failed runs, with its reason, an audit entry by the system and one alarm.

What counts, and when. The follow-up monitor settles each finished run once, in the transaction
that moves its `followup_status` from PENDING to DONE; this module counts the run in that same
transaction, and only when that move is this transaction's own (a guarded UPDATE that changed
the row), so two nodes following up the same run, or a run whose result was reported twice,
count once. The job rows are locked (FOR UPDATE) before their runs are counted, in id order.

* A **failed run** is a run that ended FAILED and will not be retried: `retry_remaining = 0`
  (its last retry, or a job without retries). Timeouts (502), lost runs, trigger failures (no
  live executor, the executor refused the run) and runs killed by hand are failures like any
  other; a failure that will be retried is not counted, its last retry is. So with retries,
  one planned time counts once.
* A **successful run** sets the count back to 0 (callbacks mark the successes of jobs with pause
  on failure for follow-up for this).
* An UNKNOWN run (delivery not confirmed) counts neither way: it is not known to have failed; if
  its executor reports a result later, that result counts.
* Runs ended by the job's own overlap policy (TERMINATE_OTHER) or by a repair are settled
  without a follow-up and do not count: they say nothing about the job's health.
* A sharding broadcast counts **per run**: each shard is a run with its own result and retries,
  as its alarms are. A 4-shard fire whose shards all fail counts 4.

Runs are counted in the order they are followed up (by run id within a batch). While a job is
paused nothing changes its count, so the count shown is the one that paused it; starting the
job clears the pause and sets the count to 0 (services.jobs.start_job).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.clock import ms_to_datetime

from ..db import changed_rows
from ..enums import AlarmStatus, AuditAction, AuditTarget, FollowupStatus, RunStatus
from ..models import Alarm, Job, RunLog
from ..services import audit
from ..services.actor import SYSTEM_ACTOR

log = logging.getLogger("shardcron.admin.monitors.pause_on_failure")

#: Width of sc_job.paused_reason.
MAX_REASON_CHARS = 512


@dataclass
class _JobState:
    id: int
    name: str
    group_id: int
    limit: int
    count: int
    paused_at_ms: int
    enabled: bool
    next_fire_at_ms: int
    reason: str | None = None
    changed: bool = False


def counts(run: RunLog, job: Job) -> bool:
    """Whether this finished run moves its job's count: the one test per run when the feature is off."""
    if job.pause_after_failures <= 0:
        return False
    return run.status == RunStatus.SUCCESS or (run.status == RunStatus.FAILED and run.retry_remaining <= 0)


def _iso(at_ms: int) -> str:
    return ms_to_datetime(at_ms).isoformat(timespec="seconds").replace("+00:00", "Z")


def pause_reason(count: int, run: RunLog) -> str:
    """Why the job paused, as stored in `paused_reason` (and shown as is: like a run's message it
    is data, written once, read in any language)."""
    finished_at_ms = run.handle_at_ms or run.trigger_at_ms
    shard = f" (shard {run.shard_index}/{run.shard_total})" if run.shard_total > 1 else ""
    if run.handle_code:
        outcome = f"{run.handle_code} {run.handle_msg or ''}"
    else:
        outcome = f"trigger {run.trigger_code} {run.trigger_msg or ''}"
    text = f"paused after {count} consecutive failed runs; last: run {run.id}{shard} at {_iso(finished_at_ms)}: {outcome.strip()}"
    return text if len(text) <= MAX_REASON_CHARS else text[: MAX_REASON_CHARS - 3] + "..."


def _lock_jobs(session: Session, job_ids: Iterable[int]) -> dict[int, _JobState]:
    t = Job.__table__.c
    rows = session.execute(
        sa.select(t.id, t.name, t.group_id, t.pause_after_failures, t.consecutive_failures, t.paused_at_ms, t.enabled, t.next_fire_at_ms)
        .where(t.id.in_(sorted(set(job_ids))))
        .order_by(t.id)
        .with_for_update()
    ).all()
    return {
        r.id: _JobState(r.id, r.name, r.group_id, r.pause_after_failures, r.consecutive_failures, r.paused_at_ms, r.enabled, r.next_fire_at_ms)
        for r in rows
    }


def _settle_once(session: Session, run_id: int) -> bool:
    """Move the run's follow-up to DONE; False when another transaction did (it counted the run)."""
    return bool(changed_rows(session.execute(
        sa.update(RunLog.__table__)
        .where(RunLog.__table__.c.id == run_id, RunLog.__table__.c.followup_status == FollowupStatus.PENDING.value)
        .values(followup_status=FollowupStatus.DONE.value)
    )))


def count_runs(session: Session, runs: list[RunLog], jobs: Mapping[int, Job], now_ms: int) -> set[int]:
    """Count the finished `runs` of jobs with pause on failure, pause the jobs that reach their
    limit, and return the ids of the runs whose failure paused their job (their alarms say so).
    Runs of other jobs cost one test each."""
    counted = [run for run in runs if run.job_id in jobs and counts(run, jobs[run.job_id])]
    if not counted:
        return set()
    states = _lock_jobs(session, {run.job_id for run in counted})
    pausing: set[int] = set()
    for run in sorted(counted, key=lambda r: r.id):
        state = states.get(run.job_id)
        if state is None or not _settle_once(session, run.id):
            continue  # the job was deleted meanwhile, or the run was counted by another transaction
        if state.paused_at_ms or state.limit <= 0:
            continue  # paused already (a run that fails after the pause does not pause it again), or turned off meanwhile
        if run.status == RunStatus.SUCCESS:
            state.changed = state.changed or state.count != 0
            state.count = 0
            continue
        state.count += 1
        state.changed = True
        if state.count >= state.limit:
            state.paused_at_ms = now_ms
            state.reason = pause_reason(state.count, run)
            pausing.add(run.id)
            _audit_pause(session, state, run, now_ms)
    for state in states.values():
        if state.changed:
            _write(session, state)
    if pausing:
        log.warning("paused %d job(s) after consecutive failed runs (runs %s)", len(pausing), sorted(pausing))
    return pausing


def _audit_pause(session: Session, state: _JobState, run: RunLog, now_ms: int) -> None:
    before = {"enabled": state.enabled, "next_fire_at_ms": state.next_fire_at_ms, "paused_at_ms": 0}
    after = {
        "enabled": False, "next_fire_at_ms": 0, "paused_at_ms": now_ms, "paused_reason": state.reason,
        "consecutive_failures": state.count, "run_id": run.id,
    }
    audit.record(
        session, SYSTEM_ACTOR, AuditAction.JOB_PAUSE, AuditTarget.JOB,
        target_id=state.id, target_name=state.name, group_id=state.group_id, before=before, after=after, now_ms=now_ms,
    )


def _write(session: Session, state: _JobState) -> None:
    t = Job.__table__.c
    values: dict[str, object] = {"consecutive_failures": state.count}
    if state.reason is not None:
        # Stopped as a person's stop does: no further scheduled fire (manual triggers still work).
        values.update(enabled=False, next_fire_at_ms=0, paused_at_ms=state.paused_at_ms, paused_reason=state.reason)
    session.execute(sa.update(Job.__table__).where(t.id == state.id).values(**values))


def announce_pause(session: Session, run_ids: set[int], now_ms: int) -> None:
    """Mark the alarms of the runs that paused their job. Their rows were inserted flagged by the
    caller; a run alarmed before (an UNKNOWN run whose failure came later) has its rows flagged
    and sent again, once, so the pause is announced."""
    if not run_ids:
        return
    t = Alarm.__table__.c
    session.execute(
        sa.update(Alarm.__table__)
        .where(t.run_log_id.in_(sorted(run_ids)), t.job_paused.is_(False))
        .values(job_paused=True, status=AlarmStatus.PENDING.value, attempts=0, next_attempt_at_ms=now_ms, last_error=None, sent_at_ms=None)
    )
