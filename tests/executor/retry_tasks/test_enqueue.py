"""Enqueue: idempotent on (task_code, request_no), also concurrently; atomic with the caller's
transaction (outbox); and clear errors for unusable arguments."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.clock import FakeClock, ms_to_datetime
from shardcron.executor.retry_tasks import RetryTasks, TaskInputError, TaskStatus, retry_task
from tests.support.retry_tasks import status_counts

business = sa.MetaData()
orders = sa.Table("test_order", business, sa.Column("id", sa.Integer, primary_key=True), sa.Column("request_no", sa.String(64), nullable=False))


def test_enqueue_records_a_due_pending_task(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    record = tasks.enqueue("SEND_SMS", "R-1", {"phone": "+4930123", "text": "hi", "biz": {"order": 7}}, max_attempts=3)
    assert record.created is True
    assert (record.task_code, record.request_no, record.status) == ("SEND_SMS", "R-1", TaskStatus.PENDING)
    assert record.payload == {"phone": "+4930123", "text": "hi", "biz": {"order": 7}}
    assert (record.attempts, record.max_attempts) == (0, 3)
    assert record.next_attempt_at_ms == record.created_at_ms == fake_clock.now_ms()
    assert record.lease_owner is None and record.stages_done == {} and record.last_error is None


def test_second_enqueue_returns_the_existing_task(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    first = tasks.enqueue("SEND_SMS", "R-1", {"text": "first"})
    fake_clock.advance(5_000)
    second = tasks.enqueue("SEND_SMS", "R-1", {"text": "second"}, max_attempts=99)
    assert second.created is False
    assert second.id == first.id
    assert second.payload == {"text": "first"} and second.max_attempts == first.max_attempts
    other_code = tasks.enqueue("SEND_MAIL", "R-1", {})
    assert other_code.created is True and other_code.id != first.id
    assert status_counts(tasks.engine) == {"PENDING": 2}


def test_concurrent_enqueues_of_one_key_make_one_task(tasks: RetryTasks) -> None:
    start = threading.Barrier(8)
    results = []
    errors = []

    def producer(n: int) -> None:
        try:
            start.wait(30)
            results.append(tasks.enqueue("CLASSROOM_COPY", "R-42", {"from": n}))
        except Exception as exc:  # collected: the assertion below shows it
            errors.append(exc)

    threads = [threading.Thread(target=producer, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert len(results) == 8
    assert len({r.id for r in results}) == 1
    assert sum(r.created for r in results) == 1
    assert status_counts(tasks.engine) == {"PENDING": 1}


def test_outbox_rollback_leaves_no_task(tasks: RetryTasks) -> None:
    business.create_all(tasks.engine)
    with pytest.raises(RuntimeError, match="payment refused"):
        with Session(tasks.engine) as session, session.begin():
            session.execute(orders.insert().values(id=1, request_no="R-9"))
            record = tasks.enqueue("NOTIFY", "R-9", {"order": 1}, session=session)
            assert record.created  # visible inside the transaction
            raise RuntimeError("payment refused")
    assert tasks.get("NOTIFY", "R-9") is None
    with tasks.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(orders)).scalar_one() == 0


def test_outbox_commit_writes_both(tasks: RetryTasks) -> None:
    business.create_all(tasks.engine)
    with tasks.engine.begin() as conn:  # a Core connection works as well as a Session
        conn.execute(orders.insert().values(id=2, request_no="R-10"))
        tasks.enqueue("NOTIFY", "R-10", {"order": 2}, session=conn)
    assert tasks.get("NOTIFY", "R-10").status == TaskStatus.PENDING
    with tasks.engine.connect() as conn:
        assert conn.execute(sa.select(orders.c.request_no)).scalars().all() == ["R-10"]


def test_enqueue_waits_for_an_open_transaction_with_the_same_key(tasks: RetryTasks) -> None:
    """A second producer of the same request number sees the first one's row once it commits."""
    outcome = {}
    with Session(tasks.engine) as session, session.begin():
        first = tasks.enqueue("NOTIFY", "R-11", {"by": "first"}, session=session)

        def second_producer() -> None:
            outcome["record"] = tasks.enqueue("NOTIFY", "R-11", {"by": "second"})

        thread = threading.Thread(target=second_producer)
        thread.start()
    thread.join(60)
    assert outcome["record"].id == first.id
    assert outcome["record"].created is False and outcome["record"].payload == {"by": "first"}


def test_run_at_delays_the_first_attempt(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    ran = []
    tasks.handler("LATER")(ran.append)
    at = ms_to_datetime(fake_clock.now_ms()) + timedelta(minutes=5)
    tasks.enqueue("LATER", "R-1", {}, run_at=at)
    tasks.enqueue("LATER", "R-2", {}, run_at=fake_clock.now_ms() + 60_000)
    assert tasks.drain().claimed == 0
    fake_clock.advance(60_000)
    assert tasks.drain().succeeded == 1
    fake_clock.advance(240_000)
    assert tasks.drain().succeeded == 1
    assert [t.request_no for t in ran] == ["R-2", "R-1"]


@pytest.mark.parametrize(
    ("args", "kwargs", "field"),
    [
        (("", "R", {}), {}, "task_code"),
        ((" A", "R", {}), {}, "task_code"),
        (("A" * 65, "R", {}), {}, "task_code"),
        (("A", "  ", {}), {}, "request_no"),
        (("A", "R" * 129, {}), {}, "request_no"),
        (("A", "R", ["not", "an", "object"]), {}, "payload"),
        (("A", "R", {"when": datetime(2026, 1, 1)}), {}, "payload"),
        (("A", "R", {"blob": "x" * 70_000}), {}, "payload"),
        (("A", "R", {}), {"max_attempts": 0}, "max_attempts"),
        (("A", "R", {}), {"max_attempts": True}, "max_attempts"),
        (("A", "R", {}), {"run_at": datetime(2026, 1, 1)}, "run_at"),
        (("A", "R", {}), {"run_at": -5}, "run_at"),
        (("A", "R", {}), {"stages": "redis"}, "stages"),
        (("A", "R", {}), {"stages": ["ok", ""]}, "stages"),
    ],
)
def test_bad_arguments_are_refused_and_nothing_is_written(tasks: RetryTasks, args: tuple, kwargs: dict, field: str) -> None:
    with pytest.raises(TaskInputError) as err:
        tasks.enqueue(*args, **kwargs)
    assert err.value.field == field
    assert str(err.value).startswith(f"invalid {field} ")
    with tasks.engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(retry_task)).scalar_one() == 0


def test_aware_datetimes_in_any_zone(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    berlin = timezone(timedelta(hours=1))
    at = ms_to_datetime(fake_clock.now_ms() + 3_600_000).astimezone(berlin)
    assert tasks.enqueue("A", "R", {}, run_at=at).next_attempt_at_ms == fake_clock.now_ms() + 3_600_000


def test_reads_do_not_wait_for_a_writer_on_sqlite(sqlite_url: str, fake_clock: FakeClock) -> None:
    tasks = RetryTasks(sqlite_url, clock=fake_clock)
    tasks.create_table()
    try:
        tasks.enqueue("A", "R", {})
        with tasks.engine.begin() as writer:  # holds SQLite's write lock (BEGIN IMMEDIATE)
            writer.execute(retry_task.update().values(attempts=3))
            assert tasks.get("A", "R").attempts == 0  # the committed row, at once
            assert [row.count for row in tasks.stats()] == [1]
        assert tasks.get("A", "R").attempts == 3
    finally:
        tasks.close()
