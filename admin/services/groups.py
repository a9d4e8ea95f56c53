"""Executor groups: CRUD (admins), the groups a user may see, and their live executors.

A group is an application's executors by app name. AUTO groups fill themselves from executor
heartbeats; MANUAL groups list addresses by hand (validated and normalized on save, because the
admin calls them). A group that still has jobs cannot be deleted (409): its jobs would be orphans.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from shardcron.core.protocol import ProtocolError

from .. import registry_view
from ..enums import AddressType, AuditAction, AuditTarget, CapPolicy
from ..models import ExecutorGroup, Job, UserGroupGrant
from . import audit
from .access import load_group, require_admin, scope_to_groups
from .actor import Actor
from .caps import GROUP_CAP_DEFAULTS, clean_group_caps
from ..texts import _nt, _t
from .errors import Conflict, FieldErrors
from .workflows import workflows_of_group

APP_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
MAX_TITLE = 128
GROUP_FIELDS = ("app_name", "title", "address_type", "manual_addresses", *GROUP_CAP_DEFAULTS)


@dataclass(frozen=True)
class LiveExecutorView:
    address: str
    registered_at_ms: int | None
    heartbeat_at_ms: int | None


@dataclass(frozen=True)
class GroupView:
    id: int
    app_name: str
    title: str
    address_type: AddressType
    manual_addresses: list[str]
    job_count: int
    live_executors: list[LiveExecutorView]
    created_at_ms: int
    updated_at_ms: int
    #: At most this many runs of the group's jobs active at once (firing.caps); None: no cap.
    cap_runs: int | None
    #: What a fire over the cap does (WAIT for a slot, or SKIP), and how long it waits at most.
    cap_policy: CapPolicy
    cap_wait_s: int


def _view(
    session: Session, group: ExecutorGroup, now_ms: int, job_count: int | None = None, live_executors: list[registry_view.LiveExecutor] | None = None
) -> GroupView:
    if job_count is None:
        job_count = session.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.group_id == group.id)) or 0
    if live_executors is None:
        live_executors = registry_view.live_executors(session, group, now_ms)
    manual = [a for a in (group.manual_addresses or "").splitlines() if a]
    live = [LiveExecutorView(e.address, e.registered_at_ms, e.heartbeat_at_ms) for e in live_executors]
    return GroupView(
        id=group.id,
        app_name=group.app_name,
        title=group.title,
        address_type=AddressType(group.address_type),
        manual_addresses=manual,
        job_count=job_count,
        live_executors=live,
        created_at_ms=group.created_at_ms,
        updated_at_ms=group.updated_at_ms,
        cap_runs=group.cap_runs,
        cap_policy=CapPolicy(group.cap_policy),
        cap_wait_s=group.cap_wait_s,
    )


def list_groups(session: Session, actor: Actor, now_ms: int) -> list[GroupView]:
    """Every group the actor may see, by app name, with job counts and live executors."""
    stmt = scope_to_groups(sa.select(ExecutorGroup).order_by(ExecutorGroup.app_name), ExecutorGroup.id, actor)
    groups = list(session.scalars(stmt))
    counts = dict(
        session.execute(
            sa.select(Job.group_id, sa.func.count()).where(Job.group_id.in_([g.id for g in groups])).group_by(Job.group_id)
        ).all()
    ) if groups else {}
    live = registry_view.live_executors_by_group(session, groups, now_ms)
    return [_view(session, g, now_ms, counts.get(g.id, 0), live[g.id]) for g in groups]


def get_group(session: Session, actor: Actor, group_id: int, now_ms: int) -> GroupView:
    return _view(session, load_group(session, actor, group_id), now_ms)


def clean_group(session: Session, data: Mapping[str, Any], current: ExecutorGroup | None) -> dict[str, Any]:
    """The column values of a new group (`current` None) or of an update; one ServiceError naming every bad field."""
    errors = FieldErrors()
    unknown = sorted(set(data) - set(GROUP_FIELDS))
    for name in unknown:
        errors.add(name, _t("unknown field"))
    merged: dict[str, Any] = {
        "app_name": current.app_name if current else None,
        "title": current.title if current else None,
        "address_type": current.address_type if current else AddressType.AUTO,
        "manual_addresses": current.manual_addresses if current else None,
        **({name: getattr(current, name) for name in GROUP_CAP_DEFAULTS} if current else GROUP_CAP_DEFAULTS),
    }
    merged.update({k: v for k, v in data.items() if k in GROUP_FIELDS})
    app_name = merged["app_name"]
    if not isinstance(app_name, str) or not APP_NAME_RE.fullmatch(app_name):
        errors.add("app_name", _t("1-64 characters: letters, digits and . _ - (starting with a letter or digit)"))
    else:
        clash = sa.select(ExecutorGroup.id).where(ExecutorGroup.app_name == app_name)
        if current is not None:
            clash = clash.where(ExecutorGroup.id != current.id)
        if session.scalar(clash) is not None:
            errors.add("app_name", _t("a group with app name %(name)s exists already", name=repr(app_name)))
    title = merged["title"]
    if title is None or (isinstance(title, str) and not title.strip()):
        title = app_name if isinstance(app_name, str) else ""
    if not isinstance(title, str):
        errors.add("title", _t("must be text"))
    elif len(title.strip()) > MAX_TITLE:
        errors.add("title", _t("is %(length)s characters long; at most %(limit)s fit", length=len(title.strip()), limit=MAX_TITLE))
    try:
        address_type = AddressType(merged["address_type"])
    except ValueError:
        errors.add("address_type", _t("must be one of %(values)s", values=", ".join(t.value for t in AddressType)))
        address_type = AddressType.AUTO
    raw = merged["manual_addresses"]
    if isinstance(raw, (list, tuple)):
        raw = "\n".join(str(a) for a in raw)
    addresses: list[str] = []
    if raw is not None and not isinstance(raw, str):
        errors.add("manual_addresses", _t("must be a list of executor URLs or text with one per line"))
    elif address_type == AddressType.MANUAL:
        try:
            addresses = registry_view.parse_manual_addresses(raw)
        except ProtocolError as exc:
            # The detail comes from the wire checks shared with the executor (English); the frame is translated.
            errors.add("manual_addresses", _t("not a list of executor addresses: %(problem)s", problem=str(exc)))
        else:
            if not addresses:
                errors.add("manual_addresses", _t("a MANUAL group needs at least one executor address"))
            elif len("\n".join(addresses)) > 60_000:
                errors.add("manual_addresses", _t("too many addresses"))
    caps = clean_group_caps(errors, merged)
    errors.raise_if_any(_t("executor group not saved"), object_id=current.id if current else None)
    return {
        "app_name": app_name,
        "title": title.strip(),
        "address_type": address_type,
        # AUTO groups keep no hand-written list: one source of addresses per group.
        "manual_addresses": "\n".join(addresses) if address_type == AddressType.MANUAL else None,
        **caps,
    }


def create_group(session: Session, actor: Actor, data: Mapping[str, Any], *, now_ms: int) -> GroupView:
    require_admin(actor, _t("only an admin may create executor groups"))
    values = clean_group(session, data, None)
    group = ExecutorGroup(**values, created_at_ms=now_ms, updated_at_ms=now_ms)
    try:
        with session.begin_nested():
            session.add(group)
            session.flush()
    except IntegrityError:
        raise Conflict(
            _t("executor group not saved: app name %(name)s was taken a moment ago", name=repr(values["app_name"])), field_errors={"app_name": _t("is taken")}
        ) from None
    _audit(session, actor, AuditAction.GROUP_CREATE, group, after=_fields(group), now_ms=now_ms)
    return _view(session, group, now_ms, 0)


def _fields(group: ExecutorGroup) -> dict[str, Any]:
    return {name: getattr(group, name) for name in GROUP_FIELDS}


def _audit(session: Session, actor: Actor, action: AuditAction, group: ExecutorGroup, *, now_ms: int, **values: Any) -> None:
    audit.record(session, actor, action, AuditTarget.GROUP, target_id=group.id, target_name=group.app_name, group_id=group.id, now_ms=now_ms, **values)


def update_group(session: Session, actor: Actor, group_id: int, data: Mapping[str, Any], *, now_ms: int) -> GroupView:
    require_admin(actor, _t("only an admin may change executor groups"))
    group = load_group(session, actor, group_id)
    values = clean_group(session, data, group)
    before = _fields(group)
    for key, value in values.items():
        setattr(group, key, value)
    group.updated_at_ms = now_ms
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise Conflict(
            _t("executor group %(id)s not saved: app name %(name)s was taken a moment ago", id=group_id, name=repr(values["app_name"])), object_id=group_id
        ) from None
    was, now = audit.changes(before, _fields(group))
    if now:
        _audit(session, actor, AuditAction.GROUP_UPDATE, group, before=was, after=now, now_ms=now_ms)
    return _view(session, group, now_ms)


def delete_group(session: Session, actor: Actor, group_id: int, *, now_ms: int) -> None:
    require_admin(actor, _t("only an admin may delete executor groups"))
    group = load_group(session, actor, group_id)
    jobs = session.scalar(sa.select(sa.func.count()).select_from(Job).where(Job.group_id == group.id)) or 0
    if jobs:
        raise Conflict(
            _nt(
                "executor group %(name)s still has %(num)d job; delete or move it first",
                "executor group %(name)s still has %(num)d jobs; delete or move them first",
                jobs,
                name=repr(group.app_name),
            ),
            object_id=group_id,
        )
    using = workflows_of_group(session, group.id)
    if using:
        raise Conflict(
            _nt("executor group %(name)s is used by workflow %(names)s; delete or change it first",
                "executor group %(name)s is used by workflows %(names)s; delete or change them first",
                len(using), name=repr(group.app_name), names=", ".join(map(repr, using))),
            object_id=group_id,
        )  # fmt: skip
    _audit(session, actor, AuditAction.GROUP_DELETE, group, before=_fields(group), now_ms=now_ms)
    try:
        with session.begin_nested():
            session.execute(sa.delete(UserGroupGrant).where(UserGroupGrant.group_id == group.id))
            session.delete(group)
            session.flush()
    except IntegrityError:  # a job was added to it meanwhile (the foreign key refused)
        raise Conflict(_t("executor group %(name)s got a job meanwhile; delete or move it first", name=repr(group.app_name)), object_id=group_id) from None
