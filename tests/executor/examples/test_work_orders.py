"""The work-orders recipe on the fake clock: backoff while nobody is on shift (not scheduled yet,
cleared, day off), delivery to the first person on shift, and nothing after that."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from shardcron.core.clock import FakeClock
from shardcron.executor.examples.roster import Duty, ShiftState, Vacancy
from shardcron.executor.examples.work_orders import TASK_CODE, WorkOrders, WorkOrderSettings, period_of, run_demo
from shardcron.executor.retry_tasks import Backoff, RetryTasks, TaskStatus

MORNING_MS = int(datetime(2026, 12, 7, 6, 0, tzinfo=UTC).timestamp() * 1000)
MINUTE_MS = 60_000


@pytest.fixture
def orders(db_url: str, fake_clock: FakeClock) -> Iterator[WorkOrders]:
    fake_clock.set(MORNING_MS)
    tasks = RetryTasks(db_url, clock=fake_clock, owner="work-orders-test")
    app = WorkOrders(tasks, WorkOrderSettings(sites=("dock", "roof"), backoff=Backoff(base_s=60, factor=2, cap_s=900, jitter=0)))
    app.create_tables()
    try:
        yield app
    finally:
        tasks.close()


def test_roster_says_why_nobody_is_on_shift(orders: WorkOrders) -> None:
    roster = orders.roster
    hour = 60 * MINUTE_MS
    assert roster.on_shift("maintenance", MORNING_MS) == Duty(None, Vacancy.NOT_SCHEDULED)
    bob = roster.add_shift("maintenance", "bob", MORNING_MS, MORNING_MS + 8 * hour)
    assert roster.on_shift("maintenance", MORNING_MS) == Duty("bob")
    roster.set_state(bob, ShiftState.CLEARED)
    assert roster.on_shift("maintenance", MORNING_MS) == Duty(None, Vacancy.CLEARED)
    roster.add_shift("maintenance", "alice", MORNING_MS, MORNING_MS + 8 * hour, ShiftState.DAY_OFF)
    assert roster.on_shift("maintenance", MORNING_MS) == Duty(None, Vacancy.DAY_OFF)
    roster.add_shift("maintenance", "carol", MORNING_MS + hour, MORNING_MS + 9 * hour)
    assert roster.on_shift("maintenance", MORNING_MS + hour) == Duty("carol")
    assert roster.on_shift("maintenance", MORNING_MS + 9 * hour) == Duty(None, Vacancy.NOT_SCHEDULED)  # the end is exclusive
    assert roster.on_shift("cleaning", MORNING_MS + hour) == Duty(None, Vacancy.NOT_SCHEDULED)
    with pytest.raises(ValueError, match="ends"):
        roster.add_shift("maintenance", "dave", MORNING_MS, MORNING_MS)


def test_orders_are_retried_with_backoff_until_someone_is_on_shift_then_never_again(orders: WorkOrders, fake_clock: FakeClock) -> None:
    created = orders.create_orders(period_of(fake_clock.now_ms()))
    assert created == ["WO-2026-12-07-dock", "WO-2026-12-07-roof"]
    assert orders.create_orders(period_of(fake_clock.now_ms() + MINUTE_MS)) == []  # a second fire: nothing new
    dock = orders.roster.add_shift("maintenance", "dave", MORNING_MS + 2 * MINUTE_MS, MORNING_MS + 600 * MINUTE_MS)
    orders.roster.set_state(dock, ShiftState.CLEARED)
    orders.roster.add_shift("maintenance", "erin", MORNING_MS + 20 * MINUTE_MS, MORNING_MS + 600 * MINUTE_MS)

    attempts_at: list[tuple[int, str]] = []
    for minute in range(0, 40):
        fake_clock.set(MORNING_MS + minute * MINUTE_MS)
        if orders.tasks.drain().claimed:
            record = orders.tasks.get(TASK_CODE, created[0])
            assert record is not None
            attempts_at.append((minute, record.last_error if record.status == TaskStatus.PENDING else f"to {record.result['assigned_to']}"))
    # Backoff 1, 2, 4, 8, then 15 min (the cap): attempts at 0, 1, 3, 7, 15 find nobody; at 30 Erin (on since 20).
    assert attempts_at == [
        (0, "NobodyOnShift: nobody on shift for maintenance: no shift scheduled yet (attempt 1)"),
        (1, "NobodyOnShift: nobody on shift for maintenance: no shift scheduled yet (attempt 2)"),
        (3, "NobodyOnShift: nobody on shift for maintenance: the shift was cleared (attempt 3)"),
        (7, "NobodyOnShift: nobody on shift for maintenance: the shift was cleared (attempt 4)"),
        (15, "NobodyOnShift: nobody on shift for maintenance: the shift was cleared (attempt 5)"),
        (30, "to erin"),
    ]
    assert orders.inbox_of("erin") == created
    assert {row.request_no: (row.assigned_to, row.delivered_at_ms) for row in orders.orders("2026-12-07")} == {
        no: ("erin", MORNING_MS + 30 * MINUTE_MS) for no in created
    }
    # Delivered: the tasks stop. Hours later the drainer claims nothing and nobody gets it twice.
    fake_clock.advance(s=6 * 3600)
    assert orders.tasks.drain().claimed == 0
    for no in created:
        record = orders.tasks.get(TASK_CODE, no)
        assert record is not None
        assert (record.status, record.attempts, record.stages_done) == (TaskStatus.SUCCEEDED, 6, {"deliver": "erin"})


def test_orders_and_their_tasks_commit_together(orders: WorkOrders, fake_clock: FakeClock) -> None:
    orders.tasks.engine.dispose()
    created = orders.create_orders("2026-12-08")
    assert all(orders.tasks.get(TASK_CODE, no) is not None for no in created)
    assert [row.request_no for row in orders.orders("2026-12-08")] == created


def test_run_demo_tells_the_morning(tmp_path) -> None:
    lines: list[str] = []
    final = run_demo(f"sqlite:///{tmp_path / 'demo.db'}", out=lines.append)
    assert set(final.values()) == {"carol"} and len(final) == 3
    assert lines[1] == "05:30 attempt 1: NobodyOnShift: nobody on shift for maintenance: no shift scheduled yet (attempt 1)"
    assert "06:00 attempt 3: NobodyOnShift: nobody on shift for maintenance: day off (attempt 3)" in lines
    assert "08:40 attempt 6: delivered to carol" in lines
    assert lines[-1] == "WO-2026-12-07-roof: SUCCEEDED after 6 attempt(s), in the inbox of carol"
