"""Time zones: the accepted IANA names, when a zone's UTC offset changes, and the DST rule that
turns a cron expression's wall-clock times into instants.

The DST rule (docs/scheduling.md states it for operators):

- A wall time that does not exist (clocks jump forward over it) fires once, at the first real
  instant after the gap: the moment of the jump (Berlin, 2026-03-29: `30 2 * * *` fires at
  03:00 CEST). All of an expression's wall times inside one gap fire together, once.
- A wall time that happens twice (clocks go back) fires once, at its first occurrence ...
- ... except for expressions that match every hour of the day (hour field `*`): they fire in
  both passes of the repeated hour, so `*/15 * * * *` keeps firing every 15 real minutes.

Fires are therefore strictly increasing instants, never duplicated, and every search ends
(zones and calendar are both bounded).

Offsets and transitions come from zoneinfo (with the tzdata package where the OS has no
database). zoneinfo does not list transitions, so a `ZoneTimeline` finds each year's once, by
sampling the offset daily and bisecting each change to the second; a zone that changes its
offset twice within one day would show as one change.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from functools import lru_cache
from typing import NamedTuple
from zoneinfo import ZoneInfo, available_timezones

from shardcron.admin.schedules.cron import LAST_YEAR, CronExpression

_DAY_S = 86_400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
#: Instants outside these bounds cannot be shown in every zone (datetime spans years 1-9999).
_FIRST_S = (date(2, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY_S
_LAST_S = (date(LAST_YEAR + 1, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY_S
#: Names zoneinfo knows that are refused: `localtime` is whatever zone each host is set to
#: (different admin nodes would fire at different instants); `Factory` is a placeholder.
_REFUSED_NAMES = frozenset({"localtime", "Factory"})


@lru_cache(maxsize=1)
def _known_zone_names() -> frozenset[str]:
    return frozenset(available_timezones()) - _REFUSED_NAMES


def is_known_zone(name: str) -> bool:
    """True for an IANA zone name this host can load (case-sensitive, as in the database)."""
    return name in _known_zone_names()


class Transition(NamedTuple):
    """The instant (epoch seconds) a zone's UTC offset changes, with the offsets around it."""

    at_s: int
    offset_before_s: int
    offset_after_s: int

    @property
    def is_gap(self) -> bool:
        """Clocks jump forward: the wall times in between never happen."""
        return self.offset_after_s > self.offset_before_s

    @property
    def is_overlap(self) -> bool:
        """Clocks go back: the wall times in between happen twice."""
        return self.offset_after_s < self.offset_before_s


def _year_start_s(year: int) -> int:
    return (date(year, 1, 1).toordinal() - _EPOCH_ORDINAL) * _DAY_S


def _year_of(at_s: int) -> int:
    return date.fromordinal(at_s // _DAY_S + _EPOCH_ORDINAL).year


class ZoneTimeline:
    """One zone's offsets and transitions, and the cron-to-instant mapping in it. Thread-safe
    (its cache of transitions per year is filled idempotently)."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self._transitions_by_year: dict[int, tuple[Transition, ...]] = {}

    def __repr__(self) -> str:
        return f"ZoneTimeline({self.zone.key!r})"

    def offset_at(self, at_s: int) -> int:
        """The zone's UTC offset in seconds at the instant `at_s` (epoch seconds)."""
        offset = datetime.fromtimestamp(at_s, self.zone).utcoffset()
        assert offset is not None  # an aware datetime (a ZoneInfo) always has one
        return int(offset.total_seconds())

    def transitions_between(self, after_s: int, until_s: int) -> Iterator[Transition]:
        """Transitions with `after_s < at_s <= until_s`, earliest first (lazily, year by year)."""
        if until_s <= after_s:
            return
        for year in range(_year_of(after_s), _year_of(until_s - 1) + 1):
            for transition in self._year_transitions(year):
                if transition.at_s > until_s:
                    return
                if transition.at_s > after_s:
                    yield transition

    def _year_transitions(self, year: int) -> tuple[Transition, ...]:
        """Transitions in (start of `year`, start of `year + 1`], UTC."""
        found = self._transitions_by_year.get(year)
        if found is not None:
            return found
        changes: list[Transition] = []
        if 1 < year <= LAST_YEAR:
            at_s, end_s = _year_start_s(year), _year_start_s(year + 1)
            offset = self.offset_at(at_s)
            while at_s < end_s:
                next_s = min(at_s + _DAY_S, end_s)
                next_offset = self.offset_at(next_s)
                if next_offset != offset:
                    changes.extend(self._changes_within(at_s, offset, next_s, next_offset))
                at_s, offset = next_s, next_offset
        found = tuple(changes)
        self._transitions_by_year[year] = found
        return found

    def _changes_within(self, low_s: int, low_offset: int, high_s: int, high_offset: int) -> list[Transition]:
        """The transitions in (low_s, high_s], found by bisection to the second."""
        changes = []
        while low_offset != high_offset:
            before, after = low_s, high_s
            while after - before > 1:
                middle = (before + after) // 2
                if self.offset_at(middle) == low_offset:
                    before = middle
                else:
                    after = middle
            new_offset = self.offset_at(after)
            changes.append(Transition(after, low_offset, new_offset))
            low_s, low_offset = after, new_offset
        return changes

    def first_fire_s(self, cron: CronExpression, from_s: int) -> int | None:
        """The first instant at or after `from_s` (epoch seconds) at which `cron` fires in this
        zone under the DST rule of this module, or None when it never fires again."""
        if from_s >= _LAST_S:
            return None
        from_s = max(from_s, _FIRST_S)
        offset = self.offset_at(from_s)
        wall_low = from_s + offset
        for recent in self.transitions_between(from_s - _DAY_S, from_s):
            if recent.is_gap and recent.at_s == from_s and self._fires_in_gap(cron, recent):
                return from_s
            if recent.is_overlap and not cron.every_hour:
                # Inside the second pass of a repeated hour: its wall times fired in the first.
                wall_low = max(wall_low, recent.at_s + recent.offset_before_s)
        low_s = from_s
        # Walk the zone's constant-offset stretches from `from_s` until a match falls in one.
        while True:
            wall = cron.next_wall_s(wall_low)
            if wall is None:
                return None
            due_s = wall - offset
            change = next(self.transitions_between(low_s, due_s), None)
            if change is None:
                return due_s
            if change.is_gap and wall < change.at_s + change.offset_after_s:
                return change.at_s  # the wall time is skipped by the jump: fire at the jump
            low_s, offset = change.at_s, change.offset_after_s
            if change.is_overlap and not cron.every_hour:
                wall_low = change.at_s + change.offset_before_s  # past the repeated wall times
            else:
                wall_low = change.at_s + change.offset_after_s

    @staticmethod
    def _fires_in_gap(cron: CronExpression, gap: Transition) -> bool:
        wall = cron.next_wall_s(gap.at_s + gap.offset_before_s)
        return wall is not None and wall < gap.at_s + gap.offset_after_s


@lru_cache(maxsize=1024)
def zone_timeline(name: str) -> ZoneTimeline:
    """The cached timeline of zone `name`; check it with `is_known_zone` first."""
    return ZoneTimeline(ZoneInfo(name))
