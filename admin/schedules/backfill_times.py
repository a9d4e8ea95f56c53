"""The planned times of a job between two instants, for a backfill. Pure.

A CRON job's planned times are its expression's fire times in the job's zone; a FIX_RATE job's
are the grid `from_ms + k * rate` (its live grid depends on when it was started, which a range in
the past does not know; the range's start is the natural anchor). Both ends are inclusive.
"""

from __future__ import annotations

from ..enums import ScheduleType
from .schedule import next_fire_at_ms


def backfill_times(schedule_type: ScheduleType, conf: str, timezone: str, from_ms: int, to_ms: int, *, after_ms: int | None, limit: int) -> list[int]:
    """At most `limit` planned times in `[from_ms, to_ms]` after `after_ms` (None: from the
    start), in order."""
    times: list[int] = []
    if limit <= 0 or from_ms > to_ms:
        return times
    if schedule_type == ScheduleType.FIX_RATE:
        period_ms = int(conf) * 1000
        k = 0 if after_ms is None or after_ms < from_ms else (after_ms - from_ms) // period_ms + 1
        at_ms = from_ms + k * period_ms
        while at_ms <= to_ms and len(times) < limit:
            times.append(at_ms)
            at_ms += period_ms
        return times
    if schedule_type != ScheduleType.CRON:
        return times
    at: int | None = next_fire_at_ms(schedule_type, conf, timezone, max(from_ms - 1, after_ms if after_ms is not None else from_ms - 1))
    while at is not None and at <= to_ms and len(times) < limit:
        times.append(at)
        at = next_fire_at_ms(schedule_type, conf, timezone, at)
    return times


def count_backfill_times(schedule_type: ScheduleType, conf: str, timezone: str, from_ms: int, to_ms: int, *, up_to: int) -> int:
    """How many planned times `[from_ms, to_ms]` holds, counted up to `up_to` (a larger range
    answers `up_to`). FIX_RATE is counted exactly by arithmetic."""
    if from_ms > to_ms:
        return 0
    if schedule_type == ScheduleType.FIX_RATE:
        return min((to_ms - from_ms) // (int(conf) * 1000) + 1, up_to)
    return len(backfill_times(schedule_type, conf, timezone, from_ms, to_ms, after_ms=None, limit=up_to))
