"""The console's one time format: `YYYY-MM-DD HH:MM:SS` on a 24-hour clock with the zone shown
as its UTC offset (`2026-12-04 15:54:10 UTC+8`; `UTC` itself for offset 0).

Pages are rendered in the viewer's zone (the `tz` cookie console.js keeps, else UTC) and every
time is a `<time datetime="...Z">`, which console.js writes again in the browser's zone with the
same format (`formatInstant` there), so the text never depends on the browser's locale.
"""

from __future__ import annotations

from datetime import datetime, timedelta, tzinfo, UTC
from zoneinfo import ZoneInfo

from flask import has_request_context, request
from flask_babel import gettext as _

from ..schedules.zones import is_known_zone

#: The cookie console.js writes with the browser's IANA zone.
ZONE_COOKIE = "tz"
TEXT_FORMAT = "%Y-%m-%d %H:%M:%S"


def zone_label(offset: timedelta | None) -> str:
    """`UTC`, `UTC+8`, `UTC-3`, `UTC+5:30`: the offset as people write it."""
    minutes = int((offset or timedelta()).total_seconds() // 60)
    if minutes == 0:
        return "UTC"
    sign = "+" if minutes > 0 else "-"
    hours, rest = divmod(abs(minutes), 60)
    return f"UTC{sign}{hours}" + (f":{rest:02d}" if rest else "")


def viewer_zone() -> tzinfo:
    """The viewer's zone from the `tz` cookie, or UTC (no cookie yet, or a name we do not know)."""
    name = request.cookies.get(ZONE_COOKIE, "") if has_request_context() else ""
    return ZoneInfo(name) if name and is_known_zone(name) else UTC


def format_instant(at_ms: int, zone: tzinfo) -> str:
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC).astimezone(zone)
    return f"{moment.strftime(TEXT_FORMAT)} {zone_label(moment.utcoffset())}"


def iso_utc(at_ms: int | None) -> str:
    """The `datetime` attribute of a `<time>`: ISO 8601 in UTC."""
    if not at_ms:
        return ""
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def time_text(at_ms: int | None) -> str:
    """An instant as the viewer reads it (their zone), in the console's one format."""
    if not at_ms:
        return ""
    return format_instant(at_ms, viewer_zone())


def utc_input_to_ms(value: str, field: str, errors: dict[str, str]) -> str | None:
    """A filter's `YYYY-MM-DD HH:MM` text (or ISO `T` form), read as UTC -> epoch ms as text (what
    the services' filters take); a wrong value is a form error for `field`."""
    if not value:
        return None
    try:
        moment = datetime.fromisoformat(value.strip()).replace(tzinfo=UTC)
        return str(int(moment.timestamp() * 1000))
    except (ValueError, OverflowError):
        errors[field] = _("%(value)s is not a date and time (YYYY-MM-DD HH:MM)", value=repr(value[:40]))
        return None


def duration_text(duration_ms: int | None) -> str:
    """A duration as people read it: 850 ms, 4.2 s, 3 min 5 s, 2 h 10 min; "—" for None."""
    if duration_ms is None:
        return "—"
    if duration_ms < 1000:
        return _("%(num)s ms", num=duration_ms)
    if duration_ms < 60_000:
        return _("%(num)s s", num=f"{duration_ms / 1000:.1f}")
    seconds = duration_ms // 1000
    if seconds < 3600:
        return _("%(min)s min %(sec)s s", min=seconds // 60, sec=seconds % 60)
    return _("%(hours)s h %(min)s min", hours=seconds // 3600, min=seconds % 3600 // 60)
