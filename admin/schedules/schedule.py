"""A job's schedule: its type, its conf and its time zone, checked and turned into fire times.

This is the interface the fire loop, the job services and the console's preview use:

- `validate_schedule(schedule_type, conf, timezone)` raises `ScheduleError` or returns None;
- `next_fire_at_ms(schedule_type, conf, timezone, after_ms)` is the first fire strictly after
  `after_ms` (UTC epoch ms), None when there is none;
- `preview_fire_times(...)` lists the next `count` of them.

Schedule types (`ScheduleType`):

- `CRON`: conf is a cron expression (cron.py lists the syntax), read as wall-clock time in the
  job's zone; DST gaps and repeats follow the rule in zones.py. Fires are on whole seconds.
- `FIX_RATE`: conf is a whole number of seconds, 1 to 2147483647; the next fire is `after_ms`
  plus that many seconds. The fire loop passes the previous *planned* fire, so the grid never
  drifts; the zone is checked but plays no part.
- `NONE`: fires only by hand or API; conf must be empty (blank), and there is never a next fire.

Every function checks all three values and raises `ScheduleError` for bad ones, so a bad row
read from the database surfaces as the same one-line message the console shows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from shardcron.admin.enums import ScheduleType
from shardcron.admin.schedules.cron import CronError, CronExpression, parse_cron
from shardcron.admin.schedules.zones import ZoneTimeline, is_known_zone, zone_timeline
from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.core.errors import ShardcronError

from ..texts import Text, _t

#: schedule_conf is VARCHAR(255).
MAX_CONF_LENGTH = 255
#: The largest FIX_RATE period (XXL-JOB's int bound; about 68 years).
MAX_FIX_RATE_S = 2_147_483_647
#: preview_fire_times lists at most this many.
MAX_PREVIEW_COUNT = 1000


class ScheduleError(ShardcronError):
    """A schedule that cannot be used. `field` is "schedule_type", "schedule_conf" or
    "timezone"; str(err) is one line starting with the field, e.g.
    "schedule_conf: day-of-month 32 is out of range 1-31 in '0 0 32 * *'"."""

    def __init__(self, field: str, reason: Text) -> None:
        self.field = field
        self.reason = reason
        self.text = _t("%(field)s: %(problem)s", field=field, problem=reason)
        super().__init__(self.text)


@dataclass(frozen=True)
class _Schedule:
    """A checked schedule, ready to answer next-fire questions."""

    schedule_type: ScheduleType
    cron: CronExpression | None  # CRON
    timeline: ZoneTimeline
    period_ms: int  # FIX_RATE

    def next_after_ms(self, after_ms: int) -> int | None:
        if self.schedule_type is ScheduleType.FIX_RATE:
            return after_ms + self.period_ms
        if self.cron is None:
            return None
        # Cron fires on whole seconds: the first candidate second strictly after `after_ms`.
        due_s = self.timeline.first_fire_s(self.cron, after_ms // 1000 + 1)
        return None if due_s is None else due_s * 1000


def _schedule_type(value: ScheduleType | str) -> ScheduleType:
    try:
        return ScheduleType(value)
    except ValueError:
        allowed = ", ".join(t.value for t in ScheduleType)
        raise ScheduleError("schedule_type", _t("%(value)s is not one of %(allowed)s", value=repr(value), allowed=allowed)) from None


def _timeline(timezone: str) -> ZoneTimeline:
    if not isinstance(timezone, str) or not timezone.strip():
        raise ScheduleError("timezone", _t("a time zone is required (an IANA name such as UTC or Europe/Berlin)"))
    if not is_known_zone(timezone):
        raise ScheduleError("timezone", _t("%(zone)s is not an IANA time zone name (e.g. UTC, Europe/Berlin)", zone=repr(timezone)))
    return zone_timeline(timezone)


def _fix_rate_period_ms(conf: str) -> int:
    if not (conf.isascii() and conf.isdigit()):
        raise ScheduleError("schedule_conf", _t("FIX_RATE needs a whole number of seconds (e.g. 30), not %(value)s", value=repr(conf)))
    seconds = int(conf)
    if not 1 <= seconds <= MAX_FIX_RATE_S:
        raise ScheduleError("schedule_conf", _t("FIX_RATE period %(seconds)s s is out of range 1-%(high)s", seconds=seconds, high=MAX_FIX_RATE_S))
    return seconds * 1000


@lru_cache(maxsize=16384)
def _checked(schedule_type: ScheduleType | str, conf: str, timezone: str) -> _Schedule:
    kind = _schedule_type(schedule_type)
    if not isinstance(conf, str):
        raise ScheduleError("schedule_conf", _t("must be text, not %(type)s", type=type(conf).__name__))
    if len(conf) > MAX_CONF_LENGTH:
        raise ScheduleError("schedule_conf", _t("is %(length)s characters long; at most %(limit)s fit", length=len(conf), limit=MAX_CONF_LENGTH))
    timeline = _timeline(timezone)
    if kind is ScheduleType.NONE:
        if conf.strip():
            raise ScheduleError("schedule_conf", _t("must be empty for schedule type NONE, not %(value)s", value=repr(conf)))
        return _Schedule(kind, None, timeline, 0)
    if kind is ScheduleType.FIX_RATE:
        return _Schedule(kind, None, timeline, _fix_rate_period_ms(conf))
    if not conf.strip():
        raise ScheduleError("schedule_conf", _t("a cron expression is required for schedule type CRON"))
    try:
        return _Schedule(kind, parse_cron(conf), timeline, 0)
    except CronError as exc:
        raise ScheduleError("schedule_conf", exc.text) from None


def validate_schedule(schedule_type: ScheduleType | str, conf: str, timezone: str) -> None:
    """Raise ScheduleError unless the schedule can be saved: a known type, a conf valid for it,
    a known IANA zone, and (CRON) an expression that still fires after the current time."""
    schedule = _checked(schedule_type, conf, timezone)
    if schedule.cron is not None and schedule.next_after_ms(SYSTEM_CLOCK.now_ms()) is None:
        raise ScheduleError("schedule_conf", _t("'%(cron)s' never fires again: all its dates are past", cron=schedule.cron.text))


def next_fire_at_ms(schedule_type: ScheduleType | str, conf: str, timezone: str, after_ms: int) -> int | None:
    """The first fire time strictly after `after_ms` (UTC epoch ms), or None when there is none
    (NONE schedules; a cron whose last year has passed). Raises ScheduleError on bad input."""
    return _checked(schedule_type, conf, timezone).next_after_ms(after_ms)


def preview_fire_times(
    schedule_type: ScheduleType | str, conf: str, timezone: str, after_ms: int, count: int = 5
) -> list[int]:
    """The next `count` fire times after `after_ms`, in order (fewer when the schedule ends).
    `count` must be 0-1000 (ValueError otherwise: it is the caller's choice, not the user's)."""
    if not 0 <= count <= MAX_PREVIEW_COUNT:
        raise ValueError(f"count {count} is out of range 0-{MAX_PREVIEW_COUNT}")
    schedule = _checked(schedule_type, conf, timezone)
    fires: list[int] = []
    at_ms = after_ms
    while len(fires) < count and (next_ms := schedule.next_after_ms(at_ms)) is not None:
        fires.append(next_ms)
        at_ms = next_ms
    return fires
