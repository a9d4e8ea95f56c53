"""The `groups` section of an import: executor groups matched by app name.

Only an admin creates or changes groups (as in services.groups). Anyone else may import jobs
into the groups granted to them: each group the document lists must then exist and be theirs,
and it is left as it is, whatever `on_conflict` says (except `fail`, which refuses it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import ExecutorGroup
from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.groups import GROUP_FIELDS, clean_group
from ..texts import _t
from .plan import Action, GroupStep, ImportPlan, OnConflict


def unknown_fields(plan: ImportPlan, place: str, entry: dict[str, Any], allowed: set[str] | tuple[str, ...]) -> None:
    for key in sorted(set(entry) - set(allowed), key=str):
        plan.problem(f"{place}.{key}", _t("unknown field"))


def _existing(session: Session, app_name: str) -> ExecutorGroup | None:
    return session.scalar(sa.select(ExecutorGroup).where(ExecutorGroup.app_name == app_name))


def _check_values(plan: ImportPlan, session: Session, place: str, entry: dict[str, Any], current: ExecutorGroup | None) -> dict[str, Any] | None:
    data = {k: v for k, v in entry.items() if k in GROUP_FIELDS}
    try:
        return clean_group(session, data, current)
    except ServiceError as exc:
        for name, message in exc.field_errors.items():
            plan.problem(f"{place}.{name}", message)
        return None


def plan_groups(plan: ImportPlan, session: Session, actor: Actor, entries: list[Any]) -> None:
    """One step per entry of `groups`, or the problems that refuse it."""
    seen: dict[str, int] = {}
    for index, entry in enumerate(entries):
        place = f"groups[{index}]"
        if not isinstance(entry, dict):
            plan.problem(place, _t("must be an object"))
            continue
        unknown_fields(plan, place, entry, GROUP_FIELDS)
        app_name = entry.get("app_name")
        if not isinstance(app_name, str) or not app_name:
            plan.problem(f"{place}.app_name", _t("is required") if app_name in (None, "") else _t("must be text"))
            continue
        if app_name in seen:
            plan.problem(f"{place}.app_name", _t("%(name)s is also at groups[%(index)s]", name=repr(app_name), index=seen[app_name]))
            continue
        seen[app_name] = index
        before = len(plan.problems)
        _plan_group(plan, session, actor, index, entry, app_name)
        if len(plan.problems) > before:
            plan.refused_groups.add(app_name)


def _plan_group(plan: ImportPlan, session: Session, actor: Actor, index: int, entry: dict[str, Any], app_name: str) -> None:
    place = f"groups[{index}]"
    current = _existing(session, app_name)
    if not actor.is_admin:
        if current is None or not actor.can_access_group(current.id):
            plan.problem(f"{place}.app_name", _t("no executor group %(name)s you may use; only an admin may create groups", name=repr(app_name)))
            return
        if plan.options.on_conflict is OnConflict.FAIL:
            plan.problem(f"{place}.app_name", _t("executor group %(name)s exists already (on_conflict is fail)", name=repr(app_name)))
            return
        plan.groups.append(GroupStep(index, app_name, {}, Action.SKIP, existing_id=current.id))
        return
    if current is None:
        values = _check_values(plan, session, place, entry, None)
        if values is not None:
            plan.groups.append(GroupStep(index, app_name, values, Action.CREATE))
    elif plan.options.on_conflict is OnConflict.FAIL:
        plan.problem(f"{place}.app_name", _t("executor group %(name)s exists already (on_conflict is fail)", name=repr(app_name)))
    elif plan.options.on_conflict is OnConflict.UPDATE:
        values = _check_values(plan, session, place, entry, current)
        if values is not None:
            unchanged = all(str(values[k] or "") == str(getattr(current, k) or "") for k in GROUP_FIELDS)
            plan.groups.append(GroupStep(index, app_name, values, Action.UPDATE, existing_id=current.id, unchanged=unchanged))
    else:
        plan.groups.append(GroupStep(index, app_name, {}, Action.SKIP, existing_id=current.id))
