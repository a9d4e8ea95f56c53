"""A job's calendars: named in the job API and form, stored as ids in `sc_job.calendar_ids`.

The API and the console name calendars (`"calendars": ["holidays", "freeze"]`); a job keeps
their ids, so renaming a calendar changes nothing for its jobs. A job may use at most
MAX_CALENDARS, and no set of calendars may leave it no planned time in the next ten years.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..calendar_rows import load_calendars, parse_calendar_ids
from ..enums import ScheduleType
from ..models import Calendar
from ..schedules.exclusions import Exclusions, PreviewTime, leaves_a_time, preview_with_calendars
from ..texts import _t
from .errors import FieldErrors

MAX_CALENDARS = 20


def calendar_names(session: Session) -> dict[int, str]:
    """Every calendar's name by id (one small query, for views of jobs)."""
    return {cid: name for cid, name in session.execute(sa.select(Calendar.id, Calendar.name))}


def names_of(calendar_ids: str, names: Mapping[int, str]) -> list[str]:
    return [names[cid] for cid in parse_calendar_ids(calendar_ids) if cid in names]


def resolve_calendars(session: Session, errors: FieldErrors, value: Any, *, lock: bool = True) -> list[int]:
    """The ids of the calendars `value` names: a list of names, or text with one per line or
    comma. Unknown names are refused. The rows are share-locked (`lock`, for a save), so a
    calendar cannot be deleted by a concurrent request while a job is saved with it."""
    if value is None or value == "":
        return []
    if isinstance(value, str):
        wanted = [part.strip() for part in value.replace("\n", ",").split(",") if part.strip()]
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        wanted = [v.strip() for v in value if v.strip()]
    else:
        errors.add("calendars", _t("must be a list of calendar names"))
        return []
    wanted = list(dict.fromkeys(wanted))
    if len(wanted) > MAX_CALENDARS:
        errors.add("calendars", _t("at most %(max)s calendars", max=MAX_CALENDARS))
        return []
    query = sa.select(Calendar.name, Calendar.id).where(Calendar.name.in_(wanted))
    found = {name: cid for name, cid in session.execute(query.with_for_update(read=True) if lock else query)}
    missing = [name for name in wanted if name not in found]
    if missing:
        errors.add("calendars", _t("no calendar named %(names)s", names=", ".join(map(repr, missing))))
        return []
    return [found[name] for name in wanted]


def check_keeps_a_time(session: Session, errors: FieldErrors, ids: list[int], schedule_type: ScheduleType, conf: str, timezone: str, now_ms: int) -> None:
    """Refuse (on `calendars`) calendars that leave the schedule no planned time."""
    if not ids or schedule_type == ScheduleType.NONE:
        return
    loaded = load_calendars(session, ids)
    if leaves_a_time(schedule_type, conf, timezone, now_ms, Exclusions.of((c.timezone, c.ranges) for c in loaded.values())):
        return
    errors.add("calendars", _t("%(names)s exclude every planned time of this job in the next 10 years", names=", ".join(c.name for c in loaded.values())))


def job_exclusions(session: Session, calendar_ids: str) -> Exclusions:
    """The excluded instants of the calendars a job's `calendar_ids` names."""
    return Exclusions.of((c.timezone, c.ranges) for c in load_calendars(session, parse_calendar_ids(calendar_ids)).values())


def preview_with_names(
    session: Session, schedule_type: Any, conf: str, timezone: str, names: Any, *, now_ms: int, count: int
) -> list[PreviewTime] | None:
    """The next `count` planned times with the ones the named calendars skip, marked; None when no
    calendar is named. Raises ServiceError (field `calendars`) for an unknown name."""
    errors = FieldErrors()
    ids = resolve_calendars(session, errors, names, lock=False)
    errors.raise_if_any(_t("no preview"))
    if not ids:
        return None
    loaded = load_calendars(session, ids)
    parts = [(loaded[cid].name, Exclusions.of([(loaded[cid].timezone, loaded[cid].ranges)])) for cid in ids if cid in loaded]
    return preview_with_calendars(schedule_type, conf, timezone, now_ms, count, parts)
