"""Daily report rows (sc_daily_report) for the dashboard: per day and executor group, how many
runs are running (PENDING or RUNNING), succeeded and failed, by trigger time.

Days are calendar days in the admin's `default_timezone`. Every minute the rows of today and
yesterday are recomputed from the run log and upserted (yesterday too, so that runs finishing
after midnight are counted); a group whose runs of that day are gone is set to zero.

UNKNOWN runs (delivery not confirmed after a scheduler failure) are in none of the three counts:
they are neither running nor known to have succeeded or failed — counting them as failed would
call runs failures that may well have run, and the executor may still report their result
(then the next recompute counts them where they finished). The dashboard counts them live from
the run log (services/dashboard.py), which their status index makes cheap, so the table keeps
its columns.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from shardcron.core.clock import ms_to_datetime

from ..db import Database
from ..enums import RunStatus
from ..models import DailyReport, RunLog
from ..schedules.days import day_bounds_ms
from ..upserts import upsert
from .lease import Lease, LeaseHolder

#: Where each status is counted; a status missing here (UNKNOWN) is counted in no column.
_COUNT_COLUMN = {
    RunStatus.PENDING: "running_count",
    RunStatus.RUNNING: "running_count",
    RunStatus.SUCCESS: "success_count",
    RunStatus.FAILED: "fail_count",
}


def _zero() -> dict[str, int]:
    return {"running_count": 0, "success_count": 0, "fail_count": 0}


class DailyReportMonitor(LeaseHolder):
    name = "daily-report"
    interval_s = 60.0

    def __init__(self, db: Database, node_id: str, timezone: str) -> None:
        self.db = db
        self.zone = ZoneInfo(timezone)
        self.lease = Lease(db, "daily_report", node_id, lease_ms=300_000)

    def tick(self, now_ms: int) -> None:
        if not self.lease.acquire(now_ms):
            return
        today = ms_to_datetime(now_ms).astimezone(self.zone).date()
        for day in (today - dt.timedelta(days=1), today):
            self.recompute(day, now_ms)

    def recompute(self, day: dt.date, now_ms: int) -> None:
        start_ms, end_ms = day_bounds_ms(day, self.zone)
        counts: dict[int, dict[str, int]] = {}
        with self.db.session() as session:
            rows = session.execute(
                sa.select(RunLog.group_id, RunLog.status, sa.func.count())
                .where(RunLog.trigger_at_ms >= start_ms, RunLog.trigger_at_ms < end_ms)
                .group_by(RunLog.group_id, RunLog.status)
            ).all()
            for group_id, status, count in rows:
                column = _COUNT_COLUMN.get(status)
                if column is not None:
                    counts.setdefault(group_id, _zero())[column] += count
            for group_id in session.scalars(sa.select(DailyReport.group_id).where(DailyReport.day == day)):
                counts.setdefault(group_id, _zero())  # its runs are gone (retention): back to zero
            for group_id, values in counts.items():
                upsert(
                    session,
                    DailyReport.__table__,
                    {"day": day, "group_id": group_id, **values, "updated_at_ms": now_ms},
                    key=("day", "group_id"),
                    update=("running_count", "success_count", "fail_count", "updated_at_ms"),
                )
