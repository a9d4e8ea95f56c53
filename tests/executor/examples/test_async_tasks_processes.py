"""The async-task component end to end: a real admin fires one drainer job per lane (sharding
broadcast, discard-on-busy, every second) into two real executor processes sharing the
business database on MariaDB. While the big lane's threads render reports, the small lane works
off every receipt; a delayed receipt runs at its time; the ledger entry is booked once."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import RouteStrategy, ScheduleType
from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.executor.examples.async_tasks import DATABASE_URL_ENV, TaskComponent, create_tables, handler_run, receipt, register_example_handlers
from shardcron.executor.retry_tasks import DRAINER_HANDLER, RetryTasks, TaskStatus
from tests.support.net import wait_until
from tests.support.recipe_cluster import RecipeCluster

TARGET = "shardcron.executor.examples.async_tasks:create_executor"
RECEIPTS = 30
RENDER_S = 30


@pytest.mark.mysql
def test_lanes_delays_and_once_only_effects_across_two_executors(mysql_url: str, tmp_path: Path) -> None:
    component = TaskComponent(RetryTasks(mysql_url, owner="test"))
    component.tasks.create_table()
    create_tables(component.tasks.engine)
    register_example_handlers(component)  # the same task codes and lanes as the executors
    engine = component.tasks.engine

    def runs(prefix: str) -> list[sa.Row]:
        with engine.connect() as conn:
            return list(conn.execute(sa.select(handler_run).where(handler_run.c.request_no.like(f"{prefix}%"))).all())

    def status(code: str, no: str) -> TaskStatus | None:
        record = component.tasks.get(code, no)
        return None if record is None else record.status

    try:
        with RecipeCluster(tmp_path, app_name="async-tasks") as cluster:
            cluster.start_admin()
            cluster.start_executors(TARGET, 2, env={DATABASE_URL_ENV: mysql_url})
            for lane in component.lanes:
                cluster.add_job(
                    name=f"{lane} tasks", handler=DRAINER_HANDLER, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1",
                    route_strategy=RouteStrategy.SHARDING_BROADCAST, block_strategy="DISCARD_LATER",
                    param=component.lane_param(lane, budget_s=5),
                )
            for i in range(2):
                component.submit("RENDER_REPORT", f"RPT-{i}", {"seconds": RENDER_S})
            wait_until(lambda: len(runs("RPT-")) == 2, timeout_s=60, what="both renders started: " + cluster.output("executor0")[-2000:])

            run_at = SYSTEM_CLOCK.now_ms() + 4_000
            component.submit("SEND_RECEIPT", "ORD-LATER", {"order": "later"}, run_at=run_at)
            for i in range(RECEIPTS):
                component.submit("SEND_RECEIPT", f"ORD-{i:03d}", {"order": i})
            component.submit("LEDGER_ENTRY", "LED-001", {"amount_cents": 1250})
            small = [f"ORD-{i:03d}" for i in range(RECEIPTS)] + ["ORD-LATER"]
            wait_until(
                lambda: all(status("SEND_RECEIPT", no) == TaskStatus.SUCCEEDED for no in small) and status("LEDGER_ENTRY", "LED-001") == TaskStatus.SUCCEEDED,
                timeout_s=RENDER_S * 0.75, what="every small task done while the renders still run",
            )
            assert [row.finished_at_ms for row in runs("RPT-")] == [None, None], "the renders are still running"
            assert {status("RENDER_REPORT", f"RPT-{i}") for i in range(2)} == {TaskStatus.PENDING}
            (later,) = runs("ORD-LATER")
            assert later.started_at_ms >= run_at

            wait_until(lambda: {status("RENDER_REPORT", f"RPT-{i}") for i in range(2)} == {TaskStatus.SUCCEEDED}, timeout_s=RENDER_S * 4, what="the renders done")
            assert len(runs("RPT-")) == 2  # each render ran once
            with engine.connect() as conn:
                booked = conn.execute(sa.select(sa.func.count()).select_from(receipt).where(receipt.c.request_no == "LED-001")).scalar_one()
                receipts = conn.execute(sa.select(sa.func.count()).select_from(receipt).where(receipt.c.request_no.like("ORD-%"))).scalar_one()
            assert (booked, receipts) == (1, RECEIPTS + 1)
    finally:
        component.tasks.close()
