"""`shardcron scheduler` with scheduler_metrics_bind: /healthz and the fire loop's /metrics."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import requests
from werkzeug.test import Client

from shardcron.admin.config import load_config
from shardcron.admin.db import Database, init_schema
from shardcron.admin.ops.scheduler_http import scheduler_wsgi_app
from tests.admin.scheduling.test_scheduler_commands import _env, _healthy, _schedule_every_second
from tests.support.executor_calls import TOKEN
from tests.support.net import free_port, wait_until
from tests.support.run_receiver import RunReceiver


METRICS_TOKEN = "scheduler-metrics-token-2"


def _fires(port: int) -> float:
    text = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5).text
    found = re.search(r'^shardcron_fires_total\{trigger_type="CRON"\} (\S+)$', text, re.M)
    return float(found.group(1)) if found else 0.0


def test_scheduler_serves_health_and_its_fire_counters(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    db = Database(url, pool_size=1)
    init_schema(db.engine)
    receiver = RunReceiver(TOKEN).start()
    _schedule_every_second(db, receiver)
    port = free_port()
    env = _env(tmp_path) | {"SHARDCRON_DATABASE_URL": url, "SHARDCRON_SCHEDULER_METRICS_BIND": f"127.0.0.1:{port}", "SHARDCRON_METRICS_TOKEN": METRICS_TOKEN}
    proc = subprocess.Popen([str(Path(sys.executable).parent / "shardcron"), "scheduler"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), timeout_s=30, what="the scheduler's /healthz")
        wait_until(lambda: len(receiver.runs) >= 2 and _fires(port) >= 2, timeout_s=30, what="fires counted on /metrics")
        assert requests.get(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 401
        text = requests.get(f"http://127.0.0.1:{port}/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"}, timeout=5).text
        assert "shardcron_trigger_lag_seconds_count" in text
        assert requests.post(f"http://127.0.0.1:{port}/metrics", timeout=5).status_code == 404
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
        receiver.stop()
        db.dispose()
    assert proc.returncode == 0, err


def test_scheduler_metrics_token_and_dead_loops(tmp_path: Path) -> None:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "metrics_token": "scheduler-metrics-token-1"})
    alive = {"value": True}
    client = Client(scheduler_wsgi_app(config, lambda: alive["value"]))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer scheduler-metrics-token-1"}).status_code == 200
    assert client.get("/healthz").status_code == 200
    alive["value"] = False
    assert client.get("/healthz").status_code == 503
