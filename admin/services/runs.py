"""Run logs: the filtered, paged list; one run; its log tail from the executor; kill.

The list is served by the sc_run_log indexes (job, group, status, each with trigger time, and
trigger time alone), newest first. Calls to executors (log, kill) go only to an address that is
a live executor of the run's group (no SSRF) and are made outside any database transaction, so a
slow executor never holds a lock.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.protocol import Envelope, LogResult

from .. import registry_view
from ..db import Database, changed_rows
from ..enums import AuditAction, AuditTarget, FollowupStatus, RunStatus, TriggerType
from ..models import ExecutorGroup, Job, RunLog
from ..transport.executor_client import ExecutorClient
from . import audit
from .access import scope_to_groups
from .actor import Actor
from ..texts import Text, _t
from .errors import Conflict, FieldErrors, NotFound, ServiceError
from .numbers import INT_MAX, filter_numbers
from .paging import Page, PageRequest, count_rows_capped

#: The list counts matching rows up to this many; past it the total reads "more than 10,000".
COUNT_CAP = 10_000
#: Keys of a retry-task drainer's result data that the console shows per shard.
DRAIN_COUNT_KEYS = ("claimed", "succeeded", "retried", "dead")
#: Runs sort by trigger time only (ties by id): every filter has an index ending in trigger time,
#: so any order by another column would sort a filter's whole match instead of reading a page.
SORTS = {"trigger_at_ms": RunLog.trigger_at_ms}
KILLED_GONE_MSG = "killed: executor gone"
#: A drainer's end-of-run message ("shard 0/2: claimed 7, succeeded 5, ..."): its counts are in
#: `drain_counts`, so a result cell shows them once, from there.
DRAIN_SUMMARY = re.compile(r"^shard \d+/\d+: claimed \d+, ")


@dataclass(frozen=True)
class RunView:
    id: int
    job_id: int
    job_name: str | None
    group_id: int
    fire_id: int | None
    trigger_type: TriggerType
    fire_at_ms: int
    #: The planned time the run ran for (its logDateTime, the executor's ctx.trigger_time_ms):
    #: `fire_at_ms`, except for a retry or a repair, which keeps the one of the run it re-ran.
    planned_at_ms: int
    trigger_at_ms: int
    executor_address: str | None
    handler: str
    param: str | None
    shard_index: int
    shard_total: int
    attempt: int
    retry_remaining: int
    status: RunStatus
    trigger_code: int
    trigger_msg: str | None
    handle_at_ms: int | None
    handle_code: int
    handle_msg: str | None
    #: The latest progress a running run reported (`ctx.progress(done, total)`), if any.
    progress_done: int | None
    progress_total: int | None
    #: The run's structured result (or its latest progress data), parsed from result_json.
    result: dict[str, Any] | None
    #: A retry-task drainer's counts for this shard (claimed/succeeded/retried/dead), when present.
    drain_counts: dict[str, int] | None
    #: The run's last checkpoint (`ctx.checkpoint(state)`, any JSON value; None: none saved), its
    #: number within the run (0: the one it resumed from) and when it arrived.
    checkpoint: Any = None
    checkpoint_seq: int = 0
    checkpoint_at_ms: int | None = None
    #: The run whose checkpoint this one was sent with (None: it started fresh).
    resume_from_run_id: int | None = None
    #: The workflow step run this run belongs to (None: not a workflow step's run).
    step_run_id: int | None = None

    @property
    def result_note(self) -> str | None:
        """The one message a result cell shows: the executor's answer, else the trigger's; None
        when it only repeats the drainer counts the cell shows already."""
        text = self.handle_msg or self.trigger_msg
        if text and self.drain_counts is not None and DRAIN_SUMMARY.match(text):
            return None
        return text or None


def _result(text: str | None) -> dict[str, Any] | None:
    if not text:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def _drain_counts(result: dict[str, Any] | None) -> dict[str, int] | None:
    if not result or not any(k in result for k in DRAIN_COUNT_KEYS):
        return None
    return {k: int(result[k]) if isinstance(result.get(k), int) and not isinstance(result.get(k), bool) else 0 for k in DRAIN_COUNT_KEYS}


def run_view(row: RunLog, job_name: str | None) -> RunView:
    result = _result(row.result_json)
    return RunView(
        id=row.id,
        job_id=row.job_id,
        job_name=job_name,
        group_id=row.group_id,
        fire_id=row.fire_id,
        trigger_type=TriggerType(row.trigger_type),
        fire_at_ms=row.fire_at_ms,
        planned_at_ms=row.log_date_ms,
        trigger_at_ms=row.trigger_at_ms,
        executor_address=row.executor_address,
        handler=row.handler,
        param=row.param,
        shard_index=row.shard_index,
        shard_total=row.shard_total,
        attempt=row.attempt,
        retry_remaining=row.retry_remaining,
        status=RunStatus(row.status),
        trigger_code=row.trigger_code,
        trigger_msg=row.trigger_msg,
        handle_at_ms=row.handle_at_ms,
        handle_code=row.handle_code,
        handle_msg=row.handle_msg,
        progress_done=row.progress_done,
        progress_total=row.progress_total,
        result=result,
        drain_counts=_drain_counts(result),
        checkpoint=_checkpoint(row.checkpoint_json),
        checkpoint_seq=row.checkpoint_seq or 0,
        checkpoint_at_ms=row.checkpoint_at_ms,
        resume_from_run_id=row.resume_from_run_id,
        step_run_id=row.step_run_id,
    )


def _checkpoint(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


#: Log lines are numbered in a Java `int` on the wire (`fromLineNum`).
MAX_LOG_LINE = INT_MAX


@dataclass(frozen=True)
class RunFilter:
    group_id: int | None = None
    job_id: int | None = None
    #: The runs of every job so named (names are unique only within a group).
    job_name: str | None = None
    status: RunStatus | None = None
    trigger_type: TriggerType | None = None
    #: Trigger time window, UTC epoch ms: from_ms <= trigger_at_ms < to_ms.
    from_ms: int | None = None
    to_ms: int | None = None
    #: The runs of one workflow step run (its shards and retries).
    step_run_id: int | None = None
    sort: str = "trigger_at_ms"
    descending: bool = True

    @classmethod
    def parse(cls, args: dict[str, Any]) -> RunFilter:
        """From query-string style values (strings), naming every bad one."""
        errors = FieldErrors()
        values: dict[str, Any] = dict(filter_numbers(errors, args, ("group_id", "job_id", "step_run_id")))
        job_name = args.get("job_name")
        if job_name not in (None, ""):
            if not isinstance(job_name, str) or len(job_name) > 128:
                errors.add("job_name", _t("a job's name, at most 128 characters"))
            else:
                values["job_name"] = job_name
        for name, enum_cls in (("status", RunStatus), ("trigger_type", TriggerType)):
            raw = args.get(name)
            if raw in (None, ""):
                continue
            try:
                values[name] = enum_cls(str(raw).upper())
            except ValueError:
                errors.add(name, _t("must be one of %(values)s", values=", ".join(e.value for e in enum_cls)))
        sort = args.get("sort") or "trigger_at_ms"
        if sort not in SORTS:
            errors.add("sort", _t("must be one of %(values)s", values=", ".join(SORTS)))
        order = (args.get("order") or "desc").lower()
        if order not in ("asc", "desc"):
            errors.add("order", _t("must be asc or desc"))
        if "from_ms" in values and "to_ms" in values and values["from_ms"] >= values["to_ms"]:
            errors.add("to_ms", _t("must be after from_ms"))
        errors.raise_if_any(_t("bad run filter"))
        return cls(**values, sort=sort, descending=order == "desc")


def _filtered(actor: Actor, flt: RunFilter) -> sa.Select:
    stmt = scope_to_groups(sa.select(RunLog), RunLog.group_id, actor)
    if flt.group_id is not None:
        stmt = stmt.where(RunLog.group_id == flt.group_id)
    if flt.job_id is not None:
        stmt = stmt.where(RunLog.job_id == flt.job_id)
    if flt.job_name is not None:
        stmt = stmt.where(RunLog.job_id.in_(sa.select(Job.id).where(Job.name == flt.job_name)))
    if flt.step_run_id is not None:
        stmt = stmt.where(RunLog.step_run_id == flt.step_run_id)
    if flt.status is not None:
        stmt = stmt.where(RunLog.status == flt.status)
    if flt.trigger_type is not None:
        stmt = stmt.where(RunLog.trigger_type == flt.trigger_type)
    if flt.from_ms is not None:
        stmt = stmt.where(RunLog.trigger_at_ms >= flt.from_ms)
    if flt.to_ms is not None:
        stmt = stmt.where(RunLog.trigger_at_ms < flt.to_ms)
    return stmt


def _job_names(session: Session, job_ids: set[int]) -> dict[int, str]:
    if not job_ids:
        return {}
    return dict(session.execute(sa.select(Job.id, Job.name).where(Job.id.in_(job_ids))).all())


def list_runs(session: Session, actor: Actor, flt: RunFilter, page: PageRequest) -> Page[RunView]:
    stmt = _filtered(actor, flt)
    total, exact = count_rows_capped(session, stmt, COUNT_CAP)
    column = SORTS[flt.sort]
    order = [column.desc(), RunLog.id.desc()] if flt.descending else [column.asc(), RunLog.id.asc()]
    rows = list(session.scalars(stmt.order_by(*order).limit(page.per_page).offset(page.offset)))
    names = _job_names(session, {r.job_id for r in rows})
    return Page([run_view(r, names.get(r.job_id)) for r in rows], total, page.page, page.per_page, exact)


@dataclass(frozen=True)
class RunState:
    id: int
    status: RunStatus
    progress_done: int | None
    progress_total: int | None


def run_states(session: Session, actor: Actor, run_ids: list[int]) -> list[RunState]:
    """Status and progress of the given runs the actor may see (others are left out), by id."""
    if not run_ids:
        return []
    stmt = scope_to_groups(sa.select(RunLog.id, RunLog.status, RunLog.progress_done, RunLog.progress_total).where(RunLog.id.in_(set(run_ids))), RunLog.group_id, actor)
    return [RunState(i, RunStatus(s), d, t) for i, s, d, t in session.execute(stmt.order_by(RunLog.id))]


def _load_run(session: Session, actor: Actor, run_id: int) -> RunLog:
    row = session.get(RunLog, run_id) if isinstance(run_id, int) else None
    if row is None or not actor.can_access_group(row.group_id):
        raise NotFound("run", run_id)
    return row


def get_run(session: Session, actor: Actor, run_id: int) -> RunView:
    row = _load_run(session, actor, run_id)
    return run_view(row, _job_names(session, {row.job_id}).get(row.job_id))


def list_fire_runs(session: Session, actor: Actor, fire_id: int) -> list[RunView]:
    """Every run row of one fire (one per shard of a broadcast), by shard."""
    stmt = scope_to_groups(sa.select(RunLog).where(RunLog.fire_id == fire_id), RunLog.group_id, actor)
    rows = list(session.scalars(stmt.order_by(RunLog.shard_index, RunLog.id)))
    names = _job_names(session, {r.job_id for r in rows})
    return [run_view(r, names.get(r.job_id)) for r in rows]


@dataclass(frozen=True)
class LogPage:
    run_id: int
    from_line: int
    to_line: int
    content: str
    #: The executor says the run's log is complete.
    is_end: bool
    run_status: RunStatus


@dataclass(frozen=True)
class RunTarget:
    run_id: int
    job_id: int
    address: str | None
    live: bool
    app_name: str
    #: The logDateTime the run was sent with (RunLog.log_date_ms): the executor keeps its log under it.
    log_date_ms: int
    status: RunStatus
    group_id: int
    job_name: str


def run_target(db: Database, actor: Actor, run_id: int, now_ms: int) -> RunTarget:
    with db.read_session() as session:
        row = _load_run(session, actor, run_id)
        group = session.get(ExecutorGroup, row.group_id)
        live = bool(row.executor_address and group is not None and registry_view.is_group_executor(session, group, row.executor_address, now_ms))
        job_name = _job_names(session, {row.job_id}).get(row.job_id) or f"job {row.job_id}"
        return RunTarget(row.id, row.job_id, row.executor_address, live, group.app_name if group else "?", row.log_date_ms, RunStatus(row.status), row.group_id, job_name)


def read_run_log(db: Database, actor: Actor, run_id: int, client: ExecutorClient, *, from_line: int = 1, now_ms: int) -> LogPage:
    """A page of the run's log, read from the executor that ran it, starting at `from_line`."""
    if not isinstance(from_line, int) or not 1 <= from_line <= MAX_LOG_LINE:
        raise ServiceError(_t("bad log request"), field_errors={"from_line": _t("must be between %(low)s and %(high)s", low=1, high=MAX_LOG_LINE)}, object_id=run_id)
    target = run_target(db, actor, run_id, now_ms)
    if target.address is None:
        raise Conflict(_t("run %(id)s was never sent to an executor, so it has no log", id=run_id), object_id=run_id)
    if not target.live:
        raise Conflict(
            _t(
                "run %(id)s: executor %(address)s is not a live executor of group %(group)s now, so its log cannot be read",
                id=run_id,
                address=target.address,
                group=target.app_name,
            ),
            object_id=run_id,
        )
    answer = client.log(target.address, target.log_date_ms, target.run_id, from_line)
    if isinstance(answer, Envelope):
        raise ServiceError(
            _t("run %(id)s: log not read: %(reason)s", id=run_id, reason=answer.msg or _t("the executor refused")), status=502, object_id=run_id
        )
    assert isinstance(answer, LogResult)
    return LogPage(run_id, answer.from_line_num, answer.to_line_num, answer.log_content, answer.is_end, target.status)


#: Statuses a run can be killed in (an UNKNOWN one only through its live executor: may_kill).
KILLABLE = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.UNKNOWN)


def may_kill(run: RunView) -> bool:
    """Whether a kill can be tried: a PENDING or RUNNING run, or an UNKNOWN one that names an
    executor (which may be running it)."""
    if run.status == RunStatus.UNKNOWN:
        return bool(run.executor_address)
    return run.status in KILLABLE


@dataclass(frozen=True)
class KillResult:
    run_id: int
    #: True when the executor was asked to stop the run; False when the run was marked failed
    #: here because its executor is gone.
    sent: bool
    message: Text


def kill_run(db: Database, actor: Actor, run_id: int, client: ExecutorClient, *, now_ms: int) -> KillResult:
    """Stop a PENDING, RUNNING or UNKNOWN run. Its live executor is asked to kill the job and
    reports the run by callback; a PENDING or RUNNING run whose executor is no longer live is
    marked FAILED here.

    An UNKNOWN run (its executor may or may not have it) is only ever killed through its live
    executor: marking it FAILED here would start the job's retries, running again a job that
    delivers at most once, and its alarm has gone out already. With no live executor it stays
    UNKNOWN (409)."""
    target = run_target(db, actor, run_id, now_ms)
    if target.status not in KILLABLE:
        raise Conflict(_t("run %(id)s has finished (%(status)s); there is nothing to kill", id=run_id, status=target.status), object_id=run_id)
    if target.status == RunStatus.UNKNOWN and not (target.address and target.live):
        if target.address:
            refusal = _t(
                "run %(id)s: whether its executor got it is unknown and its executor %(address)s is not a live executor of group %(group)s now, "
                "so there is nothing to ask to stop; it stays UNKNOWN",
                id=run_id,
                address=target.address,
                group=target.app_name,
            )
        else:
            refusal = _t("run %(id)s: whether its executor got it is unknown and it names no executor, so there is nothing to ask to stop; it stays UNKNOWN", id=run_id)
        raise Conflict(refusal, object_id=run_id)
    if target.address and target.live:
        answer = client.kill(target.address, target.job_id)
        if not answer.ok:
            raise ServiceError(
                _t("run %(id)s: executor %(address)s did not kill it: %(reason)s", id=run_id, address=target.address, reason=answer.msg or _t("refused")),
                status=502,
                object_id=run_id,
            )
        # Nothing in the database changes (the executor reports the run's end by callback): the
        # entry records the kill the executor accepted, in a transaction of its own.
        with db.session() as session:
            _audit_kill(session, actor, target, {"status": target.status}, {"kill_sent_to": target.address}, now_ms=now_ms)
        return KillResult(
            run_id, True, _t("executor %(address)s is stopping job %(job)s; the run ends when the executor reports it", address=target.address, job=target.job_id)
        )
    with db.session() as session:
        changed = changed_rows(session.execute(
            sa.update(RunLog)
            .where(RunLog.id == run_id, RunLog.status.in_([RunStatus.PENDING, RunStatus.RUNNING]))
            .values(
                status=RunStatus.FAILED,
                handle_code=500,
                handle_msg=KILLED_GONE_MSG,
                handle_at_ms=now_ms,
                followup_status=FollowupStatus.PENDING,
            )
        ))
        if changed:
            after = {"status": RunStatus.FAILED, "handle_msg": KILLED_GONE_MSG}
            _audit_kill(session, actor, target, {"status": target.status}, after, now_ms=now_ms)
    if not changed:
        raise Conflict(_t("run %(id)s finished meanwhile; there is nothing to kill", id=run_id), object_id=run_id)
    if target.address:
        return KillResult(run_id, False, _t("run %(id)s marked failed: executor %(address)s is not live in group %(group)s", id=run_id, address=target.address, group=target.app_name))
    return KillResult(run_id, False, _t("run %(id)s marked failed: no executor is live in group %(group)s", id=run_id, group=target.app_name))


def _audit_kill(session: Session, actor: Actor, target: RunTarget, before: dict[str, Any], after: dict[str, Any], *, now_ms: int) -> None:
    audit.record(
        session, actor, AuditAction.RUN_KILL, AuditTarget.RUN, target_id=target.run_id, target_name=target.job_name, group_id=target.group_id,
        before=before, after={**after, "job_id": target.job_id}, now_ms=now_ms,
    )  # fmt: skip
