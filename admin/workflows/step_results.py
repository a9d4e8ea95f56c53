"""How a FIRED step ended, from its fire and its runs (every run and retry carries `step_run_id`).

A step ends when every shard's latest run is final and no retry of it is coming:

- a shard's latest run PENDING or RUNNING: the step still runs;
- FAILED with retries left: its retry is coming while the run's follow-up is PENDING (the
  follow-up monitor writes the RETRY fire) or while that RETRY fire waits to be sent; a RETRY fire
  that ended without a run (its job's overlap policy or a cap skipped it) leaves the shard failed;
- UNKNOWN (whether the executor got it cannot be known, and it is never sent again): failed, so
  an instance does not wait forever on a run that may never report;
- SUCCEEDED when every shard's latest run succeeded, else FAILED with the failing run's message.

A step whose fire ended without any run fails with the fire's overlap note (or "job N no longer
exists"). The step's result data: the run's (a JSON object), or for a sharding broadcast
`{"shards": [data of shard 0, ...]}` (null for a shard with none); None when no run left any.
"""

from __future__ import annotations

import json
from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import FireStatus, FollowupStatus, RouteStrategy, RunStatus, StepStatus, TriggerType
from ..firing.retry_delay import retry_delay_ms
from ..models import Fire, Job, RunLog
from .step_rows import StepRow

_ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)

# Built once (a statement built per call cost more CPU than the database's work for it:
# docs/benchmarks.md, "Workflows"); `ids` lists one instance's steps, or a callback batch's.
_IDS: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)
_FIRE, _RUN, _JOB = Fire.__table__.c, RunLog.__table__.c, Job.__table__.c
#: A step's runs, each with what its job says of retries and routing (job_found NULL: deleted).
_STEP_RUNS = sa.select(
    _RUN.id, _RUN.step_run_id, _RUN.job_id, _RUN.shard_index, _RUN.shard_total, _RUN.status, _RUN.retry_remaining,
    _RUN.attempt, _RUN.followup_status, _RUN.handle_msg, _RUN.trigger_msg, _RUN.result_json, _RUN.handle_at_ms, _RUN.trigger_at_ms,
    _JOB.id.label("job_found"), _JOB.route_strategy, _JOB.retry_delay_s, _JOB.retry_max_delay_s, _JOB.retry_backoff_multiplier,
).select_from(RunLog.__table__.outerjoin(Job.__table__, _JOB.id == _RUN.job_id)).where(_RUN.step_run_id.in_(_IDS)).order_by(_RUN.id)
_FIRES = (
    sa.select(_FIRE.id, _FIRE.status, _FIRE.overlap_note, _JOB.id.label("job_found"))
    .select_from(Fire.__table__.outerjoin(Job.__table__, _JOB.id == _FIRE.job_id)).where(_FIRE.id.in_(_IDS))
)


@dataclass(frozen=True)
class StepEnd:
    """How a FIRED step ended: SUCCEEDED or FAILED, why (failed), its result data (JSON text)."""

    status: StepStatus
    message: str | None
    result_json: str | None


@dataclass(slots=True)
class _Run:
    id: int
    job_id: int
    shard_index: int
    shard_total: int
    status: RunStatus
    retry_remaining: int
    attempt: int
    followup: FollowupStatus
    message: str | None
    result_json: str | None
    finished_at_ms: int


def job_gone(job_id: int) -> str:
    return f"job {job_id} no longer exists"


def step_ends(session: Session, fired: Collection[StepRow]) -> dict[int, StepEnd]:
    """For the given FIRED step runs (their current rows, read under the instance's lock), those
    that ended and how (the others are left out)."""
    steps = sorted((step for step in fired if step.fire_id is not None), key=lambda step: step.id)
    if not steps:
        return {}
    connection = session.connection()
    runs: dict[int, list[_Run]] = {}
    jobs: dict[int, sa.Row] = {}  # a run's job id -> the run's row, which carries its job's settings
    for row in connection.execute(_STEP_RUNS, {"ids": [s.id for s in steps]}):
        runs.setdefault(row.step_run_id, []).append(_Run(
            row.id, row.job_id, row.shard_index, row.shard_total, RunStatus(row.status), row.retry_remaining, row.attempt,
            FollowupStatus(row.followup_status), row.handle_msg or row.trigger_msg, row.result_json, row.handle_at_ms or row.trigger_at_ms,
        ))
        if row.job_found is not None:
            jobs[row.job_id] = row
    without_runs = [s.fire_id for s in steps if s.id not in runs]
    fires = {}
    if without_runs:
        fires = {row.id: row for row in connection.execute(_FIRES, {"ids": without_runs})}
    ends: dict[int, StepEnd] = {}
    for step in steps:
        mine = runs.get(step.id)
        if mine is None:
            fire = fires.get(step.fire_id)
            if fire is None or fire.status != FireStatus.DONE:
                continue  # not sent yet (or its run rows are being written)
            note = job_gone(step.job_id) if fire.job_found is None else fire.overlap_note or f"fire {step.fire_id} of job {step.job_id} ended without a run"
            ends[step.id] = StepEnd(StepStatus.FAILED, note[:512], None)
            continue
        end = _end_of_runs(session, mine, jobs.get(mine[-1].job_id))
        if end is not None:
            ends[step.id] = end
    return ends


def _end_of_runs(session: Session, runs: list[_Run], job: sa.Row | None) -> StepEnd | None:
    latest: dict[int, _Run] = {}
    for run in runs:  # in id order: the last one of a shard is its latest
        latest[run.shard_index] = run
    failure: _Run | None = None
    for shard in sorted(latest):
        run = latest[shard]
        if run.status in _ACTIVE:
            return None
        if run.status == RunStatus.FAILED and run.retry_remaining > 0 and job is not None and _retry_coming(session, run, job):
            return None
        if run.status != RunStatus.SUCCESS and failure is None:
            failure = run
    broadcast = (job is not None and job.route_strategy == RouteStrategy.SHARDING_BROADCAST) or any(r.shard_total > 1 for r in latest.values())
    result = _result(latest, broadcast)
    if failure is None:
        return StepEnd(StepStatus.SUCCEEDED, None, result)
    if failure.status == RunStatus.UNKNOWN:
        message = f"run {failure.id}: whether its executor got it is unknown" + (f" ({failure.message})" if failure.message else "")
    else:
        message = f"run {failure.id} failed" + (f": {failure.message}" if failure.message else "")
    if broadcast:
        message = f"shard {failure.shard_index}/{failure.shard_total}: {message}"
    return StepEnd(StepStatus.FAILED, message[:512], result)


def _retry_coming(session: Session, run: _Run, job: sa.Row) -> bool:
    """A failed run with retries left: its follow-up still writes the RETRY fire, or that fire
    (found by its unique key, uq_fire_once) has not ended yet."""
    if run.followup == FollowupStatus.PENDING:
        return True
    fire_t = Fire.__table__.c
    retry = (fire_t.job_id == run.job_id, fire_t.trigger_type == TriggerType.RETRY.value, fire_t.origin_ref == run.id)
    status = session.execute(sa.select(fire_t.status).where(*retry, fire_t.fire_at_ms == run.finished_at_ms + retry_delay_ms(job, run.attempt))).scalar()
    if status is None:
        # The job's retry delay was edited since: look the fire up by its origin alone.
        status = session.execute(sa.select(fire_t.status).where(*retry).limit(1)).scalar()
    return status is not None and status != FireStatus.DONE


def _result(latest: dict[int, _Run], broadcast: bool) -> str | None:
    if not broadcast:
        run = latest.get(0) or next(iter(latest.values()))
        return run.result_json
    total = max(r.shard_total for r in latest.values())
    shards: list[Any] = [None] * total
    for index, run in latest.items():
        if 0 <= index < total and run.result_json is not None:
            shards[index] = json.loads(run.result_json)
    if all(data is None for data in shards):
        return None
    return json.dumps({"shards": shards}, ensure_ascii=False, separators=(",", ":"))
