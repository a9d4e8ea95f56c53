"""The grammar of one cron field: values, names, ranges, steps, lists and the day specials.

`parse_values` reads the plain fields (second, minute, hour, month, year); the two day fields
also accept Quartz's specials and come out as `DayOfMonthRule` / `DayOfWeekRule`. Everything
here works on one field's text; `cron.py` splits an expression and says which dialect it is.
Errors are `FieldError`s carrying only the detail (a translatable `Text`); the caller adds the
expression.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import Enum

from ..texts import Text, _t

MONTH_NAMES = {name: i for i, name in enumerate(
    ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), start=1)}
_WEEKDAY_NAMES = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")


class Dialect(Enum):
    UNIX = "unix"  # 5 fields, day-of-week 0-7 with 0 and 7 = Sunday, Vixie day matching
    QUARTZ = "quartz"  # 6 or 7 fields, day-of-week 1-7 with 1 = Sunday, one day field unrestricted


class FieldError(ValueError):
    """One field is malformed; the message is the detail, without the expression."""

    def __init__(self, text: Text) -> None:
        super().__init__(text)
        self.text = text


@dataclass(frozen=True)
class FieldSpec:
    name: Text
    low: int
    high: int
    names: dict[str, int] = field(default_factory=dict)
    name_hint: str = ""  # a Text such as " or a name JAN-DEC", the end of messages about bad values
    range_hint: str = ""  # a Text such as " (0 and 7 = SUN)", the end of out-of-range messages
    wraps: bool = True  # `22-2` means 22,23,0,1,2 (Quartz); years never wrap

    def value(self, text: str) -> int:
        if _is_number(text):
            number = int(text)
        elif text.upper() in self.names:
            number = self.names[text.upper()]
        else:
            raise FieldError(
                _t("%(field)s '%(value)s' is not a number %(low)s-%(high)s%(hint)s", field=self.name, value=text, low=self.low, high=self.high, hint=self.name_hint)
            )
        if not self.low <= number <= self.high:
            raise FieldError(
                _t("%(field)s %(value)s is out of range %(low)s-%(high)s%(hint)s", field=self.name, value=number, low=self.low, high=self.high, hint=self.range_hint)
            )
        return number


SECOND = FieldSpec(_t("second"), 0, 59)
MINUTE = FieldSpec(_t("minute"), 0, 59)
HOUR = FieldSpec(_t("hour"), 0, 23)
DAY_OF_MONTH = FieldSpec(_t("day-of-month"), 1, 31)
MONTH = FieldSpec(_t("month"), 1, 12, MONTH_NAMES, _t(" or a name JAN-DEC"))
YEAR = FieldSpec(_t("year"), 1970, 2099, wraps=False)
UNIX_DAY_OF_WEEK = FieldSpec(
    _t("day-of-week"), 0, 7, {n: i for i, n in enumerate(_WEEKDAY_NAMES)}, _t(" or a name SUN-SAT"), _t(" (0 and 7 = SUN)")
)
QUARTZ_DAY_OF_WEEK = FieldSpec(
    _t("day-of-week"), 1, 7, {n: i for i, n in enumerate(_WEEKDAY_NAMES, start=1)}, _t(" or a name SUN-SAT"),
    _t(" (Quartz numbering: 1 = SUN ... 7 = SAT)"),
)


def parse_values(spec: FieldSpec, text: str) -> frozenset[int]:
    """The values a plain field matches: `*`, `a`, `a-b`, with an optional `/step`, comma lists."""
    values: set[int] = set()
    for item in text.split(","):
        values.update(_parse_item(spec, item))
    return frozenset(values)


def _parse_item(spec: FieldSpec, item: str) -> list[int]:
    if not item:
        raise FieldError(_t("%(field)s has an empty list item (a comma too many)", field=spec.name))
    base, slash, step_text = item.partition("/")
    step = 1
    if slash:
        if not _is_number(step_text):
            raise FieldError(_t("%(field)s step '%(step)s' in '%(item)s' is not a whole number", field=spec.name, step=step_text, item=item))
        step = int(step_text)
        span = spec.high - spec.low + 1
        if not 1 <= step <= span:
            raise FieldError(_t("%(field)s step %(step)s in '%(item)s' is out of range 1-%(span)s", field=spec.name, step=step, item=item, span=span))
    if base == "*":
        start, end = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        if not first or not last:
            raise FieldError(_t("%(field)s range '%(range)s' needs a start and an end (e.g. 1-5)", field=spec.name, range=base))
        start, end = spec.value(first), spec.value(last)
    else:
        start = spec.value(base)
        # `5/10` (Quartz) means from 5 to the end of the field, every 10
        end = spec.high if slash else start
    return _walk(spec, start, end, step, item)


def _is_number(text: str) -> bool:
    return text.isascii() and text.isdigit()  # str.isdigit alone accepts '²' and other scripts


def _walk(spec: FieldSpec, start: int, end: int, step: int, item: str) -> list[int]:
    if spec is UNIX_DAY_OF_WEEK and start == 7 and end != 7:
        start = 0  # `7-2` is Sunday to Tuesday
    if start <= end:
        return list(range(start, end + 1, step))
    if not spec.wraps:
        raise FieldError(_t("%(field)s range '%(range)s' runs backwards", field=spec.name, range=item))
    # A wrapping range walks through the end of the cycle: `22-2` is 22,23,0,1,2. Unix
    # day-of-week cycles over 0-6 (its 7 is Sunday again).
    cycle_high = 6 if spec is UNIX_DAY_OF_WEEK else spec.high
    walk = list(range(start, cycle_high + 1)) + list(range(spec.low, end + 1))
    return walk[::step]


# --- the day fields ------------------------------------------------------------------------


@dataclass(frozen=True)
class DayOfMonthRule:
    """What the day-of-month field matches. `unrestricted` decides the day-of-week interplay."""

    days: frozenset[int]  # plain days 1-31
    from_last: frozenset[int]  # `L` (0) and `L-k` (k): the last day minus k
    nearest_weekday: frozenset[int]  # `kW`: the weekday nearest to day k, within the month
    last_weekday: bool  # `LW`
    unrestricted: bool


@dataclass(frozen=True)
class DayOfWeekRule:
    """What the day-of-week field matches, in Python's numbering (Monday 0 ... Sunday 6)."""

    weekdays: frozenset[int]
    last_of_month: frozenset[int]  # `5L` / `FRIL`: the last such weekday of the month
    nth_of_month: frozenset[tuple[int, int]]  # `6#3`: (weekday, 3) = the third such weekday
    unrestricted: bool


_LAST_MINUS = re.compile(r"L-([0-9]+)")
_NEAREST = re.compile(r"([0-9]+)W")
_LAST_OF = re.compile(r"([0-9]+|[A-Z]{3})L")
_NTH_OF = re.compile(r"([0-9]+|[A-Z]{3})#([0-9]+)")


def _unrestricted(text: str, dialect: Dialect) -> bool:
    if dialect is Dialect.UNIX:
        # Vixie cron (and cronie, Debian's cron): a day field that *starts with* `*` counts as
        # unrestricted, so `*/2` combines with day-of-week by AND, exactly as on Linux.
        return text.startswith("*") or text == "?"
    return text in ("*", "?")


def _check_question_mark(text: str, spec: FieldSpec) -> None:
    if "?" in text and text != "?":
        raise FieldError(_t("%(field)s '?' must stand alone, not in '%(value)s'", field=spec.name, value=text))


def parse_day_of_month(text: str, dialect: Dialect) -> DayOfMonthRule:
    _check_question_mark(text, DAY_OF_MONTH)
    if text == "?":
        text = "*"
    days: set[int] = set()
    from_last: set[int] = set()
    nearest: set[int] = set()
    last_weekday = False
    for item in text.split(","):
        key = item.upper()
        if key == "L":
            from_last.add(0)
        elif key == "LW":
            last_weekday = True
        elif match := _LAST_MINUS.fullmatch(key):
            offset = int(match.group(1))
            if offset > 30:
                raise FieldError(_t("day-of-month offset '%(item)s' is out of range L-0 to L-30", item=item))
            from_last.add(offset)
        elif match := _NEAREST.fullmatch(key):
            nearest.add(DAY_OF_MONTH.value(match.group(1)))
        elif "L" in key or "W" in key:
            raise FieldError(
                _t("day-of-month '%(item)s' is not a valid use of L or W (use L, L-3, LW or 15W, without ranges or steps)", item=item)
            )
        else:
            days.update(_parse_item(DAY_OF_MONTH, item))
    return DayOfMonthRule(frozenset(days), frozenset(from_last), frozenset(nearest), last_weekday,
                          _unrestricted(text, dialect))


def parse_day_of_week(text: str, dialect: Dialect) -> DayOfWeekRule:
    spec = UNIX_DAY_OF_WEEK if dialect is Dialect.UNIX else QUARTZ_DAY_OF_WEEK
    _check_question_mark(text, spec)
    if text == "?":
        text = "*"
    weekdays: set[int] = set()
    last_of: set[int] = set()
    nth_of: set[tuple[int, int]] = set()
    for item in text.split(","):
        key = item.upper()
        if key == "L":
            weekdays.add(5)  # `L` alone is the last day of the week: Saturday
        elif match := _LAST_OF.fullmatch(key):
            last_of.add(_to_python_weekday(spec.value(match.group(1)), dialect))
        elif match := _NTH_OF.fullmatch(key):
            nth = int(match.group(2))
            if not 1 <= nth <= 5:
                raise FieldError(_t("day-of-week '%(item)s': the week number after # must be 1-5", item=item))
            nth_of.add((_to_python_weekday(spec.value(match.group(1)), dialect), nth))
        elif "L" in key or "#" in key:  # no weekday name contains an L
            raise FieldError(
                _t("day-of-week '%(item)s' is not a valid use of L or # (use 5L, FRIL or 6#3, without ranges or steps)", item=item)
            )
        else:
            weekdays.update(_to_python_weekday(v, dialect) for v in _parse_item(spec, item))
    return DayOfWeekRule(frozenset(weekdays), frozenset(last_of), frozenset(nth_of), _unrestricted(text, dialect))


def _to_python_weekday(value: int, dialect: Dialect) -> int:
    # Unix 0 (and 7) = Sunday, 1 = Monday; Quartz 1 = Sunday, 2 = Monday; Python 0 = Monday.
    return (value - 1) % 7 if dialect is Dialect.UNIX else (value - 2) % 7
