"""Fire times as readable strings, for `assert fires(...) == [...]` chains in schedule tests.

Times go in and come out as ISO 8601 with their UTC offset ("2026-10-25T02:30:00+02:00"):
unlike aware datetimes sharing one tzinfo, two such strings are equal only when both the wall
time and the offset are, so the two passes of a repeated hour can never be confused.
"""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from shardcron.admin.schedules.schedule import next_fire_at_ms, preview_fire_times
from shardcron.core.clock import datetime_to_ms, ms_to_datetime


def iso_to_ms(value: str) -> int:
    return datetime_to_ms(datetime.fromisoformat(value))


def ms_to_iso(at_ms: int, timezone: str) -> str:
    return ms_to_datetime(at_ms).astimezone(ZoneInfo(timezone)).isoformat()


def fires(conf: str, timezone: str, after: str, count: int = 5, schedule_type: str = "CRON") -> list[str]:
    """The next `count` fires strictly after the instant `after`, as local ISO strings."""
    return [ms_to_iso(ms, timezone) for ms in preview_fire_times(schedule_type, conf, timezone, iso_to_ms(after), count)]


def next_fire(conf: str, timezone: str, after: str, schedule_type: str = "CRON") -> str | None:
    at_ms = next_fire_at_ms(schedule_type, conf, timezone, iso_to_ms(after))
    return None if at_ms is None else ms_to_iso(at_ms, timezone)
