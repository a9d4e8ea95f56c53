"""Workflows with a real shardcron executor on loopback, reporting to the real admin app over
HTTP: a step's handler gets its predecessor's result data as `ctx.upstream` and its parameter's
templates filled in; cancelling an instance kills the running step's run on the executor."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from werkzeug.serving import make_server

from shardcron.admin.enums import RunStatus, StepStatus, WorkflowStatus
from shardcron.admin.models import ExecutorGroup, RunLog
from shardcron.admin.registry_view import live_addresses
from shardcron.admin.services import workflow_runs
from shardcron.admin.services.actor import cli_actor
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.executor import Executor
from shardcron.executor.context import JobResult
from tests.support.executor_calls import TOKEN
from tests.support.net import free_port, wait_until
from tests.support.scheduler_rows import add_group, add_job
from tests.support.workflow_rows import add_workflow, start, states, status, steps

APP = "wf-real"


@pytest.fixture
def admin_url(admin_app) -> Iterator[str]:
    server = make_server("127.0.0.1", free_port(), admin_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="admin-under-test", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def executor(tmp_path: Path, admin_url: str, admin_db, fake_clock) -> Iterator[tuple[Executor, dict[str, Any]]]:
    """A real executor of group APP (`seen["group"]`), registered with the admin under test."""
    seen: dict[str, Any] = {"started": threading.Event(), "cancelled": threading.Event(), "group": add_group(admin_db, APP, fake_clock.now_ms())}
    ex = Executor(app_name=APP, admin_addresses=[admin_url], access_token=TOKEN, listen="127.0.0.1:0", data_dir=str(tmp_path / "ex"), shutdown_timeout_s=5, env={})

    @ex.job("produce")
    def produce(ctx):
        return JobResult.success("produced", {"rows": 7, "day": ctx.param})

    @ex.job("consume")
    def consume(ctx):
        seen["upstream"], seen["param"] = ctx.upstream, ctx.param
        return "consumed"

    @ex.job("wait")
    def wait(ctx):
        seen["started"].set()
        while not ctx.cancelled:
            seen["cancelled"].wait(0.01)
        seen["cancelled"].set()
        ctx.check_cancelled()

    ex.start()

    def registered() -> bool:
        with admin_db.read_session() as s:
            return live_addresses(s, s.get_one(ExecutorGroup, seen["group"]), fake_clock.now_ms()) == [ex.address]

    wait_until(registered, what="the executor's registration")
    yield ex, seen
    ex.stop(timeout_s=5)


def _run_rows(db) -> list[RunLog]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(RunLog).order_by(RunLog.id)))


def _drive_until(node, clock, done, what: str) -> None:
    """Tick the node (10 ms of the fake clock a time) until `done()`; the executor answers in real time."""

    def step() -> bool:
        node.step(clock.now_ms() + 10)
        return done()

    wait_until(step, timeout_s=30, interval_s=0.02, what=what)


def test_a_steps_handler_gets_upstream_data_and_its_filled_in_parameter(admin_db, fake_clock, make_scheduler, executor) -> None:
    ex, seen = executor
    now = fake_clock.now_ms()
    group = seen["group"]
    produce = add_job(admin_db, group, now, handler="produce", name="produce")
    consume = add_job(admin_db, group, now, handler="consume", name="consume")
    definition = {
        "steps": [{"key": "produce", "job_id": produce, "param": "{{params.day}}"}, {"key": "consume", "job_id": consume, "param": "rows={{upstream.produce.rows}}"}],
        "edges": [{"from": "produce", "to": "consume"}],
    }
    wf = add_workflow(admin_db, group, definition, now)
    node = make_scheduler(admin_db)
    instance_id = start(admin_db, wf, now, params={"day": "2026-01-01"})
    _drive_until(node, fake_clock, lambda: status(admin_db, instance_id) != WorkflowStatus.RUNNING, "the instance's end")
    assert status(admin_db, instance_id) == WorkflowStatus.SUCCEEDED
    assert seen["upstream"] == {"produce": {"rows": 7, "day": "2026-01-01"}}
    assert seen["param"] == "rows=7"
    assert [r.step_run_id for r in _run_rows(admin_db)] == [steps(admin_db, instance_id)[k].id for k in ("produce", "consume")]


def test_cancel_kills_the_running_steps_run_on_the_executor(admin_db, fake_clock, make_scheduler, executor) -> None:
    ex, seen = executor
    now = fake_clock.now_ms()
    group = seen["group"]
    job = add_job(admin_db, group, now, handler="wait", name="wait")
    after = add_job(admin_db, group, now, handler="produce", name="after")
    wf = add_workflow(admin_db, group, {"steps": [{"key": "wait", "job_id": job}, {"key": "after", "job_id": after}], "edges": [{"from": "wait", "to": "after"}]}, now)
    node = make_scheduler(admin_db)
    instance_id = start(admin_db, wf, now)
    _drive_until(node, fake_clock, seen["started"].is_set, "the step's handler to start")
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        workflow_runs.cancel_instance(admin_db, cli_actor("ops"), instance_id, now_ms=fake_clock.now_ms(), client=client)
    finally:
        client.close()
    assert seen["cancelled"].wait(10), "the executor never stopped the handler"
    assert status(admin_db, instance_id) == WorkflowStatus.CANCELLED
    assert states(admin_db, instance_id) == {"wait": StepStatus.CANCELLED, "after": StepStatus.CANCELLED}
    [run] = _run_rows(admin_db)
    assert (run.status, run.handle_msg) == (RunStatus.FAILED, f"killed: workflow instance {instance_id} cancelled")
