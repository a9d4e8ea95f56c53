"""Results, progress and checkpoints reported by executors, applied to sc_run_log rows.

One transaction per batch: one read of the batch's rows (and their jobs' child lists), then one
executemany UPDATE guarded by status, so a run's status only moves forward and a second result
for a finished run changes nothing (idempotent per logId). Nothing slow happens here: retries,
child fires, alarms and pause-on-failure counts are the follow-up monitor's work, marked by
`followup_status = PENDING`.

An UNKNOWN run (the scheduler could not confirm the executor got it) takes results and progress
like a PENDING or RUNNING one: if the executor did run it, what it reports is what happened.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.protocol import CallbackParam, CheckpointParam, ProgressParam, ResultCode, encode_json

from ..enums import FollowupStatus, RunStatus
from ..models import Job, RunLog, WorkflowStepRun

_RUNS = RunLog.__table__
#: Statuses a reported result or progress still applies to.
_UNFINISHED = (RunStatus.PENDING.value, RunStatus.RUNNING.value, RunStatus.UNKNOWN.value)


def _unfinished() -> sa.ColumnElement[bool]:
    # Spelled out: an IN list is an "expanding" parameter, which executemany() cannot take.
    return sa.or_(*(_RUNS.c.status == status for status in _UNFINISHED))


@dataclass(frozen=True)
class FinishedRun:
    """A run a callback finished (for the run-duration metric and the log)."""

    log_id: int
    job_id: int
    shard: str
    status: RunStatus
    handle_code: int
    duration_ms: int


@dataclass
class BatchOutcome:
    """What became of each logId of a batch."""

    applied: list[int] = field(default_factory=list)
    #: Results for runs already finished (or repeated within the batch): ignored.
    ignored: list[int] = field(default_factory=list)
    #: logIds with no run row (deleted by retention, or never ours): reported, never retried.
    unknown: list[int] = field(default_factory=list)
    finished: list[FinishedRun] = field(default_factory=list)
    #: Workflow step runs whose runs this batch finished: their instances are advanced once the
    #: batch is committed (the callback's fast path).
    step_run_ids: set[int] = field(default_factory=set)
    #: Those step runs' instances (step run id -> instance id).
    step_instances: dict[int, int] = field(default_factory=dict)

    def describe(self, what: str) -> str | None:
        parts = []
        if self.ignored:
            parts.append(f"{len(self.ignored)} {what} for finished runs ignored")
        if self.unknown:
            shown = ", ".join(str(i) for i in self.unknown[:20])
            more = f" and {len(self.unknown) - 20} more" if len(self.unknown) > 20 else ""
            parts.append(f"unknown logId {shown}{more}")
        return "; ".join(parts) or None


_BY_IDS: sa.BindParameter[list[int]] = sa.bindparam("ids", expanding=True)
# Built once: a statement built per call cost more CPU than the database's work for it
# (docs/benchmarks.md, "Workflows"); a prebuilt one skips building and its cache key.
_STATUSES = sa.select(_RUNS.c.id, _RUNS.c.job_id, _RUNS.c.status).where(_RUNS.c.id.in_(_BY_IDS))
_JOBS = Job.__table__.c
_STEPS = WorkflowStepRun.__table__.c
#: With each run: its workflow step run and that step's instance (when it is a step's), and
#: whether its job follows up a success (it fires child jobs, or resets a pause-on-failure count).
_STATUSES_AND_STEPS = (
    sa.select(
        _RUNS.c.id, _RUNS.c.job_id, _RUNS.c.status, _RUNS.c.step_run_id, _RUNS.c.trigger_at_ms, _RUNS.c.shard_index, _RUNS.c.shard_total,
        _STEPS.instance_id, sa.or_(_JOBS.child_job_ids != "", _JOBS.pause_after_failures > 0).label("followed_on_success"),
    )
    .select_from(_RUNS.outerjoin(Job.__table__, _JOBS.id == _RUNS.c.job_id).outerjoin(WorkflowStepRun.__table__, _STEPS.id == _RUNS.c.step_run_id))
    .where(_RUNS.c.id.in_(_BY_IDS))
)


def _statuses(session: Session, log_ids: Sequence[int]) -> dict[int, tuple[int, RunStatus]]:
    rows = session.connection().execute(_STATUSES, {"ids": sorted(set(log_ids))}).all()
    return {row.id: (row.job_id, row.status) for row in rows}


@dataclass(frozen=True, slots=True)
class _Known:
    """What a callback batch reads of its runs, in one query."""

    statuses: dict[int, tuple[int, RunStatus]]
    #: logId -> its workflow step run (runs that belong to one); step run -> its instance.
    steps: dict[int, int]
    instances: dict[int, int]
    #: logId -> (trigger_at_ms, shard_index, shard_total), for the log line and the duration metric.
    facts: dict[int, tuple[int, int, int]]
    #: Jobs (of these runs) whose successes are followed up.
    followed_on_success: set[int]


def _statuses_and_steps(session: Session, log_ids: Sequence[int]) -> _Known:
    rows = session.connection().execute(_STATUSES_AND_STEPS, {"ids": sorted(set(log_ids))}).all()
    return _Known(
        {row.id: (row.job_id, row.status) for row in rows},
        {row.id: row.step_run_id for row in rows if row.step_run_id is not None},
        {row.step_run_id: row.instance_id for row in rows if row.step_run_id is not None and row.instance_id is not None},
        {row.id: (row.trigger_at_ms, row.shard_index, row.shard_total) for row in rows},
        {row.job_id for row in rows if row.followed_on_success},
    )


def _json_or_none(data: object) -> str | None:
    return None if data is None else encode_json(dict(data)).decode("utf-8")  # type: ignore[call-overload]


_RESULT = (
    sa.update(_RUNS)
    .where(_RUNS.c.id == sa.bindparam("b_id"), _unfinished())
    .values(
        status=sa.bindparam("b_status"),
        handle_code=sa.bindparam("b_code"),
        handle_msg=sa.bindparam("b_msg"),
        handle_at_ms=sa.bindparam("b_at"),
        result_json=sa.func.coalesce(sa.bindparam("b_result", type_=sa.Text), _RUNS.c.result_json),
        followup_status=sa.bindparam("b_followup"),
    )
)

def apply_callbacks(session: Session, results: Sequence[CallbackParam], now_ms: int, *, advancing: bool = False) -> BatchOutcome:
    """Write the batch's results. `advancing`: the caller advances the finished steps'
    instances in this same transaction (workflows/advance.advance_in), so a succeeded step run
    whose job has no child jobs needs no follow-up."""
    outcome = BatchOutcome()
    if not results:
        return outcome
    read = _statuses_and_steps(session, [r.log_id for r in results])
    known, steps, facts, followed_on_success = read.statuses, read.steps, read.facts, read.followed_on_success
    params: list[dict[str, Any]] = []
    seen: set[int] = set()
    for result in results:
        if result.log_id not in known:
            outcome.unknown.append(result.log_id)
            continue
        job_id, status = known[result.log_id]
        if result.log_id in seen or status.value not in _UNFINISHED:
            outcome.ignored.append(result.log_id)
            continue
        seen.add(result.log_id)
        succeeded = result.handle_code == ResultCode.SUCCESS
        # A workflow step's run is followed up (the follow-up monitor is the catch-all that
        # advances its instance) unless its instance is advanced in this transaction.
        step_only = succeeded and job_id not in followed_on_success and result.log_id in steps
        followup = FollowupStatus.PENDING if (not succeeded or job_id in followed_on_success or (step_only and not advancing)) else FollowupStatus.NONE
        params.append(
            {
                "b_id": result.log_id,
                "b_status": (RunStatus.SUCCESS if succeeded else RunStatus.FAILED).value,
                "b_code": result.handle_code,
                "b_msg": result.handle_msg,
                "b_at": now_ms,
                "b_result": _json_or_none(result.result_data),
                "b_followup": followup.value,
            }
        )
    if params:
        params.sort(key=lambda p: p["b_id"])  # rows locked in key order, as every other writer does
        session.connection().execute(_RESULT, params)
        outcome.applied.extend(p["b_id"] for p in params)
        outcome.step_run_ids.update(steps[p["b_id"]] for p in params if p["b_id"] in steps)
        outcome.step_instances.update((step, read.instances[step]) for step in outcome.step_run_ids if step in read.instances)
        # The last checkpoint travels with the result; stored whatever became of the result.
        store_checkpoints(session, [r.checkpoint for r in results if r.checkpoint is not None and r.log_id in known], now_ms)
        for p in params:
            trigger_at_ms, index, total = facts.get(p["b_id"], (now_ms, 0, 1))
            outcome.finished.append(
                FinishedRun(p["b_id"], known[p["b_id"]][0], f"{index}/{total}", RunStatus(p["b_status"]), p["b_code"], now_ms - trigger_at_ms)
            )
    return outcome


def store_checkpoints(session: Session, items: Sequence[CheckpointParam], now_ms: int) -> None:
    """Keep each run's highest-numbered checkpoint: an UPDATE guarded by `checkpoint_seq`, so a
    replayed or late one never overwrites a newer one (whatever the run's status: a failed run's
    last checkpoint is what its retry resumes from)."""
    latest: dict[int, CheckpointParam] = {}
    for item in items:
        if item.log_id not in latest or item.seq > latest[item.log_id].seq:
            latest[item.log_id] = item
    if not latest:
        return
    stmt = (
        sa.update(_RUNS)
        .where(_RUNS.c.id == sa.bindparam("b_id"), _RUNS.c.checkpoint_seq < sa.bindparam("b_seq"))
        .values(checkpoint_json=sa.bindparam("b_state"), checkpoint_seq=sa.bindparam("b_seq"), checkpoint_at_ms=sa.bindparam("b_at"))
    )
    session.connection().execute(
        stmt,
        [{"b_id": c.log_id, "b_seq": c.seq, "b_state": encode_json(c.state).decode("utf-8"), "b_at": now_ms} for _, c in sorted(latest.items())],
    )


def apply_checkpoints(session: Session, items: Sequence[CheckpointParam], now_ms: int) -> BatchOutcome:
    """`/api/checkpoint`: the latest checkpoint of each run (unknown logIds are reported)."""
    outcome = BatchOutcome()
    if not items:
        return outcome
    known = _statuses(session, [c.log_id for c in items])
    outcome.unknown.extend(sorted({c.log_id for c in items if c.log_id not in known}))
    kept = [c for c in items if c.log_id in known]
    store_checkpoints(session, kept, now_ms)
    outcome.applied.extend(sorted({c.log_id for c in kept}))
    return outcome


def apply_progress(session: Session, reports: Sequence[ProgressParam], now_ms: int) -> BatchOutcome:
    """Latest progress of unfinished runs (an UNKNOWN run stays UNKNOWN until its result comes);
    reports for finished runs are ignored (the result won)."""
    outcome = BatchOutcome()
    if not reports:
        return outcome
    known = _statuses(session, [r.log_id for r in reports])
    latest: dict[int, ProgressParam] = {}
    for report in reports:  # the last report of a run in the batch is its newest
        if report.log_id not in known:
            outcome.unknown.append(report.log_id)
        elif known[report.log_id][1].value not in _UNFINISHED:
            outcome.ignored.append(report.log_id)
        else:
            latest[report.log_id] = report
    if latest:
        stmt = (
            sa.update(_RUNS)
            .where(_RUNS.c.id == sa.bindparam("b_id"), _unfinished())
            .values(
                progress_done=sa.bindparam("b_done"),
                progress_total=sa.bindparam("b_total"),
                result_json=sa.func.coalesce(sa.bindparam("b_data", type_=sa.Text), _RUNS.c.result_json),
            )
        )
        session.connection().execute(
            stmt,
            [{"b_id": r.log_id, "b_done": r.done, "b_total": r.total, "b_data": _json_or_none(r.data)} for _, r in sorted(latest.items())],
        )
        outcome.applied.extend(latest)
    return outcome

