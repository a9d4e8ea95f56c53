"""The dashboard: counts, a per-day success/failure series, and the most recent failures.

Per-day numbers come from sc_daily_report (filled by the report monitor), so the chart costs one
small query however many runs there were. "Today" (runs today, success rate) is counted live from
sc_run_log with the (status, trigger time) index, from midnight in the viewer's time zone.

UNKNOWN runs (their delivery could not be confirmed after a scheduler failure) are counted apart
from failures everywhere here: they are not known to have failed, and a result the executor
reports later still finishes them. The daily report has no column for them (it keeps running,
succeeded and failed), so their per-day counts are read live from sc_run_log — one query on the
(status, trigger time) index over the chart's days; such runs are few.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from .. import registry_view
from ..enums import RunStatus
from ..models import DailyReport, ExecutorGroup, Job, RunLog
from ..monitors.daily_report import day_bounds_ms
from ..schedules.zones import is_known_zone
from .access import scope_to_groups
from .actor import Actor
from ..texts import _t
from .errors import ServiceError
from .runs import RunView, run_view

SERIES_DAYS = (7, 30)
RECENT_FAILURES = 10
#: The runs the dashboard lists as needing a look: failed, or of unknown outcome (both alarm).
NEEDS_A_LOOK = (RunStatus.FAILED, RunStatus.UNKNOWN)


@dataclass(frozen=True)
class DayCounts:
    day: dt.date
    success: int
    failed: int
    running: int
    #: Runs of that day whose outcome is UNKNOWN (counted live; not part of `failed`).
    unknown: int = 0


@dataclass(frozen=True)
class Dashboard:
    job_count: int
    enabled_job_count: int
    group_count: int
    live_executor_count: int
    #: Groups with at least one live executor (the "in M groups" of the executors card).
    live_group_count: int
    runs_today: int
    success_today: int
    failed_today: int
    #: Runs today whose delivery could not be confirmed (UNKNOWN); not part of `failed_today`.
    unknown_today: int
    running_today: int
    #: SUCCESS / (SUCCESS + FAILED + UNKNOWN) today — an UNKNOWN run is not a known success —,
    #: None before the first such run of the day.
    success_rate_today: float | None
    #: One entry per day, oldest first, ending today; missing days count zero.
    daily: list[DayCounts]
    #: The latest FAILED or UNKNOWN runs, newest first.
    recent_failures: list[RunView]
    timezone: str
    day_start_ms: int


def _today(now_ms: int, timezone: str) -> tuple[dt.date, int]:
    zone = ZoneInfo(timezone)
    local = dt.datetime.fromtimestamp(now_ms / 1000, tz=zone)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
    return local.date(), int(midnight.timestamp() * 1000)


def unknown_per_day(session: Session, actor: Actor, days: list[dt.date], zone: ZoneInfo) -> dict[dt.date, int]:
    """UNKNOWN runs triggered on each of `days` (consecutive, oldest first; calendar days in `zone`)."""
    if not days:
        return {}
    bounds = [day_bounds_ms(day, zone) for day in days]  # the report monitor's own days
    bucket = sa.case(*((RunLog.trigger_at_ms < end, index) for index, (_, end) in enumerate(bounds)), else_=-1)
    stmt = scope_to_groups(
        sa.select(bucket, sa.func.count())
        .select_from(RunLog)
        .where(RunLog.status == RunStatus.UNKNOWN, RunLog.trigger_at_ms >= bounds[0][0], RunLog.trigger_at_ms < bounds[-1][1])
        .group_by(bucket),
        RunLog.group_id,
        actor,
    )
    return {days[index]: int(count) for index, count in session.execute(stmt) if index >= 0}


def daily_series(session: Session, actor: Actor, today: dt.date, days: int, report_timezone: str = "UTC") -> list[DayCounts]:
    """`days` days ending `today`: running/succeeded/failed from the daily report (whose days are
    calendar days in `report_timezone`, the report monitor's zone), UNKNOWN counted live by the
    same days."""
    first = today - dt.timedelta(days=days - 1)
    stmt = scope_to_groups(
        sa.select(DailyReport.day, sa.func.sum(DailyReport.success_count), sa.func.sum(DailyReport.fail_count), sa.func.sum(DailyReport.running_count))
        .where(DailyReport.day >= first, DailyReport.day <= today)
        .group_by(DailyReport.day),
        DailyReport.group_id,
        actor,
    )
    found = {day: (int(s or 0), int(f or 0), int(r or 0)) for day, s, f, r in session.execute(stmt)}
    all_days = [first + dt.timedelta(days=offset) for offset in range(days)]
    unknown = unknown_per_day(session, actor, all_days, ZoneInfo(report_timezone))
    series = []
    for day in all_days:
        success, failed, running = found.get(day, (0, 0, 0))
        series.append(DayCounts(day, success, failed, running, unknown.get(day, 0)))
    return series


def get_dashboard(
    session: Session, actor: Actor, *, now_ms: int, timezone: str = "UTC", days: int = 7, report_timezone: str | None = None
) -> Dashboard:
    """`timezone`: where the viewer's "today" begins; `report_timezone`: the zone the daily
    report's days are in (the admin's default_timezone; default: `timezone`)."""
    if days not in SERIES_DAYS:
        raise ServiceError(_t("bad dashboard request"), field_errors={"days": _t("must be one of %(values)s", values=", ".join(map(str, SERIES_DAYS)))})
    if not is_known_zone(timezone):
        raise ServiceError(_t("bad dashboard request"), field_errors={"timezone": _t("%(zone)s is not an IANA time zone name", zone=repr(timezone))})
    today, day_start_ms = _today(now_ms, timezone)

    job_counts = session.execute(
        scope_to_groups(sa.select(sa.func.count(), sa.func.sum(sa.case((Job.enabled.is_(True), 1), else_=0))), Job.group_id, actor)
    ).one()
    groups = list(session.scalars(scope_to_groups(sa.select(ExecutorGroup), ExecutorGroup.id, actor)))
    live_by_group = registry_view.live_executors_by_group(session, groups, now_ms)
    live = sum(len(executors) for executors in live_by_group.values())

    per_status: dict[RunStatus, int] = {}
    for status in RunStatus:
        stmt = scope_to_groups(
            sa.select(sa.func.count()).select_from(RunLog).where(RunLog.status == status, RunLog.trigger_at_ms >= day_start_ms),
            RunLog.group_id,
            actor,
        )
        per_status[status] = session.scalar(stmt) or 0
    finished = per_status[RunStatus.SUCCESS] + per_status[RunStatus.FAILED] + per_status[RunStatus.UNKNOWN]

    recent = list(
        session.scalars(
            scope_to_groups(sa.select(RunLog).where(RunLog.status.in_(NEEDS_A_LOOK)), RunLog.group_id, actor)
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
        runs_today=sum(per_status.values()),
        success_today=per_status[RunStatus.SUCCESS],
        failed_today=per_status[RunStatus.FAILED],
        unknown_today=per_status[RunStatus.UNKNOWN],
        running_today=per_status[RunStatus.RUNNING] + per_status[RunStatus.PENDING],
        success_rate_today=(per_status[RunStatus.SUCCESS] / finished) if finished else None,
        daily=daily_series(session, actor, today, days, report_timezone if report_timezone is not None else timezone),
        recent_failures=[run_view(r, names.get(r.job_id)) for r in recent],
        timezone=timezone,
        day_start_ms=day_start_ms,
    )
