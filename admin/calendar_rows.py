"""Reading calendars from the database: what the fire loop's cache and the job services share."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .models import Calendar, CalendarEntry
from .schedules.exclusions import DateRange


@dataclass(frozen=True)
class LoadedCalendar:
    id: int
    name: str
    timezone: str
    version: int
    ranges: tuple[DateRange, ...]
    description: str = ""


def parse_calendar_ids(text: str) -> list[int]:
    """A job's stored `calendar_ids` ("3,7"): the ids in order, bad parts left out."""
    return [int(part) for part in text.split(",") if part.strip().isdigit()]


def load_calendars(session: Session, ids: Iterable[int] | None = None) -> dict[int, LoadedCalendar]:
    """The calendars `ids` (all when None) with their entries, by id: two queries."""
    cal = Calendar.__table__.c
    entry = CalendarEntry.__table__.c
    query = sa.select(cal.id, cal.name, cal.timezone, cal.version, cal.description)
    wanted = None if ids is None else sorted(set(ids))
    if wanted is not None:
        if not wanted:
            return {}
        query = query.where(cal.id.in_(wanted))
    heads = session.execute(query).all()
    if not heads:
        return {}
    ranges: dict[int, list[DateRange]] = {row[0]: [] for row in heads}
    rows = session.execute(
        sa.select(entry.calendar_id, entry.start_date, entry.end_date, entry.label)
        .where(entry.calendar_id.in_(list(ranges)))
        .order_by(entry.calendar_id, entry.start_date, entry.id)
    )
    for calendar_id, start, end, label in rows:
        ranges[calendar_id].append(DateRange(start, end, label or ""))
    return {cid: LoadedCalendar(cid, name, zone, version, tuple(ranges[cid]), text or "") for cid, name, zone, version, text in heads}


def calendar_versions(session: Session) -> dict[int, int]:
    """Every calendar's id and version: one small query."""
    cal = Calendar.__table__.c
    return {cid: version for cid, version in session.execute(sa.select(cal.id, cal.version))}
