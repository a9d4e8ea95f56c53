"""The operator's story through the API with the real scheduler pieces and real executors:
trigger one shard (and the whole broadcast), the fire loop dispatches it, the fire shows its run
rows, and the run's log is read from the executor that ran it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.executor import Executor
from shardcron.core.protocol import normalize_address
from tests.admin.api.conftest import EXECUTOR_TOKEN, AdminApp, Api
from tests.support.admin_data import add_executor
from tests.support.fake_admin import FakeAdmin
from tests.support.net import wait_until
from tests.support.run_receiver import RunReceiver
from tests.support.scheduler_node import build_node


@pytest.fixture
def executors(tmp_path: Path) -> Iterator[list[Executor]]:
    fake_admin = FakeAdmin(token=EXECUTOR_TOKEN).start()
    built = []
    for n in range(2):
        ex = Executor(
            app_name="story", admin_addresses=[fake_admin.url], access_token=EXECUTOR_TOKEN, listen="127.0.0.1:0",
            data_dir=str(tmp_path / f"executor{n}"), shutdown_timeout_s=2, env={},
        )

        @ex.job("hello")
        def hello(ctx):
            ctx.log("hello from shard %s of %s with %r", ctx.shard_index, ctx.shard_total, ctx.param)
            return "ok"

        built.append(ex.start())
    yield sorted(built, key=lambda e: normalize_address(e.address))
    for ex in built:
        ex.stop(timeout_s=2)
    fake_admin.stop()


def test_trigger_one_shard_then_read_its_log(admin_app: AdminApp, admin: Api, executors: list[Executor]) -> None:
    group = admin.post("/groups", json={"app_name": "story"}).get_json()["id"]
    for ex in executors:
        add_executor(admin_app.db, "story", normalize_address(ex.address), heartbeat_at_ms=admin_app.clock.now_ms())
    job = admin.post("/jobs", json={"group_id": group, "name": "story", "handler": "hello", "schedule_type": "NONE", "schedule_conf": "", "route_strategy": "SHARDING_BROADCAST"}).get_json()
    fire_id = admin.post(f"/jobs/{job['id']}/trigger", json={"shard_index": 1, "param": "just one"}).get_json()["fire_id"]
    whole_id = admin.post(f"/jobs/{job['id']}/trigger").get_json()["fire_id"]

    client = ExecutorClient(EXECUTOR_TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        build_node(admin_app.db, admin_app.clock, client).step()
    finally:
        client.close()

    fire = admin.get(f"/fires/{fire_id}").get_json()
    assert fire["status"] == "DONE" and fire["trigger_type"] == "API"
    [run] = fire["runs"]
    assert (run["shard_index"], run["shard_total"], run["param"], run["executor_address"]) == (1, 2, "just one", normalize_address(executors[1].address))
    assert run["status"] == "RUNNING" and run["trigger_code"] == 200
    whole = admin.get(f"/fires/{whole_id}").get_json()["runs"]
    assert [(r["shard_index"], r["shard_total"], r["executor_address"]) for r in whole] == [(i, 2, normalize_address(executors[i].address)) for i in range(2)]

    wait_until(lambda: admin.get(f"/runs/{run['id']}/log").get_json()["is_end"], what="the shard's log to end")
    assert "hello from shard 1 of 2 with 'just one'" in admin.get(f"/runs/{run['id']}/log").get_json()["content"]
    listed = admin.get(f"/runs?job_id={job['id']}&trigger_type=API").get_json()
    assert listed["total"] == 3


def test_a_skip_job_triggered_twice_shows_why_the_second_fire_did_not_run(admin_app: AdminApp, admin: Api) -> None:
    receiver = RunReceiver(EXECUTOR_TOKEN).start()
    client = ExecutorClient(EXECUTOR_TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        group = admin.post("/groups", json={"app_name": "story", "address_type": "MANUAL", "manual_addresses": [receiver.address]}).get_json()["id"]
        job = admin.post("/jobs", json={"group_id": group, "name": "once", "handler": "hello", "schedule_type": "NONE", "schedule_conf": "", "overlap_policy": "SKIP"}).get_json()
        first = admin.post(f"/jobs/{job['id']}/trigger").get_json()["fire_id"]
        node = build_node(admin_app.db, admin_app.clock, client)
        node.step()
        second = admin.post(f"/jobs/{job['id']}/trigger").get_json()["fire_id"]
        node.step()
    finally:
        client.close()
        receiver.stop()
    [run] = admin.get(f"/fires/{first}").get_json()["runs"]
    assert run["status"] == "RUNNING" and len(receiver.runs) == 1
    skipped = admin.get(f"/fires/{second}").get_json()
    assert (skipped["status"], skipped["runs"], skipped["overlap_note"]) == ("DONE", [], f"skipped: run {run['id']} was active (SKIP)")
