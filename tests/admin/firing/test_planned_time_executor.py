"""On a real shardcron executor: a retry of a backfilled run's handler sees the backfilled day as
`ctx.trigger_time_ms`, and the console reads that retry's log from the executor with the same
time (the executor keeps the log under that day). SQLite, MariaDB and PostgreSQL."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from shardcron.admin.enums import FollowupStatus, RunStatus, TriggerType
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.monitors.followups import FollowupMonitor
from shardcron.admin.services import runs as run_service
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.executor import Executor
from tests.support.executor_calls import TOKEN
from tests.support.scheduler_fixtures import fake_admin  # noqa: F401  (fixture)
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, the backfilled day
DAY = 86_400_000
FAILED_AT = T0 + 40 * DAY  # the backfill ran, and failed, weeks later


def test_a_retried_backfill_run_processes_its_planned_day_and_its_log_is_found(admin_db, make_scheduler, fake_admin, tmp_path):  # noqa: F811
    seen: list[int] = []
    ran = threading.Event()
    executor = Executor(
        app_name="planned-app", admin_addresses=[fake_admin.url], access_token=TOKEN, listen="127.0.0.1:0",
        data_dir=str(tmp_path / "executor"), shutdown_timeout_s=2, env={}, log_retention_days=0,
    )

    @executor.job("daily_report")
    def daily_report(ctx) -> str:
        seen.append(ctx.trigger_time_ms)
        ctx.log("processing the day of %d", ctx.trigger_time_ms)
        ran.set()
        return "done"

    executor.start()
    try:
        group = add_group(admin_db, "planned-app", T0, manual=[executor.address])
        job = add_job(admin_db, group, T0, handler="daily_report", retry_count=1, retry_delay_s=10)
        with admin_db.session() as s:  # the backfilled run for 2026-01-01 failed at FAILED_AT
            failed = RunLog(job_id=job, group_id=group, trigger_type=TriggerType.BACKFILL, fire_at_ms=T0, trigger_at_ms=FAILED_AT - 1_000, handler="daily_report",
                            status=RunStatus.FAILED, handle_code=500, handle_at_ms=FAILED_AT, retry_remaining=1, followup_status=FollowupStatus.PENDING)
            s.add(failed)
            s.flush()
            failed_id = failed.id
        FollowupMonitor(admin_db, "node-a").tick(FAILED_AT)
        make_scheduler(admin_db).step(FAILED_AT + 10_000)
        with admin_db.read_session() as s:
            fire_id = s.execute(sa.select(Fire.id).where(Fire.origin_ref == failed_id, Fire.trigger_type == TriggerType.RETRY)).scalar_one()
            retry_id = s.execute(sa.select(RunLog.id).where(RunLog.fire_id == fire_id)).scalar_one()
        assert ran.wait(20), "the retry never ran"
        result = fake_admin.wait_for_result(retry_id)
        assert seen == [T0] and result.log_date_time_ms == T0
        client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
        try:
            page = run_service.read_run_log(admin_db, SYSTEM_ACTOR, retry_id, client, now_ms=FAILED_AT + 11_000)
        finally:
            client.close()
        assert f"processing the day of {T0}" in page.content
        assert [p.parent.name for p in (tmp_path / "executor").rglob(f"{retry_id}.log")] == ["2026-01-01"]
    finally:
        executor.stop(timeout_s=2)
