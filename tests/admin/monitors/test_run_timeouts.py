"""Timeouts: RUNNING past timeout_s + grace -> FAILED 502 and the executor told to kill the job."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shardcron.admin.enums import FollowupStatus, RunStatus
from shardcron.admin.monitors.run_timeouts import RunTimeouts
from shardcron.admin.transport.executor_client import ExecutorClient
from tests.support.recording_executor import RecordingExecutor
from tests.support.run_rows import T0, add_group, add_job, add_run, register, run_row

TOKEN = "monitor-token-0123456789"


@pytest.fixture
def executor() -> Iterator[RecordingExecutor]:
    stub = RecordingExecutor().start()
    yield stub
    stub.stop()


@pytest.fixture
def client() -> Iterator[ExecutorClient]:
    c = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    yield c
    c.close()


def test_overdue_run_fails_with_502_and_is_killed(db, fake_clock, executor, client) -> None:
    group = add_group(db, "billing")
    job = add_job(db, group, timeout_s=60)
    register(db, "billing", executor.address, T0 + 60_000)  # live at the time of the check
    run = add_run(db, job, executor_address=executor.address, trigger_at_ms=T0)
    untimed = add_run(db, add_job(db, group, name="no-timeout"), executor_address=executor.address, trigger_at_ms=T0)
    monitor = RunTimeouts(db, "node-a", client, grace_s=30)
    monitor.tick(T0 + 90_000)  # exactly timeout + grace: not yet
    assert run_row(db, run).status == RunStatus.RUNNING
    assert executor.calls == []
    monitor.tick(T0 + 90_001)
    row = run_row(db, run)
    assert (row.status, row.handle_code, row.handle_at_ms, row.followup_status) == (RunStatus.FAILED, 502, T0 + 90_001, FollowupStatus.PENDING)
    assert row.handle_msg == "timed out: still running 90 s after its trigger (job timeout 60 s + 30 s grace); the executor was told to kill it"
    assert executor.calls == [("/kill", {"jobId": job}, TOKEN)]
    assert run_row(db, untimed).status == RunStatus.RUNNING  # jobs without a timeout are never timed out
    monitor.tick(T0 + 200_000)
    assert len(executor.calls) == 1  # a finished run is not killed twice


def test_finished_runs_and_runs_within_time_are_left_alone(db, fake_clock, executor, client) -> None:
    job = add_job(db, add_group(db, "billing"), timeout_s=10)
    done = add_run(db, job, status=RunStatus.SUCCESS, handle_code=200, executor_address=executor.address)
    recent = add_run(db, job, executor_address=executor.address, trigger_at_ms=T0 + 60_000)
    RunTimeouts(db, "node-a", client, grace_s=5).tick(T0 + 70_000)
    assert run_row(db, done).status == RunStatus.SUCCESS
    assert run_row(db, recent).status == RunStatus.RUNNING


def test_no_kill_for_dead_executors_or_when_a_newer_run_of_the_job_runs_there(db, fake_clock, executor, client) -> None:
    group = add_group(db, "billing")
    job = add_job(db, group, timeout_s=10)
    dead_address = "http://127.0.0.1:9"  # never registered: not an executor of the group
    on_dead = add_run(db, job, executor_address=dead_address)
    register(db, "billing", executor.address, T0 + 60_000)
    old = add_run(db, job, executor_address=executor.address)
    add_run(db, job, executor_address=executor.address, trigger_at_ms=T0 + 55_000)  # newer, within its time
    RunTimeouts(db, "node-a", client, grace_s=0).tick(T0 + 60_000)
    assert run_row(db, on_dead).status == RunStatus.FAILED
    assert run_row(db, old).status == RunStatus.FAILED
    assert run_row(db, old).handle_msg.endswith("no kill sent (its executor is not live, or runs a newer run of the job)")
    assert executor.calls == []


def test_unknown_runs_are_not_timed_out_and_count_as_possibly_running(db, fake_clock, executor, client) -> None:
    """An UNKNOWN run is never failed as timed out (a retry would run it again, and its alarm
    went out); a newer one may be running on the executor, so the older run's kill is held back."""
    group = add_group(db, "billing")
    job = add_job(db, group, timeout_s=10)
    register(db, "billing", executor.address, T0 + 60_000)
    old = add_run(db, job, executor_address=executor.address)
    unknown = add_run(db, job, status=RunStatus.UNKNOWN, trigger_code=0, executor_address=executor.address, trigger_at_ms=T0 + 1_000)
    RunTimeouts(db, "node-a", client, grace_s=0).tick(T0 + 60_000)
    assert run_row(db, unknown).status == RunStatus.UNKNOWN
    assert run_row(db, old).status == RunStatus.FAILED
    assert run_row(db, old).handle_msg.endswith("no kill sent (its executor is not live, or runs a newer run of the job)")
    assert executor.calls == []
