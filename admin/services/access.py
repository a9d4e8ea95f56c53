"""Who may see what: group grants applied to queries and to single objects.

An ADMIN sees every group; a USER sees the groups granted to them and the jobs, runs and logs of
those groups, nothing else. An object the actor may not see is reported as not found (404), the
same answer as for an id that does not exist, so ids of other teams' jobs leak nothing.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import ExecutorGroup, Job
from .actor import Actor
from ..texts import Text
from .errors import Forbidden, NotFound


def scope_to_groups(stmt: sa.Select, column: Any, actor: Actor) -> sa.Select:
    """Restrict a query to the groups the actor may see (`column` holds a group id)."""
    if actor.is_admin:
        return stmt
    if not actor.group_ids:
        return stmt.where(sa.false())
    return stmt.where(column.in_(sorted(actor.group_ids)))


def require_admin(actor: Actor, refusal: Text) -> None:
    """Raise Forbidden(`refusal`, e.g. "only an admin may ...") unless the actor is an admin."""
    if not actor.is_admin:
        raise Forbidden(refusal)


def load_group(session: Session, actor: Actor, group_id: int) -> ExecutorGroup:
    group = session.get(ExecutorGroup, group_id) if isinstance(group_id, int) else None
    if group is None or not actor.can_access_group(group.id):
        raise NotFound("executor group", group_id)
    return group


def load_job(session: Session, actor: Actor, job_id: int, *, for_update: bool = False) -> Job:
    job = session.get(Job, job_id, with_for_update=for_update) if isinstance(job_id, int) else None
    if job is None or not actor.can_access_group(job.group_id):
        raise NotFound("job", job_id)
    return job
