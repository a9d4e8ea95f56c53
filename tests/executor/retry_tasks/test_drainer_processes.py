"""Drainers in real processes: four of them on MariaDB (and on PostgreSQL) while the shard count keeps changing
(every task executed exactly once, none left behind), a drainer SIGKILLed mid-batch (its
leased rows are picked up after the lease), and a handler that kills its own process on every
call (the task ends DEAD after exactly max_attempts calls, each told its attempt)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import sqlalchemy as sa

from shardcron.core.clock import FakeClock, SystemClock
from shardcron.executor.retry_tasks import RetryTasks, TaskStatus, retry_task
from tests.support.net import wait_until
from tests.support.retry_tasks import executions_per_task, insert_due, row, side_metadata, status_counts

ROOT = Path(__file__).resolve().parents[3]
TASKS = 1_500


def _spawn(url: str, worker: str, mode: str, **extra: object) -> subprocess.Popen:
    argv = [sys.executable, "-m", "tests.support.retry_drainer_process", "--url", url, "--worker", worker, "--mode", mode]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _prepare(url: str, count: int, max_attempts: int = 5) -> tuple[RetryTasks, list[int]]:
    tasks = RetryTasks(url)
    tasks.create_table()
    side_metadata.create_all(tasks.engine)
    return tasks, insert_due(tasks.engine, count, max_attempts=max_attempts)


def _leased(engine: sa.Engine, owner_like: str) -> list[sa.Row]:
    with engine.connect() as conn:
        return list(conn.execute(sa.select(retry_task.c.id, retry_task.c.lease_until_ms).where(retry_task.c.lease_owner.like(owner_like))).all())


def _finish(proc: subprocess.Popen, timeout_s: float = 240) -> None:
    out, err = proc.communicate(timeout=timeout_s)
    assert proc.returncode == 0, err[-3000:]


def test_four_drainers_with_changing_shard_counts_run_each_task_exactly_once(server_url: str) -> None:
    tasks, ids = _prepare(server_url, TASKS)
    try:
        procs = [_spawn(server_url, f"w{p}", "cycle", offset=p) for p in range(3)]
        # The fourth executor joins the group while the others are at work.
        wait_until(lambda: status_counts(tasks.engine).get("SUCCEEDED", 0) >= TASKS // 10, timeout_s=180, what="first tasks done")
        procs.append(_spawn(server_url, "w3", "cycle", offset=3))
        for proc in procs:
            _finish(proc)
        executions = executions_per_task(tasks.engine)
        assert status_counts(tasks.engine) == {"SUCCEEDED": TASKS}, "tasks left behind"
        duplicates = {task_id: n for task_id, n in executions.items() if n != 1}
        assert duplicates == {}, f"executed more than once: {list(duplicates.items())[:10]}"
        assert sorted(executions) == ids
        with tasks.engine.connect() as conn:
            attempts = set(conn.execute(sa.select(retry_task.c.attempts).distinct()).scalars())
            workers = set(conn.execute(sa.text("SELECT DISTINCT worker FROM test_side_effect")).scalars())
        assert attempts == {1}
        assert len(workers) >= 2, workers
    finally:
        tasks.close()


def test_rows_of_a_killed_drainer_are_picked_up_after_the_lease(db_url: str) -> None:
    tasks, ids = _prepare(db_url, 30)
    victim = _spawn(db_url, "victim", "block", lease_s=30)
    try:
        wait_until(lambda: executions_per_task(tasks.engine) != {}, timeout_s=120, what="the victim to start its batch")
        # On PostgreSQL a batch still running after the first flush interval goes over to leases.
        wait_until(lambda: len(_leased(tasks.engine, "victim/%")) == 10, timeout_s=60, what="the victim's leases")
        leased = _leased(tasks.engine, "victim/%")
        os.kill(victim.pid, signal.SIGKILL)
        victim.wait(60)
    finally:
        if victim.poll() is None:
            victim.kill()
            victim.wait(60)
    lease_end = max(until for _, until in leased)
    clock = FakeClock(start_ms=SystemClock().now_ms())
    survivor = RetryTasks(db_url, clock=clock, owner="survivor")
    try:
        survivor.handler("WORK")(lambda task: "picked up")
        first = survivor.drain()
        assert (first.claimed, first.succeeded) == (20, 20)  # everything except the leased rows
        clock.set(max(clock.now_ms(), lease_end))
        second = survivor.drain()
        assert (second.claimed, second.succeeded, second.lease_expired) == (10, 10, 10)
        assert status_counts(tasks.engine) == {TaskStatus.SUCCEEDED.value: 30}
        for task_id, _ in leased:
            record = row(tasks.engine, task_id)
            # The victim's claim counted an attempt on each of its rows, started or not.
            assert (record.result, record.attempts, record.lease_owner) == ('"picked up"', 2, None)
            assert record.last_error.startswith("attempt 1 of 5 crashed or stalled: its lease (held by victim/"), record.last_error
    finally:
        survivor.close()
        tasks.close()


def test_a_handler_that_kills_its_process_ends_dead_after_max_attempts(db_url: str) -> None:
    """The handler commits a record of its call, then `os._exit(1)`: no outcome, no release.
    A supervisor (this test) starts the drainer process again after every crash; each claim
    counts an attempt, so the task is run exactly max_attempts times, told 1..max in order, and
    the claim after the last crash makes it DEAD instead of running it again."""
    max_attempts = 3
    tasks, (task_id,) = _prepare(db_url, 1, max_attempts=max_attempts)
    exits: list[int] = []
    out = ""
    try:
        # Bounded: one start per attempt plus the one that finds the task out of attempts
        # (and two spare, so a task that is run too often shows as a failed assertion).
        for start in range(max_attempts + 3):
            proc = _spawn(db_url, f"run{start}", "crash", lease_s=1)
            try:
                out, err = proc.communicate(timeout=120)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.wait(60)
            exits.append(proc.returncode)
            assert proc.returncode in (0, 1), err[-3000:]
            if proc.returncode == 0:
                break
        with tasks.engine.connect() as conn:
            calls = conn.execute(sa.text("SELECT worker, attempt, last_attempt FROM test_side_effect ORDER BY seq")).all()
        assert exits == [1] * max_attempts + [0]
        assert [(worker, attempt, bool(last)) for worker, attempt, last in calls] == [
            ("run0", 1, False),
            ("run1", 2, False),
            ("run2", 3, True),
        ]
        record = row(tasks.engine, task_id)
        assert (record.status, record.attempts, record.lease_owner, record.lease_until_ms) == (TaskStatus.DEAD.value, max_attempts, None, 0)
        assert record.finished_at_ms is not None
        assert record.last_error.startswith("attempt 3 of 3 crashed or stalled: its lease (held by run2/"), record.last_error
        assert record.last_error.endswith("expired before an outcome was written; no attempts left"), record.last_error
        # The last start ran nothing: its claim found the task out of attempts.
        assert "claimed 1, succeeded 0, retried 0, dead 1, lease expired 1" in out, out
    finally:
        tasks.close()
