"""The sample handlers in shardcron.executor.examples.demo_jobs (used by deploy/ and the demo)."""

from __future__ import annotations

import random

from shardcron.executor.examples.demo_jobs import create_executor, register_demo_jobs
from tests.support.executor_calls import TOKEN, call, run
from tests.support.net import wait_until


def test_demo_handlers(make_executor, fake_admin) -> None:
    executor = register_demo_jobs(make_executor(), rng=random.Random(3)).start()
    assert run(executor.port, 1, 1, handler="hello", executorParams="ops").ok
    assert run(executor.port, 2, 2, handler="alwaysFail").ok
    assert run(executor.port, 3, 3, handler="flaky", executorParams="1").ok
    assert run(executor.port, 4, 4, handler="flaky", executorParams="0").ok
    assert fake_admin.wait_for_result(1).handle_msg == "hello ops"
    assert fake_admin.wait_for_result(2).handle_code == 500
    assert fake_admin.wait_for_result(3).handle_msg == "flaky: failed on purpose (chance 1.00)"
    assert fake_admin.wait_for_result(4).handle_msg == "flaky: succeeded this time"


def test_long_job_reports_progress_and_stops_when_killed(make_executor, fake_admin) -> None:
    executor = register_demo_jobs(make_executor(progress_interval_s=0.1)).start()
    assert run(executor.port, 9, 90, handler="longJob", executorParams="300").ok
    wait_until(lambda: any(p.log_id == 90 for p in fake_admin.progress()), what="progress of the long job")
    assert call(executor.port, "/kill", {"jobId": 9}).ok
    result = fake_admin.wait_for_result(90)
    assert result.handle_code == 500 and "ran 300 s" not in (result.handle_msg or "")


def test_create_executor_reads_the_environment(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("SHARDCRON_EXECUTOR_APP_NAME", "demo-env")
    monkeypatch.setenv("SHARDCRON_EXECUTOR_ADMIN_ADDRESSES", "http://127.0.0.1:1/")
    monkeypatch.setenv("SHARDCRON_EXECUTOR_ACCESS_TOKEN", TOKEN)
    monkeypatch.setenv("SHARDCRON_EXECUTOR_DATA_DIR", str(tmp_path))
    executor = create_executor()
    assert executor.config.app_name == "demo-env"
    assert set(executor.handlers.names()) == {"hello", "shardInfo", "flaky", "alwaysFail", "longJob"}
