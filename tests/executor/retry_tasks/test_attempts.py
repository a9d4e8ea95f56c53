"""When an attempt counts: at its claim. Outcomes do not count again, a release gives the
attempt back, an attempt whose drainer died (its lease expired with no outcome) has counted, and
a row with no attempt left is made DEAD by the claim instead of being run again."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.core.clock import FakeClock
from shardcron.executor.context import JobCancelled
from shardcron.executor.retry_tasks import RedriveScope, RetryTasks, TaskStatus, retry_task
from shardcron.executor.retry_tasks.store import Outcome, OutcomeKind, TaskStore
from tests.support.retry_tasks import drainer_ctx

LEASE_MS = 60_000


def _claim(store: TaskStore, token: str, now_ms: int):
    return store.claim(token=token, shard_index=0, shard_total=1, limit=10, now_ms=now_ms, lease_until_ms=now_ms + LEASE_MS)


def test_the_claim_counts_the_attempt_and_outcomes_do_not_count_again(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    store = TaskStore(tasks.db)
    task_id = tasks.enqueue("T", "1", {}, max_attempts=3).id
    now = fake_clock.now_ms()
    first = _claim(store, "d/1", now)
    assert [(row.id, row.attempt, row.max_attempts, row.lapsed_owner) for row in first.rows] == [(task_id, 1, 3, None)]
    record = tasks.get("T", "1")
    assert (record.attempts, record.lease_owner, record.next_attempt_at_ms) == (1, "d/1", now + LEASE_MS)
    # Renewals and stage records under the lease leave the count alone.
    assert store.renew("d/1", [task_id], now + 2 * LEASE_MS, now) == 1
    assert store.record_stages("d/1", task_id, '{"a":1}', now) is True
    assert tasks.get("T", "1").attempts == 1
    written = store.write_outcomes("d/1", [Outcome(task_id, OutcomeKind.RETRY, error="boom", next_attempt_at_ms=now)], now)
    assert written.retried == 1
    record = tasks.get("T", "1")
    assert (record.attempts, record.lease_owner, record.last_error) == (1, None, "boom")
    second = _claim(store, "d/2", now)
    assert [row.attempt for row in second.rows] == [2]
    store.write_outcomes("d/2", [Outcome(task_id, OutcomeKind.SUCCEEDED, result_json='"ok"')], now)
    record = tasks.get("T", "1")
    assert (record.status, record.attempts, record.result) == (TaskStatus.SUCCEEDED, 2, "ok")


def test_a_dead_outcome_keeps_the_count(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    store = TaskStore(tasks.db)
    task_id = tasks.enqueue("T", "1", {}, max_attempts=3).id
    _claim(store, "d/1", fake_clock.now_ms())
    store.write_outcomes("d/1", [Outcome(task_id, OutcomeKind.DEAD, error="GiveUp: no")], fake_clock.now_ms())
    record = tasks.get("T", "1")
    assert (record.status, record.attempts) == (TaskStatus.DEAD, 1)


def test_release_gives_the_attempt_back(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    store = TaskStore(tasks.db)
    task_id = tasks.enqueue("T", "1", {}, max_attempts=3).id
    now = fake_clock.now_ms()
    _claim(store, "d/1", now)
    store.write_outcomes("d/1", [Outcome(task_id, OutcomeKind.RETRY, error="boom", next_attempt_at_ms=now)], now)
    assert [row.attempt for row in _claim(store, "d/2", now).rows] == [2]
    assert store.release("d/2", [task_id], now) == 1
    record = tasks.get("T", "1")
    assert (record.attempts, record.lease_owner, record.lease_until_ms, record.next_attempt_at_ms) == (1, None, 0, now)
    # Not ours any more: a second release (or one by another token) gives nothing back.
    assert store.release("d/2", [task_id], now) == 0
    assert tasks.get("T", "1").attempts == 1
    assert [row.attempt for row in _claim(store, "d/3", now).rows] == [2]


def test_a_crashed_attempt_with_attempts_left_runs_again_when_its_lease_expires(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    """No backoff on top of the lease: the row is due at the end of the lease it died with."""
    store = TaskStore(tasks.db)
    seen: list[tuple[int, bool]] = []

    @tasks.handler("T")
    def handler(task):
        seen.append((task.attempt, task.is_last_attempt))
        return "done"

    tasks.enqueue("T", "1", {}, max_attempts=3)
    start = fake_clock.now_ms()
    _claim(store, "gone/1", start)  # a drainer claims it and dies
    fake_clock.set(start + LEASE_MS - 1)
    assert tasks.drain().claimed == 0  # still leased
    fake_clock.set(start + LEASE_MS)
    run = drainer_ctx(clock=fake_clock)
    result = tasks.drainer(run.ctx)
    assert seen == [(2, False)]
    assert (result.data["claimed"], result.data["succeeded"], result.data["lease_expired"]) == (1, 1, 1)
    assert "lease expired 1" in result.msg
    assert any("task 1 T/1: attempt 1/3 crashed or stalled (lease of gone/1 expired); running attempt 2" in line for line in run.lines), run.lines
    record = tasks.get("T", "1")
    assert (record.status, record.attempts, record.result) == (TaskStatus.SUCCEEDED, 2, "done")
    # The lapse stays visible after the success, like any earlier error.
    assert record.last_error == "attempt 1 of 3 crashed or stalled: its lease (held by gone/1) expired before an outcome was written"


def test_a_crashed_last_attempt_is_made_dead_by_the_claim_and_not_run(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    store = TaskStore(tasks.db)
    calls = []
    tasks.handler("T")(lambda task: calls.append(task.attempt))
    other = tasks.enqueue("T", "other", {}, max_attempts=2, run_at=fake_clock.now_ms() + 10 * LEASE_MS)
    task_id = tasks.enqueue("T", "1", {}, max_attempts=2).id
    start = fake_clock.now_ms()
    _claim(store, "gone/1", start)
    fake_clock.set(start + LEASE_MS)
    second = _claim(store, "gone/2", fake_clock.now_ms())  # attempt 2 of 2, and that drainer dies too
    assert [(row.attempt, row.lapsed_owner) for row in second.rows] == [(2, "gone/1")]
    fake_clock.set(start + 2 * LEASE_MS)
    run = drainer_ctx(clock=fake_clock)
    result = tasks.drainer(run.ctx)
    assert calls == []
    assert {k: result.data[k] for k in ("claimed", "succeeded", "retried", "dead", "lease_expired")} == {
        "claimed": 1, "succeeded": 0, "retried": 0, "dead": 1, "lease_expired": 1,
    }
    error = "attempt 2 of 2 crashed or stalled: its lease (held by gone/2) expired before an outcome was written; no attempts left"
    assert any(line.endswith(f"T/1: DEAD, not run again: {error}") for line in run.lines), run.lines
    record = tasks.get("T", "1")
    assert (record.id, record.status, record.attempts, record.last_error) == (task_id, TaskStatus.DEAD, 2, error)
    assert (record.lease_owner, record.lease_until_ms, record.finished_at_ms) == (None, 0, fake_clock.now_ms())
    assert tasks.get("T", "other").status == TaskStatus.PENDING and tasks.get("T", "other").id == other.id
    # Re-drive gives it a fresh set of attempts; the handler is then told attempt 1.
    assert tasks.redrive(RedriveScope("request_no", "1")) == 1
    assert tasks.drain().succeeded == 1
    assert calls == [1]


def test_the_claim_reports_rows_it_made_dead(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    store = TaskStore(tasks.db)
    task_id = tasks.enqueue("T", "1", {}, max_attempts=1).id
    start = fake_clock.now_ms()
    _claim(store, "gone/1", start)
    fake_clock.set(start + LEASE_MS)
    claim = _claim(store, "d/2", fake_clock.now_ms())
    assert (claim.rows, claim.contended, claim.empty, claim.lapsed) == ([], False, False, 1)
    assert [(r.id, r.attempts, r.max_attempts, r.lapsed_owner) for r in claim.exhausted] == [(task_id, 1, 1, "gone/1")]
    assert _claim(store, "d/3", fake_clock.now_ms()).empty  # DEAD now: nothing due


def test_a_pending_row_edited_past_its_attempts_is_dead_without_a_lease_story(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    """Only a hand edit makes an unleased PENDING row with attempts >= max_attempts; it is not
    run past its maximum either, and its error does not claim a crash."""
    calls = []
    tasks.handler("T")(lambda task: calls.append(task.attempt))
    task_id = tasks.enqueue("T", "1", {}, max_attempts=5).id
    with tasks.engine.begin() as conn:
        conn.execute(sa.update(retry_task).where(retry_task.c.id == task_id).values(attempts=4, max_attempts=3))
    report = tasks.drain()
    assert (report.claimed, report.dead, report.lease_expired, calls) == (1, 1, 0, [])
    record = tasks.get("T", "1")
    assert (record.status, record.attempts, record.last_error) == (TaskStatus.DEAD, 4, "no attempts left (4 of 3 used)")


def test_handlers_are_told_each_claims_attempt_with_failures_and_crashes_mixed(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    store = TaskStore(tasks.db)
    seen: list[tuple[int, int, bool]] = []

    @tasks.handler("T")
    def handler(task):
        seen.append((task.attempt, task.max_attempts, task.is_last_attempt))
        raise RuntimeError(f"failure {task.attempt}")

    tasks.enqueue("T", "1", {}, max_attempts=4)
    assert tasks.drain().retried == 1  # attempt 1 fails: next after the backoff (10 s)
    fake_clock.advance(10_000)
    _claim(store, "gone/1", fake_clock.now_ms())  # attempt 2: its drainer dies
    fake_clock.advance(LEASE_MS)
    assert tasks.drain().retried == 1  # attempt 3 fails: backoff after the 3rd failure (40 s)
    fake_clock.advance(40_000)
    assert tasks.drain().dead == 1  # attempt 4 of 4 fails: DEAD
    assert seen == [(1, 4, False), (3, 4, False), (4, 4, True)]
    record = tasks.get("T", "1")
    assert (record.status, record.attempts, record.last_error) == (TaskStatus.DEAD, 4, "RuntimeError: failure 4")


def test_a_cancelled_run_gives_back_the_attempts_of_rows_it_never_started(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    """A clean stop costs no attempt: also on rows already on a later attempt."""
    run = drainer_ctx(param="batch=10 concurrency=1", clock=fake_clock)
    store = TaskStore(tasks.db)

    @tasks.handler("C")
    def handler(task):
        run.ctx.cancel("shutting down")

    for i in range(3):
        tasks.enqueue("C", f"r{i}", {}, max_attempts=5)
    now = fake_clock.now_ms()
    claimed = _claim(store, "earlier/1", now)
    store.write_outcomes("earlier/1", [Outcome(row.id, OutcomeKind.RETRY, error="x", next_attempt_at_ms=now) for row in claimed.rows], now)
    with pytest.raises(JobCancelled, match="shutting down"):
        tasks.drainer(run.ctx)
    assert (run.ctx.result_data["claimed"], run.ctx.result_data["released"]) == (3, 2)
    attempts = sorted(tasks.get("C", f"r{i}").attempts for i in range(3))
    assert attempts == [1, 1, 2]  # two released (back to 1), one ran its attempt 2
