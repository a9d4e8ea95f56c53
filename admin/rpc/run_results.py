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
from ..models import Job, RunLog

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
    #: Succeeded step runs followed up only as the catch-all of their instance's advance: once
    #: the advance was done in the batch's own transaction, `clear_step_followups` drops it.
    step_only_followups: list[int] = field(default_factory=list)

    def describe(self, what: str) -> str | None:
        parts = []
        if self.ignored:
            parts.append(f"{len(self.ignored)} {what} for finished runs ignored")
        if self.unknown:
            shown = ", ".join(str(i) for i in self.unknown[:20])
            more = f" and {len(self.unknown) - 20} more" if len(self.unknown) > 20 else ""
            parts.append(f"unknown logId {shown}{more}")
        return "; ".join(parts) or None


def _statuses(session: Session, log_ids: Sequence[int]) -> dict[int, tuple[int, RunStatus]]:
    rows = session.execute(sa.select(RunLog.id, RunLog.job_id, RunLog.status).where(RunLog.id.in_(sorted(set(log_ids))))).all()
    return {row.id: (row.job_id, row.status) for row in rows}


def _statuses_and_steps(
    session: Session, log_ids: Sequence[int]
) -> tuple[dict[int, tuple[int, RunStatus]], dict[int, int], dict[int, tuple[int, int, int]]]:
    """`_statuses`, logId -> its workflow step run for the runs that belong to one, and logId ->
    (trigger_at_ms, shard_index, shard_total) for the log line and the duration metric (one query)."""
    rows = session.execute(
        sa.select(RunLog.id, RunLog.job_id, RunLog.status, RunLog.step_run_id, RunLog.trigger_at_ms, RunLog.shard_index, RunLog.shard_total)
        .where(RunLog.id.in_(sorted(set(log_ids))))
    ).all()
    return (
        {row.id: (row.job_id, row.status) for row in rows},
        {row.id: row.step_run_id for row in rows if row.step_run_id is not None},
        {row.id: (row.trigger_at_ms, row.shard_index, row.shard_total) for row in rows},
    )


def _json_or_none(data: object) -> str | None:
    return None if data is None else encode_json(dict(data)).decode("utf-8")  # type: ignore[call-overload]


def apply_callbacks(session: Session, results: Sequence[CallbackParam], now_ms: int) -> BatchOutcome:
    outcome = BatchOutcome()
    if not results:
        return outcome
    known, steps, facts = _statuses_and_steps(session, [r.log_id for r in results])
    job_ids = {job_id for job_id, _ in known.values()}
    # A success is followed up when it fires child jobs, or resets a pause-on-failure count.
    followed_on_success = set(
        session.execute(
            sa.select(Job.id).where(Job.id.in_(sorted(job_ids)), sa.or_(Job.child_job_ids != "", Job.pause_after_failures > 0))
        ).scalars()
    ) if job_ids else set()
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
        # A workflow step's run is always followed up: the follow-up monitor is the catch-all that
        # advances its instance if the fast path after this commit did not.
        followup = FollowupStatus.PENDING if (not succeeded or job_id in followed_on_success or result.log_id in steps) else FollowupStatus.NONE
        if succeeded and job_id not in followed_on_success and result.log_id in steps:
            outcome.step_only_followups.append(result.log_id)
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
        stmt = (
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
        session.connection().execute(stmt, params)
        outcome.applied.extend(p["b_id"] for p in params)
        outcome.step_run_ids.update(steps[p["b_id"]] for p in params if p["b_id"] in steps)
        # The last checkpoint travels with the result; stored whatever became of the result.
        store_checkpoints(session, [r.checkpoint for r in results if r.checkpoint is not None and r.log_id in known], now_ms)
        for p in params:
            trigger_at_ms, index, total = facts.get(p["b_id"], (now_ms, 0, 1))
            outcome.finished.append(
                FinishedRun(p["b_id"], known[p["b_id"]][0], f"{index}/{total}", RunStatus(p["b_status"]), p["b_code"], now_ms - trigger_at_ms)
            )
    return outcome


def clear_step_followups(session: Session, log_ids: Sequence[int]) -> None:
    """The follow-up of these succeeded step runs is not needed: their instances were advanced
    in this transaction (it would only advance them again)."""
    if log_ids:
        session.execute(
            sa.update(_RUNS).where(_RUNS.c.id.in_(sorted(log_ids)), _RUNS.c.followup_status == FollowupStatus.PENDING.value)
            .values(followup_status=FollowupStatus.NONE.value)
        )


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

