"""Reading the audit trail: the filtered, paged list, newest first, scoped like everything else.

An ADMIN sees every entry; a USER sees the entries of the groups granted to them (the entries
about their jobs, runs and groups), and none about users or tokens, which belong to no group.
Each filter has an index ending in the entry's time (sc_audit's `ix_audit_*`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import ActorKind, AuditAction, AuditTarget
from ..models import AuditEntry
from .access import scope_to_groups
from .actor import Actor
from ..texts import _t
from .errors import FieldErrors
from .numbers import filter_numbers
from .paging import Page, PageRequest, count_rows_capped

#: The list counts matching entries up to this many; past it the total reads "more than 10,000".
COUNT_CAP = 10_000
MAX_ACTOR_CHARS = 64
#: Actions by what they act on: the console's action filter offers these groups too ("job.*").
ACTION_PREFIXES = sorted({action.value.split(".")[0] for action in AuditAction})


@dataclass(frozen=True)
class AuditEntryView:
    id: int
    at_ms: int
    actor_kind: str
    actor_user_id: int | None
    actor_name: str
    token_name: str | None
    client_address: str | None
    action: str
    target_type: str
    target_id: int | None
    target_name: str
    group_id: int | None
    #: The fields as they were and as they became (only the changed ones for an update).
    before: dict[str, Any] | None
    after: dict[str, Any] | None


def _fields(text: str | None) -> dict[str, Any] | None:
    if text is None:
        return None
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def entry_view(row: AuditEntry) -> AuditEntryView:
    return AuditEntryView(
        id=row.id,
        at_ms=row.at_ms,
        actor_kind=row.actor_kind,
        actor_user_id=row.actor_user_id,
        actor_name=row.actor_name,
        token_name=row.token_name,
        client_address=row.client_address,
        action=row.action,
        target_type=row.target_type,
        target_id=row.target_id,
        target_name=row.target_name,
        group_id=row.group_id,
        before=_fields(row.before_json),
        after=_fields(row.after_json),
    )


@dataclass(frozen=True)
class AuditFilter:
    #: The actor's name, exactly (a user's name, a CLI login name, "setup").
    actor: str | None = None
    actor_kind: ActorKind | None = None
    #: One action ("job.update"), or every action on a kind of target ("job").
    action: str | None = None
    target_type: AuditTarget | None = None
    target_id: int | None = None
    group_id: int | None = None
    #: Time window, UTC epoch ms: from_ms <= at_ms < to_ms.
    from_ms: int | None = None
    to_ms: int | None = None

    @classmethod
    def parse(cls, args: dict[str, Any]) -> AuditFilter:
        """From query-string style values (strings), naming every bad one."""
        errors = FieldErrors()
        values: dict[str, Any] = dict(filter_numbers(errors, args, ("target_id", "group_id")))
        actor = args.get("actor")
        if actor not in (None, ""):
            if not isinstance(actor, str) or len(actor) > MAX_ACTOR_CHARS or "\x00" in actor:
                errors.add("actor", _t("must be a name of at most %(max)s characters", max=MAX_ACTOR_CHARS))
            else:
                values["actor"] = actor.strip()
        for name, enum_cls, upper in (("actor_kind", ActorKind, True), ("target_type", AuditTarget, False)):
            raw = args.get(name)
            if raw in (None, ""):
                continue
            try:
                values[name] = enum_cls(str(raw).upper() if upper else str(raw).lower())
            except ValueError:
                errors.add(name, _t("must be one of %(values)s", values=", ".join(e.value for e in enum_cls)))
        action = args.get("action")
        if action not in (None, ""):
            text = str(action).lower()
            if text not in {a.value for a in AuditAction} and text not in ACTION_PREFIXES:
                errors.add("action", _t("must be an action (%(example)s, ...) or one of %(values)s", example=AuditAction.JOB_UPDATE.value, values=", ".join(ACTION_PREFIXES)))
            else:
                values["action"] = text
        if "from_ms" in values and "to_ms" in values and values["from_ms"] >= values["to_ms"]:
            errors.add("to_ms", _t("must be after from_ms"))
        if "target_id" in values and "target_type" not in values and "target_type" not in errors:
            errors.add("target_type", _t("give the target's type with its id"))
        errors.raise_if_any(_t("bad audit filter"))
        return cls(**values)


def _filtered(actor: Actor, flt: AuditFilter) -> sa.Select:
    stmt = scope_to_groups(sa.select(AuditEntry), AuditEntry.group_id, actor)
    if flt.actor is not None:
        stmt = stmt.where(AuditEntry.actor_name == flt.actor)
    if flt.actor_kind is not None:
        stmt = stmt.where(AuditEntry.actor_kind == flt.actor_kind.value)
    if flt.action is not None:
        if "." in flt.action:
            stmt = stmt.where(AuditEntry.action == flt.action)
        else:
            stmt = stmt.where(AuditEntry.action.in_([a.value for a in AuditAction if a.value.startswith(flt.action + ".")]))
    if flt.target_type is not None:
        stmt = stmt.where(AuditEntry.target_type == flt.target_type.value)
    if flt.target_id is not None:
        stmt = stmt.where(AuditEntry.target_id == flt.target_id)
    if flt.group_id is not None:
        stmt = stmt.where(AuditEntry.group_id == flt.group_id)
    if flt.from_ms is not None:
        stmt = stmt.where(AuditEntry.at_ms >= flt.from_ms)
    if flt.to_ms is not None:
        stmt = stmt.where(AuditEntry.at_ms < flt.to_ms)
    return stmt


def list_entries(session: Session, actor: Actor, flt: AuditFilter, page: PageRequest) -> Page[AuditEntryView]:
    """A page of the entries the actor may see, newest first (ties by id)."""
    stmt = _filtered(actor, flt)
    total, exact = count_rows_capped(session, stmt, COUNT_CAP)
    rows = session.scalars(stmt.order_by(AuditEntry.at_ms.desc(), AuditEntry.id.desc()).limit(page.per_page).offset(page.offset))
    return Page([entry_view(row) for row in rows], total, page.page, page.per_page, exact)
