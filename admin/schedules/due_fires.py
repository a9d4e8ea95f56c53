"""Which fires one due job gets in a tick: its planned times up to the horizon, the misfire rule
(FIRE_ONCE_NOW, CATCH_UP_ALL, CATCH_UP_LATEST) and its calendars applied. Pure: the fire store
(firing/fire_store.py) calls it for each due job and writes what it returns."""

from __future__ import annotations

from dataclasses import dataclass

from ..enums import CATCH_UP_STRATEGIES, MisfireStrategy, ScheduleType, TriggerType
from .catchup import catch_up_allowed, catch_up_times
from .exclusions import Exclusions, allowed_after_ms, first_allowed_ms
from .schedule import next_fire_at_ms

#: Most fires one job may get in one tick (a FIX_RATE of 1 s with a long lookahead).
MAX_FIRES_PER_JOB = 1000
#: Default of the setting `catchup_max_fires`: most missed planned times one misfire of a
#: CATCH_UP_ALL job fires (schedules.catchup).
CATCHUP_MAX_FIRES = 100


@dataclass(frozen=True)
class JobPlan:
    """What one due job gets this tick: fires `(fire_at_ms, trigger_type)`, its next planned
    fire (None: the schedule has ended), whether it misfired, and for a catch-up whether more
    missed times were in its window than the catch-up limit."""

    fires: list[tuple[int, TriggerType]]
    next_fire_at_ms: int | None
    misfired: bool
    beyond_catchup_limit: bool = False


def plan_job_fires(
    schedule_type: ScheduleType,
    conf: str,
    timezone: str,
    misfire: MisfireStrategy,
    next_at_ms: int,
    now_ms: int,
    horizon_ms: int,
    grace_ms: int,
    excluded: Exclusions | None = None,
    *,
    catchup_window_ms: int = 0,
    catchup_max_fires: int = CATCHUP_MAX_FIRES,
) -> JobPlan:
    """The fires of one job due up to `horizon_ms`, misfire rule applied. Pure.

    `excluded`: the job's calendars (schedules.exclusions); planned times inside them are skipped
    and the schedule moves on to its next allowed planned time."""
    if excluded is not None:
        return _plan_with_calendars(
            schedule_type, conf, timezone, misfire, next_at_ms, now_ms, horizon_ms, grace_ms, excluded, catchup_window_ms, catchup_max_fires
        )
    fires: list[tuple[int, TriggerType]] = []
    at_ms: int | None = next_at_ms
    misfired = next_at_ms < now_ms - grace_ms
    beyond = False
    if misfired:
        if misfire == MisfireStrategy.FIRE_ONCE_NOW:
            fires.append((now_ms, TriggerType.MISFIRE))
        elif misfire in CATCH_UP_STRATEGIES:
            caught = catch_up_times(schedule_type, conf, timezone, misfire, next_at_ms, now_ms, catchup_window_ms, catchup_max_fires)
            fires += [(planned_ms, TriggerType.MISFIRE) for planned_ms in caught.times_ms]
            beyond = caught.beyond_limit
        if schedule_type == ScheduleType.FIX_RATE:
            # Stay on the job's grid: the first grid point strictly after now.
            period_ms = int(conf) * 1000
            at_ms = next_at_ms + ((now_ms - next_at_ms) // period_ms + 1) * period_ms
        else:
            at_ms = next_fire_at_ms(schedule_type, conf, timezone, now_ms)
    while at_ms is not None and at_ms <= horizon_ms and len(fires) < MAX_FIRES_PER_JOB:
        fires.append((at_ms, TriggerType.CRON))
        at_ms = next_fire_at_ms(schedule_type, conf, timezone, at_ms)
    return JobPlan(fires, at_ms, misfired, beyond)


def _plan_with_calendars(
    schedule_type: ScheduleType,
    conf: str,
    timezone: str,
    misfire: MisfireStrategy,
    next_at_ms: int,
    now_ms: int,
    horizon_ms: int,
    grace_ms: int,
    excluded: Exclusions,
    catchup_window_ms: int,
    catchup_max_fires: int,
) -> JobPlan:
    """`plan_job_fires` over the allowed planned times only. The stored next fire may be an
    excluded one (a calendar edited after it was computed): the first allowed one is the job's
    real next fire, and only a missed *allowed* time is a misfire. A misfire's FIRE_ONCE_NOW fire
    is itself skipped when `now` is excluded: no scheduled fire starts on an excluded date."""
    fires: list[tuple[int, TriggerType]] = []
    at_ms = first_allowed_ms(schedule_type, conf, timezone, next_at_ms, excluded)
    misfired = at_ms is not None and at_ms < now_ms - grace_ms
    beyond = False
    if at_ms is not None and misfired:
        if misfire == MisfireStrategy.FIRE_ONCE_NOW and excluded.excluded_until_ms(now_ms) is None:
            fires.append((now_ms, TriggerType.MISFIRE))
        elif misfire in CATCH_UP_STRATEGIES:
            caught = catch_up_allowed(schedule_type, conf, timezone, misfire, at_ms, now_ms, catchup_window_ms, catchup_max_fires, excluded)
            fires += [(planned_ms, TriggerType.MISFIRE) for planned_ms in caught.times_ms]
            beyond = caught.beyond_limit
        if schedule_type == ScheduleType.FIX_RATE:
            period_ms = int(conf) * 1000
            at_ms = at_ms + ((now_ms - at_ms) // period_ms + 1) * period_ms
        else:
            at_ms = next_fire_at_ms(schedule_type, conf, timezone, now_ms)
        at_ms = first_allowed_ms(schedule_type, conf, timezone, at_ms, excluded)
    while at_ms is not None and at_ms <= horizon_ms and len(fires) < MAX_FIRES_PER_JOB:
        fires.append((at_ms, TriggerType.CRON))
        at_ms = allowed_after_ms(schedule_type, conf, timezone, at_ms, excluded)
    return JobPlan(fires, at_ms, misfired, beyond)
