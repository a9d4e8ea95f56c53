"""Backoff: the schedule (pure, and as the drainer applies it on a fake clock), jitter, cap."""

from __future__ import annotations

import random

import pytest

from shardcron.core.clock import FakeClock
from shardcron.executor.retry_tasks import Backoff, RetryTasks, TaskInputError, TaskStatus


def test_exponential_schedule_with_cap() -> None:
    backoff = Backoff(base_s=10, factor=2, cap_s=300, jitter=0)
    assert [backoff.nominal_delay_s(n) for n in range(1, 8)] == [10, 20, 40, 80, 160, 300, 300]
    assert backoff.nominal_delay_s(10_000) == 300  # no float overflow on absurd attempt counts
    assert Backoff(base_s=5, factor=1, cap_s=5, jitter=0).nominal_delay_s(50) == 5
    with pytest.raises(ValueError):
        backoff.nominal_delay_s(0)


def test_jitter_stays_within_its_band_and_under_the_cap() -> None:
    backoff = Backoff(base_s=100, factor=2, cap_s=1000, jitter=0.25)
    rng = random.Random(1)
    first = [backoff.delay_s(1, rng) for _ in range(500)]
    assert all(75 <= d <= 125 for d in first)
    assert max(first) - min(first) > 30  # it really spreads
    capped = [backoff.delay_s(20, rng) for _ in range(200)]
    assert all(750 <= d <= 1000 for d in capped)


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"base_s": -1}, "base_s"), ({"factor": 0.5}, "factor"), ({"base_s": 10, "cap_s": 5}, "cap_s"), ({"jitter": 1.0}, "jitter")],
)
def test_bad_backoff_names_the_field(kwargs: dict, field: str) -> None:
    with pytest.raises(TaskInputError, match=f"invalid backoff {field}"):
        Backoff(**kwargs)


def test_drainer_follows_the_schedule_on_a_fake_clock(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    """Each failure moves next_attempt_at_ms by the schedule; the row is not touched before then."""
    attempts_seen: list[tuple[int, int]] = []

    @tasks.handler("FLAKY")
    def flaky(task) -> None:
        attempts_seen.append((task.attempt, fake_clock.now_ms()))
        raise ConnectionError(f"gateway down on attempt {task.attempt}")

    record = tasks.enqueue("FLAKY", "R1", {"x": 1}, max_attempts=5)
    start = fake_clock.now_ms()
    expected_gaps_ms = [10_000, 20_000, 40_000, 80_000]
    for gap in expected_gaps_ms:
        tasks.drain()
        row = tasks.get("FLAKY", "R1")
        assert row.status == TaskStatus.PENDING
        assert row.next_attempt_at_ms == fake_clock.now_ms() + gap
        fake_clock.advance(gap - 1)
        assert tasks.drain().claimed == 0  # one millisecond early: not due
        fake_clock.advance(1)
    tasks.drain()
    final = tasks.get("FLAKY", "R1")
    assert final.status == TaskStatus.DEAD and final.attempts == 5
    assert final.last_error == "ConnectionError: gateway down on attempt 5"
    assert [a for a, _ in attempts_seen] == [1, 2, 3, 4, 5]
    assert [at - start for _, at in attempts_seen] == [0, 10_000, 30_000, 70_000, 150_000]
    assert record.id == final.id


def test_backoff_per_task_code(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    @tasks.handler("SLOW_PARTNER", backoff=Backoff(base_s=600, factor=3, cap_s=7200, jitter=0))
    def slow(task) -> None:
        raise RuntimeError("partner busy")

    @tasks.handler("DEFAULTED")
    def defaulted(task) -> None:
        raise RuntimeError("nope")

    tasks.enqueue("SLOW_PARTNER", "A", {})
    tasks.enqueue("DEFAULTED", "B", {})
    now = fake_clock.now_ms()
    tasks.drain()
    assert tasks.get("SLOW_PARTNER", "A").next_attempt_at_ms == now + 600_000
    assert tasks.get("DEFAULTED", "B").next_attempt_at_ms == now + 10_000
    fake_clock.advance(600_000)
    tasks.drain()
    assert tasks.get("SLOW_PARTNER", "A").next_attempt_at_ms == now + 600_000 + 1_800_000


def test_jittered_delays_land_in_the_band(db_url: str, fake_clock: FakeClock) -> None:
    tasks = RetryTasks(db_url, clock=fake_clock, default_backoff=Backoff(base_s=100, factor=2, cap_s=1000, jitter=0.5), rng=random.Random(3))
    tasks.create_table()
    try:

        @tasks.handler("J")
        def always_fails(task) -> None:
            raise RuntimeError("x")

        for i in range(40):
            tasks.enqueue("J", f"R{i}", {})
        now = fake_clock.now_ms()
        tasks.drain()
        delays = [tasks.get("J", f"R{i}").next_attempt_at_ms - now for i in range(40)]
        assert all(50_000 <= d <= 150_000 for d in delays)
        assert len(set(delays)) > 30  # spread, not one burst
    finally:
        tasks.close()
