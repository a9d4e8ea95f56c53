"""Manual and API triggers: one PENDING fire row, which the fire loop dispatches exactly once.

Nothing here calls an executor: the fire row is the interface (see the fire loop). A trigger
targets the whole job (its route strategy decides), or one shard `i/n` of a broadcast, optionally
with a parameter for this fire only and an address that must be a live executor of the job's
group — never an arbitrary URL (no SSRF through the admin). It starts fresh, or resumes from the
checkpoint a run of the same job saved (`resume_from_run_id`).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from shardcron.core.numbers import parse_whole
from shardcron.core.protocol import normalize_address

from .. import registry_view
from ..enums import AuditAction, AuditTarget, FireStatus, TriggerType
from ..models import ExecutorGroup, Fire, Job, RunLog, log_date_ms
from . import audit
from .access import load_job
from .actor import Actor
from ..texts import _t
from .errors import FieldErrors, NotFound
from .job_form import MAX_TEXT_BYTES
from .runs import RunView, list_fire_runs

#: A broadcast is one run row per shard; more shards than this is a typo.
MAX_SHARD_TOTAL = 10_000


@dataclass(frozen=True)
class TriggerResult:
    fire_id: int
    job_id: int
    fire_at_ms: int
    trigger_type: TriggerType
    shard_index: int | None
    shard_total: int | None
    address: str | None
    resume_from_run_id: int | None = None


def _as_int(value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise ValueError
    if isinstance(value, int):
        return value
    number = parse_whole(value) if isinstance(value, str) else None
    if number is None:  # the range checks below bound what an int may be
        raise ValueError
    return number


def trigger_job(
    session: Session,
    actor: Actor,
    job_id: int,
    *,
    now_ms: int,
    trigger_type: TriggerType = TriggerType.MANUAL,
    param: str | None = None,
    shard_index: Any = None,
    shard_total: Any = None,
    address: str | None = None,
    resume_from_run_id: Any = None,
) -> TriggerResult:
    """Record a fire of the job now. `shard_total` defaults to the number of live executors when
    only `shard_index` is given. A stopped job may be triggered (as in XXL-JOB). With
    `resume_from_run_id` its runs get that run's checkpoint as `ctx.resume_from` (the run must be
    one of this job's and have saved a checkpoint); without it they start fresh."""
    if trigger_type not in (TriggerType.MANUAL, TriggerType.API):
        raise ValueError(f"trigger_job records MANUAL or API fires, not {trigger_type}")
    job = load_job(session, actor, job_id)
    group = session.get_one(ExecutorGroup, job.group_id)  # a group with jobs cannot be deleted
    errors = FieldErrors()
    if param is not None:
        if not isinstance(param, str):
            errors.add("param", _t("must be text"))
        elif len(param.encode("utf-8")) > MAX_TEXT_BYTES:
            errors.add("param", _t("is %(length)s bytes long; at most %(limit)s fit", length=len(param.encode("utf-8")), limit=MAX_TEXT_BYTES))
    index = total = None
    try:
        index = _as_int(shard_index)
    except ValueError:
        errors.add("shard_index", _t("must be a whole number"))
    try:
        total = _as_int(shard_total)
    except ValueError:
        errors.add("shard_total", _t("must be a whole number"))
    if "shard_index" not in errors and "shard_total" not in errors:
        if index is None and total is not None:
            errors.add("shard_index", _t("give the shard to run (0 to shard_total - 1) with shard_total"))
        elif index is not None:
            if total is None:
                total = len(registry_view.live_addresses(session, group, now_ms))
                if total == 0:
                    errors.add("shard_total", _t("no live executor in group %(group)s: give shard_total explicitly", group=group.app_name))
            if "shard_total" in errors:
                pass
            elif not 1 <= total <= MAX_SHARD_TOTAL:
                errors.add("shard_total", _t("must be between %(low)s and %(high)s", low=1, high=MAX_SHARD_TOTAL))
            elif not 0 <= index < total:
                errors.add("shard_index", _t("must be between 0 and %(high)s (shard_total is %(total)s)", high=total - 1, total=total))
    chosen: str | None = None
    if address is not None and address != "":
        if not isinstance(address, str):
            errors.add("address", _t("must be an executor address"))
        elif not registry_view.is_group_executor(session, group, address, now_ms):
            errors.add("address", _t("%(address)s is not a live executor of group %(group)s", address=repr(address), group=group.app_name))
        else:
            chosen = normalize_address(address)
    resume_from: int | None = None
    try:
        resume_from = _as_int(resume_from_run_id)
    except ValueError:
        errors.add("resume_from_run_id", _t("must be a run id (a whole number), or empty to start fresh"))
    if resume_from is not None:
        source = session.get(RunLog, resume_from) if 1 <= resume_from <= 2**63 - 1 else None
        if source is None or source.job_id != job.id:
            errors.add("resume_from_run_id", _t("run %(run)s is not a run of job %(job)s", run=resume_from, job=job.id))
        elif source.checkpoint_json is None:
            errors.add("resume_from_run_id", _t("run %(run)s saved no checkpoint; start fresh instead", run=resume_from))
    errors.raise_if_any(_t("job %(id)s not triggered", id=job.id), object_id=job.id)
    fire = Fire(
        job_id=job.id,
        fire_at_ms=now_ms,
        trigger_type=trigger_type,
        # Unique per request, so two clicks in the same millisecond are two fires (uq_fire_once).
        origin_ref=secrets.randbelow(2**62) + 1,
        status=FireStatus.PENDING,
        lease_until_ms=0,
        param=param,
        shard_index=index,
        shard_total=total if index is not None else None,
        address=chosen,
        attempt=0,
        created_at_ms=now_ms,
        resume_from_run_id=resume_from,
    )
    session.add(fire)
    session.flush()
    after = {"fire_id": fire.id, "trigger_type": trigger_type, "param": param, "shard_index": index, "shard_total": fire.shard_total, "address": chosen}
    if resume_from is not None:
        after["resume_from_run_id"] = resume_from
    audit.record(
        session, actor, AuditAction.JOB_TRIGGER, AuditTarget.JOB, target_id=job.id, target_name=job.name, group_id=job.group_id, after=after, now_ms=now_ms
    )
    return TriggerResult(fire.id, job.id, now_ms, trigger_type, fire.shard_index, fire.shard_total, chosen, resume_from)


@dataclass(frozen=True)
class FireView:
    """A fire and the run rows it produced so far (one per shard of a broadcast)."""

    id: int
    job_id: int
    fire_at_ms: int
    trigger_type: TriggerType
    status: FireStatus
    param: str | None
    shard_index: int | None
    shard_total: int | None
    address: str | None
    attempt: int
    created_at_ms: int
    done_at_ms: int | None
    #: What the job's overlap policy decided ("skipped: run 12 was active (SKIP)"); None: nothing.
    overlap_note: str | None
    runs: list[RunView]
    #: The planned time its runs are sent (their logDateTime): fire_at_ms, except for a retry or
    #: a repair, which keeps the one of the run it re-runs.
    planned_at_ms: int
    resume_from_run_id: int | None = None


def get_fire(session: Session, actor: Actor, fire_id: int) -> FireView:
    """A fire by id (e.g. the one a trigger returned), with its runs: how a script follows it."""
    fire = session.get(Fire, fire_id) if isinstance(fire_id, int) else None
    job = session.get(Job, fire.job_id) if fire is not None else None
    if fire is None or job is None or not actor.can_access_group(job.group_id):
        raise NotFound("fire", fire_id)
    return FireView(
        id=fire.id,
        job_id=fire.job_id,
        fire_at_ms=fire.fire_at_ms,
        trigger_type=TriggerType(fire.trigger_type),
        status=FireStatus(fire.status),
        param=fire.param,
        shard_index=fire.shard_index,
        shard_total=fire.shard_total,
        address=fire.address,
        attempt=fire.attempt,
        created_at_ms=fire.created_at_ms,
        done_at_ms=fire.done_at_ms,
        overlap_note=fire.overlap_note,
        runs=list_fire_runs(session, actor, fire.id),
        planned_at_ms=log_date_ms(fire.fire_at_ms, fire.planned_at_ms),
        resume_from_run_id=fire.resume_from_run_id,
    )
