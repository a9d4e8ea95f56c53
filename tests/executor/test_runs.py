"""What a run reports (return values, errors, caps, result data), timeouts and idle workers.

Time-driven behaviour uses a FakeClock and `executor.tick()`: nothing here sleeps.
"""

from __future__ import annotations

import threading

import pytest

from shardcron.executor import JobResult
from shardcron.executor.outcome import MAX_RESULT_DATA_BYTES
from shardcron.core.protocol import MAX_HANDLE_MSG_CHARS, ResultCode
from tests.support.executor_calls import LOG_DATE_MS, call, run
from tests.support.net import wait_until


@pytest.fixture
def executor(make_executor, fake_clock):
    return make_executor(clock=fake_clock, idle_worker_s=90)


def _log_text(executor, log_id: int) -> str:
    return executor.logs.path_for(log_id, LOG_DATE_MS).read_text()


# ---------------------------------------------------------------------- results


@pytest.mark.parametrize(
    ("returned", "code", "msg"),
    [
        (None, 200, None),
        ("synced 3 invoices", 200, "synced 3 invoices"),
        (JobResult.success("fine"), 200, "fine"),
        (JobResult.fail("2 of 5 failed"), 500, "2 of 5 failed"),
        (JobResult(code=502, msg="gave up waiting"), 502, "gave up waiting"),
        (JobResult(code=7, msg="odd"), 500, "handler returned an invalid result code 7 (use 200, 500 or 502): odd"),
        (42, 500, "handler returned a int, expected None, a str or a JobResult"),
    ],
)
def test_return_value_becomes_the_result(executor, fake_admin, returned, code, msg) -> None:
    executor.job("returns")(lambda ctx: returned)
    executor.start()
    assert run(executor.port, 1, 1, handler="returns").ok
    result = fake_admin.wait_for_result(1)
    assert (result.handle_code, result.handle_msg) == (code, msg)


def test_exception_reports_500_and_traceback_goes_to_the_run_log(executor, fake_admin) -> None:
    def failing(ctx):
        ctx.log("about to fail")
        return {}["missing"]

    executor.job("failing")(failing)
    executor.start()
    run(executor.port, 1, 2, handler="failing")
    result = fake_admin.wait_for_result(2)
    assert (result.handle_code, result.handle_msg) == (500, "KeyError: 'missing'")
    wait_until(lambda: not executor.dispatcher.is_active(2), what="run ended")
    text = _log_text(executor, 2)
    assert "handler raised an error:" in text and "Traceback (most recent call last)" in text
    assert 'return {}["missing"]' in text


def test_long_messages_are_capped_with_a_marker(executor, fake_admin) -> None:
    executor.job("verbose")(lambda ctx: "x" * (MAX_HANDLE_MSG_CHARS + 10_000))
    executor.start()
    run(executor.port, 1, 3, handler="verbose")
    msg = fake_admin.wait_for_result(3).handle_msg
    assert len(msg) == MAX_HANDLE_MSG_CHARS
    assert msg.endswith("x... [10000 more characters cut]")


def test_result_data_merges_context_data_and_returned_data(executor, fake_admin) -> None:
    def drainer(ctx):
        ctx.result_data.update(claimed=5, retried=1)
        return JobResult.success("drained", data={"succeeded": 4, "retried": 0})

    executor.job("drainer")(drainer)
    executor.start()
    run(executor.port, 1, 4, handler="drainer")
    result = fake_admin.wait_for_result(4)
    assert result.handle_msg == "drained"
    assert dict(result.result_data) == {"claimed": 5, "retried": 0, "succeeded": 4}


def test_unserialisable_or_huge_result_data_is_dropped_not_the_result(executor, fake_admin) -> None:
    def odd(ctx):
        ctx.result_data["when"] = object()
        return "done anyway"

    executor.job("odd")(odd)
    executor.job("huge")(lambda ctx: JobResult.success("big", data={"blob": "y" * MAX_RESULT_DATA_BYTES}))
    executor.start()
    run(executor.port, 1, 5, handler="odd")
    run(executor.port, 2, 6, handler="huge")
    odd_result, huge_result = fake_admin.wait_for_result(5), fake_admin.wait_for_result(6)
    assert (odd_result.handle_code, odd_result.handle_msg, odd_result.result_data) == (200, "done anyway", None)
    assert (huge_result.handle_msg, huge_result.result_data) == ("big", None)
    wait_until(lambda: not executor.dispatcher.is_active(5), what="run ended")
    assert "resultData dropped, it is not JSON-serialisable" in _log_text(executor, 5)


def test_handler_that_raises_job_cancelled_itself_reports_killed(executor, fake_admin) -> None:
    def quits(ctx):
        ctx.cancel("nothing left to do safely")
        ctx.check_cancelled()

    executor.job("quits")(quits)
    executor.start()
    run(executor.port, 1, 7, handler="quits")
    assert fake_admin.wait_for_result(7).handle_msg == "job killed: nothing left to do safely"


# ---------------------------------------------------------------------- timeouts


def test_timeout_reports_502_and_cancels_a_cooperative_handler(executor, fake_admin, fake_clock) -> None:
    started, stopped = threading.Event(), threading.Event()

    def slow(ctx):
        started.set()
        ctx.wait(60)  # wakes at once when cancelled
        stopped.set()
        ctx.check_cancelled()

    executor.job("slow")(slow)
    executor.start()
    assert run(executor.port, 1, 10, handler="slow", executorTimeout=5).ok
    assert started.wait(30)
    fake_clock.advance(s=4.9)
    executor.tick()
    assert not stopped.is_set() and 10 not in fake_admin.callback_counts()
    fake_clock.advance(s=0.1)
    executor.tick()
    result = fake_admin.wait_for_result(10)
    assert (result.handle_code, result.handle_msg) == (ResultCode.TIMEOUT, "job execute timeout: exceeded 5s")
    assert stopped.wait(30)
    wait_until(lambda: not executor.dispatcher.is_busy(1), what="job free again")
    assert fake_admin.callback_counts()[10] == 1
    assert "run timed out after 5s; its handler was asked to stop" in _log_text(executor, 10)


def test_handler_ignoring_the_timeout_keeps_its_job_busy_until_it_returns(executor, fake_admin, fake_clock) -> None:
    started, release = threading.Event(), threading.Event()

    def stubborn(ctx):
        started.set()
        release.wait(60)  # ignores ctx.cancelled
        return "finished late"

    executor.job("stubborn")(stubborn)
    executor.start()
    run(executor.port, 1, 11, handler="stubborn", executorTimeout=2)
    assert started.wait(30)
    fake_clock.advance(s=3)
    executor.tick()
    assert fake_admin.wait_for_result(11).handle_code == 502
    # the handler still runs: the job is busy, DISCARD_LATER is refused, /idleBeat says busy
    assert call(executor.port, "/idleBeat", {"jobId": 1}).code == 500
    assert run(executor.port, 1, 12, handler="stubborn", executorBlockStrategy="DISCARD_LATER").code == 500
    release.set()
    wait_until(lambda: not executor.dispatcher.is_busy(1), what="handler returned")
    assert fake_admin.callback_counts()[11] == 1
    assert "handler returned after the run's result was reported; ignored: code 200 finished late" in _log_text(executor, 11)


def test_no_timeout_when_executor_timeout_is_zero(executor, fake_admin, fake_clock) -> None:
    started, release = threading.Event(), threading.Event()
    executor.job("wait")(lambda ctx: started.set() or release.wait(60) and "ok")
    executor.start()
    run(executor.port, 1, 13, handler="wait", executorTimeout=0)
    assert started.wait(30)
    fake_clock.advance(s=86_400)
    executor.tick()
    assert 13 not in fake_admin.callback_counts()
    release.set()
    assert fake_admin.wait_for_result(13).handle_code == 200


# ---------------------------------------------------------------------- workers


def test_idle_worker_goes_away_after_idle_time_and_destroys_its_handler(executor, fake_admin, fake_clock) -> None:
    calls: list[str] = []
    executor.job("tracked", init=lambda: calls.append("init"), destroy=lambda: calls.append("destroy"))(lambda ctx: calls.append("run"))
    executor.start()
    for log_id in (20, 21):
        run(executor.port, 1, log_id, handler="tracked")
        fake_admin.wait_for_result(log_id)
    wait_until(lambda: not executor.dispatcher.is_busy(1), what="job idle")
    assert calls == ["init", "run", "run"] and executor.dispatcher.worker_count == 1
    fake_clock.advance(s=89)
    executor.tick()
    assert executor.dispatcher.worker_count == 1
    fake_clock.advance(s=1)
    executor.tick()
    assert executor.dispatcher.worker_count == 0
    wait_until(lambda: calls[-1:] == ["destroy"], what="destroy called")
    run(executor.port, 1, 22, handler="tracked")  # a new worker initializes the handler again
    fake_admin.wait_for_result(22)
    assert calls == ["init", "run", "run", "destroy", "init", "run"]


def test_run_threads_are_shared_by_jobs_and_retire_when_idle(executor, fake_admin, fake_clock) -> None:
    executor.start()
    for job_id in range(1, 31):
        run(executor.port, job_id, 100 + job_id)
        fake_admin.wait_for_result(100 + job_id)
        wait_until(lambda: executor.dispatcher.threads[1] == executor.dispatcher.threads[0], what="pool idle")
    assert executor.dispatcher.threads == (1, 1)  # thirty jobs, one after another: one thread
    assert executor.dispatcher.worker_count == 30
    fake_clock.advance(s=90)
    executor.tick()
    assert executor.dispatcher.threads == (0, 0) and executor.dispatcher.worker_count == 0
    run(executor.port, 1, 200)  # a new thread is started for new work
    assert fake_admin.wait_for_result(200).handle_code == 200
    assert executor.dispatcher.threads[0] == 1


def test_busy_worker_is_not_retired(executor, fake_admin, fake_clock) -> None:
    started, release = threading.Event(), threading.Event()
    executor.job("wait")(lambda ctx: started.set() or release.wait(60) and "ok")
    executor.start()
    run(executor.port, 1, 30, handler="wait")
    assert started.wait(30)
    fake_clock.advance(s=1000)
    executor.tick()
    assert executor.dispatcher.worker_count == 1
    release.set()
    assert fake_admin.wait_for_result(30).handle_code == 200


def test_failed_init_fails_the_run_and_is_retried_next_run(executor, fake_admin) -> None:
    attempts: list[int] = []

    def init():
        attempts.append(1)
        if len(attempts) == 1:
            raise ConnectionError("pool not ready")

    executor.job("needsInit", init=init)(lambda ctx: "ran")
    executor.start()
    run(executor.port, 1, 40, handler="needsInit")
    assert fake_admin.wait_for_result(40).handle_msg == "init of job handler [needsInit] failed: ConnectionError: pool not ready"
    run(executor.port, 1, 41, handler="needsInit")
    assert fake_admin.wait_for_result(41).handle_msg == "ran"
    assert len(attempts) == 2


def test_a_job_switching_handlers_destroys_the_old_one(executor, fake_admin) -> None:
    calls: list[str] = []
    executor.job("a", init=lambda: calls.append("init a"), destroy=lambda: calls.append("destroy a"))(lambda ctx: None)
    executor.job("b", init=lambda: calls.append("init b"))(lambda ctx: None)
    executor.start()
    run(executor.port, 1, 50, handler="a")
    fake_admin.wait_for_result(50)
    run(executor.port, 1, 51, handler="b")
    fake_admin.wait_for_result(51)
    assert calls == ["init a", "destroy a", "init b"]


# ---------------------------------------------------------------------- progress


def test_progress_is_throttled_and_its_last_value_always_sent(executor, fake_admin, fake_clock) -> None:
    first_seen, reported, release = threading.Event(), threading.Event(), threading.Event()

    def counting(ctx):
        ctx.progress(1, 10, claimed=1)
        first_seen.wait(60)
        for done in (2, 3):
            ctx.progress(done, 10, claimed=done)
        reported.set()
        release.wait(60)
        ctx.progress(10, 10, claimed=10)
        return "counted"

    executor.job("counting")(counting)
    executor.start()
    run(executor.port, 1, 60, handler="counting")
    wait_until(lambda: [p.done for p in fake_admin.progress()] == [1], what="first progress")  # the first is due at once
    first_seen.set()
    assert reported.wait(30)
    executor.tick()
    assert [p.done for p in fake_admin.progress()] == [1]  # within the second: held back
    fake_clock.advance(s=1)
    executor.tick()
    assert [p.done for p in fake_admin.progress()] == [1, 3]  # the latest value, not every value
    release.set()
    fake_admin.wait_for_result(60)
    wait_until(lambda: [p.done for p in fake_admin.progress()] == [1, 3, 10], what="last progress")
    last = fake_admin.progress()[-1]
    assert (last.log_id, last.log_date_time_ms, last.total, dict(last.data)) == (60, LOG_DATE_MS, 10, {"claimed": 10})


def test_progress_refused_by_the_admin_is_dropped_not_retried(executor, fake_admin, fake_clock) -> None:
    fake_admin.refuse("/api/progress")
    executor.job("oneStep")(lambda ctx: ctx.progress(1, 1) or "ok")
    executor.start()
    run(executor.port, 1, 61, handler="oneStep")
    assert fake_admin.wait_for_result(61).handle_code == 200
    wait_until(lambda: len(fake_admin.received("/api/progress")) == 1, what="one progress attempt")
    fake_clock.advance(s=60)
    executor.tick()
    assert len(fake_admin.received("/api/progress")) == 1
