"""The `calendars` section of an import: calendars matched by name.

Each calendar is checked as the calendar service checks it (services.calendar_form), so its
problems name their field and, for entries, their line: `calendars[0].entries: 1 bad entry:
entry 3: ...`. Only an admin creates or changes calendars (as in services.calendars); anyone else
may import jobs that use calendars the database already has: each calendar the document lists
must then exist, and it is left as it is (except with `fail`, which refuses it).
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..calendar_rows import load_calendars
from ..models import Calendar
from ..schedules.exclusions import DateRange, Exclusions, leaves_a_time
from ..services.actor import Actor
from ..services.calendar_form import CALENDAR_FIELDS, clean_calendar, entries_text
from ..services.calendars import check_jobs_keep_a_time
from ..services.job_calendars import MAX_CALENDARS
from ..texts import Text, _t
from .plan import Action, CalendarStep, ImportPlan, OnConflict
from .named_entries import named_entries


def _existing(session: Session, name: str) -> Calendar | None:
    return session.scalar(sa.select(Calendar).where(Calendar.name == name))


def _check_values(
    plan: ImportPlan, session: Session, place: str, entry: dict[str, Any], current: Calendar | None, *, now_ms: int, default_timezone: str, max_entries: int
) -> tuple[dict[str, Any], list[DateRange]] | None:
    data = {k: v for k, v in entry.items() if k in CALENDAR_FIELDS}
    data.setdefault("entries", [])  # a calendar of the document has exactly the entries it lists
    known = None if current is None else {"name": current.name, "timezone": current.timezone, "description": current.description}
    values, ranges, errors = clean_calendar(data, known, default_timezone=default_timezone, max_entries=max_entries)
    if current is not None and "entries" not in errors:  # as the calendar service will check the update
        check_jobs_keep_a_time(session, errors, current.id, values["timezone"], ranges or [], now_ms)
    for name, message in errors.errors.items():
        plan.problem(f"{place}.{name}", message)
    if errors.errors:
        return None
    return values, ranges or []


def _also_at(name: str, index: int) -> Text:
    return _t("%(name)s is also at calendars[%(index)s]", name=name, index=index)


def plan_calendars(plan: ImportPlan, session: Session, actor: Actor, entries: list[Any], *, now_ms: int, default_timezone: str, max_entries: int) -> None:
    """One step per entry of `calendars`, or the problems that refuse it."""
    for named in named_entries(plan, "calendars", entries, CALENDAR_FIELDS, also_at=_also_at):
        before = len(plan.problems)
        _plan_calendar(plan, session, actor, named.index, named.entry, named.name, now_ms=now_ms, default_timezone=default_timezone, max_entries=max_entries)
        if len(plan.problems) > before:
            plan.refused_calendars.add(named.name)


def _kept(index: int, name: str, current: Calendar, session: Session) -> CalendarStep:
    loaded = load_calendars(session, [current.id])[current.id]
    return CalendarStep(index, name, {}, list(loaded.ranges), current.timezone, Action.SKIP, existing_id=current.id)


def _plan_calendar(
    plan: ImportPlan, session: Session, actor: Actor, index: int, entry: dict[str, Any], name: str, *, now_ms: int, default_timezone: str, max_entries: int
) -> None:
    place = f"calendars[{index}]"
    current = _existing(session, name)
    if current is not None and plan.options.on_conflict is OnConflict.FAIL:
        plan.problem(f"{place}.name", _t("calendar %(name)s exists already (on_conflict is fail)", name=repr(name)))
        return
    if not actor.is_admin:
        if current is None:
            plan.problem(place, _t("no calendar named %(name)s; only an admin may create calendars", name=repr(name)))
        else:
            plan.calendars.append(_kept(index, name, current, session))
        return
    if current is not None and plan.options.on_conflict is OnConflict.SKIP:
        plan.calendars.append(_kept(index, name, current, session))
        return
    checked = _check_values(plan, session, place, entry, current, now_ms=now_ms, default_timezone=default_timezone, max_entries=max_entries)
    if checked is None:
        return
    values, ranges = checked
    data = {**{k: v for k, v in entry.items() if k in CALENDAR_FIELDS}, "name": name, "entries": entries_text(ranges)}
    if current is None:
        plan.calendars.append(CalendarStep(index, name, data, ranges, values["timezone"], Action.CREATE))
        return
    old = sorted(load_calendars(session, [current.id])[current.id].ranges, key=lambda r: (r.start, r.end, r.label))
    unchanged = (values["timezone"], values["description"], old) == (current.timezone, current.description, ranges)
    plan.calendars.append(CalendarStep(index, name, data, ranges, values["timezone"], Action.UPDATE, existing_id=current.id, unchanged=unchanged))


def calendar_names(plan: ImportPlan, place: str, value: Any) -> list[str] | None:
    """The calendar names a job entry gives in `calendars` (None when it gives none)."""
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        plan.problem(f"{place}.calendars", _t("must be a list of calendar names"))
        return None
    names = list(dict.fromkeys(item.strip() for item in value if item.strip()))
    if len(names) > MAX_CALENDARS:
        plan.problem(f"{place}.calendars", _t("at most %(max)s calendars", max=MAX_CALENDARS))
        return None
    return names


def job_exclusions(plan: ImportPlan, session: Session, place: str, names: list[str]) -> Exclusions | None:
    """The dates the named calendars exclude, as they will be after the import: a calendar of
    the document as the document has it, else the database's. None (with a problem on
    `calendars`) when one is in neither; a calendar the document has but refused is not blamed again."""
    in_file = {step.name: step for step in plan.calendars}
    wanted = [name for name in names if name not in in_file and name not in plan.refused_calendars]
    found = {cal.name: cal for cal in load_calendars(session, session.scalars(sa.select(Calendar.id).where(Calendar.name.in_(wanted)))).values()} if wanted else {}
    missing = [name for name in wanted if name not in found]
    if missing:
        plan.problem(f"{place}.calendars", _t("no calendar named %(names)s in the document or the database", names=", ".join(map(repr, missing))))
        return None
    if any(name in plan.refused_calendars for name in names):
        return None
    return Exclusions.of(
        (in_file[name].timezone, in_file[name].ranges) if name in in_file else (found[name].timezone, found[name].ranges) for name in names
    )


def check_keeps_a_time(plan: ImportPlan, place: str, values: dict[str, Any], excluded: Exclusions, now_ms: int) -> None:
    """Refuse (on `calendars`) calendars that leave the job's schedule no planned time;
    `values` passed the job form's checks, with the defaults of the fields it leaves out."""
    try:
        kept = leaves_a_time(str(values["schedule_type"]), str(values["schedule_conf"]).strip(), str(values["timezone"]).strip(), now_ms, excluded)
    except ValueError:  # a bad schedule is reported by the job form's checks
        return
    if not kept:
        plan.problem(f"{place}.calendars", _t("the calendars exclude every planned time of this job in the next 10 years"))
