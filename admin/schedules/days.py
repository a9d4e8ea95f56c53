"""Calendar days in a time zone as epoch-ms ranges (the daily report and the dashboard)."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from shardcron.core.clock import datetime_to_ms


def day_bounds_ms(day: dt.date, zone: ZoneInfo) -> tuple[int, int]:
    """[start, end) of a calendar day in `zone`, as epoch ms (23 or 25 h long on DST days)."""
    start = dt.datetime.combine(day, dt.time(0), tzinfo=zone)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(0), tzinfo=zone)
    return datetime_to_ms(start), datetime_to_ms(end)
