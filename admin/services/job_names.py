"""Jobs by name, for pickers: the names that contain what was typed (the runs filter's
search-as-you-type), and the jobs a typed name stands for. Only the actor's groups are searched."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import ExecutorGroup, Job
from .access import scope_to_groups
from .actor import Actor
from .errors import ServiceError
from ..texts import _t

#: Suggestions per answer: a picker shows a short list and narrows as the user types.
MAX_SUGGESTIONS = 20
MAX_TYPED = 128  # sc_job.name's length


@dataclass(frozen=True)
class JobName:
    id: int
    name: str
    group_app_name: str


def _like(text: str) -> str:
    return "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def suggest_job_names(session: Session, actor: Actor, typed: str, *, group_id: int | None = None, limit: int = MAX_SUGGESTIONS) -> list[JobName]:
    """Jobs whose name contains `typed` (all of them for ""), by name then id, at most `limit`."""
    if len(typed) > MAX_TYPED:
        raise ServiceError(_t("bad job name"), field_errors={"q": _t("at most %(count)s characters", count=MAX_TYPED)})
    stmt = scope_to_groups(sa.select(Job.id, Job.name, ExecutorGroup.app_name).join(ExecutorGroup, ExecutorGroup.id == Job.group_id), Job.group_id, actor)
    if typed:
        stmt = stmt.where(Job.name.like(_like(typed), escape="\\"))
    if group_id is not None:
        stmt = stmt.where(Job.group_id == group_id)
    return [JobName(i, n, a) for i, n, a in session.execute(stmt.order_by(Job.name, Job.id).limit(limit))]


def job_ids_named(session: Session, actor: Actor, name: str, *, group_id: int | None = None) -> list[int]:
    """The ids of the actor's jobs named exactly `name` (names are unique only within a group),
    in `group_id` when given."""
    stmt = scope_to_groups(sa.select(Job.id).where(Job.name == name), Job.group_id, actor)
    if group_id is not None:
        stmt = stmt.where(Job.group_id == group_id)
    return list(session.scalars(stmt.order_by(Job.id)))


def job_field_key(text: str) -> str:
    """A job field holds an id (ASCII digits) or a name: the filter key it stands for."""
    return "job_id" if text.isascii() and text.isdigit() else "job_name"
