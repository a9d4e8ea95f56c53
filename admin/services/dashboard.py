"""The dashboard: counts, a per-day success/failure series, and the most recent failures.

Per-day numbers come from sc_daily_report (filled by the report monitor), so the chart costs one
small query however many runs there were. "Today" (runs today, success rate) is counted live from
sc_run_log with the (status, trigger time) index, from midnight in the viewer's time zone.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import RunStatus
from ..models import DailyReport, ExecutorGroup, Job, RunLog
from ..scheduling import registry_view
from ..scheduling.zones import is_known_zone
from .access import scope_to_groups
from .actor import Actor
from .errors import ServiceError
from .runs import RunView, run_view

SERIES_DAYS = (7, 30)
RECENT_FAILURES = 10


@dataclass(frozen=True)
class DayCounts:
    day: dt.date
    success: int
    failed: int
    running: int


@dataclass(frozen=True)
class Dashboard:
    job_count: int
    enabled_job_count: int
    group_count: int
    live_executor_count: int
    runs_today: int
    success_today: int
    failed_today: int
    running_today: int
    #: SUCCESS / (SUCCESS + FAILED) today, None before the first finished run of the day.
    success_rate_today: float | None
    #: One entry per day, oldest first, ending today; missing days count zero.
    daily: list[DayCounts]
    recent_failures: list[RunView]
    timezone: str
    day_start_ms: int


def _today(now_ms: int, timezone: str) -> tuple[dt.date, int]:
    zone = ZoneInfo(timezone)
    local = dt.datetime.fromtimestamp(now_ms / 1000, tz=zone)
    midnight = dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)
    return local.date(), int(midnight.timestamp() * 1000)


def daily_series(session: Session, actor: Actor, today: dt.date, days: int) -> list[DayCounts]:
    first = today - dt.timedelta(days=days - 1)
    stmt = scope_to_groups(
        sa.select(DailyReport.day, sa.func.sum(DailyReport.success_count), sa.func.sum(DailyReport.fail_count), sa.func.sum(DailyReport.running_count))
        .where(DailyReport.day >= first, DailyReport.day <= today)
        .group_by(DailyReport.day),
        DailyReport.group_id,
        actor,
    )
    found = {day: (int(s or 0), int(f or 0), int(r or 0)) for day, s, f, r in session.execute(stmt)}
    series = []
    for offset in range(days):
        day = first + dt.timedelta(days=offset)
        success, failed, running = found.get(day, (0, 0, 0))
        series.append(DayCounts(day, success, failed, running))
    return series


def get_dashboard(session: Session, actor: Actor, *, now_ms: int, timezone: str = "UTC", days: int = 7) -> Dashboard:
    if days not in SERIES_DAYS:
        raise ServiceError("bad dashboard request", field_errors={"days": f"must be one of {', '.join(map(str, SERIES_DAYS))}"})
    if not is_known_zone(timezone):
        raise ServiceError("bad dashboard request", field_errors={"timezone": f"{timezone!r} is not an IANA time zone name"})
    today, day_start_ms = _today(now_ms, timezone)

    job_counts = session.execute(
        scope_to_groups(sa.select(sa.func.count(), sa.func.sum(sa.case((Job.enabled.is_(True), 1), else_=0))), Job.group_id, actor)
    ).one()
    groups = list(session.scalars(scope_to_groups(sa.select(ExecutorGroup), ExecutorGroup.id, actor)))
    live = sum(len(executors) for executors in registry_view.live_executors_by_group(session, groups, now_ms).values())

    per_status: dict[RunStatus, int] = {}
    for status in RunStatus:
        stmt = scope_to_groups(
            sa.select(sa.func.count()).select_from(RunLog).where(RunLog.status == status, RunLog.trigger_at_ms >= day_start_ms),
            RunLog.group_id,
            actor,
        )
        per_status[status] = session.scalar(stmt) or 0
    finished = per_status[RunStatus.SUCCESS] + per_status[RunStatus.FAILED]

    recent = list(
        session.scalars(
            scope_to_groups(sa.select(RunLog).where(RunLog.status == RunStatus.FAILED), RunLog.group_id, actor)
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
        runs_today=sum(per_status.values()),
        success_today=per_status[RunStatus.SUCCESS],
        failed_today=per_status[RunStatus.FAILED],
        running_today=per_status[RunStatus.RUNNING] + per_status[RunStatus.PENDING],
        success_rate_today=(per_status[RunStatus.SUCCESS] / finished) if finished else None,
        daily=daily_series(session, actor, today, days),
        recent_failures=[run_view(r, names.get(r.job_id)) for r in recent],
        timezone=timezone,
        day_start_ms=day_start_ms,
    )
