"""The whole path on a fake clock: a broadcast fired by the fire loop to two real executors that
registered with the real admin, one shard failing; its result arrives by /api/callback, the
follow-up monitor retries only that shard after the backoff delay, and child jobs fire on each
success."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from shardcron.admin import create_app
from shardcron.admin.config import load_config
from shardcron.admin.enums import FireStatus, RouteStrategy, RunStatus, TriggerType
from shardcron.admin.models import ExecutorRegistry, Fire, RunLog
from shardcron.admin.monitors.followups import FollowupMonitor
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.executor import Executor
from shardcron.executor.context import JobResult
from tests.support.net import free_port, wait_until
from tests.support.run_rows import T0, add_group, add_job
from tests.support.scheduler_node import build_node

TOKEN = "end-to-end-token-0123456789"


@pytest.fixture
def admin_url(tmp_path: Path, db, fake_clock) -> Iterator[str]:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path / "admin"), "database_url": db.url, "access_token": TOKEN})
    server = make_server("127.0.0.1", free_port(), create_app(config, db=db, clock=fake_clock), threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=10)


def registrations(db) -> list[ExecutorRegistry]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(ExecutorRegistry)))


def runs(db) -> list[RunLog]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(RunLog).order_by(RunLog.id)))


def test_failed_shard_is_retried_alone_and_children_fire_on_success(tmp_path: Path, db, fake_clock, admin_url: str) -> None:
    seen: list[tuple[str, int]] = []
    lock = threading.Lock()

    def flaky(ctx):
        with lock:
            seen.append(("flaky", ctx.shard_index))
            first_try_of_shard_1 = seen.count(("flaky", 1)) == 1
        if ctx.shard_index == 1 and first_try_of_shard_1:
            return JobResult.fail("shard 1 hiccup")
        return f"shard {ctx.shard_index}/{ctx.shard_total} ok"

    executors = []
    for i in range(2):
        executor = Executor(app_name="e2e-app", admin_addresses=[admin_url], access_token=TOKEN, listen="127.0.0.1:0",
                            data_dir=str(tmp_path / f"executor{i}"), shutdown_timeout_s=2, env={})
        executor.job("flaky")(flaky)
        executor.job("child")(lambda ctx: "child ok")
        executors.append(executor.start())
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        group = add_group(db, "e2e-app")
        child = add_job(db, group, name="child", handler="child")
        job = add_job(db, group, name="parent", handler="flaky", route_strategy=RouteStrategy.SHARDING_BROADCAST,
                      retry_count=2, retry_delay_s=5, child_job_ids=str(child))
        wait_until(lambda: len(registrations(db)) == 2, what="both registrations")
        with db.session() as s:
            s.add(Fire(job_id=job, fire_at_ms=T0, trigger_type=TriggerType.MANUAL, origin_ref=1, status=FireStatus.PENDING, created_at_ms=T0))
        node = build_node(db, fake_clock, client)
        followups = FollowupMonitor(db, "node-a")

        def step(at_ms: int) -> None:
            node.step(at_ms)

        def finished(count: int) -> bool:
            rows = runs(db)
            return len(rows) == count and all(r.status in (RunStatus.SUCCESS, RunStatus.FAILED) for r in rows)

        step(T0)
        wait_until(lambda: finished(2), what="both shards' results")
        shard0, shard1 = sorted(runs(db), key=lambda r: r.shard_index)
        assert (shard0.status, shard1.status, shard1.handle_msg) == (RunStatus.SUCCESS, RunStatus.FAILED, "shard 1 hiccup")
        failed_at = shard1.handle_at_ms
        assert failed_at == T0  # the admin stamps results with its (fake) clock

        fake_clock.set(T0 + 1_000)
        followups.tick(T0 + 1_000)  # shard 1: retry at failed_at + 5 s; shard 0: the child fires
        step(T0 + 1_000)
        wait_until(lambda: finished(3), what="the child's result")
        assert [(r.job_id, r.trigger_type, r.status) for r in runs(db)][2] == (child, TriggerType.PARENT, RunStatus.SUCCESS)

        step(failed_at + 4_999 - 2_000)  # the retry is not claimed before its time (minus lookahead)
        assert len(runs(db)) == 3
        step(failed_at + 5_000)
        wait_until(lambda: finished(4), what="the retry's result")
        retry = runs(db)[3]
        assert (retry.trigger_type, retry.shard_index, retry.shard_total, retry.attempt) == (TriggerType.RETRY, 1, 2, 1)
        assert (retry.status, retry.executor_address) == (RunStatus.SUCCESS, shard1.executor_address)
        assert retry.fire_at_ms == failed_at + 5_000
        assert sorted(seen) == [("flaky", 0), ("flaky", 1), ("flaky", 1)]  # shard 0 ran once

        followups.tick(fake_clock.now_ms())  # the retry succeeded: the child fires again
        step(fake_clock.now_ms())
        wait_until(lambda: finished(5), what="the second child's result")
        assert [r.trigger_type for r in runs(db)].count(TriggerType.PARENT) == 2
    finally:
        client.close()
        for executor in executors:
            executor.stop(timeout_s=2)
