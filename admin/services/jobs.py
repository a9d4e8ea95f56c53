"""Jobs: list, create, update, copy, delete, start, stop, and the preview of the next fire times.

Starting a job computes its first `next_fire_at_ms` after now; the fire loop takes it from there.
Starting also ends a pause on failure (monitors.pause_on_failure): its reason is cleared and the
count of consecutive failed runs starts again from 0.
Stopping sets `enabled=False, next_fire_at_ms=0`, so no further scheduled fire is created (manual
triggers still work on a stopped job, as in XXL-JOB). An enabled job always has a real next fire
time: an update that leaves it none (a cron whose dates are all past, or schedule NONE) is refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.protocol import BlockStrategy, GlueType

from ..enums import AuditAction, AuditTarget, Delivery, FireStatus, MisfireStrategy, OverlapPolicy, RouteStrategy, ScheduleType
from ..models import ExecutorGroup, Fire, Job
from ..schedules.exclusions import first_allowed_ms
from ..schedules.jitter import jitter_ms
from ..schedules.schedule import ScheduleError, next_fire_at_ms, preview_fire_times
from . import audit
from .access import load_job, scope_to_groups
from .actor import Actor
from ..texts import Text, _nt, _t
from .errors import Conflict, FieldErrors, ServiceError
from .glue_versions import check_remark, record_version, version_for_rollback
from .job_calendars import calendar_names, job_exclusions, names_of, preview_with_names
from .job_form import JOB_FIELDS, clean_job, current_values, parse_email_list, parse_id_list
from .paging import Page, PageRequest, count_rows
from .script_rights import SCRIPT_FIELDS, require_script_right, same_source
from .workflows import workflows_using_job

PREVIEW_COUNT = 5
SORTS = {
    "id": Job.id,
    "name": Job.name,
    "next_fire_at_ms": Job.next_fire_at_ms,
    "updated_at_ms": Job.updated_at_ms,
}


@dataclass(frozen=True)
class JobView:
    id: int
    group_id: int
    group_app_name: str
    name: str
    author: str
    schedule_type: ScheduleType
    schedule_conf: str
    timezone: str
    misfire_strategy: MisfireStrategy
    #: What a /run whose delivery cannot be confirmed after a scheduler failure becomes.
    delivery: Delivery
    #: What a fire does while a run of the job is active anywhere (firing.overlap).
    overlap_policy: OverlapPolicy
    #: Each scheduled fire's `/run` goes out up to this many seconds late (schedules.jitter).
    jitter_s: int
    #: The job stops itself after this many consecutive failed runs; 0: never (monitors.pause_on_failure).
    pause_after_failures: int
    #: CATCH_UP_* misfire strategies: how far back missed planned times are fired (schedules.catchup).
    catchup_window_s: int
    #: At most this many runs of the job active at once (firing.caps); None: no cap of its own.
    cap_runs: int | None
    route_strategy: RouteStrategy
    handler: str
    param: str | None
    block_strategy: BlockStrategy
    timeout_s: int
    retry_count: int
    retry_delay_s: int
    retry_backoff_multiplier: int
    retry_max_delay_s: int
    glue_type: GlueType
    glue_source: str | None
    glue_updated_at_ms: int
    child_job_ids: list[int]
    alarm_emails: list[str]
    alarm_webhook: str
    enabled: bool
    next_fire_at_ms: int
    last_fire_at_ms: int
    created_at_ms: int
    updated_at_ms: int
    #: Failed runs since the last success or start (counted while pause on failure is on).
    consecutive_failures: int
    #: When the job paused itself and why; 0 and None when it did not, or was started since.
    paused_at_ms: int
    paused_reason: str | None
    #: Names of the calendars whose excluded dates the job's scheduled fires skip.
    calendars: list[str]
    #: Whether the caller may change this job's script (type and source); without it the script
    #: is read-only for them (services.script_rights).
    can_edit_script: bool


def job_view(job: Job, app_name: str, actor: Actor, calendars: Mapping[int, str]) -> JobView:
    return JobView(
        id=job.id,
        group_id=job.group_id,
        group_app_name=app_name,
        name=job.name,
        author=job.author,
        schedule_type=ScheduleType(job.schedule_type),
        schedule_conf=job.schedule_conf,
        timezone=job.timezone,
        misfire_strategy=MisfireStrategy(job.misfire_strategy),
        delivery=Delivery(job.delivery),
        overlap_policy=OverlapPolicy(job.overlap_policy),
        jitter_s=job.jitter_s,
        pause_after_failures=job.pause_after_failures,
        catchup_window_s=job.catchup_window_s,
        cap_runs=job.cap_runs,
        route_strategy=RouteStrategy(job.route_strategy),
        handler=job.handler,
        param=job.param,
        block_strategy=BlockStrategy.from_wire(job.block_strategy),
        timeout_s=job.timeout_s,
        retry_count=job.retry_count,
        retry_delay_s=job.retry_delay_s,
        retry_backoff_multiplier=job.retry_backoff_multiplier,
        retry_max_delay_s=job.retry_max_delay_s,
        glue_type=GlueType(job.glue_type) if job.glue_type in GlueType.__members__ else GlueType.BEAN,
        glue_source=job.glue_source,
        glue_updated_at_ms=job.glue_updated_at_ms,
        child_job_ids=parse_id_list(job.child_job_ids),
        alarm_emails=parse_email_list(job.alarm_emails),
        alarm_webhook=job.alarm_webhook,
        enabled=job.enabled,
        next_fire_at_ms=job.next_fire_at_ms,
        last_fire_at_ms=job.last_fire_at_ms,
        created_at_ms=job.created_at_ms,
        updated_at_ms=job.updated_at_ms,
        consecutive_failures=job.consecutive_failures,
        paused_at_ms=job.paused_at_ms,
        paused_reason=job.paused_reason,
        calendars=names_of(job.calendar_ids, calendars) if job.calendar_ids else [],
        can_edit_script=actor.can_write_scripts(job.group_id),
    )


def _app_name(session: Session, group_id: int) -> str:
    return session.scalar(sa.select(ExecutorGroup.app_name).where(ExecutorGroup.id == group_id)) or ""


def _view(session: Session, job: Job, actor: Actor) -> JobView:
    return job_view(job, _app_name(session, job.group_id), actor, calendar_names(session) if job.calendar_ids else {})


@dataclass(frozen=True)
class JobFilter:
    group_id: int | None = None
    #: Part of the name or handler (case-sensitive on MySQL's utf8mb4_bin, as the column is).
    search: str | None = None
    enabled: bool | None = None
    #: Part of the owner (the job's `author`), matched like `search`.
    owner: str | None = None
    #: True: only jobs paused on failure (stopped by themselves); False: only the others.
    paused: bool | None = None
    sort: str = "id"
    descending: bool = False

    def checked(self) -> JobFilter:
        errors = FieldErrors()
        if self.sort not in SORTS:
            errors.add("sort", _t("must be one of %(values)s", values=", ".join(SORTS)))
        if self.search is not None and len(self.search) > 128:
            errors.add("search", _t("at most 128 characters"))
        if self.owner is not None and len(self.owner) > 64:
            errors.add("owner", _t("at most 64 characters"))
        errors.raise_if_any(_t("bad job filter"))
        return self


def _like_pattern(text: str) -> str:
    """`text` anywhere, with LIKE's wildcards in it taken literally."""
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def list_jobs(session: Session, actor: Actor, flt: JobFilter, page: PageRequest) -> Page[JobView]:
    flt = flt.checked()
    stmt = scope_to_groups(sa.select(Job), Job.group_id, actor)
    if flt.group_id is not None:
        stmt = stmt.where(Job.group_id == flt.group_id)
    if flt.enabled is not None:
        stmt = stmt.where(Job.enabled == flt.enabled)
    if flt.paused is not None:
        stmt = stmt.where(Job.paused_at_ms > 0 if flt.paused else Job.paused_at_ms == 0)
    if flt.search:
        pattern = _like_pattern(flt.search)
        stmt = stmt.where(sa.or_(Job.name.like(pattern, escape="\\"), Job.handler.like(pattern, escape="\\")))
    if flt.owner:
        stmt = stmt.where(Job.author.like(_like_pattern(flt.owner), escape="\\"))
    total = count_rows(session, stmt)
    column = SORTS[flt.sort]
    order: list[sa.UnaryExpression[Any]] = [column.desc() if flt.descending else column.asc()]
    if flt.sort != "id":
        order.append(Job.id.desc() if flt.descending else Job.id.asc())
    rows = list(session.scalars(stmt.order_by(*order).limit(page.per_page).offset(page.offset)))
    names = dict(session.execute(sa.select(ExecutorGroup.id, ExecutorGroup.app_name).where(ExecutorGroup.id.in_({j.group_id for j in rows}))).all()) if rows else {}
    calendars = calendar_names(session) if any(j.calendar_ids for j in rows) else {}
    return Page([job_view(j, names.get(j.group_id, ""), actor, calendars) for j in rows], total, page.page, page.per_page)


def get_job(session: Session, actor: Actor, job_id: int) -> JobView:
    job = load_job(session, actor, job_id)
    return _view(session, job, actor)


def _next_fire(session: Session, job: Job, now_ms: int, what: Text) -> int:
    """The job's first planned time after now that its calendars allow."""
    try:
        nxt = next_fire_at_ms(job.schedule_type, job.schedule_conf, job.timezone, now_ms)
        if nxt is not None and job.calendar_ids:
            nxt = first_allowed_ms(job.schedule_type, job.schedule_conf, job.timezone, nxt, job_exclusions(session, job.calendar_ids)) or nxt
    except ScheduleError as exc:
        raise ServiceError(_t("%(what)s: %(problem)s", what=what, problem=exc.text), field_errors={exc.field: exc.reason}, object_id=job.id) from None
    if nxt is None:
        if job.schedule_type == ScheduleType.NONE:
            field, reason = "schedule_type", _t("schedule type NONE never fires by itself; trigger it by hand")
        else:
            field, reason = "schedule_conf", _t("its schedule never fires again")
        raise ServiceError(_t("%(what)s: %(problem)s", what=what, problem=reason), field_errors={field: reason}, object_id=job.id)
    return nxt


def _split_remark(data: Mapping[str, Any]) -> tuple[dict[str, Any], str]:
    """The job fields, and the remark of a script change (`glue_remark`, not a job column)."""
    fields = {k: v for k, v in data.items() if k != "glue_remark"}
    return fields, check_remark(data.get("glue_remark"))


def _has_script(job: Job) -> bool:
    return str(job.glue_type) != GlueType.BEAN.value or bool(job.glue_source)


def create_job(session: Session, actor: Actor, data: Mapping[str, Any], *, now_ms: int, default_timezone: str = "UTC") -> JobView:
    fields, remark = _split_remark(data)
    return _insert_job(session, actor, fields, now_ms=now_ms, default_timezone=default_timezone, remark=remark or "created", action=AuditAction.JOB_CREATE)


def _insert_job(
    session: Session,
    actor: Actor,
    data: Mapping[str, Any],
    *,
    now_ms: int,
    default_timezone: str = "UTC",
    approved_webhook: str = "",
    remark: str,
    action: AuditAction,
    audit_extra: Mapping[str, Any] | None = None,
) -> JobView:
    values = clean_job(session, actor, data, None, default_timezone=default_timezone, approved_webhook=approved_webhook, now_ms=now_ms)
    job = Job(**values, enabled=False, next_fire_at_ms=0, last_fire_at_ms=0, glue_updated_at_ms=now_ms if values.get("glue_source") else 0, created_at_ms=now_ms, updated_at_ms=now_ms)
    session.add(job)
    session.flush()
    if _has_script(job):
        record_version(session, actor, job, remark, now_ms=now_ms)
    _audit(session, actor, action, job, after={**current_values(job), **(audit_extra or {})}, now_ms=now_ms)
    return _view(session, job, actor)


def _audit(session: Session, actor: Actor, action: AuditAction, job: Job, *, now_ms: int, before: Mapping[str, Any] | None = None, after: Mapping[str, Any] | None = None) -> None:
    audit.record(session, actor, action, AuditTarget.JOB, target_id=job.id, target_name=job.name, group_id=job.group_id, before=before, after=after, now_ms=now_ms)


def update_job(session: Session, actor: Actor, job_id: int, data: Mapping[str, Any], *, now_ms: int) -> JobView:
    """Change a job. A change of its script (glue_type, glue_source) needs the script right for
    its group and is kept as a version, with `glue_remark` from `data` as its remark."""
    fields, remark = _split_remark(data)
    job = load_job(session, actor, job_id, for_update=True)
    return _apply_update(session, actor, job, fields, remark, now_ms=now_ms, action=AuditAction.SCRIPT_CHANGE)


def _apply_update(
    session: Session, actor: Actor, job: Job, data: Mapping[str, Any], remark: str, *, now_ms: int, action: AuditAction, force_version: bool = False
) -> JobView:
    """Write the cleaned `data` to the job. The audit trail gets a `job.update` entry with the
    changed fields other than the script, and an entry `action` (script.change, script.rollback)
    for a change of the script (or any rollback), naming the kept version."""
    values = clean_job(session, actor, data, job, now_ms=now_ms)
    before = current_values(job)
    schedule_changed = any(values[k] != getattr(job, k) for k in ("schedule_type", "schedule_conf", "timezone", "calendar_ids"))
    script_changed = not same_source(values["glue_source"], job.glue_source) or str(values["glue_type"]) != str(job.glue_type)
    if script_changed:
        job.glue_updated_at_ms = now_ms
    for key, value in values.items():
        setattr(job, key, value)
    version = record_version(session, actor, job, remark, now_ms=now_ms) if script_changed or force_version else None
    if job.enabled and schedule_changed:
        job.next_fire_at_ms = _next_fire(session, job, now_ms, _t("job %(id)s not saved", id=job.id))
    job.updated_at_ms = now_ms
    session.flush()
    was, now = audit.changes(before, current_values(job))
    script_keys = [k for k in now if k in SCRIPT_FIELDS]
    if version is not None:
        audit.record(
            session, actor, action, AuditTarget.JOB, target_id=job.id, target_name=job.name, group_id=job.group_id,
            before={k: was[k] for k in script_keys}, after={**{k: now[k] for k in script_keys}, "version_id": version.id, "remark": remark}, now_ms=now_ms,
        )  # fmt: skip
    others = [k for k in now if k not in SCRIPT_FIELDS]
    if others:
        _audit(session, actor, AuditAction.JOB_UPDATE, job, before={k: was[k] for k in others}, after={k: now[k] for k in others}, now_ms=now_ms)
    return _view(session, job, actor)


def copy_job(session: Session, actor: Actor, job_id: int, *, now_ms: int, name: str | None = None) -> JobView:
    """A stopped copy of the job (same group, schedule, strategies), named "<name> (copy)"."""
    source = load_job(session, actor, job_id)
    data: dict[str, Any] = {k: getattr(source, k) for k in JOB_FIELDS}
    data["calendars"] = names_of(source.calendar_ids, calendar_names(session)) if source.calendar_ids else []
    data["name"] = name if name is not None else (source.name + " (copy)")[:128]
    return _insert_job(
        session,
        actor,
        data,
        now_ms=now_ms,
        default_timezone=source.timezone,
        approved_webhook=source.alarm_webhook,
        remark=f"copied from job {source.id}",
        action=AuditAction.JOB_COPY,
        audit_extra={"copied_from_job_id": source.id},
    )


def rollback_script(session: Session, actor: Actor, job_id: int, version_id: int, *, now_ms: int, remark: str | None = None) -> JobView:
    """Put a kept version's script back on the job: the same right as an edit, and a new version."""
    note = check_remark(remark)
    job = load_job(session, actor, job_id, for_update=True)
    version = version_for_rollback(session, actor, job_id, version_id)
    # Asked up front, even when the version equals the current script: a rollback is a script write.
    require_script_right(actor, job.group_id, job_id=job.id, what=_t("roll back a job's script"))
    data = {"glue_type": version.glue_type, "glue_source": version.glue_source}
    return _apply_update(
        session, actor, job, data, note or f"rollback to version {version.id}", now_ms=now_ms, action=AuditAction.SCRIPT_ROLLBACK, force_version=True
    )


def delete_job(session: Session, actor: Actor, job_id: int, *, now_ms: int) -> None:
    """Delete the job and its fires not yet dispatched. Its run history stays (retention removes it).
    Refused while another job names it as a child, or a workflow has a step running it."""
    job = load_job(session, actor, job_id, for_update=True)
    parents = [
        pid for pid, text in session.execute(sa.select(Job.id, Job.child_job_ids).where(Job.child_job_ids != "", Job.id != job.id))
        if job.id in parse_id_list(text)
    ]
    if parents:
        raise Conflict(
            _nt(
                "job %(id)s is a child job of job %(parents)s; remove it there first",
                "job %(id)s is a child job of jobs %(parents)s; remove it there first",
                len(parents),
                id=job.id,
                parents=", ".join(map(str, parents)),
            ),
            object_id=job.id,
        )
    using = workflows_using_job(session, job.id)
    if using:
        raise Conflict(
            _nt("job %(id)s is a step of workflow %(names)s; remove it there first", "job %(id)s is a step of workflows %(names)s; remove it there first",
                len(using), id=job.id, names=", ".join(map(repr, using))),
            object_id=job.id,
        )  # fmt: skip
    _audit(session, actor, AuditAction.JOB_DELETE, job, before={**current_values(job), "enabled": job.enabled}, now_ms=now_ms)
    session.execute(sa.delete(Fire).where(Fire.job_id == job.id, Fire.status.in_([FireStatus.PENDING, FireStatus.BUFFERED])))
    session.delete(job)
    session.flush()


def start_job(session: Session, actor: Actor, job_id: int, *, now_ms: int) -> JobView:
    job = load_job(session, actor, job_id, for_update=True)
    if not job.enabled:
        job.next_fire_at_ms = _next_fire(session, job, now_ms, _t("job %(id)s not started", id=job.id))
        before: dict[str, Any] = {"enabled": False}
        after: dict[str, Any] = {"enabled": True, "next_fire_at_ms": job.next_fire_at_ms}
        if job.paused_at_ms or job.consecutive_failures:
            # A start ends a pause on failure: the count starts again from 0.
            before.update(paused_at_ms=job.paused_at_ms, paused_reason=job.paused_reason, consecutive_failures=job.consecutive_failures)
            after.update(paused_at_ms=0, paused_reason=None, consecutive_failures=0)
            job.paused_at_ms, job.paused_reason, job.consecutive_failures = 0, None, 0
        job.enabled = True
        job.updated_at_ms = now_ms
        session.flush()
        _audit(session, actor, AuditAction.JOB_START, job, before=before, after=after, now_ms=now_ms)
    return _view(session, job, actor)


def stop_job(session: Session, actor: Actor, job_id: int, *, now_ms: int) -> JobView:
    job = load_job(session, actor, job_id, for_update=True)
    if job.enabled or job.next_fire_at_ms:
        before = {"enabled": job.enabled, "next_fire_at_ms": job.next_fire_at_ms}
        job.enabled = False
        job.next_fire_at_ms = 0
        job.updated_at_ms = now_ms
        session.flush()
        _audit(session, actor, AuditAction.JOB_STOP, job, before=before, after={"enabled": False, "next_fire_at_ms": 0}, now_ms=now_ms)
    return _view(session, job, actor)


def preview_schedule(schedule_type: Any, schedule_conf: Any, timezone: Any, *, now_ms: int, count: int = PREVIEW_COUNT) -> list[int]:
    """The next `count` fire times (UTC epoch ms) of a schedule being edited; a ServiceError with
    the bad field otherwise. Times are instants: show them in the job's zone."""
    if not all(isinstance(v, str) for v in (schedule_type, schedule_conf, timezone)):
        raise ServiceError(_t("no preview: schedule_type, schedule_conf and timezone must be text"))
    try:
        return preview_fire_times(schedule_type, schedule_conf, timezone, now_ms, count)
    except ScheduleError as exc:
        raise ServiceError(_t("no preview: %(problem)s", problem=exc.text), field_errors={exc.field: exc.reason}) from None


def preview_schedule_calendars(
    session: Session, schedule_type: Any, schedule_conf: Any, timezone: Any, calendars: Any, *, now_ms: int, count: int = PREVIEW_COUNT
) -> tuple[list[int], list[tuple[int, str]]]:
    """`preview_schedule` with the named calendars applied: the next `count` allowed times, and the
    planned times between them that a calendar skips, as (time, calendar name)."""
    times = preview_schedule(schedule_type, schedule_conf, timezone, now_ms=now_ms, count=count)
    if not times or not calendars:
        return times, []
    try:
        marked = preview_with_names(session, schedule_type, schedule_conf, timezone, calendars, now_ms=now_ms, count=count)
    except ScheduleError as exc:
        raise ServiceError(_t("no preview: %(problem)s", problem=exc.text), field_errors={exc.field: exc.reason}) from None
    if marked is None:
        return times, []
    return [p.at_ms for p in marked if p.skipped_by is None], [(p.at_ms, p.skipped_by) for p in marked if p.skipped_by is not None]


def preview_job(session: Session, actor: Actor, job_id: int, *, now_ms: int, count: int = PREVIEW_COUNT) -> list[int]:
    job = load_job(session, actor, job_id)
    return preview_schedule(str(job.schedule_type), job.schedule_conf, job.timezone, now_ms=now_ms, count=count)


def preview_job_jitter(session: Session, actor: Actor, job_id: int, *, now_ms: int, count: int = PREVIEW_COUNT) -> tuple[list[int], list[int]]:
    """A saved job's next `count` fire times (its calendars applied) and, for each, its jitter in
    ms (schedules.jitter)."""
    times, _ = preview_saved_job(session, actor, job_id, now_ms=now_ms, count=count)
    job = load_job(session, actor, job_id)
    return times, [jitter_ms(job.id, at_ms, job.jitter_s) for at_ms in times]


def preview_saved_job(session: Session, actor: Actor, job_id: int, *, now_ms: int, count: int = PREVIEW_COUNT) -> tuple[list[int], list[tuple[int, str]]]:
    """A saved job's next `count` allowed fire times, and the times its calendars skip."""
    job = load_job(session, actor, job_id)
    names = names_of(job.calendar_ids, calendar_names(session)) if job.calendar_ids else []
    return preview_schedule_calendars(session, str(job.schedule_type), job.schedule_conf, job.timezone, names, now_ms=now_ms, count=count)

