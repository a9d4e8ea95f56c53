"""The executor's /healthz, /readyz and /metrics over real HTTP on loopback."""

from __future__ import annotations

import random
import shutil
from pathlib import Path

import requests

from shardcron.executor.retry_tasks import RetryTasks
from tests.support.executor_calls import TOKEN, call, run
from tests.support.net import wait_until

METRICS_TOKEN = "executor-metrics-token-1"


def _get(executor, path: str, **headers: str) -> requests.Response:
    return requests.get(f"http://127.0.0.1:{executor.port}{path}", headers=headers, timeout=30)


def test_healthz_and_readyz_need_no_token_and_leak_nothing(make_executor, fake_admin) -> None:
    executor = make_executor().start()
    wait_until(lambda: executor.registrar.registered, what="registration")
    health = _get(executor, "/healthz")
    assert (health.status_code, health.json()) == (200, {"status": "ok"})
    ready = _get(executor, "/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready", "checks": {"running": "ok", "admin": "ok", "spool": "ok"}}
    for answer in (health, ready):
        for secret in (TOKEN, fake_admin.url, str(executor.config.data_dir), "test-app"):
            assert secret not in answer.text


def test_readyz_fails_when_no_admin_accepts_the_registration(make_executor, fake_admin) -> None:
    fake_admin.refuse("/api/registry")
    executor = make_executor(registry_interval_s=1).start()
    wait_until(lambda: len(fake_admin.received("/api/registry")) >= 1, what="a registration attempt")
    ready = _get(executor, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["admin"] == "the last registration was not accepted by any admin"
    fake_admin.accept("/api/registry")
    wait_until(lambda: _get(executor, "/readyz").status_code == 200, what="ready once an admin accepts")


def test_readyz_fails_when_the_spool_folder_is_gone(make_executor) -> None:
    executor = make_executor().start()
    wait_until(lambda: executor.registrar.registered, what="registration")
    shutil.rmtree(executor.config.effective_spool_dir)
    ready = _get(executor, "/readyz")
    assert ready.status_code == 503
    assert ready.json()["checks"]["spool"] == "callback spool folder is missing or not writable"


def test_the_xxl_job_endpoints_still_refuse_get(make_executor) -> None:
    executor = make_executor().start()
    assert call(executor.port, "/run", method="GET").msg == "invalid request, HttpMethod not support."
    assert requests.post(f"http://127.0.0.1:{executor.port}/healthz", timeout=30).json()["code"] == 500  # POST without token


def test_metrics_count_runs_and_spool_depth(make_executor, fake_admin) -> None:
    executor = make_executor(callback_retry_s=0.2)
    executor.job("boom")(lambda ctx: 1 / 0)
    executor.start()
    fake_admin.refuse("/api/callback")  # results stay in the spool
    assert run(executor.port, 1, 11).ok
    assert run(executor.port, 2, 12, handler="boom").ok
    assert run(executor.port, 1, 13).ok
    wait_until(lambda: executor.callbacks.pending_count == 3, what="three spooled results")
    text = _get(executor, "/metrics").text
    assert 'shardcron_executor_runs_total{result="success"} 2.0' in text
    assert 'shardcron_executor_runs_total{result="fail"} 1.0' in text
    assert "shardcron_executor_callback_spool_depth 3.0" in text
    assert "shardcron_retry_tasks" not in text  # no retry-task table watched
    fake_admin.accept("/api/callback")
    wait_until(lambda: "shardcron_executor_callback_spool_depth 0.0" in _get(executor, "/metrics").text, what="spool drained")


def test_metrics_token(make_executor) -> None:
    executor = make_executor(metrics_token=METRICS_TOKEN).start()
    assert _get(executor, "/metrics").status_code == 401
    assert _get(executor, "/metrics", Authorization=f"Bearer {TOKEN}").status_code == 401  # the access token is not the metrics token
    assert _get(executor, "/metrics", Authorization=f"Bearer {METRICS_TOKEN}").status_code == 200
    assert _get(executor, "/healthz").status_code == 200


def test_metrics_show_retry_tasks_by_status(make_executor, tmp_path: Path) -> None:
    tasks = RetryTasks(f"sqlite:///{tmp_path / 'tasks.db'}", owner="t", rng=random.Random(1))
    tasks.create_table()
    try:
        for n in range(3):
            tasks.enqueue("SEND_SMS", f"r{n}", {"n": n})
        tasks.enqueue("SYNC", "s1", {})
        tasks.complete("SYNC", "s1")
        executor = make_executor()
        tasks.register_drainer(executor)
        executor.start()
        text = _get(executor, "/metrics").text
        assert 'shardcron_retry_tasks{status="PENDING",task_code="SEND_SMS"} 3.0' in text
        assert 'shardcron_retry_tasks{status="SUCCEEDED",task_code="SYNC"} 1.0' in text
        assert 'shardcron_retry_tasks_due{task_code="SEND_SMS"} 3.0' in text
        assert "shardcron_retry_tasks_stats_failed 0.0" in text
    finally:
        tasks.close()
