"""How a drainer run is bounded and kept honest: cancellation, time budget, bounded concurrency,
results written while a long batch runs, lease renewal, leases that lapse, late finishers."""

from __future__ import annotations

import threading

import pytest

from shardcron.core.clock import FakeClock
from shardcron.executor.context import JobCancelled
from shardcron.executor.retry_tasks import DrainerParams, RetryTasks, TaskStatus
from shardcron.executor.retry_tasks.store import Outcome, OutcomeKind, TaskStore
from tests.support.net import wait_until
from tests.support.retry_tasks import drainer_ctx


def test_cancellation_releases_rows_not_started(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    run = drainer_ctx(param="batch=10 concurrency=1", clock=fake_clock)
    done = []

    @tasks.handler("C")
    def handler(task):
        done.append(task.request_no)
        if len(done) == 2:
            run.ctx.cancel("killed by /kill")

    for i in range(6):
        tasks.enqueue("C", f"r{i}", {})
    with pytest.raises(JobCancelled, match="killed by /kill"):
        tasks.drainer(run.ctx)
    assert done == ["r0", "r1"]
    data = run.ctx.result_data
    assert (data["claimed"], data["succeeded"], data["released"], data["stopped"]) == (6, 2, 4, "cancelled")
    for i in range(2, 6):
        left = tasks.get("C", f"r{i}")
        assert (left.status, left.attempts, left.lease_owner, left.next_attempt_at_ms) == (TaskStatus.PENDING, 0, None, fake_clock.now_ms())
    assert tasks.drain().succeeded == 4  # released rows are due at once


def test_budget_stops_claiming(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    @tasks.handler("SLOW")
    def slow(task):
        fake_clock.advance(10_000)  # each task "takes" 10 s

    for i in range(8):
        tasks.enqueue("SLOW", f"r{i}", {})
    result = tasks.drainer(drainer_ctx(param="budget_s=25 batch=3 concurrency=1", clock=fake_clock).ctx)
    assert (result.data["succeeded"], result.data["released"], result.data["stopped"]) == (3, 0, "budget")
    assert result.data["claimed"] == 3  # the second batch was never claimed
    result = tasks.drainer(drainer_ctx(param="budget_s=25 batch=8 concurrency=1", clock=fake_clock).ctx)
    assert (result.data["succeeded"], result.data["released"], result.data["stopped"]) == (3, 2, "budget")


def test_budget_defaults_to_most_of_the_job_timeout(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    run = drainer_ctx(timeout_s=10, clock=fake_clock)
    tasks.drainer(run.ctx)
    assert "budget 8 s" in run.lines[0]


def test_concurrency_is_bounded(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    lock = threading.Lock()
    running = [0]
    peak = [0]
    four_at_once = threading.Barrier(4)

    @tasks.handler("P")
    def parallel(task):
        with lock:
            running[0] += 1
            peak[0] = max(peak[0], running[0])
        try:
            four_at_once.wait(30)  # only passes if four handlers really run together
        finally:
            with lock:
                running[0] -= 1

    for i in range(12):
        tasks.enqueue("P", f"r{i}", {})
    result = tasks.drain(params=DrainerParams(concurrency=4))
    assert result.succeeded == 12
    assert peak[0] == 4


def test_results_are_written_while_a_long_batch_runs(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    release = threading.Event()

    @tasks.handler("L")
    def long_or_short(task):
        if task.request_no == "long":
            assert release.wait(60)

    tasks.enqueue("L", "short", {})
    tasks.enqueue("L", "long", {})
    runner = threading.Thread(target=tasks.drain, kwargs={"params": DrainerParams(concurrency=2)})
    runner.start()
    try:
        wait_until(lambda: tasks.get("L", "short").status == TaskStatus.SUCCEEDED, timeout_s=60, what="the short task's result")
        assert tasks.get("L", "long").status == TaskStatus.PENDING
    finally:
        release.set()
        runner.join(60)
    assert tasks.get("L", "long").status == TaskStatus.SUCCEEDED


def test_leases_of_a_long_batch_are_renewed(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    release = threading.Event()
    started = threading.Event()

    @tasks.handler("R")
    def slow(task):
        started.set()
        assert release.wait(60)

    task_id = tasks.enqueue("R", "1", {}).id
    runner = threading.Thread(target=tasks.drain, kwargs={"params": DrainerParams(lease_s=30, concurrency=1)})
    runner.start()
    try:
        assert started.wait(60)
        # On PostgreSQL the batch is first held by its claim's transaction and leased once the
        # first flush interval has passed (held_claim.py); elsewhere it is leased at the claim.
        wait_until(lambda: tasks.get("R", "1").lease_until_ms != 0, timeout_s=60, what="the lease")
        first_lease = tasks.get("R", "1").lease_until_ms
        assert first_lease == fake_clock.now_ms() + 30_000
        fake_clock.advance(20_000)  # past a third of the lease: the drainer renews it
        wait_until(lambda: tasks.get("R", "1").lease_until_ms == fake_clock.now_ms() + 30_000, timeout_s=60, what="lease renewal")
        assert tasks.get("R", "1").next_attempt_at_ms == tasks.get("R", "1").lease_until_ms
    finally:
        release.set()
        runner.join(60)
    record = tasks.get("R", "1")
    assert (record.id, record.status) == (task_id, TaskStatus.SUCCEEDED)


def test_a_lapsed_lease_is_taken_over_and_the_late_finisher_is_ignored(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    """A drainer that claimed a row and stalled past its lease: the row is due again by itself,
    another drainer finishes it (as attempt 2: the stalled claim counted attempt 1, and the row
    says so), and the stalled one's late write changes nothing."""
    store = TaskStore(tasks.db)
    task_id = tasks.enqueue("T", "1", {}).id
    now = fake_clock.now_ms()
    stalled = store.claim(token="stalled/1", shard_index=0, shard_total=1, limit=10, now_ms=now, lease_until_ms=now + 60_000)
    assert [row.id for row in stalled.rows] == [task_id]
    tasks.handler("T")(lambda task: "taken over")
    assert tasks.drain().claimed == 0  # leased: not due
    fake_clock.advance(60_000)
    assert tasks.drain().succeeded == 1
    late = store.write_outcomes("stalled/1", [Outcome(task_id, OutcomeKind.RETRY, error="late", next_attempt_at_ms=now)], fake_clock.now_ms())
    assert (late.retried, late.lost) == (0, 1)
    record = tasks.get("T", "1")
    assert (record.status, record.result, record.attempts, record.last_error) == (
        TaskStatus.SUCCEEDED,
        "taken over",
        2,
        "attempt 1 of 5 crashed or stalled: its lease (held by stalled/1) expired before an outcome was written",
    )


def test_a_callback_during_the_attempt_wins(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    after_stage = []

    @tasks.handler("CB")
    def handler(task):
        # The external answer arrives while the drainer holds the row.
        tasks.complete("CB", task.request_no, {"via": "callback"})
        if task.request_no == "staged":
            task.stage("notify", lambda: after_stage.append("ran"))
            after_stage.append("went on")
        raise RuntimeError("poll failed")

    tasks.enqueue("CB", "plain", {})
    tasks.enqueue("CB", "staged", {})
    report = tasks.drain()
    assert (report.claimed, report.skipped, report.retried, report.succeeded) == (2, 2, 0, 0)
    assert after_stage == ["ran"]  # the stage ran, but recording it found the row gone: the handler stopped
    for request_no in ("plain", "staged"):
        record = tasks.get("CB", request_no)
        # The claim counted the attempt the callback cut short.
        assert (record.status, record.result, record.attempts, record.last_error) == (TaskStatus.SUCCEEDED, {"via": "callback"}, 1, None)
    assert record.stages_done == {}

