"""`/log` says `resultPending`: true from the moment a run ended until an admin accepted its
result (also for a result replayed from the spool after a restart), false while the run is
going and for a logId never taken. `/idleBeat` keeps its meaning: idle as soon as the run ended."""

from __future__ import annotations

import threading

from tests.support.executor_calls import call, read_log, run
from tests.support.net import wait_until


def idle(port: int, job_id: int) -> bool:
    return call(port, "/idleBeat", {"jobId": job_id}).ok


def test_a_result_is_pending_from_the_run_s_end_until_an_admin_accepts_it(make_executor, fake_admin) -> None:
    fake_admin.refuse("/api/callback")  # the admin does not take results yet
    executor = make_executor(callback_retry_s=0.1).start()
    assert run(executor.port, 7, 70).ok
    wait_until(lambda: idle(executor.port, 7), what="job 7 idle: its run ended")
    page = read_log(executor.port, 70)  # at once: idle for the job means its result is decided
    assert (page.log_id_known, page.result_pending) == (True, True)
    wait_until(lambda: fake_admin.callbacks(accepted=False), what="a refused callback")
    assert read_log(executor.port, 70).result_pending is True  # refused: still on its way
    assert idle(executor.port, 7)  # /idleBeat still says idle: its meaning did not change
    fake_admin.accept("/api/callback")
    assert fake_admin.wait_for_result(70).log_id == 70
    wait_until(lambda: read_log(executor.port, 70).result_pending is False, what="the result no longer pending once accepted")
    assert read_log(executor.port, 70).log_id_known is True


def test_no_result_is_pending_while_the_run_is_going_nor_for_an_unknown_logid(make_executor, fake_admin) -> None:
    release = threading.Event()
    executor = make_executor()
    executor.job("slow")(lambda ctx: release.wait(30) and None)
    executor.start()
    assert run(executor.port, 8, 80, handler="slow").ok
    assert run(executor.port, 8, 81, handler="slow").ok  # queued behind run 80
    try:
        assert not idle(executor.port, 8)
        for log_id in (80, 81):
            page = read_log(executor.port, log_id)
            assert (page.log_id_known, page.result_pending) == (True, False), log_id
        never = read_log(executor.port, 123456)
        assert (never.log_id_known, never.result_pending) == (False, False)
    finally:
        release.set()
    fake_admin.wait_for_result(81)
    wait_until(lambda: read_log(executor.port, 81).result_pending is False, what="run 81's result accepted")


def test_a_killed_run_and_a_dropped_queued_run_are_pending_until_accepted(make_executor, fake_admin) -> None:
    """A kill reports both at once; the handler that ignores it keeps the job busy, yet its
    result is decided, so it is on its way."""
    fake_admin.refuse("/api/callback")
    stubborn = threading.Event()
    executor = make_executor(callback_retry_s=0.1)
    executor.job("stubborn")(lambda ctx: stubborn.wait(30) and None)  # does not look at cancellation
    executor.start()
    assert run(executor.port, 9, 90, handler="stubborn").ok
    assert run(executor.port, 9, 91, handler="stubborn").ok  # queued
    try:
        assert call(executor.port, "/kill", {"jobId": 9}).ok
        assert read_log(executor.port, 90).result_pending is True
        assert read_log(executor.port, 91).result_pending is True
        assert not idle(executor.port, 9)  # run 90's handler still holds the job's worker
    finally:
        stubborn.set()
    wait_until(lambda: idle(executor.port, 9), what="the stubborn handler returned")
    assert read_log(executor.port, 90).result_pending is True
    fake_admin.accept("/api/callback")
    wait_until(lambda: not read_log(executor.port, 90).result_pending and not read_log(executor.port, 91).result_pending,
               what="both results accepted")
    assert {c.log_id: c.handle_code for c in fake_admin.callbacks()} == {90: 500, 91: 500}


def test_a_result_replayed_from_the_spool_after_a_restart_is_pending(make_executor, fake_admin, tmp_path) -> None:
    fake_admin.refuse("/api/callback")
    data_dir = str(tmp_path / "restarting")
    first = make_executor(data_dir=data_dir, callback_retry_s=0.1).start()
    assert run(first.port, 7, 75).ok
    wait_until(lambda: idle(first.port, 7), what="run 75 ended")
    first.stop(timeout_s=2)  # the admin refuses: the result stays in the spool
    again = make_executor(data_dir=data_dir, callback_retry_s=0.1).start()
    assert idle(again.port, 7)  # a restarted executor: nothing of job 7 runs here
    page = read_log(again.port, 75)
    assert (page.log_id_known, page.result_pending) == (True, True)
    fake_admin.accept("/api/callback")
    assert fake_admin.wait_for_result(75).log_id == 75
    wait_until(lambda: read_log(again.port, 75).result_pending is False, what="the replayed result accepted")
