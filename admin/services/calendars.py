"""Calendars: named sets of excluded dates that jobs share (admins manage them, anyone may use them).

Permissions follow executor groups: only an ADMIN creates, changes or deletes a calendar, since
one edit changes the schedules of every team's jobs that use it; every user sees every calendar
and may attach any of them to the jobs they may edit. Each change bumps the calendar's `version`
(every scheduler node reloads it on its next tick that needs it) and is audited in the same
transaction. A change that would leave a job using the calendar no planned time in the next
ten years is refused, and so is deleting a calendar a job still uses (the jobs are named).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..calendar_rows import load_calendars, parse_calendar_ids
from ..enums import AuditAction, AuditTarget
from ..models import Calendar, CalendarEntry, Job
from ..schedules.exclusions import DateRange, Exclusions, leaves_a_time
from ..texts import _nt, _t
from . import audit
from .access import require_admin
from .actor import Actor
from .calendar_form import clean_calendar, entries_text
from .errors import Conflict, FieldErrors, NotFound


@dataclass(frozen=True)
class CalendarEntryView:
    start: str
    end: str
    label: str


@dataclass(frozen=True)
class CalendarView:
    id: int
    name: str
    timezone: str
    description: str
    entries: list[CalendarEntryView]
    #: Jobs that use the calendar (all jobs, whoever may see them: a count says nothing secret).
    job_count: int
    version: int
    created_at_ms: int
    updated_at_ms: int


def _users(session: Session) -> dict[int, list[tuple[int, str]]]:
    """Calendar id -> the jobs (id, name) that use it."""
    users: dict[int, list[tuple[int, str]]] = {}
    for job_id, name, text in session.execute(sa.select(Job.id, Job.name, Job.calendar_ids).where(Job.calendar_ids != "").order_by(Job.id)):
        for cid in parse_calendar_ids(text):
            users.setdefault(cid, []).append((job_id, name))
    return users


def _view(cal: Calendar, ranges: tuple[DateRange, ...] | list[DateRange], job_count: int) -> CalendarView:
    return CalendarView(
        id=cal.id, name=cal.name, timezone=cal.timezone, description=cal.description,
        entries=[CalendarEntryView(r.start.isoformat(), r.end.isoformat(), r.label) for r in ranges],
        job_count=job_count, version=cal.version, created_at_ms=cal.created_at_ms, updated_at_ms=cal.updated_at_ms,
    )


def list_calendars(session: Session, actor: Actor) -> list[CalendarView]:
    """Every calendar, by name (every user may see and use them)."""
    cals = list(session.scalars(sa.select(Calendar).order_by(Calendar.name)))
    loaded = load_calendars(session, [c.id for c in cals])
    users = _users(session)
    return [_view(c, loaded[c.id].ranges if c.id in loaded else (), len(users.get(c.id, []))) for c in cals]


def _load(session: Session, calendar_id: int, *, for_update: bool = False) -> Calendar:
    cal = session.get(Calendar, calendar_id, with_for_update=for_update) if isinstance(calendar_id, int) else None
    if cal is None:
        raise NotFound("calendar", calendar_id)
    return cal


def get_calendar(session: Session, actor: Actor, calendar_id: int) -> CalendarView:
    cal = _load(session, calendar_id)
    loaded = load_calendars(session, [cal.id])
    return _view(cal, loaded[cal.id].ranges, len(_users(session).get(cal.id, [])))


def _fields(cal: Calendar, ranges: tuple[DateRange, ...] | list[DateRange]) -> dict[str, Any]:
    return {"name": cal.name, "timezone": cal.timezone, "description": cal.description, "entries": entries_text(ranges)}


def _audit(session: Session, actor: Actor, action: AuditAction, cal: Calendar, *, now_ms: int, **values: Any) -> None:
    audit.record(session, actor, action, AuditTarget.CALENDAR, target_id=cal.id, target_name=cal.name, group_id=None, now_ms=now_ms, **values)


def check_jobs_keep_a_time(session: Session, errors: FieldErrors, calendar_id: int | None, timezone: str, ranges: list[DateRange], now_ms: int) -> None:
    """Refuse (on `entries`) ranges that would leave a job using the calendar no planned time
    (also the import's check of a calendar it would update, transfer.plan_calendars)."""
    if calendar_id is None or "timezone" in errors:
        return
    users = _users(session).get(calendar_id, [])
    if not users:
        return
    jobs = session.execute(
        sa.select(Job.id, Job.name, Job.schedule_type, Job.schedule_conf, Job.timezone, Job.calendar_ids).where(Job.id.in_([j for j, _ in users]))
    ).all()
    others = load_calendars(session, {cid for *_, text in jobs for cid in parse_calendar_ids(text)} - {calendar_id})
    for job_id, name, kind, conf, zone, text in jobs:
        parts = [(timezone, ranges)] + [(others[c].timezone, others[c].ranges) for c in parse_calendar_ids(text) if c in others]
        try:
            kept = leaves_a_time(kind, conf, zone, now_ms, Exclusions.of(parts))
        except ValueError:  # an unusable stored schedule: the fire loop stops that job anyway
            continue
        if not kept:
            errors.add("entries", _t("would leave job %(id)s (%(name)s) no planned time in the next 10 years", id=job_id, name=name))
            return


def _write_entries(session: Session, cal: Calendar, ranges: list[DateRange]) -> None:
    session.execute(sa.delete(CalendarEntry).where(CalendarEntry.calendar_id == cal.id))
    if ranges:
        session.execute(sa.insert(CalendarEntry), [{"calendar_id": cal.id, "start_date": r.start, "end_date": r.end, "label": r.label} for r in ranges])


def _name_taken(session: Session, errors: FieldErrors, name: Any, calendar_id: int | None) -> None:
    if "name" in errors:
        return
    clash = sa.select(Calendar.id).where(Calendar.name == name)
    if calendar_id is not None:
        clash = clash.where(Calendar.id != calendar_id)
    if session.scalar(clash) is not None:
        errors.add("name", _t("a calendar named %(name)s exists already", name=repr(name)))


def create_calendar(session: Session, actor: Actor, data: Mapping[str, Any], *, now_ms: int, default_timezone: str, max_entries: int) -> CalendarView:
    require_admin(actor, _t("only an admin may create calendars"))
    values, ranges, errors = clean_calendar(data, None, default_timezone=default_timezone, max_entries=max_entries)
    _name_taken(session, errors, values["name"], None)
    errors.raise_if_any(_t("calendar not saved"))
    cal = Calendar(**values, version=1, created_at_ms=now_ms, updated_at_ms=now_ms)
    try:
        with session.begin_nested():
            session.add(cal)
            session.flush()
    except IntegrityError:
        raise Conflict(_t("calendar not saved: the name %(name)s was taken a moment ago", name=repr(values["name"])), field_errors={"name": _t("is taken")}) from None
    _write_entries(session, cal, ranges or [])
    _audit(session, actor, AuditAction.CALENDAR_CREATE, cal, after=_fields(cal, ranges or []), now_ms=now_ms)
    return _view(cal, ranges or [], 0)


def update_calendar(
    session: Session, actor: Actor, calendar_id: int, data: Mapping[str, Any], *, now_ms: int, max_entries: int
) -> CalendarView:
    """Change a calendar; `entries`, when given, replace all of its entries."""
    require_admin(actor, _t("only an admin may change calendars"))
    cal = _load(session, calendar_id, for_update=True)
    old = load_calendars(session, [cal.id])[cal.id]
    values, ranges, errors = clean_calendar(
        data, {"name": cal.name, "timezone": cal.timezone, "description": cal.description}, default_timezone=cal.timezone, max_entries=max_entries
    )
    _name_taken(session, errors, values["name"], cal.id)
    new_ranges = list(old.ranges) if ranges is None else ranges
    if "entries" not in errors:
        check_jobs_keep_a_time(session, errors, cal.id, values["timezone"], new_ranges, now_ms)
    errors.raise_if_any(_t("calendar %(id)s not saved", id=calendar_id), object_id=calendar_id)
    before = _fields(cal, old.ranges)
    for key, value in values.items():
        setattr(cal, key, value)
    if ranges is not None:
        _write_entries(session, cal, ranges)
    after = _fields(cal, new_ranges)
    was, now = audit.changes(before, after)
    if now:
        cal.version += 1
        cal.updated_at_ms = now_ms
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise Conflict(_t("calendar %(id)s not saved: the name %(name)s was taken a moment ago", id=calendar_id, name=repr(values["name"])), object_id=calendar_id) from None
        _audit(session, actor, AuditAction.CALENDAR_UPDATE, cal, before=was, after=now, now_ms=now_ms)
    return _view(cal, new_ranges, len(_users(session).get(cal.id, [])))


def delete_calendar(session: Session, actor: Actor, calendar_id: int, *, now_ms: int) -> None:
    """Delete a calendar no job uses (409 naming the jobs otherwise)."""
    require_admin(actor, _t("only an admin may delete calendars"))
    cal = _load(session, calendar_id, for_update=True)
    users = _users(session).get(cal.id, [])
    if users:
        named = ", ".join(f"{job_id} ({name})" for job_id, name in users[:20]) + (", ..." if len(users) > 20 else "")
        raise Conflict(
            _nt(
                "calendar %(name)s is used by %(num)d job: %(jobs)s; remove it there first",
                "calendar %(name)s is used by %(num)d jobs: %(jobs)s; remove it there first",
                len(users),
                name=repr(cal.name),
                jobs=named,
            ),
            object_id=calendar_id,
        )
    old = load_calendars(session, [cal.id])[cal.id]
    _audit(session, actor, AuditAction.CALENDAR_DELETE, cal, before=_fields(cal, old.ranges), now_ms=now_ms)
    session.execute(sa.delete(CalendarEntry).where(CalendarEntry.calendar_id == cal.id))
    session.delete(cal)
    session.flush()

