"""The executor groups an actor may see, as choices for pickers (filters, grants, the job form).

One indexed query, without the live-executor and job-count lookups of `groups.list_groups`, so
list pages that only need a group drop-down stay cheap however many groups there are.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import ExecutorGroup
from .access import scope_to_groups
from .actor import Actor


@dataclass(frozen=True)
class GroupOption:
    id: int
    app_name: str
    title: str


def list_group_options(session: Session, actor: Actor) -> list[GroupOption]:
    """The groups the actor may see, by app name (the order of `groups.list_groups`)."""
    stmt = scope_to_groups(
        sa.select(ExecutorGroup.id, ExecutorGroup.app_name, ExecutorGroup.title).order_by(ExecutorGroup.app_name),
        ExecutorGroup.id,
        actor,
    )
    return [GroupOption(group_id, app_name, title) for group_id, app_name, title in session.execute(stmt)]
