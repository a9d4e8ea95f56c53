"""One worker per jobId and what a trigger does while its job is busy; /kill."""

from __future__ import annotations

import threading

import pytest

from shardcron.core.protocol import ResultCode
from tests.support.executor_calls import call, run
from tests.support.net import wait_until


class Gate:
    """A handler that records when each run starts and blocks until released (or cancelled)."""

    def __init__(self) -> None:
        self.started: list[int] = []
        self.finished: list[int] = []
        self.release = threading.Event()
        self._lock = threading.Lock()

    def __call__(self, ctx):
        with self._lock:
            self.started.append(ctx.log_id)
        # poll the two events (release by the test, cancel by the executor) with a deadline
        deadline = ctx.clock.monotonic() + 60
        while not self.release.is_set() and not ctx.wait(0.02):
            assert ctx.clock.monotonic() < deadline, "gate never released"
        ctx.check_cancelled()
        with self._lock:
            self.finished.append(ctx.log_id)
        return f"run {ctx.log_id} done"


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def executor(make_executor, gate):
    ex = make_executor(queue_limit=3)
    ex.job("gate")(gate)
    return ex.start()


def _wait_started(gate: Gate, log_id: int) -> None:
    wait_until(lambda: log_id in gate.started, what=f"run {log_id} started")


def test_serial_execution_runs_in_order_one_at_a_time(executor, fake_admin, gate) -> None:
    assert run(executor.port, 1, 10, handler="gate").ok
    _wait_started(gate, 10)
    for log_id in (11, 12, 13):
        assert run(executor.port, 1, log_id, handler="gate", executorBlockStrategy="SERIAL_EXECUTION").ok
    assert gate.started == [10]  # the others wait behind the running one
    gate.release.set()
    for log_id in (10, 11, 12, 13):
        assert fake_admin.wait_for_result(log_id).handle_code == 200
    assert gate.started == [10, 11, 12, 13] == gate.finished


def test_unknown_block_strategy_behaves_as_serial(executor, fake_admin, gate) -> None:
    assert run(executor.port, 1, 10, handler="gate").ok
    _wait_started(gate, 10)
    assert run(executor.port, 1, 11, handler="gate", executorBlockStrategy="SOMETHING_NEW").ok
    gate.release.set()
    assert [fake_admin.wait_for_result(i).handle_code for i in (10, 11)] == [200, 200]
    assert gate.started == [10, 11]


def test_serial_queue_full_is_refused_clearly(executor, fake_admin, gate) -> None:
    assert run(executor.port, 1, 10, handler="gate").ok
    _wait_started(gate, 10)
    for log_id in (11, 12, 13):
        assert run(executor.port, 1, log_id, handler="gate").ok
    refused = run(executor.port, 1, 14, handler="gate")
    assert (refused.code, refused.msg) == (500, "job 1 queue is full (3 triggers waiting), logId:14 refused")
    gate.release.set()
    fake_admin.wait_for_result(13)
    assert 14 not in fake_admin.callback_counts()


def test_different_jobs_run_in_parallel(executor, fake_admin, gate) -> None:
    for job_id in (1, 2, 3):
        assert run(executor.port, job_id, 100 + job_id, handler="gate").ok
    wait_until(lambda: sorted(gate.started) == [101, 102, 103], what="three jobs running at once")
    assert executor.dispatcher.running_count == 3
    gate.release.set()
    for log_id in (101, 102, 103):
        fake_admin.wait_for_result(log_id)


def test_discard_later_refuses_while_running_and_while_queued(executor, fake_admin, gate) -> None:
    assert run(executor.port, 2, 20, handler="gate", executorBlockStrategy="DISCARD_LATER").ok
    _wait_started(gate, 20)
    refused = run(executor.port, 2, 21, handler="gate", executorBlockStrategy="DISCARD_LATER")
    assert refused.code == 500
    assert refused.msg == "block strategy effect: Discard Later (job 2 is running or has queued triggers), logId:21"
    assert run(executor.port, 2, 22, handler="gate", executorBlockStrategy="SERIAL_EXECUTION").ok  # queued
    gate.release.set()
    fake_admin.wait_for_result(20)
    fake_admin.wait_for_result(22)
    wait_until(lambda: not executor.dispatcher.is_busy(2), what="job 2 idle")
    assert run(executor.port, 2, 23, handler="gate", executorBlockStrategy="DISCARD_LATER").ok  # idle again: accepted
    assert fake_admin.wait_for_result(23).handle_code == 200
    assert 21 not in fake_admin.callback_counts()


def test_cover_early_kills_the_running_run_and_drops_the_queue(executor, fake_admin, gate) -> None:
    assert run(executor.port, 3, 30, handler="gate").ok
    _wait_started(gate, 30)
    assert run(executor.port, 3, 31, handler="gate").ok  # queued behind 30
    assert run(executor.port, 3, 32, handler="gate", executorBlockStrategy="COVER_EARLY").ok
    killed = fake_admin.wait_for_result(30)
    assert (killed.handle_code, killed.handle_msg) == (
        ResultCode.FAIL,
        "job killed while running: covered by a newer trigger (COVER_EARLY), logId:32",
    )
    dropped = fake_admin.wait_for_result(31)
    assert dropped.handle_code == 500
    assert dropped.handle_msg == "job not executed, removed from the queue: covered by a newer trigger (COVER_EARLY), logId:32"
    _wait_started(gate, 32)  # the new run runs once the covered handler has stopped
    gate.release.set()
    assert fake_admin.wait_for_result(32).handle_msg == "run 32 done"
    assert gate.started == [30, 32] and gate.finished == [32]
    assert fake_admin.callback_counts() == {30: 1, 31: 1, 32: 1}


def test_cover_early_on_an_idle_job_just_runs(executor, fake_admin) -> None:
    assert run(executor.port, 4, 40, executorBlockStrategy="COVER_EARLY", executorParams="x").ok
    assert fake_admin.wait_for_result(40).handle_msg == "x"


def test_kill_cancels_the_running_run_and_drops_queued_ones(executor, fake_admin, gate) -> None:
    assert run(executor.port, 5, 50, handler="gate").ok
    _wait_started(gate, 50)
    assert run(executor.port, 5, 51, handler="gate").ok
    assert run(executor.port, 5, 52, handler="gate").ok
    envelope = call(executor.port, "/kill", {"jobId": 5})
    assert (envelope.code, envelope.msg) == (200, "job 5 killed (3 run(s) stopped)")
    assert fake_admin.wait_for_result(50).handle_msg == "job killed while running: killed by /kill"
    for log_id in (51, 52):
        assert fake_admin.wait_for_result(log_id).handle_msg == "job not executed, removed from the queue: killed by /kill"
    wait_until(lambda: not executor.dispatcher.is_busy(5), what="handler noticed the kill")
    assert gate.finished == [] and gate.started == [50]
    # the job takes new triggers after a kill
    gate.release.set()
    assert run(executor.port, 5, 53, handler="gate").ok
    assert fake_admin.wait_for_result(53).handle_code == 200
    assert fake_admin.callback_counts() == {50: 1, 51: 1, 52: 1, 53: 1}


def test_kill_only_touches_its_job(executor, fake_admin, gate) -> None:
    assert run(executor.port, 6, 60, handler="gate").ok
    assert run(executor.port, 7, 70, handler="gate").ok
    wait_until(lambda: sorted(gate.started) == [60, 70], what="both running")
    assert call(executor.port, "/kill", {"jobId": 6}).ok
    fake_admin.wait_for_result(60)
    assert executor.dispatcher.is_busy(7)
    gate.release.set()
    assert fake_admin.wait_for_result(70).handle_code == 200


def test_killed_run_log_says_so(executor, fake_admin, gate) -> None:
    assert run(executor.port, 8, 80, handler="gate").ok
    _wait_started(gate, 80)
    call(executor.port, "/kill", {"jobId": 8})
    wait_until(lambda: not executor.dispatcher.is_active(80), what="run ended")
    text = executor.logs.path_for(80, 1_767_225_600_000).read_text()
    assert "run cancelled: killed by /kill; its handler was asked to stop" in text
    assert "result: code 500, job killed while running: killed by /kill" in text


def test_many_jobs_at_once_keep_per_job_order_and_every_result(make_executor, fake_admin) -> None:
    seen: dict[int, list[int]] = {}
    lock = threading.Lock()
    running: set[int] = set()
    overlaps: list[int] = []

    def record(ctx):
        with lock:
            if ctx.job_id in running:
                overlaps.append(ctx.job_id)  # two runs of one job at once: must never happen
            running.add(ctx.job_id)
            seen.setdefault(ctx.job_id, []).append(ctx.log_id)
        ctx.wait(0.001)  # let other jobs interleave
        with lock:
            running.discard(ctx.job_id)

    executor = make_executor()
    executor.job("record")(record)
    executor.start()
    log_ids = list(range(1, 401))

    def send(part: list[int]) -> None:
        for log_id in part:
            assert run(executor.port, log_id % 40, log_id, handler="record").ok

    # one sender per job group, so each job's triggers arrive in log-id order
    senders = [threading.Thread(target=send, args=([i for i in log_ids if i % 4 == k],)) for k in range(4)]
    for t in senders:
        t.start()
    for t in senders:
        t.join(60)
    wait_until(lambda: len(fake_admin.callback_counts()) == 400, what="400 results")
    assert set(fake_admin.callback_counts().values()) == {1}
    assert overlaps == []
    for job_id, order in seen.items():
        assert order == sorted(order), f"job {job_id} ran out of order: {order}"
