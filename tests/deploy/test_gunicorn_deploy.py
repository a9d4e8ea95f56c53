"""The production layout for real, on loopback: gunicorn with deploy/gunicorn.conf.py (two
workers) on MariaDB, a `shardcron scheduler`, and an executor process running the sample
handlers. The console answers, the executor registers through the web, and a job fires, runs and
reports back through gunicorn."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import RunStatus, ScheduleType
from shardcron.admin.models import ExecutorRegistry, RunLog
from shardcron.core.clock import SYSTEM_CLOCK
from tests.support.cli import run_cli
from tests.support.net import free_port, wait_until
from tests.support.scheduler_rows import add_group, add_job

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "deploy-test-access-token-0123"
METRICS_TOKEN = "deploy-test-metrics-token-0123"
METRICS_AUTH = {"Authorization": f"Bearer {METRICS_TOKEN}"}
BIN = Path(sys.executable).parent


def _get(url: str, **headers: str) -> requests.Response | None:
    try:
        return requests.get(url, headers=headers, timeout=2)
    except requests.RequestException:
        return None


def _stop(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


def test_gunicorn_scheduler_and_executor_fire_a_job(server_url: str, tmp_path: Path) -> None:
    assert run_cli("db", "init", "--url", server_url, home=tmp_path).returncode == 0
    web_port, executor_port, scheduler_port = free_port(), free_port(), free_port()
    base = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_") and k not in ("PROMETHEUS_MULTIPROC_DIR", "WEB_CONCURRENCY")}
    admin_env = base | {
        "SHARDCRON_DATABASE_URL": server_url,
        "SHARDCRON_ACCESS_TOKEN": TOKEN,
        "SHARDCRON_SECRET_KEY": "deploy-test-secret-key-0123456",
        "SHARDCRON_METRICS_TOKEN": METRICS_TOKEN,
        "SHARDCRON_INSTANCE_DIR": str(tmp_path / "instance"),
        "SHARDCRON_BIND": f"127.0.0.1:{web_port}",
        "SHARDCRON_LOG_FORMAT": "json",
        "WEB_CONCURRENCY": "2",
    }
    executor_env = base | {
        "SHARDCRON_EXECUTOR_APP_NAME": "deploy-demo",
        "SHARDCRON_EXECUTOR_ADMIN_ADDRESSES": f"http://127.0.0.1:{web_port}/",
        "SHARDCRON_EXECUTOR_ACCESS_TOKEN": TOKEN,
        "SHARDCRON_EXECUTOR_LISTEN": f"127.0.0.1:{executor_port}",
        "SHARDCRON_EXECUTOR_DATA_DIR": str(tmp_path / "executor"),
        "SHARDCRON_EXECUTOR_REGISTRY_INTERVAL_S": "2",
    }
    logs = {name: open(tmp_path / f"{name}.log", "wb") for name in ("web", "scheduler", "executor")}
    procs: list[subprocess.Popen] = []
    db = Database(server_url, pool_size=1)
    try:
        web = subprocess.Popen([str(BIN / "gunicorn"), "-c", "deploy/gunicorn.conf.py"], cwd=ROOT, env=admin_env, stdout=logs["web"], stderr=subprocess.STDOUT)
        procs.append(web)
        scheduler = subprocess.Popen(
            [str(BIN / "shardcron"), "scheduler"], cwd=tmp_path,
            env=admin_env | {"SHARDCRON_SCHEDULER_METRICS_BIND": f"127.0.0.1:{scheduler_port}"}, stdout=logs["scheduler"], stderr=subprocess.STDOUT,
        )
        procs.append(scheduler)
        executor = subprocess.Popen(
            [str(BIN / "shardcron"), "executor", "run", "shardcron.executor.examples.demo_jobs:create_executor"], cwd=tmp_path,
            env=executor_env, stdout=logs["executor"], stderr=subprocess.STDOUT,
        )
        procs.append(executor)

        web_url = f"http://127.0.0.1:{web_port}"
        wait_until(lambda: (r := _get(web_url + "/healthz")) is not None and r.status_code == 200, timeout_s=60, what="gunicorn to answer")
        wait_until(lambda: (r := _get(web_url + "/readyz")) is not None and r.status_code == 200, timeout_s=60, what="/readyz (database + scheduler heartbeat)")
        console = _get(web_url + "/login")  # no user yet: the setup page
        assert console is not None and console.status_code == 200 and 'name="csrf-token"' in console.text
        # Every worker logged the same setup link: one code, shared through its file and the database.
        code = (tmp_path / "instance" / "setup_code").read_text().strip()
        web_log = (tmp_path / "web.log").read_text()
        assert web_log.count(f"/setup?code={code}") == web_log.count("/setup?code=") >= 1
        # the executor registered through gunicorn's /api/registry
        wait_until(lambda: db_count(db, ExecutorRegistry) >= 1, timeout_s=60, what="the executor's registration")
        group = add_group(db, "deploy-demo", SYSTEM_CLOCK.now_ms())
        job = add_job(db, group, SYSTEM_CLOCK.now_ms(), name="hello every second", handler="hello", schedule_type=ScheduleType.FIX_RATE, schedule_conf="1", param="deploy")

        def succeeded() -> int:
            with db.read_session() as s:
                return s.scalar(sa.select(sa.func.count()).select_from(RunLog).where(RunLog.job_id == job, RunLog.status == RunStatus.SUCCESS)) or 0

        wait_until(lambda: succeeded() >= 2, timeout_s=60, what="two runs of the job reported back as SUCCESS")
        with db.read_session() as s:
            run = s.scalars(sa.select(RunLog).where(RunLog.job_id == job, RunLog.status == RunStatus.SUCCESS).order_by(RunLog.id)).first()
        assert run.handle_msg == "hello deploy"
        assert run.executor_address == f"http://127.0.0.1:{executor_port}"

        assert requests.get(web_url + "/metrics", timeout=5).status_code == 401
        metrics = requests.get(web_url + "/metrics", headers=METRICS_AUTH, timeout=5).text  # summed over the gunicorn workers
        durations = re.search(r'^shardcron_run_duration_seconds_count\{status="SUCCESS"\} (\S+)$', metrics, re.M)
        assert durations and float(durations.group(1)) >= 2
        assert 'shardcron_live_executors{group="deploy-demo"} 1.0' in metrics
        fires = requests.get(f"http://127.0.0.1:{scheduler_port}/metrics", headers=METRICS_AUTH, timeout=5).text
        assert re.search(r'^shardcron_fires_total\{trigger_type="CRON"\} [1-9]', fires, re.M)
    finally:
        for proc in reversed(procs):
            _stop(proc)
        for handle in logs.values():
            handle.close()
        db.dispose()
    for name, proc in zip(("web", "scheduler", "executor"), procs, strict=True):
        assert proc.returncode == 0, (name, (tmp_path / f"{name}.log").read_text()[-3000:])


def db_count(db: Database, model) -> int:
    with db.read_session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model)) or 0
