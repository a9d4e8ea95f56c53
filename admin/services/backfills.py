"""Backfills: "run this job for every planned time between A and B" — create (with a preview of
how many runs), list with progress, cancel. The fires themselves are created by the backfill
advancer in the scheduler (firing.backfill_advance), a few at a time.

A cancel stops the backfill from starting anything more: fires of it not yet claimed by a
scheduler are closed (DONE, noted "cancelled"); runs already started run to their end (kill them
one by one from the run list if needed).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import changed_rows
from ..enums import BACKFILL_POLICIES, AuditAction, AuditTarget, BackfillStatus, FireStatus, OverlapPolicy, RunStatus, ScheduleType, TriggerType
from ..models import Backfill, Fire, Job, RunLog
from ..schedules.backfill_times import backfill_times, count_backfill_times
from ..texts import _t
from . import audit
from .access import load_job
from .actor import Actor
from .errors import Conflict, FieldErrors, NotFound
from .numbers import EPOCH_MS_MAX, EPOCH_MS_MIN, check_whole

#: Most runs of one backfill active at once.
MAX_PACE = 100
#: Planned times a preview lists.
PREVIEW_TIMES = 5
#: Note on the fires a cancel closes.
CANCELLED_NOTE = "cancelled with backfill %d"
BODY_FIELDS = {"from_ms", "to_ms", "overlap_policy", "pace"}


@dataclass(frozen=True)
class BackfillRequest:
    from_ms: int
    to_ms: int
    overlap_policy: OverlapPolicy
    pace: int
    planned: int
    first_times_ms: list[int]


@dataclass(frozen=True)
class BackfillView:
    id: int
    job_id: int
    from_ms: int
    to_ms: int
    overlap_policy: OverlapPolicy
    pace: int
    status: BackfillStatus
    #: Planned times in the range; `created` of them have a fire so far.
    planned: int
    created: int
    #: Fires that started runs; runs by outcome; fires that ended without a run (skipped by the
    #: overlap policy, or closed by a cancel).
    started: int
    running: int
    succeeded: int
    failed: int
    skipped: int
    created_by: str
    created_at_ms: int
    finished_at_ms: int | None


def check_request(job: Job, body: Mapping[str, Any], *, now_ms: int, max_runs: int) -> BackfillRequest:
    """The checked request, or a ServiceError naming each bad field; nothing is written."""
    errors = FieldErrors()
    unknown = sorted(set(body) - BODY_FIELDS)
    for name in unknown:
        errors.add(name, _t("unknown field"))
    from_ms = check_whole(errors, "from_ms", body.get("from_ms"), EPOCH_MS_MIN, EPOCH_MS_MAX)
    to_ms = check_whole(errors, "to_ms", body.get("to_ms"), EPOCH_MS_MIN, EPOCH_MS_MAX)
    policy_text = body.get("overlap_policy") or OverlapPolicy.ALLOW_ALL.value
    policy = OverlapPolicy.ALLOW_ALL
    if policy_text not in [p.value for p in BACKFILL_POLICIES]:
        errors.add("overlap_policy", _t("%(value)s is not one of %(allowed)s", value=repr(policy_text), allowed=", ".join(p.value for p in BACKFILL_POLICIES)))
    else:
        policy = OverlapPolicy(policy_text)
    pace_value = body.get("pace", 1)
    pace = check_whole(errors, "pace", 1 if pace_value in (None, "") else pace_value, 1, MAX_PACE)
    if pace is not None and pace > 1 and policy != OverlapPolicy.ALLOW_ALL and "overlap_policy" not in errors:
        errors.add("pace", _t("must be 1 with overlap policy %(policy)s: its runs go one at a time", policy=policy.value))
    if job.schedule_type not in (ScheduleType.CRON, ScheduleType.FIX_RATE):
        errors.add("job_id", _t("job %(id)s has no schedule (NONE): it has no planned times to backfill", id=job.id))
    if from_ms is not None and to_ms is not None:
        if from_ms > to_ms:
            errors.add("to_ms", _t("must not be before from_ms"))
        elif to_ms > now_ms:
            errors.add("to_ms", _t("must not be in the future: the schedule fires those times itself"))
    planned, first = 0, []
    # The range is counted whenever it and the job are sound, so a bad pace and a too-long range are reported together.
    if from_ms is not None and to_ms is not None and "to_ms" not in errors and "job_id" not in errors:
        kind = ScheduleType(job.schedule_type)
        counted = count_backfill_times(kind, job.schedule_conf, job.timezone, from_ms, to_ms, up_to=max_runs * 10 + 1)
        if counted > max_runs:
            count = _t("more than %(count)s", count=max_runs * 10) if counted > max_runs * 10 else str(counted)
            errors.add("to_ms", _t("the range holds %(count)s planned times; a backfill runs at most %(limit)s", count=count, limit=max_runs))
        elif counted == 0:
            errors.add("to_ms", _t("the range holds no planned time of job %(id)s", id=job.id))
        planned = counted
        first = backfill_times(kind, job.schedule_conf, job.timezone, from_ms, to_ms, after_ms=None, limit=PREVIEW_TIMES)
    errors.raise_if_any(_t("backfill of job %(id)s not created", id=job.id), object_id=job.id)
    assert from_ms is not None and to_ms is not None and pace is not None  # raise_if_any raised otherwise
    return BackfillRequest(from_ms, to_ms, policy, pace, planned, first)


def preview_backfill(session: Session, actor: Actor, job_id: int, body: Mapping[str, Any], *, now_ms: int, max_runs: int) -> BackfillRequest:
    """How many runs a backfill would make, and its first planned times (nothing written)."""
    return check_request(load_job(session, actor, job_id), body, now_ms=now_ms, max_runs=max_runs)


def create_backfill(session: Session, actor: Actor, job_id: int, body: Mapping[str, Any], *, now_ms: int, max_runs: int) -> BackfillView:
    job = load_job(session, actor, job_id)
    req = check_request(job, body, now_ms=now_ms, max_runs=max_runs)
    row = Backfill(
        job_id=job.id, from_ms=req.from_ms, to_ms=req.to_ms, overlap_policy=req.overlap_policy, pace=req.pace, planned=req.planned,
        created=0, next_at_ms=req.first_times_ms[0], status=BackfillStatus.RUNNING, created_by=actor.username[:64], created_at_ms=now_ms,
    )
    session.add(row)
    session.flush()
    after = {"job_id": job.id, "from_ms": req.from_ms, "to_ms": req.to_ms, "overlap_policy": req.overlap_policy, "pace": req.pace, "planned": req.planned}
    audit.record(session, actor, AuditAction.BACKFILL_CREATE, AuditTarget.BACKFILL, target_id=row.id, target_name=job.name, group_id=job.group_id, after=after, now_ms=now_ms)
    return _views(session, [row])[0]


def _load(session: Session, actor: Actor, backfill_id: int, *, for_update: bool = False) -> tuple[Backfill, Job]:
    row = session.get(Backfill, backfill_id, with_for_update=for_update) if isinstance(backfill_id, int) else None
    job = session.get(Job, row.job_id) if row is not None else None
    if row is None or job is None or not actor.can_access_group(job.group_id):
        raise NotFound("backfill", backfill_id)
    return row, job


def cancel_backfill(session: Session, actor: Actor, backfill_id: int, *, now_ms: int) -> BackfillView:
    row, job = _load(session, actor, backfill_id, for_update=True)
    if row.status != BackfillStatus.RUNNING:
        raise Conflict(_t("backfill %(id)s is %(status)s already", id=row.id, status=row.status), object_id=row.id)
    fire = Fire.__table__.c
    closed = changed_rows(session.execute(
        sa.update(Fire.__table__)
        .where(fire.job_id == row.job_id, fire.trigger_type == TriggerType.BACKFILL.value, fire.origin_ref == row.id,
               fire.status.in_([FireStatus.PENDING.value, FireStatus.BUFFERED.value]))
        .values(status=FireStatus.DONE, owner=None, done_at_ms=now_ms, overlap_note=CANCELLED_NOTE % row.id)
    ))
    row.status, row.finished_at_ms = BackfillStatus.CANCELLED, now_ms
    audit.record(
        session, actor, AuditAction.BACKFILL_CANCEL, AuditTarget.BACKFILL, target_id=row.id, target_name=job.name, group_id=job.group_id,
        before={"status": BackfillStatus.RUNNING}, after={"status": BackfillStatus.CANCELLED, "fires_closed": closed}, now_ms=now_ms,
    )
    session.flush()
    return _views(session, [row])[0]


def get_backfill(session: Session, actor: Actor, backfill_id: int) -> BackfillView:
    return _views(session, [_load(session, actor, backfill_id)[0]])[0]


def list_backfills(session: Session, actor: Actor, job_id: int) -> list[BackfillView]:
    """The job's backfills, newest first."""
    job = load_job(session, actor, job_id)
    rows = list(session.scalars(sa.select(Backfill).where(Backfill.job_id == job.id).order_by(Backfill.id.desc())))
    return _views(session, rows)


def _views(session: Session, rows: list[Backfill]) -> list[BackfillView]:
    """Views with progress: two grouped queries for all `rows`."""
    if not rows:
        return []
    fire, run = Fire.__table__.c, RunLog.__table__.c
    ids = [r.id for r in rows]
    mine = (fire.trigger_type == TriggerType.BACKFILL.value) & fire.origin_ref.in_(ids) & fire.job_id.in_({r.job_id for r in rows})
    fires: dict[int, dict[str, int]] = {i: {} for i in ids}
    with_runs = sa.exists().where(run.fire_id == fire.id)
    for origin, status, has_runs, count in session.execute(
        sa.select(fire.origin_ref, fire.status, with_runs, sa.func.count()).where(mine).group_by(fire.origin_ref, fire.status, with_runs)
    ):
        key = "started" if has_runs else ("open" if status != FireStatus.DONE else "skipped")
        fires[origin][key] = fires[origin].get(key, 0) + count
    runs: dict[int, dict[str, int]] = {i: {} for i in ids}
    for origin, status, count in session.execute(
        sa.select(fire.origin_ref, run.status, sa.func.count()).select_from(Fire.__table__.join(RunLog.__table__, run.fire_id == fire.id)).where(mine)
        .group_by(fire.origin_ref, run.status)
    ):
        runs[origin][str(status)] = count
    out = []
    for r in rows:
        by_status = runs[r.id]
        out.append(BackfillView(
            id=r.id, job_id=r.job_id, from_ms=r.from_ms, to_ms=r.to_ms, overlap_policy=OverlapPolicy(r.overlap_policy), pace=r.pace,
            status=BackfillStatus(r.status), planned=r.planned, created=r.created, started=fires[r.id].get("started", 0),
            running=by_status.get(RunStatus.PENDING, 0) + by_status.get(RunStatus.RUNNING, 0), succeeded=by_status.get(RunStatus.SUCCESS, 0),
            failed=by_status.get(RunStatus.FAILED, 0) + by_status.get(RunStatus.UNKNOWN, 0), skipped=fires[r.id].get("skipped", 0),
            created_by=r.created_by, created_at_ms=r.created_at_ms, finished_at_ms=r.finished_at_ms,
        ))
    return out
