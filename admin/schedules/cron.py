"""Cron expressions: parsed once, then asked for the next matching wall-clock time.

Pure: no clock, no time zones, no I/O. A `CronExpression` matches *wall-clock* times, counted
as whole seconds since 1970-01-01T00:00:00 on a calendar without zones ("wall seconds");
`zones.py` maps them to instants in a job's time zone (and holds the DST rule).

Accepted syntax (docs/scheduling.md, "Schedules", is the operator's version):

- 5 fields, Unix: `minute hour day-of-month month day-of-week`, second 0. Day-of-week 0-7,
  0 and 7 = Sunday. When day-of-month and day-of-week are both restricted a day matches if
  either does (Vixie cron); a field starting with `*` counts as unrestricted, as in Vixie cron.
- 6 or 7 fields, Quartz: `second minute hour day-of-month month day-of-week [year]`.
  Day-of-week 1-7, 1 = Sunday. At most one day field may be restricted: the other must be `?`
  or `*`. Year 1970-2099.
- In every field: `*`, `a`, `a-b`, `a/n` and `*/n` and `a-b/n`, comma lists; ranges whose end
  is before their start wrap around (`22-2`, `FRI-MON`), except years. Month names JAN-DEC and
  weekday names SUN-SAT, any case. `?` (day fields only) means the same as `*`.
- Day-of-month: `L` (last day), `L-3` (three days before it), `15W` (the weekday nearest the
  15th, never crossing into another month), `LW` (last weekday of the month).
- Day-of-week: `5L` / `FRIL` (the last Friday of the month, in the dialect's numbering),
  `6#3` / `FRI#3` (Quartz: the third Friday), `L` alone (Saturday).
- Aliases `@yearly` `@annually` `@monthly` `@weekly` `@daily` `@midnight` `@hourly`.
"""

from __future__ import annotations

import calendar
from bisect import bisect_left
from datetime import date
from functools import lru_cache

from shardcron.admin.schedules.cron_syntax import (
    HOUR,
    MINUTE,
    MONTH,
    SECOND,
    YEAR,
    DayOfMonthRule,
    DayOfWeekRule,
    Dialect,
    FieldError,
    parse_day_of_month,
    parse_day_of_week,
    parse_values,
)
from shardcron.core.errors import ShardcronError

from ..texts import Text, _nt, _t

#: The last year any expression can fire in (dates past it cannot carry a zone offset).
LAST_YEAR = 9998
#: The Gregorian calendar repeats every 400 years: an expression without a year field that
#: matches no date in 400 years from its start matches none at all.
_CALENDAR_CYCLE_YEARS = 400
_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_S = 86_400
_DAY_TABLE_CACHE_LIMIT = 512

_ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}


class CronError(ShardcronError):
    """A cron expression that cannot be used; the one-line message (`text`) names the bad part."""

    def __init__(self, text: Text) -> None:
        super().__init__(text)
        self.text = text


def _next_table(values: frozenset[int], size: int) -> tuple[int, ...]:
    """Entry i: the smallest value >= i, or -1. One entry past `size - 1` so `i + 1` is safe."""
    table = [-1] * (size + 1)
    following = -1
    for i in range(size - 1, -1, -1):
        if i in values:
            following = i
        table[i] = following
    return tuple(table)


class CronExpression:
    """A compiled cron expression. Thread-safe: the only mutable state is a cache of day tables."""

    __slots__ = (
        "text", "dialect", "seconds", "minutes", "hours", "day_of_month", "months", "day_of_week", "years",
        "every_hour", "_years_sorted", "_next_second", "_next_minute", "_next_hour", "_next_month", "_day_tables",
    )

    def __init__(
        self,
        text: str,
        dialect: Dialect,
        seconds: frozenset[int],
        minutes: frozenset[int],
        hours: frozenset[int],
        day_of_month: DayOfMonthRule,
        months: frozenset[int],
        day_of_week: DayOfWeekRule,
        years: frozenset[int] | None,
    ) -> None:
        self.text = text
        self.dialect = dialect
        self.seconds = seconds
        self.minutes = minutes
        self.hours = hours
        self.day_of_month = day_of_month
        self.months = months
        self.day_of_week = day_of_week
        self.years = years  # None: every year
        #: Matches in every hour of the day: such an expression fires through both passes of a
        #: repeated (fall-back) hour, keeping its real-time cadence (see zones.py).
        self.every_hour = hours == frozenset(range(24))
        self._years_sorted = tuple(sorted(years)) if years is not None else ()
        self._next_second = _next_table(seconds, 60)
        self._next_minute = _next_table(minutes, 60)
        self._next_hour = _next_table(hours, 24)
        self._next_month = _next_table(months, 13)
        self._day_tables: dict[int, tuple[int, ...]] = {}

    def __repr__(self) -> str:
        return f"CronExpression({self.text!r})"

    def next_wall_s(self, wall_s: int) -> int | None:
        """The first matching wall time at or after `wall_s` (wall seconds), or None if there is
        none up to the last year of the expression (or `LAST_YEAR`)."""
        days, rest = divmod(wall_s, _DAY_S)
        hour, rest = divmod(rest, 3600)
        minute, second = divmod(rest, 60)
        try:
            start = date.fromordinal(days + _EPOCH_ORDINAL)
        except (ValueError, OverflowError):
            return None
        year, month, day = start.year, start.month, start.day
        if self.years is not None:
            last_year = self._years_sorted[-1]
        else:
            last_year = min(year + _CALENDAR_CYCLE_YEARS, LAST_YEAR)
        # Each step either accepts a field or moves it (and resets the fields below it) forward.
        while year <= last_year:
            if self.years is not None and year not in self.years:
                i = bisect_left(self._years_sorted, year)
                if i == len(self._years_sorted):
                    return None
                year, month, day, hour, minute, second = self._years_sorted[i], 1, 1, 0, 0, 0
                continue
            found = self._next_month[month]
            if found < 0:
                year, month, day, hour, minute, second = year + 1, 1, 1, 0, 0, 0
                continue
            if found != month:
                month, day, hour, minute, second = found, 1, 0, 0, 0
            found = self._day_table(year, month)[day]
            if found < 0:
                month, day, hour, minute, second = month + 1, 1, 0, 0, 0
                continue
            if found != day:
                day, hour, minute, second = found, 0, 0, 0
            found = self._next_hour[hour]
            if found < 0:
                day, hour, minute, second = day + 1, 0, 0, 0
                continue
            if found != hour:
                hour, minute, second = found, 0, 0
            found = self._next_minute[minute]
            if found < 0:
                hour, minute, second = hour + 1, 0, 0
                continue
            if found != minute:
                minute, second = found, 0
            found = self._next_second[second]
            if found < 0:
                minute, second = minute + 1, 0
                continue
            ordinal = date(year, month, day).toordinal()
            return (ordinal - _EPOCH_ORDINAL) * _DAY_S + hour * 3600 + minute * 60 + found
        return None

    def _day_table(self, year: int, month: int) -> tuple[int, ...]:
        key = year * 13 + month
        table = self._day_tables.get(key)
        if table is None:
            if len(self._day_tables) >= _DAY_TABLE_CACHE_LIMIT:
                self._day_tables.clear()
            table = _next_table(self._matching_days(year, month), 32)
            self._day_tables[key] = table
        return table

    def _matching_days(self, year: int, month: int) -> frozenset[int]:
        first_weekday, length = calendar.monthrange(year, month)
        by_month = _month_days(self.day_of_month, first_weekday, length)
        by_week = _week_days(self.day_of_week, first_weekday, length)
        # "Unrestricted" only picks AND or OR; the field's own values still count (`*/2`).
        if not self.day_of_month.unrestricted and not self.day_of_week.unrestricted:
            return by_month | by_week  # Unix only: Quartz refuses two restricted day fields
        return by_month & by_week


def _weekday_of(day: int, first_weekday: int) -> int:
    return (first_weekday + day - 1) % 7


def _month_days(rule: DayOfMonthRule, first_weekday: int, length: int) -> frozenset[int]:
    days = {d for d in rule.days if d <= length}
    days.update(length - k for k in rule.from_last if length - k >= 1)
    for target in rule.nearest_weekday:
        if target <= length:
            days.add(_nearest_weekday(target, first_weekday, length))
    if rule.last_weekday:
        days.add(_nearest_weekday(length, first_weekday, length))
    return frozenset(days)


def _nearest_weekday(target: int, first_weekday: int, length: int) -> int:
    """Monday-Friday day nearest to `target`, never leaving the month (Quartz's `W`)."""
    weekday = _weekday_of(target, first_weekday)
    if weekday == 5:  # Saturday: the Friday before, or Monday the 3rd when the 1st is a Saturday
        return target - 1 if target > 1 else target + 2
    if weekday == 6:  # Sunday: the Monday after, or the Friday before when it is the last day
        return target + 1 if target < length else target - 2
    return target


def _week_days(rule: DayOfWeekRule, first_weekday: int, length: int) -> frozenset[int]:
    days: set[int] = set()
    for weekday in rule.weekdays:
        days.update(range(1 + (weekday - first_weekday) % 7, length + 1, 7))
    last_weekday = _weekday_of(length, first_weekday)
    for weekday in rule.last_of_month:
        days.add(length - (last_weekday - weekday) % 7)
    for weekday, nth in rule.nth_of_month:
        day = 1 + (weekday - first_weekday) % 7 + 7 * (nth - 1)
        if day <= length:
            days.add(day)
    return frozenset(days)


@lru_cache(maxsize=8192)
def parse_cron(text: str) -> CronExpression:
    """Parse and check `text`; raises CronError naming the bad field and part.

    Cached: the scheduler asks for the same few thousand expressions over and over.
    An expression that matches no date at all ("never fires") is refused.
    """
    shown = text.strip()
    if not shown:
        raise CronError(_t("the cron expression is empty"))
    try:
        expression = _compile(shown, _ALIASES.get(shown.lower(), shown).split())
    except FieldError as exc:
        raise CronError(_t("%(problem)s in '%(cron)s'", problem=exc.text, cron=shown)) from None
    if expression.next_wall_s(0) is None:
        if expression.years:
            raise CronError(_t("'%(cron)s' never fires: no date matches its day-of-month, month, day-of-week and year fields", cron=shown))
        raise CronError(_t("'%(cron)s' never fires: no date matches its day-of-month, month and day-of-week fields", cron=shown))
    return expression


def _compile(shown: str, fields: list[str]) -> CronExpression:
    if len(fields) == 5:
        dialect = Dialect.UNIX
        fields = ["0", *fields]
    elif len(fields) in (6, 7):
        dialect = Dialect.QUARTZ
    else:
        raise CronError(
            _nt(
                "'%(cron)s' has %(num)d field; expected 5 (minute hour day-of-month month day-of-week) "
                "or, Quartz style, 6 or 7 (second minute hour day-of-month month day-of-week [year])",
                "'%(cron)s' has %(num)d fields; expected 5 (minute hour day-of-month month day-of-week) "
                "or, Quartz style, 6 or 7 (second minute hour day-of-month month day-of-week [year])",
                len(fields),
                cron=shown,
            )
        )
    for spec, text in zip((SECOND, MINUTE, HOUR, MONTH, YEAR), (*fields[:3], *fields[4:5], *fields[6:]), strict=False):
        if "?" in text:
            raise FieldError(_t("%(field)s '%(value)s': '?' is only allowed in day-of-month and day-of-week", field=spec.name, value=text))
    # parsed left to right, so the first bad field is the one reported
    seconds, minutes, hours = (parse_values(spec, text) for spec, text in zip((SECOND, MINUTE, HOUR), fields, strict=False))
    day_of_month = parse_day_of_month(fields[3], dialect)
    months = parse_values(MONTH, fields[4])
    day_of_week = parse_day_of_week(fields[5], dialect)
    # A `*` year is every year, not 1970-2099: `0 0 12 * * ? *` keeps firing after 2099.
    years = parse_values(YEAR, fields[6]) if len(fields) == 7 and fields[6] != "*" else None
    if dialect is Dialect.QUARTZ and not day_of_month.unrestricted and not day_of_week.unrestricted:
        raise FieldError(
            _t(
                "day-of-month '%(day)s' and day-of-week '%(weekday)s' are both restricted "
                "(6 and 7 fields, Quartz style, need '?' in one of them)",
                day=fields[3],
                weekday=fields[5],
            )
        )
    return CronExpression(shown, dialect, seconds, minutes, hours, day_of_month, months, day_of_week, years)
