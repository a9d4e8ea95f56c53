"""The async-task component: handlers by task code, run_at, lanes (big tasks never block small
ones), at-least-once with an idempotent handler, and exactly-once for an effect in the same
database."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shardcron.core.clock import FakeClock
from shardcron.executor.examples.async_tasks import (
    TaskComponent,
    UnknownTaskCode,
    create_tables,
    handler_run,
    receipt,
    register_example_handlers,
    run_demo,
)
from shardcron.executor.retry_tasks import RetryTasks, Task, TaskInputError, TaskLeaseLost, TaskStatus, retry_task
from tests.support.net import wait_until

render_gate = threading.Event()


@pytest.fixture
def component(db_url: str, fake_clock: FakeClock) -> Iterator[TaskComponent]:
    tasks = RetryTasks(db_url, clock=fake_clock, owner="async-test")
    tasks.create_table()
    create_tables(tasks.engine)
    component = TaskComponent(tasks, {"small": 4, "big": 1})
    render_gate.clear()
    register_example_handlers(component, render=lambda task: render_gate.wait(120) or None)
    try:
        yield component
    finally:
        render_gate.set()
        tasks.close()


def _count(component: TaskComponent, table: sa.Table, request_no: str) -> int:
    with component.tasks.engine.connect() as conn:
        return int(conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.request_no == request_no)).scalar_one())


def test_registration_and_submission_refuse_what_they_cannot_serve(component: TaskComponent) -> None:
    with pytest.raises(TaskInputError, match="lane"):
        component.task("X", lane="huge")
    with pytest.raises(TaskInputError, match="has a handler already"):
        component.task("SEND_RECEIPT", lane="small")
    with pytest.raises(UnknownTaskCode, match=r"no handler for task code 'SEND_SMS' \(known: LEDGER_ENTRY, RENDER_REPORT, SEND_RECEIPT\)"):
        component.submit("SEND_SMS", "SMS-1", {})
    assert component.tasks.get("SEND_SMS", "SMS-1") is None
    assert component.lane_param("small") == "batch=500 concurrency=4 lease_s=60 task_codes=LEDGER_ENTRY,SEND_RECEIPT"
    assert component.lane_param("big", batch=10) == "batch=10 concurrency=1 lease_s=60 task_codes=RENDER_REPORT"


def test_a_delayed_task_runs_at_its_time_not_before(component: TaskComponent, fake_clock: FakeClock) -> None:
    run_at = fake_clock.now_ms() + 600_000
    component.submit("SEND_RECEIPT", "ORD-LATER", {"order": 7}, run_at=run_at)
    small = component.lane_params("small")
    assert component.tasks.drain(params=small).claimed == 0
    fake_clock.set(run_at - 1)
    assert component.tasks.drain(params=small).claimed == 0
    fake_clock.set(run_at)
    assert component.tasks.drain(params=small).succeeded == 1
    with component.tasks.engine.connect() as conn:
        assert conn.execute(sa.select(handler_run.c.started_at_ms)).scalars().all() == [run_at]


def test_big_tasks_in_their_lane_never_block_the_small_ones(component: TaskComponent) -> None:
    for i in range(3):
        component.submit("RENDER_REPORT", f"RPT-{i}", {})
    for i in range(20):
        component.submit("SEND_RECEIPT", f"ORD-{i:03d}", {"order": i})
    big = threading.Thread(target=component.tasks.drain, kwargs={"params": component.lane_params("big", lease_s=600), "budget_s": 120})
    big.start()
    try:
        wait_until(lambda: _count(component, handler_run, "RPT-0") + _count(component, handler_run, "RPT-1") + _count(component, handler_run, "RPT-2") == 1,
                   timeout_s=60, what="the big lane's one thread busy with a render")
        report = component.tasks.drain(params=component.lane_params("small"))
        assert (report.claimed, report.succeeded) == (20, 20)  # all of them while the render runs
        statuses = {rec.status for rec in (component.tasks.get("RENDER_REPORT", f"RPT-{i}") for i in range(3)) if rec is not None}
        assert statuses == {TaskStatus.PENDING}
    finally:
        render_gate.set()
        big.join(120)
    assert {component.tasks.get("RENDER_REPORT", f"RPT-{i}").status for i in range(3)} == {TaskStatus.SUCCEEDED}  # type: ignore[union-attr]


def test_a_repeated_run_of_an_idempotent_handler_has_one_effect(component: TaskComponent) -> None:
    component.submit("SEND_RECEIPT", "ORD-1", {"order": 1})
    assert component.tasks.drain(params=component.lane_params("small")).succeeded == 1
    # The executor died after the effect, before the outcome was written: the row is due again.
    with component.tasks.engine.begin() as conn:
        conn.execute(retry_task.update().where(retry_task.c.request_no == "ORD-1").values(
            status="PENDING", finished_at_ms=None, next_attempt_at_ms=component.tasks.clock.now_ms()))
    assert component.tasks.drain(params=component.lane_params("small")).succeeded == 1
    assert (_count(component, handler_run, "ORD-1"), _count(component, receipt, "ORD-1")) == (2, 1)
    assert component.tasks.get("SEND_RECEIPT", "ORD-1").result == {"receipt": "ORD-1", "new": False}  # type: ignore[union-attr]


def test_exactly_once_commits_the_effect_and_the_completion_together(component: TaskComponent) -> None:
    calls: list[int] = []

    @component.task("FLAKY_ENTRY", lane="small", exactly_once=True)
    def flaky(task, conn):
        conn.execute(receipt.insert().values(request_no=task.request_no, body="entry"))
        calls.append(task.attempt)
        if task.attempt == 1:
            raise RuntimeError("the ledger service hiccuped after the insert")
        return {"booked": task.request_no}

    component.submit("LEDGER_ENTRY", "LED-1", {"amount_cents": 100})
    component.submit("FLAKY_ENTRY", "LED-2", {})
    first = component.tasks.drain(params=component.lane_params("small"))
    assert (first.claimed, first.skipped, first.retried) == (2, 1, 1)  # LED-1 completed inside its transaction
    led1 = component.tasks.get("LEDGER_ENTRY", "LED-1")
    assert (led1.status, led1.result) == (TaskStatus.SUCCEEDED, {"booked": "LED-1"})  # type: ignore[union-attr]
    assert _count(component, receipt, "LED-2") == 0  # the failed attempt's effect rolled back with it
    component.tasks.clock.advance(s=3600)  # type: ignore[attr-defined]
    assert component.tasks.drain(params=component.lane_params("small")).skipped == 1
    assert calls == [1, 2] and _count(component, receipt, "LED-2") == 1
    assert component.tasks.get("FLAKY_ENTRY", "LED-2").status == TaskStatus.SUCCEEDED  # type: ignore[union-attr]


def test_run_demo_finishes_the_small_lane_first(tmp_path) -> None:
    lines: list[str] = []
    final = run_demo(f"sqlite:///{tmp_path / 'demo.db'}", out=lines.append, big_task_s=0.5)
    assert final.pop("ORD-LATER") == "PENDING"
    assert set(final.values()) == {"SUCCEEDED"} and len(final) == 13
    assert "lane big: drainer job parameter 'batch=500 concurrency=2 lease_s=60 task_codes=RENDER_REPORT'" in lines
    assert any(line.startswith("lane small: shard 0/1: claimed 11, succeeded 10") and "skipped 1" in line for line in lines)


def test_exactly_once_writes_nothing_for_an_attempt_that_lost_its_row(component: TaskComponent) -> None:
    """A drainer that stalled past its lease: meanwhile another one re-claimed the task (attempts
    moved on) or finished it. The stalled attempt's transaction must not book the entry again."""
    record = component.submit("LEDGER_ENTRY", "LED-9", {"amount_cents": 5})
    handler = component.tasks.handlers()["LEDGER_ENTRY"].fn
    stale = Task(id=record.id, task_code="LEDGER_ENTRY", request_no="LED-9", payload={"amount_cents": 5}, attempt=1, max_attempts=10)
    with component.tasks.engine.begin() as conn:  # another drainer's claim counted attempt 2
        conn.execute(retry_task.update().where(retry_task.c.id == record.id).values(attempts=2))
    with pytest.raises(TaskLeaseLost):
        handler(stale)
    assert _count(component, receipt, "LED-9") == 0
    current = Task(id=record.id, task_code="LEDGER_ENTRY", request_no="LED-9", payload={"amount_cents": 5}, attempt=2, max_attempts=10)
    assert handler(current) == {"booked": "LED-9"}
    with pytest.raises(TaskLeaseLost):  # finished now: a late duplicate of the same attempt changes nothing
        handler(current)
    assert _count(component, receipt, "LED-9") == 1
    assert component.tasks.get("LEDGER_ENTRY", "LED-9").status == TaskStatus.SUCCEEDED  # type: ignore[union-attr]
