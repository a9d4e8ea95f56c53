"""Catch-up after a misfire: which missed planned times of a job are still fired. Pure.

A job whose next planned time is more than the misfire grace behind the clock (the scheduler was
down, the job's row was locked, ...) has *missed* the planned times from that next planned time up
to now. With misfire strategy CATCH_UP_ALL the missed times within the job's catch-up window
(`catchup_window_s` before now) are fired, oldest first, at most `max_fires` of them; with
CATCH_UP_LATEST only the latest of them. Each is fired at its own planned time, so the run's
trigger time (`ctx.trigger_time_ms`) is the time it stands for.

Cost: CATCH_UP_ALL computes at most `max_fires + 1` next fire times; CATCH_UP_LATEST on a cron
schedule a bisection, about 60 next fire times for a week's window whatever the schedule's
density; FIX_RATE is arithmetic on the job's grid.
"""

from __future__ import annotations

from dataclasses import dataclass

import bisect

from ..enums import MisfireStrategy, ScheduleType
from .exclusions import Exclusions, allowed_after_ms, first_allowed_ms
from .schedule import next_fire_at_ms

#: The longest catch-up window a job may have (7 days).
MAX_CATCHUP_WINDOW_S = 7 * 86_400
#: Longest first step of the search for the latest missed time, from now backwards.
_FIRST_STEP_MS = 1000


@dataclass(frozen=True)
class CatchUp:
    """The missed planned times to fire, oldest first; `beyond_limit`: more were missed within
    the window than `max_fires` (those after the last one listed are not fired)."""

    times_ms: list[int]
    beyond_limit: bool = False


def catch_up_times(
    schedule_type: ScheduleType,
    conf: str,
    timezone: str,
    strategy: MisfireStrategy,
    next_at_ms: int,
    now_ms: int,
    window_ms: int,
    max_fires: int,
) -> CatchUp:
    """The missed planned times in `[max(next_at_ms, now_ms - window_ms), now_ms]` to fire after a
    misfire of a job whose next planned time was `next_at_ms` (itself a planned time)."""
    start_ms = max(next_at_ms, now_ms - window_ms)
    if window_ms <= 0 or start_ms > now_ms or max_fires <= 0:
        return CatchUp([])
    if schedule_type == ScheduleType.FIX_RATE:
        return _fix_rate(int(conf) * 1000, strategy, next_at_ms, start_ms, now_ms, max_fires)
    if strategy == MisfireStrategy.CATCH_UP_LATEST:
        latest = _latest_cron(schedule_type, conf, timezone, start_ms, now_ms)
        return CatchUp([] if latest is None else [latest])
    times: list[int] = []
    at_ms = next_at_ms if next_at_ms >= start_ms else next_fire_at_ms(schedule_type, conf, timezone, start_ms - 1)
    while at_ms is not None and at_ms <= now_ms and len(times) < max_fires:
        times.append(at_ms)
        at_ms = next_fire_at_ms(schedule_type, conf, timezone, at_ms)
    return CatchUp(times, at_ms is not None and at_ms <= now_ms)


def catch_up_allowed(
    schedule_type: ScheduleType,
    conf: str,
    timezone: str,
    strategy: MisfireStrategy,
    next_at_ms: int,
    now_ms: int,
    window_ms: int,
    max_fires: int,
    excluded: Exclusions,
) -> CatchUp:
    """`catch_up_times` over the planned times the job's calendars allow: an excluded missed time
    is not caught up, and CATCH_UP_LATEST fires the latest *allowed* missed time in the window."""
    start_ms = max(next_at_ms, now_ms - window_ms)
    if strategy == MisfireStrategy.CATCH_UP_LATEST:
        end_ms = now_ms
        while end_ms >= start_ms:
            latest = catch_up_times(schedule_type, conf, timezone, strategy, next_at_ms, end_ms, end_ms - start_ms, 1).times_ms
            if not latest:
                return CatchUp([])
            if excluded.excluded_until_ms(latest[0]) is None:
                return CatchUp(latest)
            # Look again before the excluded range that holds it.
            end_ms = excluded.starts[bisect.bisect_right(excluded.starts, latest[0]) - 1] - 1
        return CatchUp([])
    first = catch_up_times(schedule_type, conf, timezone, strategy, next_at_ms, now_ms, window_ms, 1).times_ms
    if not first or max_fires <= 0:
        return CatchUp([])
    times: list[int] = []
    at_ms = first_allowed_ms(schedule_type, conf, timezone, first[0], excluded)
    while at_ms is not None and at_ms <= now_ms and len(times) < max_fires:
        times.append(at_ms)
        at_ms = allowed_after_ms(schedule_type, conf, timezone, at_ms, excluded)
    return CatchUp(times, at_ms is not None and at_ms <= now_ms)


def _fix_rate(period_ms: int, strategy: MisfireStrategy, next_at_ms: int, start_ms: int, now_ms: int, max_fires: int) -> CatchUp:
    """The job's grid is `next_at_ms + k * period_ms`."""
    first_k = -((next_at_ms - start_ms) // period_ms)  # ceil((start - next_at) / period)
    last_k = (now_ms - next_at_ms) // period_ms
    if last_k < first_k:
        return CatchUp([])
    if strategy == MisfireStrategy.CATCH_UP_LATEST:
        return CatchUp([next_at_ms + last_k * period_ms])
    count = min(last_k - first_k + 1, max_fires)
    return CatchUp([next_at_ms + (first_k + i) * period_ms for i in range(count)], last_k - first_k + 1 > max_fires)


def _latest_cron(schedule_type: ScheduleType, conf: str, timezone: str, start_ms: int, now_ms: int) -> int | None:
    """The latest planned time in `[start_ms, now_ms]`, or None. A schedule only goes forward,
    so this bisects on "is there a fire in (x, now]": first backwards from now in doubling steps
    (a recent fire is found in a few steps), then between the last step with a fire and the one
    without, down to the millisecond."""

    def fires_after(after_ms: int) -> bool:
        at_ms = next_fire_at_ms(schedule_type, conf, timezone, after_ms)
        return at_ms is not None and at_ms <= now_ms

    low = start_ms - 1  # kept true: a fire in (low, now]
    if not fires_after(low):
        return None
    high = now_ms  # kept true: no fire in (high, now]
    step = _FIRST_STEP_MS
    while now_ms - step > low:
        if fires_after(now_ms - step):
            low = now_ms - step
            break
        high = now_ms - step
        step *= 2
    while high - low > 1:
        middle = (low + high) // 2
        if fires_after(middle):
            low = middle
        else:
            high = middle
    return next_fire_at_ms(schedule_type, conf, timezone, low)
