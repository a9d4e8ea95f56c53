"""complete / fail by an external callback, keyed by the request number."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from shardcron.core.clock import FakeClock
from shardcron.executor.retry_tasks import RetryTasks, TaskInputError, TaskNotFound, TaskStateConflict, TaskStatus


def test_complete_finishes_the_task_and_the_drainer_leaves_it_alone(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    polled = []
    tasks.handler("PAY_QUERY")(lambda task: polled.append(task.request_no))
    tasks.enqueue("PAY_QUERY", "PAY-1", {"amount": 5})
    fake_clock.advance(1_000)
    record = tasks.complete("PAY_QUERY", "PAY-1", {"state": "PAID", "txn": "T-9"})
    assert (record.status, record.result, record.finished_at_ms, record.attempts) == (TaskStatus.SUCCEEDED, {"state": "PAID", "txn": "T-9"}, fake_clock.now_ms(), 0)
    assert tasks.drain().claimed == 0
    assert polled == []


def test_completing_twice_is_harmless(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    tasks.enqueue("PAY_QUERY", "PAY-1", {})
    first = tasks.complete("PAY_QUERY", "PAY-1", {"state": "PAID"})
    fake_clock.advance(5_000)
    second = tasks.complete("PAY_QUERY", "PAY-1", {"state": "PAID", "again": True})
    assert second.status == TaskStatus.SUCCEEDED
    assert second.result == {"state": "PAID"}  # the first answer stands
    assert second.finished_at_ms == first.finished_at_ms


def test_unknown_request_number_is_a_clear_error(tasks: RetryTasks) -> None:
    tasks.enqueue("PAY_QUERY", "PAY-1", {})
    with pytest.raises(TaskNotFound) as err:
        tasks.complete("PAY_QUERY", "PAY-404", {"state": "PAID"})
    assert (err.value.task_code, err.value.request_no) == ("PAY_QUERY", "PAY-404")
    assert str(err.value) == "no retry task with task_code='PAY_QUERY' request_no='PAY-404'"
    with pytest.raises(TaskNotFound):
        tasks.fail("OTHER_CODE", "PAY-1", "refused")


def test_fail_is_final_and_keeps_the_reason(tasks: RetryTasks) -> None:
    tasks.enqueue("PAY_QUERY", "PAY-2", {})
    record = tasks.fail("PAY_QUERY", "PAY-2", "card declined")
    assert (record.status, record.last_error) == (TaskStatus.FAILED, "card declined")
    assert tasks.fail("PAY_QUERY", "PAY-2", "card declined again").last_error == "card declined"
    assert tasks.drain().claimed == 0


def test_contradicting_answers_are_refused(tasks: RetryTasks) -> None:
    tasks.enqueue("PAY_QUERY", "A", {})
    tasks.enqueue("PAY_QUERY", "B", {})
    tasks.complete("PAY_QUERY", "A")
    tasks.fail("PAY_QUERY", "B", "declined")
    with pytest.raises(TaskStateConflict, match="cannot fail retry task task_code='PAY_QUERY' request_no='A': it is already SUCCEEDED"):
        tasks.fail("PAY_QUERY", "A", "late refusal")
    with pytest.raises(TaskStateConflict, match="cannot complete .* it is already FAILED"):
        tasks.complete("PAY_QUERY", "B")
    assert tasks.get("PAY_QUERY", "A").status == TaskStatus.SUCCEEDED
    assert tasks.get("PAY_QUERY", "B").status == TaskStatus.FAILED


def test_a_late_answer_completes_a_dead_task(tasks: RetryTasks) -> None:
    @tasks.handler("PAY_QUERY")
    def poll(task):
        raise RuntimeError("no answer yet")

    tasks.enqueue("PAY_QUERY", "late", {}, max_attempts=1)
    tasks.drain()
    assert tasks.get("PAY_QUERY", "late").status == TaskStatus.DEAD
    record = tasks.complete("PAY_QUERY", "late", {"state": "PAID"})
    assert (record.status, record.last_error) == (TaskStatus.SUCCEEDED, "RuntimeError: no answer yet")


def test_complete_inside_the_callers_transaction(tasks: RetryTasks) -> None:
    tasks.enqueue("PAY_QUERY", "PAY-3", {})
    with pytest.raises(RuntimeError):
        with Session(tasks.engine) as session, session.begin():
            tasks.complete("PAY_QUERY", "PAY-3", {"state": "PAID"}, session=session)
            raise RuntimeError("the business update failed")
    assert tasks.get("PAY_QUERY", "PAY-3").status == TaskStatus.PENDING
    with Session(tasks.engine) as session, session.begin():
        tasks.complete("PAY_QUERY", "PAY-3", {"state": "PAID"}, session=session)
    assert tasks.get("PAY_QUERY", "PAY-3").status == TaskStatus.SUCCEEDED


@pytest.mark.parametrize(
    ("call", "field"),
    [
        (lambda t: t.complete("", "R"), "task_code"),
        (lambda t: t.complete("A", "R", {"x": object()}), "result"),
        (lambda t: t.fail("A", "R", "  "), "error"),
    ],
)
def test_bad_callback_arguments(tasks: RetryTasks, call, field: str) -> None:
    tasks.enqueue("A", "R", {})
    with pytest.raises(TaskInputError) as err:
        call(tasks)
    assert err.value.field == field
    assert tasks.get("A", "R").status == TaskStatus.PENDING
