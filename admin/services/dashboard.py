"""The dashboard: counts, per-day buckets over a date range, per-group and per-executor counts,
and the most recent failures.

One source of truth: `range_counts` reads sc_run_log ONCE over the range (the indexed trigger
time), grouped by day bucket, group, executor and status. The chart's bars are the buckets; the
cards, the per-group and the per-executor tables are sums of the same rows, so they always agree.
Days are calendar days in the viewer's zone; today's bucket is live. The counts are of the run
rows still kept (a log clean-up removes rows, and with them their counts).

UNKNOWN runs (their delivery could not be confirmed after a scheduler failure) are counted apart
from failures everywhere here: they are not known to have failed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import registry_view
from ..enums import RunStatus
from ..models import ExecutorGroup, Job, RunLog
from ..schedules.days import day_bounds_ms
from ..schedules.zones import is_known_zone
from .access import scope_to_groups
from .actor import Actor
from ..texts import Text, _t
from .errors import ServiceError
from .runs import RunView, run_view

#: The ranges offered next to a custom from-to: today, 7 days, 30 days.
SERIES_DAYS = (1, 7, 30)
#: The longest custom range, in days.
MAX_SPAN_DAYS = 90
RECENT_FAILURES = 10
#: The runs the dashboard lists as needing a look: failed, or of unknown outcome (both alarm).
NEEDS_A_LOOK = (RunStatus.FAILED, RunStatus.UNKNOWN)


@dataclass(frozen=True)
class DayCounts:
    day: dt.date
    success: int
    failed: int
    running: int
    #: Runs of that day whose outcome is UNKNOWN (not part of `failed`).
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.success + self.failed + self.running + self.unknown


@dataclass(frozen=True)
class Counts:
    """Runs of one group or one executor over the range (PENDING counts as running)."""

    key: str
    success: int = 0
    failed: int = 0
    running: int = 0
    unknown: int = 0

    @property
    def total(self) -> int:
        return self.success + self.failed + self.running + self.unknown


@dataclass(frozen=True)
class RangeCounts:
    first_day: dt.date
    last_day: dt.date
    #: One bucket per day, oldest first; missing days count zero.
    daily: list[DayCounts]
    #: Sums of `daily`: what the cards show.
    totals: Counts
    #: Per group name and per executor address (runs never sent: "—"), most runs first.
    per_group: list[Counts]
    per_executor: list[Counts]


def _status_field(status: str) -> str:
    return {"SUCCESS": "success", "FAILED": "failed", "UNKNOWN": "unknown"}.get(str(status), "running")


def parse_range(args: Mapping[str, str]) -> tuple[int | None, dt.date | None, dt.date | None]:
    """(days, from, to) from query arguments: `days` (1, 7 or 30; default 7) or `from`/`to`
    (YYYY-MM-DD); ServiceError naming each bad field."""
    errors: dict[str, Text] = {}
    dates: dict[str, dt.date | None] = {"from": None, "to": None}
    for name in dates:
        raw = (args.get(name) or "").strip()
        if raw:
            try:
                dates[name] = dt.date.fromisoformat(raw)
            except ValueError:
                errors[name] = _t("a date as YYYY-MM-DD")
    raw_days = (args.get("days") or "").strip()
    days: int | None = 7
    if raw_days:
        days = int(raw_days) if raw_days.isascii() and raw_days.isdigit() and len(raw_days) < 4 else None
        if days not in SERIES_DAYS:
            errors["days"] = _t("must be one of %(values)s", values=", ".join(map(str, SERIES_DAYS)))
    if errors:
        raise ServiceError(_t("bad dashboard request"), field_errors=errors)
    return days, dates["from"], dates["to"]


def resolve_range(now_ms: int, timezone: str, *, days: int | None = 7, start: dt.date | None = None, end: dt.date | None = None) -> tuple[dt.date, dt.date]:
    """(first, last) day: `start`..`end` when either is given (a missing end is today), else the
    last `days` days ending today; bad ranges raise ServiceError naming the field."""
    today, _ = _today(now_ms, timezone)
    if start is None and end is None:
        if days not in SERIES_DAYS:
            raise ServiceError(_t("bad dashboard request"), field_errors={"days": _t("must be one of %(values)s", values=", ".join(map(str, SERIES_DAYS)))})
        return today - dt.timedelta(days=days - 1), today
    last = end or today
    if start is None:
        raise ServiceError(_t("bad dashboard request"), field_errors={"from": _t("give the first day of the range")})
    if last < start:
        raise ServiceError(_t("bad dashboard request"), field_errors={"to": _t("the last day is before the first")})
    if last > today:
        raise ServiceError(_t("bad dashboard request"), field_errors={"to": _t("the last day is after today")})
    if (last - start).days + 1 > MAX_SPAN_DAYS:
        raise ServiceError(_t("bad dashboard request"), field_errors={"from": _t("a range is at most %(num)s days", num=MAX_SPAN_DAYS)})
    return start, last


def range_counts(session: Session, actor: Actor, first: dt.date, last: dt.date, timezone: str) -> RangeCounts:
    """Runs triggered from `first` to `last` (calendar days in `timezone`), in ONE grouped query."""
    zone = ZoneInfo(timezone)
    days = [first + dt.timedelta(days=offset) for offset in range((last - first).days + 1)]
    bounds = [day_bounds_ms(day, zone) for day in days]
    bucket = sa.case(*((RunLog.trigger_at_ms < end, index) for index, (_, end) in enumerate(bounds)), else_=-1)
    stmt = scope_to_groups(
        sa.select(bucket, RunLog.group_id, RunLog.executor_address, RunLog.status, sa.func.count())
        .select_from(RunLog)
        .where(RunLog.trigger_at_ms >= bounds[0][0], RunLog.trigger_at_ms < bounds[-1][1])
        .group_by(bucket, RunLog.group_id, RunLog.executor_address, RunLog.status),
        RunLog.group_id,
        actor,
    )
    per_day: dict[Any, dict[str, int]] = {}
    per_group: dict[Any, dict[str, int]] = {}
    per_executor: dict[Any, dict[str, int]] = {}
    for index, group_id, address, status, count in session.execute(stmt):
        if index < 0:
            continue
        field = _status_field(status)
        for table, key in ((per_day, index), (per_group, group_id), (per_executor, address or "—")):
            row = table.setdefault(key, {})
            row[field] = row.get(field, 0) + int(count)
    names = dict(session.execute(sa.select(ExecutorGroup.id, ExecutorGroup.app_name).where(ExecutorGroup.id.in_(per_group))).all()) if per_group else {}
    daily = [DayCounts(day, **{f: per_day.get(i, {}).get(f, 0) for f in ("success", "failed", "running", "unknown")}) for i, day in enumerate(days)]
    totals = Counts("", **{f: sum(getattr(d, f) for d in daily) for f in ("success", "failed", "running", "unknown")})

    def ranked(rows: dict[Any, dict[str, int]], label: Callable[[Any], str]) -> list[Counts]:
        return sorted((Counts(label(key), **row) for key, row in rows.items()), key=lambda c: (-c.total, c.key))

    return RangeCounts(
        first, last, daily, totals,
        ranked(per_group, lambda gid: names.get(gid, str(gid))),
        ranked(per_executor, str),
    )


@dataclass(frozen=True)
class Dashboard:
    job_count: int
    enabled_job_count: int
    group_count: int
    live_executor_count: int
    #: Groups with at least one live executor (the "in M groups" of the executors card).
    live_group_count: int
    #: The range's runs by day, their totals (the cards), per group and per executor.
    runs: RangeCounts
    #: SUCCESS / (SUCCESS + FAILED + UNKNOWN) over the range — an UNKNOWN run is not a known
    #: success —, None before the first finished run.
    success_rate: float | None
    #: The range's latest FAILED or UNKNOWN runs, newest first.
    recent_failures: list[RunView]
    timezone: str
    #: Where the range's first day begins, epoch ms.
    start_ms: int


def _today(now_ms: int, timezone: str) -> tuple[dt.date, int]:
    zone = ZoneInfo(timezone)
    local = dt.datetime.fromtimestamp(now_ms / 1000, tz=zone)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
    return local.date(), int(midnight.timestamp() * 1000)


def get_dashboard(
    session: Session, actor: Actor, *, now_ms: int, timezone: str = "UTC", days: int | None = 7,
    start: dt.date | None = None, end: dt.date | None = None,
) -> Dashboard:
    """`timezone`: the viewer's zone, whose calendar days the range and its buckets are;
    the range is the last `days` days, or `start`..`end` (see resolve_range)."""
    if not is_known_zone(timezone):
        raise ServiceError(_t("bad dashboard request"), field_errors={"timezone": _t("%(zone)s is not an IANA time zone name", zone=repr(timezone))})
    first, last = resolve_range(now_ms, timezone, days=days, start=start, end=end)

    job_counts = session.execute(
        scope_to_groups(sa.select(sa.func.count(), sa.func.sum(sa.case((Job.enabled.is_(True), 1), else_=0))), Job.group_id, actor)
    ).one()
    groups = list(session.scalars(scope_to_groups(sa.select(ExecutorGroup), ExecutorGroup.id, actor)))
    live_by_group = registry_view.live_executors_by_group(session, groups, now_ms)
    live = sum(len(executors) for executors in live_by_group.values())
    counts = range_counts(session, actor, first, last, timezone)
    zone = ZoneInfo(timezone)
    range_start_ms, range_end_ms = day_bounds_ms(first, zone)[0], day_bounds_ms(last, zone)[1]
    finished = counts.totals.success + counts.totals.failed + counts.totals.unknown

    recent = list(
        session.scalars(
            scope_to_groups(
                sa.select(RunLog).where(
                    RunLog.status.in_(NEEDS_A_LOOK), RunLog.trigger_at_ms >= range_start_ms, RunLog.trigger_at_ms < range_end_ms
                ),
                RunLog.group_id,
                actor,
            )
            .order_by(RunLog.trigger_at_ms.desc(), RunLog.id.desc())
            .limit(RECENT_FAILURES)
        )
    )
    names = dict(session.execute(sa.select(Job.id, Job.name).where(Job.id.in_({r.job_id for r in recent}))).all()) if recent else {}
    return Dashboard(
        job_count=int(job_counts[0] or 0),
        enabled_job_count=int(job_counts[1] or 0),
        group_count=len(groups),
        live_executor_count=live,
        live_group_count=sum(1 for executors in live_by_group.values() if executors),
        runs=counts,
        success_rate=(counts.totals.success / finished) if finished else None,
        recent_failures=[run_view(r, names.get(r.job_id)) for r in recent],
        timezone=timezone,
        start_ms=range_start_ms,
    )
