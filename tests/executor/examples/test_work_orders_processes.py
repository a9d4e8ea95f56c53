"""The work-orders recipe end to end: a real admin firing `createWorkOrders` and the drainer (a
sharding broadcast with discard-on-busy) every second into two real executor processes that
share the business database on MariaDB. Nobody is on shift (Alice has the day off, Bob's shift
is cleared) until the test puts Carol on shift; then every order reaches Carol exactly once and
the tasks are never tried again."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from shardcron.admin.enums import RouteStrategy, ScheduleType
from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.executor.examples.roster import ShiftState
from shardcron.executor.examples.work_orders import CREATE_HANDLER, DATABASE_URL_ENV, RETRY_BASE_ENV, TASK_CODE, WorkOrders, period_of
from shardcron.executor.retry_tasks import DRAINER_HANDLER, RetryTasks, TaskStatus
from tests.support.net import wait_until
from tests.support.recipe_cluster import RecipeCluster

TARGET = "shardcron.executor.examples.work_orders:create_executor"
HOUR_MS = 3_600_000


@pytest.mark.mysql
def test_orders_wait_for_a_shift_then_reach_the_person_once(mysql_url: str, tmp_path: Path) -> None:
    orders = WorkOrders(RetryTasks(mysql_url, owner="test"))
    orders.create_tables()
    now = SYSTEM_CLOCK.now_ms()
    orders.roster.add_shift("maintenance", "alice", now - HOUR_MS, now + HOUR_MS, ShiftState.DAY_OFF)
    bob = orders.roster.add_shift("maintenance", "bob", now - HOUR_MS, now + HOUR_MS)
    orders.roster.set_state(bob, ShiftState.CLEARED)

    def records():
        return [orders.tasks.get(TASK_CODE, f"WO-{period_of(now)}-{site}") for site in orders.settings.sites]

    try:
        with RecipeCluster(tmp_path, app_name="work-orders") as cluster:
            cluster.start_admin()
            cluster.start_executors(TARGET, 2, env={DATABASE_URL_ENV: mysql_url, RETRY_BASE_ENV: "0.2"})
            create = cluster.add_job(name="create work orders", handler=CREATE_HANDLER, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")
            drainer = cluster.add_job(
                name="deliver work orders", handler=DRAINER_HANDLER, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1",
                route_strategy=RouteStrategy.SHARDING_BROADCAST, block_strategy="DISCARD_LATER", param="budget_s=5 batch=100 concurrency=4",
            )
            wait_until(
                lambda: all(r is not None and r.attempts >= 3 for r in records()), timeout_s=120,
                what="three failed delivery attempts of each order: " + cluster.output("executor0")[-2000:],
            )
            for record in records():
                assert record is not None and record.status == TaskStatus.PENDING
                assert "nobody on shift for maintenance: day off" in (record.last_error or ""), record.last_error
            assert orders.inbox_of("alice") == orders.inbox_of("bob") == []

            orders.roster.add_shift("maintenance", "carol", now - HOUR_MS, now + HOUR_MS)
            wait_until(lambda: all(r is not None and r.status == TaskStatus.SUCCEEDED for r in records()), timeout_s=120, what="every order delivered")
            delivered = {r.request_no: r.attempts for r in records() if r is not None}
            runs_then = len(cluster.runs(drainer))
            # A few more broadcasts of the drainer: the delivered tasks are not tried again.
            wait_until(lambda: len(cluster.runs(drainer)) >= runs_then + 4, timeout_s=60, what="four more drainer runs")
            assert {r.request_no: r.attempts for r in records() if r is not None} == delivered
            assert orders.inbox_of("carol") == sorted(delivered)
            assert {row.assigned_to for row in orders.orders(period_of(now))} == {"carol"}
            drainer_runs = cluster.runs(drainer)
            assert {run.shard_total for run in drainer_runs} == {2}, "both executors drain their shard"
            assert {run.shard_index for run in drainer_runs} == {0, 1}
            # createWorkOrders fired every second; only the first run of the period created anything.
            created = [json.loads(run.result_json)["created"] for run in cluster.runs(create) if run.result_json]
            assert len(created) >= 2 and sum(len(c) for c in created) == len(orders.settings.sites)
    finally:
        orders.tasks.close()
