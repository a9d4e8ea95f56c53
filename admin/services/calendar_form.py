"""Checking a calendar's fields: its name, zone, description and entries, for console and API.

Entries come as text, one per line (the console: `2026-12-25 Christmas`,
`2026-12-24..2026-12-26 office closed`; blank lines and lines starting with `#` are skipped), or
as a JSON list whose items are such lines or objects `{"start", "end", "label"}`. Every problem
names its line (text) or its position (list), so a long holiday list is fixed in one go.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping
from typing import Any

from ..schedules.exclusions import DateRange
from ..schedules.zones import is_known_zone
from ..texts import Text, _nt, _t
from .errors import FieldErrors

CALENDAR_FIELDS = ("name", "timezone", "description", "entries")
NAME_RE = re.compile(r"[^\s,][^,]{0,63}")
MAX_NAME = 64
MAX_DESCRIPTION = 255
MAX_LABEL = 128
_LINE_RE = re.compile(r"(\S+?)(?:\s*\.\.\s*(\S+))?(?:\s+(.*))?")
#: The earliest date an entry may name (every database's DATE holds it; schedules start after it).
FIRST_DATE = dt.date(1970, 1, 1)
#: Shown with errors: how one entry is written.
ENTRY_EXAMPLE = "2026-12-24..2026-12-26 office closed"


def _date(value: Any) -> dt.date | None:
    if not isinstance(value, str) or not re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        return None


def _one(start: Any, end: Any, label: Any) -> DateRange | Text:
    first = _date(start)
    if first is None:
        return _t("%(value)s is not a date (YYYY-MM-DD)", value=repr(start))
    last = first if end in (None, "") else _date(end)
    if last is None:
        return _t("%(value)s is not a date (YYYY-MM-DD)", value=repr(end))
    if first < FIRST_DATE:
        return _t("%(value)s is before %(first)s", value=first.isoformat(), first=FIRST_DATE.isoformat())
    if last < first:
        return _t("the range ends (%(end)s) before it starts (%(start)s)", end=last.isoformat(), start=first.isoformat())
    label = "" if label is None else label
    if not isinstance(label, str):
        return _t("the label must be text")
    label = label.strip()
    if len(label) > MAX_LABEL or "\x00" in label:
        return _t("the label is longer than %(limit)s characters", limit=MAX_LABEL)
    return DateRange(first, last, label)


def _from_line(line: str) -> DateRange | Text:
    match = _LINE_RE.fullmatch(line)
    if match is None:
        return _t("expected a date or a range, e.g. %(example)s", example=ENTRY_EXAMPLE)
    return _one(*match.groups())


def parse_entries(errors: FieldErrors, value: Any, max_entries: int) -> list[DateRange]:
    """The entries of `value` (text or list), sorted; problems go to `errors["entries"]`."""
    found: list[tuple[Text | None, DateRange | Text]] = []
    if value is None or value == "":
        return []
    if isinstance(value, str):
        for number, raw in enumerate(value.splitlines(), 1):
            line = raw.strip()
            if line and not line.startswith("#"):
                found.append((_t("line %(num)s", num=number), _from_line(line)))
    elif isinstance(value, list):
        for number, item in enumerate(value, 1):
            where = _t("entry %(num)s", num=number)
            if isinstance(item, str):
                found.append((where, _from_line(item.strip())))
            elif isinstance(item, Mapping) and set(item) <= {"start", "end", "label"}:
                found.append((where, _one(item.get("start"), item.get("end"), item.get("label"))))
            else:
                found.append((where, _t("must be a line such as %(example)s or an object with start, end and label", example=ENTRY_EXAMPLE)))
    else:
        errors.add("entries", _t("must be text with one entry per line, or a list of entries"))
        return []
    problems = [_t("%(where)s: %(problem)s", where=where, problem=item) for where, item in found if not isinstance(item, DateRange)]
    if problems:
        errors.add("entries", _nt("%(num)d bad entry: %(problems)s", "%(num)d bad entries: %(problems)s", len(problems), problems=tuple(problems[:10])))
        return []
    if len(found) > max_entries:
        errors.add("entries", _t("%(num)s entries; a calendar holds at most %(max)s (calendar_max_entries)", num=len(found), max=max_entries))
        return []
    return sorted((r for _, r in found if isinstance(r, DateRange)), key=lambda r: (r.start, r.end, r.label))


def entries_text(ranges: list[DateRange] | tuple[DateRange, ...]) -> str:
    """The entries as the console shows them, one per line."""
    return "\n".join(r.text() for r in ranges)


def clean_calendar(data: Mapping[str, Any], current: Mapping[str, Any] | None, *, default_timezone: str, max_entries: int) -> tuple[dict[str, Any], list[DateRange] | None, FieldErrors]:
    """The column values, the new entries (None: unchanged), and every problem found."""
    errors = FieldErrors()
    for unknown in sorted(set(data) - set(CALENDAR_FIELDS)):
        errors.add(unknown, _t("unknown field"))
    merged = dict(current or {"name": None, "timezone": default_timezone, "description": ""})
    merged.update({k: v for k, v in data.items() if k in ("name", "timezone", "description")})
    name = merged["name"]
    if not isinstance(name, str) or not name.strip():
        errors.add("name", _t("is required"))
    elif not NAME_RE.fullmatch(name.strip()):
        errors.add("name", _t("1-64 characters, no commas, not starting with a space"))
    zone = merged["timezone"]
    if not isinstance(zone, str) or not is_known_zone(zone.strip()):
        errors.add("timezone", _t("%(zone)s is not an IANA time zone name (e.g. UTC, Europe/Berlin)", zone=repr(zone)))
    description = merged["description"] if merged["description"] is not None else ""
    if not isinstance(description, str):
        errors.add("description", _t("must be text"))
    elif len(description.strip()) > MAX_DESCRIPTION or "\x00" in description:
        errors.add("description", _t("is %(length)s characters long; at most %(limit)s fit", length=len(description.strip()), limit=MAX_DESCRIPTION))
    entries = parse_entries(errors, data["entries"], max_entries) if "entries" in data else None
    values = {
        "name": name.strip() if isinstance(name, str) else name,
        "timezone": zone.strip() if isinstance(zone, str) else zone,
        "description": description.strip() if isinstance(description, str) else description,
    }
    return values, entries, errors
