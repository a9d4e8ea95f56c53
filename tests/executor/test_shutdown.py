"""Graceful shutdown: deregister, refuse triggers, wait a bounded time for running jobs, flush."""

from __future__ import annotations

import threading

import pytest
import requests

from tests.support.executor_calls import run
from tests.support.net import wait_until


def _stop_in_background(executor, **kwargs) -> threading.Thread:
    thread = threading.Thread(target=executor.stop, kwargs=kwargs, daemon=True)
    thread.start()
    return thread


def test_graceful_stop_deregisters_refuses_waits_and_flushes(make_executor, fake_admin) -> None:
    started, release = threading.Event(), threading.Event()
    executor = make_executor()
    executor.job("work")(lambda ctx: started.set() or release.wait(60) and "finished during shutdown")
    executor.start()
    port = executor.port
    wait_until(lambda: fake_admin.registrations(), what="registered")
    run(port, 1, 1, handler="work")
    assert run(port, 1, 2, handler="work").ok  # queued behind 1
    assert started.wait(30)
    stopping = _stop_in_background(executor, timeout_s=60)
    wait_until(lambda: fake_admin.registrations("/api/registryRemove"), what="deregistered")
    removed = fake_admin.registrations("/api/registryRemove")[0]
    assert (removed.registry_key, removed.registry_value) == ("test-app", f"http://127.0.0.1:{port}")
    # the queued run is dropped and reported; new triggers are refused while the running one ends
    assert fake_admin.wait_for_result(2).handle_msg == "job not executed, removed from the queue: executor is shutting down"
    refused = run(port, 3, 3)
    assert (refused.code, refused.msg) == (500, "executor is shutting down, trigger logId:3 refused")
    assert stopping.is_alive()
    release.set()
    stopping.join(30)
    assert not stopping.is_alive()
    assert fake_admin.result(1).handle_msg == "finished during shutdown"
    with pytest.raises(requests.ConnectionError):
        requests.post(f"http://127.0.0.1:{port}/beat", timeout=5)


def test_shutdown_wait_is_bounded_then_runs_are_cancelled(make_executor, fake_admin) -> None:
    started, release = threading.Event(), threading.Event()
    executor = make_executor()
    executor.job("stubborn")(lambda ctx: started.set() or release.wait(60))
    executor.start()
    run(executor.port, 1, 10, handler="stubborn")
    assert started.wait(30)
    try:
        stopping = _stop_in_background(executor, timeout_s=0.2)
        stopping.join(30)
        assert not stopping.is_alive()
        result = fake_admin.result(10)
        assert (result.handle_code, result.handle_msg) == (500, "job killed while running: executor shut down before the run finished")
    finally:
        release.set()


def test_cooperative_handler_is_cancelled_when_the_wait_runs_out(make_executor, fake_admin) -> None:
    started, saw_cancel = threading.Event(), threading.Event()

    def polite(ctx):
        started.set()
        if ctx.wait(60):
            saw_cancel.set()
        ctx.check_cancelled()

    executor = make_executor()
    executor.job("polite")(polite)
    executor.start()
    run(executor.port, 1, 11, handler="polite")
    assert started.wait(30)
    executor.stop(timeout_s=0.2)
    assert saw_cancel.is_set()
    assert fake_admin.result(11).handle_code == 500
    assert fake_admin.callback_counts()[11] == 1


def test_stop_flushes_spooled_results_once_an_admin_accepts(make_executor, fake_admin) -> None:
    fake_admin.refuse("/api/callback")
    executor = make_executor(callback_retry_s=3600).start()  # no periodic retry in this test
    run(executor.port, 1, 20)
    wait_until(lambda: fake_admin.callbacks(accepted=False), what="first attempt refused")
    fake_admin.accept("/api/callback")
    executor.stop()
    assert fake_admin.callback_counts() == {20: 1}
    assert executor.spool.spooled_log_ids() == []


def test_stop_with_every_admin_down_keeps_results_and_returns(make_executor, fake_admin) -> None:
    executor = make_executor(admin_timeout_s=0.5).start()
    fake_admin.stop()
    run(executor.port, 1, 21)
    wait_until(lambda: executor.spool.spooled_log_ids() == [21], what="spooled")
    executor.stop()
    assert executor.spool.spooled_log_ids() == [21]


def test_stop_twice_and_start_after_stop(make_executor) -> None:
    executor = make_executor().start()
    executor.stop()
    executor.stop()
    with pytest.raises(Exception, match="already started"):
        executor.start()


def test_run_blocks_until_request_stop(make_executor, fake_admin) -> None:
    executor = make_executor()
    runner = threading.Thread(target=executor.run, daemon=True)
    runner.start()
    wait_until(lambda: fake_admin.registrations(), what="running")
    executor.request_stop()
    runner.join(30)
    assert not runner.is_alive()
    assert fake_admin.registrations("/api/registryRemove")


def test_shutdown_bound_is_real_time_on_a_fake_clock(make_executor, fake_admin) -> None:
    """A handler that never returns cannot hold stop() beyond its bound, even on a FakeClock
    (which never advances by itself)."""
    from shardcron.core.clock import FakeClock

    started, release = threading.Event(), threading.Event()
    executor = make_executor(clock=FakeClock())
    executor.job("stuck")(lambda ctx: started.set() or release.wait(60))
    executor.start()
    try:
        assert run(executor.port, 1, 1, handler="stuck").ok
        assert started.wait(30)
        stopping = _stop_in_background(executor, timeout_s=0.3)
        stopping.join(20)
        assert not stopping.is_alive(), "stop() waited past its bound on a fake clock"
    finally:
        release.set()
