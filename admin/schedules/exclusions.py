"""Calendars: excluded dates read in a time zone, and the planned times a schedule keeps.

A calendar excludes whole dates (a single date or an inclusive range) in its own zone: the date
2026-12-25 in Europe/Berlin is the instants [2026-12-25 00:00, 2026-12-26 00:00) Berlin time.
`Exclusions` is the union of such instant ranges of every calendar of a job, merged and sorted,
so "is this instant excluded, and until when" is one binary search.

A job's *allowed* planned times are its schedule's times outside every exclusion.
`first_allowed_ms` finds the first one at or after a planned time by jumping over whole excluded
ranges (never stepping through a FIX_RATE of 1 s across a two-week freeze), so it takes at most
one schedule step per excluded range. Pure: no database, no clock.
"""

from __future__ import annotations

import bisect
import datetime as dt
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from ..enums import ScheduleType
from .schedule import next_fire_at_ms

#: How far ahead a calendar change is checked for leaving a job no planned time at all.
HORIZON_MS = 10 * 366 * 24 * 3600 * 1000
_DAY = dt.timedelta(days=1)


@dataclass(frozen=True)
class DateRange:
    """Excluded dates `start`..`end` inclusive, with an optional label ("Christmas")."""

    start: dt.date
    end: dt.date
    label: str = ""

    def text(self) -> str:
        dates = self.start.isoformat() if self.start == self.end else f"{self.start.isoformat()}..{self.end.isoformat()}"
        return f"{dates} {self.label}".rstrip()


def _midnight_ms(day: dt.date, zone: ZoneInfo) -> int:
    """The first instant of `day` in `zone` (UTC epoch ms). A midnight that a DST change skips
    is read with the offset before the change, which lands on the day's first real instant."""
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=zone).timestamp()) * 1000


def _after(day: dt.date) -> dt.date | None:
    return None if day == dt.date.max else day + _DAY


@dataclass(frozen=True)
class Exclusions:
    """Excluded instant ranges [start, end) in UTC epoch ms, sorted and not overlapping."""

    starts: tuple[int, ...]
    ends: tuple[int, ...]

    @classmethod
    def of(cls, calendars: Iterable[tuple[str, Sequence[DateRange]]]) -> Exclusions:
        """The union of every calendar's ranges: `(time zone, ranges)` each."""
        spans: list[tuple[int, int]] = []
        for zone_name, ranges in calendars:
            zone = ZoneInfo(zone_name)
            for r in ranges:
                after = _after(r.end)
                end_ms = _midnight_ms(after, zone) if after is not None else 2**62
                spans.append((_midnight_ms(r.start, zone), end_ms))
        return _merged(spans)

    def __bool__(self) -> bool:
        return bool(self.starts)

    def excluded_until_ms(self, at_ms: int) -> int | None:
        """The end of the excluded range holding `at_ms`, or None when `at_ms` is not excluded."""
        i = bisect.bisect_right(self.starts, at_ms) - 1
        if i >= 0 and at_ms < self.ends[i]:
            return self.ends[i]
        return None


def first_allowed_ms(schedule_type: ScheduleType | str, conf: str, timezone: str, planned_ms: int | None, excluded: Exclusions) -> int | None:
    """The first planned time at or after `planned_ms` (itself a planned time of the schedule:
    FIX_RATE stays on its grid) that no exclusion holds; None when the schedule ends first."""
    at_ms = planned_ms
    while at_ms is not None:
        until_ms = excluded.excluded_until_ms(at_ms)
        if until_ms is None:
            return at_ms
        if schedule_type == ScheduleType.FIX_RATE:
            period_ms = int(conf) * 1000
            at_ms += -(-(until_ms - at_ms) // period_ms) * period_ms
        else:
            at_ms = next_fire_at_ms(schedule_type, conf, timezone, until_ms - 1)
    return None


def allowed_after_ms(schedule_type: ScheduleType | str, conf: str, timezone: str, after_ms: int, excluded: Exclusions) -> int | None:
    """The first allowed planned time strictly after `after_ms` (a planned time, for FIX_RATE)."""
    return first_allowed_ms(schedule_type, conf, timezone, next_fire_at_ms(schedule_type, conf, timezone, after_ms), excluded)


@dataclass(frozen=True)
class PreviewTime:
    """A planned time in a preview, and the calendar that skips it (None: it fires)."""

    at_ms: int
    skipped_by: str | None = None


def preview_with_calendars(
    schedule_type: ScheduleType | str, conf: str, timezone: str, after_ms: int, count: int, calendars: Sequence[tuple[str, Exclusions]]
) -> list[PreviewTime]:
    """The next `count` allowed planned times after `after_ms`, and between them the planned times
    a calendar (named) skips; at most `count` skipped times are listed in all."""
    out: list[PreviewTime] = []
    kept = skipped = 0
    at_ms = next_fire_at_ms(schedule_type, conf, timezone, after_ms)
    while at_ms is not None and kept < count:
        by = next((name for name, excl in calendars if excl.excluded_until_ms(at_ms) is not None), None)
        if by is None:
            out.append(PreviewTime(at_ms))
            kept += 1
            at_ms = next_fire_at_ms(schedule_type, conf, timezone, at_ms)
            continue
        if skipped < count:
            out.append(PreviewTime(at_ms, by))
            skipped += 1
            at_ms = next_fire_at_ms(schedule_type, conf, timezone, at_ms)
        else:
            # Enough skips listed: jump over the rest of the excluded range at once.
            at_ms = first_allowed_ms(schedule_type, conf, timezone, at_ms, union_of(excl for _, excl in calendars))
    return out


def union_of(parts: Iterable[Exclusions]) -> Exclusions:
    """Every instant any of `parts` excludes."""
    return _merged([(s, e) for excl in parts for s, e in zip(excl.starts, excl.ends, strict=True)])


def _merged(spans: list[tuple[int, int]]) -> Exclusions:
    spans.sort()
    starts: list[int] = []
    ends: list[int] = []
    for start, end in spans:
        if ends and start <= ends[-1]:
            ends[-1] = max(ends[-1], end)
        else:
            starts.append(start)
            ends.append(end)
    return Exclusions(tuple(starts), tuple(ends))


def leaves_a_time(schedule_type: ScheduleType | str, conf: str, timezone: str, now_ms: int, excluded: Exclusions) -> bool:
    """Whether a schedule that fires after `now_ms` keeps an allowed planned time within
    HORIZON_MS of it (a schedule with no time at all is not the calendar's doing: True)."""
    first = next_fire_at_ms(schedule_type, conf, timezone, now_ms)
    if first is None or not excluded:
        return True
    allowed = first_allowed_ms(schedule_type, conf, timezone, first, excluded)
    return allowed is not None and allowed <= now_ms + HORIZON_MS
