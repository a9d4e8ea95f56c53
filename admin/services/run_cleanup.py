"""Run-log clean-up by an admin: delete one job's or one group's runs older than N days, or all
but its last N, or both (a row goes when it matches every criterion given).

The count shown in the confirmation and the delete use the same condition (`_condition`), so the
number an admin confirms is the number the delete would remove at that moment. Runs that may
still be going (PENDING, RUNNING, and UNKNOWN, which a late result may still finish) are never
deleted. The delete runs in batches of `BATCH` rows, one transaction each, so a large run log is
never locked for long; the audit entry is written in the first batch's transaction, so no row
goes without it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import Database
from ..enums import AuditAction, AuditTarget, RunStatus
from ..models import ExecutorGroup, Job, RunLog
from . import audit
from .actor import Actor
from .errors import FieldErrors, Forbidden, NotFound, ServiceError
from .numbers import ID_MAX, ID_MIN, check_whole
from ..texts import _t

DAY_MS = 86_400_000
#: Rows deleted per transaction.
BATCH = 1_000
#: The longest age and the largest "keep the last N" accepted (100 years, a billion rows).
MAX_DAYS = 36_500
MAX_KEEP = 1_000_000_000
#: Runs that may still be going: never deleted.
ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING, RunStatus.UNKNOWN)


@dataclass(frozen=True)
class CleanupRequest:
    """Which runs to delete: those of `job_id` or of `group_id` (exactly one), triggered more than
    `older_than_days` x 24 h ago and/or not among the newest `keep_last` (at least one)."""

    job_id: int | None = None
    group_id: int | None = None
    older_than_days: int | None = None
    keep_last: int | None = None

    @classmethod
    def parse(cls, args: Mapping[str, Any]) -> CleanupRequest:
        """From form or JSON values, naming every bad one."""
        errors = FieldErrors()
        values: dict[str, int] = {}
        for name, low, high, what in (
            ("job_id", ID_MIN, ID_MAX, _t("an id")),
            ("group_id", ID_MIN, ID_MAX, _t("an id")),
            ("older_than_days", 0, MAX_DAYS, _t("a number of days")),
            ("keep_last", 0, MAX_KEEP, _t("a number of runs")),
        ):
            raw = args.get(name)
            if raw is None or raw == "":
                continue
            number = check_whole(errors, name, raw, low, high, what=what)
            if number is not None:
                values[name] = number
        if "job_id" not in errors and "group_id" not in errors and ("job_id" in values) == ("group_id" in values):
            errors.add("job_id", _t("give a job_id or a group_id (one of them)"))
        if "older_than_days" not in errors and "keep_last" not in errors and not ({"older_than_days", "keep_last"} & values.keys()):
            errors.add("older_than_days", _t("give older_than_days, keep_last or both"))
        errors.raise_if_any(_t("bad clean-up request"))
        return cls(**values)

    def criteria(self) -> dict[str, int]:
        return {k: v for k, v in (("older_than_days", self.older_than_days), ("keep_last", self.keep_last)) if v is not None}


@dataclass(frozen=True)
class CleanupScope:
    """What the request is about, resolved: the target's kind, id, name and group."""

    target: AuditTarget
    target_id: int
    name: str
    group_id: int


@dataclass(frozen=True)
class CleanupPreview:
    request: CleanupRequest
    scope: CleanupScope
    #: Rows the clean-up would delete now.
    matching: int


@dataclass(frozen=True)
class CleanupResult:
    request: CleanupRequest
    scope: CleanupScope
    deleted: int
    batches: int


def _scope(session: Session, actor: Actor, req: CleanupRequest) -> CleanupScope:
    if not actor.is_admin:
        raise Forbidden(_t("only admins can clean up the run log"))
    if req.job_id is not None:
        job = session.get(Job, req.job_id)
        if job is None:
            raise NotFound("job", req.job_id)
        return CleanupScope(AuditTarget.JOB, job.id, job.name, job.group_id)
    assert req.group_id is not None
    group = session.get(ExecutorGroup, req.group_id)
    if group is None:
        raise NotFound("executor group", req.group_id)
    return CleanupScope(AuditTarget.GROUP, group.id, group.app_name, group.id)


def _condition(session: Session, scope: CleanupScope, req: CleanupRequest, now_ms: int) -> sa.ColumnElement[bool] | None:
    """The rows to delete; None when none can match (fewer runs than `keep_last`)."""
    in_scope = RunLog.job_id == scope.target_id if scope.target == AuditTarget.JOB else RunLog.group_id == scope.target_id
    parts: list[sa.ColumnElement[bool]] = [in_scope, RunLog.status.not_in(ACTIVE)]
    if req.older_than_days is not None:
        parts.append(RunLog.trigger_at_ms < now_ms - req.older_than_days * DAY_MS)
    if req.keep_last:
        # The newest kept row (trigger time, then id, as the list sorts): everything before it goes.
        edge = session.execute(
            sa.select(RunLog.trigger_at_ms, RunLog.id).where(in_scope).order_by(RunLog.trigger_at_ms.desc(), RunLog.id.desc()).offset(req.keep_last - 1).limit(1)
        ).first()
        if edge is None:
            return None
        at_ms, run_id = edge
        parts.append(sa.or_(RunLog.trigger_at_ms < at_ms, sa.and_(RunLog.trigger_at_ms == at_ms, RunLog.id < run_id)))
    return sa.and_(*parts)


def preview_cleanup(session: Session, actor: Actor, req: CleanupRequest, *, now_ms: int) -> CleanupPreview:
    """How many runs `req` would delete now (nothing is deleted)."""
    scope = _scope(session, actor, req)
    condition = _condition(session, scope, req, now_ms)
    return CleanupPreview(req, scope, _count(session, condition))


def clean_up_runs(db: Database, actor: Actor, req: CleanupRequest, *, now_ms: int, batch: int = BATCH) -> CleanupResult:
    """Delete what `preview_cleanup` counts, `batch` rows per transaction, and audit it."""
    if batch < 1:
        raise ServiceError(_t("bad clean-up request"), field_errors={"batch": _t("must be at least 1")})
    with db.read_session() as session:
        scope = _scope(session, actor, req)
        # Fixed once: the "last N" edge does not move while the batches run.
        condition = _condition(session, scope, req, now_ms)
    deleted = batches = 0
    while True:
        with db.session() as session:
            ids = [] if condition is None else list(session.scalars(sa.select(RunLog.id).where(condition).order_by(RunLog.id).limit(batch)))
            if batches == 0:
                audit.record(
                    session, actor, AuditAction.RUN_CLEANUP, scope.target, target_id=scope.target_id, target_name=scope.name, group_id=scope.group_id,
                    after={**req.criteria(), "matching": _count(session, condition)}, now_ms=now_ms,
                )  # fmt: skip
            if ids:
                session.execute(sa.delete(RunLog.__table__).where(RunLog.__table__.c.id.in_(ids)))
        batches += 1
        deleted += len(ids)
        if len(ids) < batch:
            break
    return CleanupResult(req, scope, deleted, batches)


def _count(session: Session, condition: sa.ColumnElement[bool] | None) -> int:
    if condition is None:
        return 0
    return int(session.scalar(sa.select(sa.func.count()).select_from(RunLog).where(condition)) or 0)
