"""`shardcron admin` runs web + scheduler in one process; `shardcron scheduler` runs it alone."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import requests
import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import ScheduleType
from shardcron.admin.models import SchedulerNode
from shardcron.core.clock import SYSTEM_CLOCK
from tests.support.executor_calls import TOKEN
from tests.support.net import free_port, wait_until
from tests.support.run_receiver import RunReceiver
from tests.support.scheduler_rows import add_group, add_job


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env.update({"XDG_DATA_HOME": str(tmp_path), "SHARDCRON_ACCESS_TOKEN": TOKEN})
    return env


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _schedule_every_second(db: Database, receiver: RunReceiver) -> int:
    now = SYSTEM_CLOCK.now_ms()
    group = add_group(db, "app", now, manual=[receiver.address])
    return add_job(db, group, now, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")


def test_admin_serves_the_web_and_fires_jobs_in_one_process(tmp_path: Path) -> None:
    port = free_port()
    receiver = RunReceiver(TOKEN).start()
    script = Path(sys.executable).parent / "shardcron"
    proc = subprocess.Popen([str(script), "admin", "--bind", f"127.0.0.1:{port}"], env=_env(tmp_path), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = None
    try:
        wait_until(lambda: _healthy(f"http://127.0.0.1:{port}/healthz"), timeout_s=60, what="the admin to answer")
        db = Database(f"sqlite:///{tmp_path / 'shardcron' / 'shardcron.db'}", pool_size=1)
        job = _schedule_every_second(db, receiver)
        wait_until(lambda: len(receiver.runs) >= 2, timeout_s=20, what="two fires of the job")
        assert {r.job_id for r in receiver.runs} == {job}
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        receiver.stop()
    assert proc.returncode == 0, err
    assert "scheduler" in out and "running in this process" in out
    assert "Traceback" not in err
    with db.read_session() as s:
        assert s.execute(sa.select(SchedulerNode)).scalars().all() == []  # a clean stop removes the node
    db.dispose()


def test_scheduler_runs_alone_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    db = Database(url, pool_size=1)
    init_schema(db.engine)
    receiver = RunReceiver(TOKEN).start()
    job = _schedule_every_second(db, receiver)
    env = _env(tmp_path) | {"SHARDCRON_DATABASE_URL": url}
    script = Path(sys.executable).parent / "shardcron"
    proc = subprocess.Popen([str(script), "scheduler", "--node-id", "solo"], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        wait_until(lambda: len(receiver.runs) >= 2, timeout_s=30, what="two fires of the job")

        def nodes() -> list[str]:
            with db.read_session() as s:
                return [n.node_id for n in s.execute(sa.select(SchedulerNode)).scalars()]

        # the heartbeat thread may commit its first row a moment after the fire loop's first fires
        wait_until(lambda: nodes() == ["solo"], timeout_s=10, what="the node's heartbeat row")
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=30)
        receiver.stop()
    assert proc.returncode == 0, err
    assert "shardcron scheduler solo" in out
    assert {r.job_id for r in receiver.runs} == {job}
    times = sorted(r.log_date_ms for r in receiver.runs)
    assert len(times) == len(set(times)) and all(b - a == 1000 for a, b in zip(times, times[1:], strict=False))
    db.dispose()
