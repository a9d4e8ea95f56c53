"""Re-drive of DEAD tasks (API and drainer parameter), purge after retention, stats."""

from __future__ import annotations

import pytest

from shardcron.core.clock import FakeClock
from shardcron.executor.retry_tasks import RedriveScope, RetryTasks, TaskStatus
from tests.support.retry_tasks import drainer_ctx

DAY_MS = 86_400_000


def _make_dead(tasks: RetryTasks, *keys: tuple[str, str]) -> None:
    for code, request_no in keys:
        tasks.enqueue(code, request_no, {}, max_attempts=1)
    tasks.drain()
    assert all(tasks.get(code, no).status == TaskStatus.DEAD for code, no in keys)


@pytest.fixture
def failing(tasks: RetryTasks) -> dict[str, bool]:
    """Handlers for A and B that fail until `healthy[code]` is set."""
    healthy = {"A": False, "B": False}
    for code in healthy:

        def handler(task, code=code):
            if not healthy[code]:
                raise RuntimeError(f"{code} down")

        tasks.handler(code)(handler)
    return healthy


@pytest.mark.parametrize(
    ("scope", "expected"),
    [
        (RedriveScope("all"), {("A", "1"), ("A", "2"), ("B", "1")}),
        (RedriveScope("task_code", "A"), {("A", "1"), ("A", "2")}),
        (RedriveScope("request_no", "1"), {("A", "1"), ("B", "1")}),
    ],
)
def test_redrive_requeues_dead_tasks_in_scope(tasks: RetryTasks, failing, fake_clock: FakeClock, scope, expected) -> None:
    _make_dead(tasks, ("A", "1"), ("A", "2"), ("B", "1"))
    tasks.enqueue("A", "ok", {}, max_attempts=1)
    failing["A"] = failing["B"] = True
    tasks.drain()  # the healthy one succeeds; dead ones stay dead
    fake_clock.advance(1_000)
    assert tasks.redrive(scope) == len(expected)
    for code, no in expected:
        record = tasks.get(code, no)
        assert (record.status, record.attempts, record.next_attempt_at_ms, record.finished_at_ms) == (TaskStatus.PENDING, 0, fake_clock.now_ms(), None)
        assert record.last_error == f"RuntimeError: {code} down"  # history kept until the next attempt
    assert tasks.drain().succeeded == len(expected)
    assert tasks.get("A", "ok").attempts == 1  # a SUCCEEDED task is never re-driven


def test_redrive_by_drainer_parameter_covers_its_shard(tasks: RetryTasks, failing, fake_clock: FakeClock) -> None:
    keys = [("A", str(i)) for i in range(6)]
    _make_dead(tasks, *keys)
    failing["A"] = True
    ids = {no: tasks.get("A", no).id for _, no in keys}
    run = drainer_ctx(shard_index=0, shard_total=2, param="redrive=task_code:A", clock=fake_clock)
    result = tasks.drainer(run.ctx)
    evens = {no for no, task_id in ids.items() if task_id % 2 == 0}
    assert result.data["redriven"] == len(evens) == result.data["succeeded"]
    assert {no for _, no in keys if tasks.get("A", no).status == TaskStatus.SUCCEEDED} == evens
    assert "re-drove 3 dead tasks (task_code:A)" in run.lines
    tasks.drainer(drainer_ctx(shard_index=1, shard_total=2, param="redrive=all", clock=fake_clock).ctx)
    assert all(tasks.get("A", no).status == TaskStatus.SUCCEEDED for _, no in keys)


def test_purge_deletes_finished_rows_past_retention(tasks: RetryTasks, failing, fake_clock: FakeClock) -> None:
    failing["A"] = True
    tasks.enqueue("A", "old-ok", {})
    tasks.drain()
    tasks.enqueue("A", "old-failed", {})
    tasks.fail("A", "old-failed", "refused")
    _make_dead(tasks, ("B", "old-dead"))
    tasks.enqueue("B", "still-pending", {}, run_at=fake_clock.now_ms() + 100 * DAY_MS)
    fake_clock.advance(8 * DAY_MS)
    tasks.enqueue("A", "new-ok", {})
    tasks.drain()
    assert tasks.purge(7) == 2
    assert tasks.get("A", "old-ok") is None and tasks.get("A", "old-failed") is None
    assert tasks.get("B", "old-dead").status == TaskStatus.DEAD  # kept for an operator by default
    assert tasks.get("A", "new-ok").status == TaskStatus.SUCCEEDED
    assert tasks.get("B", "still-pending").status == TaskStatus.PENDING
    assert tasks.purge(7, include_dead=True) == 1
    assert tasks.get("B", "old-dead") is None
    assert tasks.purge(0) == 0  # finished this very millisecond: not older than the cutoff
    fake_clock.advance(1)
    assert tasks.purge(0) == 1 and tasks.get("A", "new-ok") is None
    with pytest.raises(ValueError):
        tasks.purge(-1)


def test_purge_works_in_chunks(tasks: RetryTasks, fake_clock: FakeClock, monkeypatch) -> None:
    from shardcron.executor.retry_tasks import maintenance

    monkeypatch.setattr(maintenance, "PURGE_CHUNK", 3)
    tasks.handler("A")(lambda task: None)
    for i in range(10):
        tasks.enqueue("A", str(i), {})
    tasks.drain()
    fake_clock.advance(2 * DAY_MS)
    assert tasks.purge(1) == 10
    assert tasks.stats() == []


def test_stats_by_code_and_status(tasks: RetryTasks, failing, fake_clock: FakeClock) -> None:
    failing["A"] = True
    for i in range(3):
        tasks.enqueue("A", str(i), {})
    tasks.drain()
    _make_dead(tasks, ("B", "dead"))
    start = fake_clock.now_ms()
    tasks.enqueue("B", "due", {})
    fake_clock.advance(5_000)
    tasks.enqueue("B", "later", {}, run_at=fake_clock.now_ms() + 60_000)
    rows = {(r.task_code, r.status.value): r for r in tasks.stats()}
    assert set(rows) == {("A", "SUCCEEDED"), ("B", "DEAD"), ("B", "PENDING")}
    assert rows[("A", "SUCCEEDED")].count == 3
    pending = rows[("B", "PENDING")]
    assert (pending.count, pending.due, pending.leased, pending.oldest_due_at_ms) == (2, 1, 0, start)
