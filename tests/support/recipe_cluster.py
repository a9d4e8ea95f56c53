"""A real admin (`shardcron admin`, web + scheduler in one process, on its own SQLite file) and
real executor processes (`shardcron executor run <target>`) for the recipes' end-to-end tests.

    with RecipeCluster(tmp_path, app_name="work-orders") as cluster:
        cluster.start_admin()
        cluster.start_executors("pkg.module:create_executor", 2, env={...})
        job_id = cluster.add_job(handler="createWorkOrders", schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")

Everything is stopped with SIGTERM on exit (SIGKILL after a deadline); each process's output
goes to a file in the work folder, shown by `output()` when an assertion needs it.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import RunStatus
from shardcron.admin.models import ExecutorRegistry, RunLog
from shardcron.core.clock import SYSTEM_CLOCK

from .executor_calls import TOKEN
from .net import free_port, wait_until
from .scheduler_rows import add_group, add_job

ROOT = Path(__file__).resolve().parents[2]
STOP_TIMEOUT_S = 30


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


class RecipeCluster:
    def __init__(self, workdir: Path, *, app_name: str) -> None:
        self.workdir = workdir
        self.app_name = app_name
        self.processes: dict[str, subprocess.Popen] = {}
        #: Each executor process's name -> the address it listens on (`http://127.0.0.1:<port>`).
        self.addresses: dict[str, str] = {}
        self.admin_url = ""
        self.db: Database | None = None
        self.group_id = 0

    def __enter__(self) -> RecipeCluster:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        self.stop()

    def _spawn(self, name: str, argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        clean = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
        clean.update(env)
        script = Path(sys.executable).parent / "shardcron"
        with open(self.workdir / f"{name}.out", "ab") as out:
            proc = subprocess.Popen([str(script), *argv], cwd=ROOT, env=clean, stdout=out, stderr=subprocess.STDOUT)
        self.processes[name] = proc
        return proc

    def output(self, name: str) -> str:
        path = self.workdir / f"{name}.out"
        return path.read_text(errors="replace") if path.exists() else ""

    def start_admin(self) -> None:
        port = free_port()
        home = self.workdir / "admin-home"
        self._spawn("admin", ["admin", "--bind", f"127.0.0.1:{port}"], {"XDG_DATA_HOME": str(home), "SHARDCRON_ACCESS_TOKEN": TOKEN})
        self.admin_url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _healthy(f"{self.admin_url}/healthz") or self.processes["admin"].poll() is not None, timeout_s=90, what="the admin to answer")
        assert self.processes["admin"].poll() is None, self.output("admin")
        self.db = Database(f"sqlite:///{home / 'shardcron' / 'shardcron.db'}", pool_size=1)
        self.group_id = add_group(self.db, self.app_name, SYSTEM_CLOCK.now_ms())

    def start_executors(self, target: str, count: int, *, env: dict[str, str]) -> None:
        for i in range(count):
            settings = {
                "app_name": self.app_name,
                "admin_addresses": self.admin_url,
                "access_token": TOKEN,
                "listen": f"127.0.0.1:{free_port()}",
                "data_dir": str(self.workdir / f"executor{i}"),
                "callback_retry_s": "0.5",
            }
            variables = {f"SHARDCRON_EXECUTOR_{key.upper()}": value for key, value in settings.items()}
            self.addresses[f"executor{i}"] = f"http://{settings['listen']}"
            self._spawn(f"executor{i}", ["executor", "run", target], variables | env)
        wait_until(lambda: self.registered() >= count or self._any_exited(), timeout_s=90, what=f"{count} executors registered")
        assert not self._any_exited(), "\n".join(self.output(name) for name in self.processes)

    def _any_exited(self) -> bool:
        return any(proc.poll() is not None for proc in self.processes.values())

    def registered(self) -> int:
        assert self.db is not None
        with self.db.read_session() as s:
            rows = s.execute(sa.select(sa.func.count()).select_from(ExecutorRegistry).where(ExecutorRegistry.app_name == self.app_name)).scalar_one()
        return int(rows)

    def add_job(self, **fields: Any) -> int:
        assert self.db is not None
        return add_job(self.db, self.group_id, SYSTEM_CLOCK.now_ms(), **fields)

    def runs(self, job_id: int) -> list[RunLog]:
        """The job's finished runs, oldest first."""
        assert self.db is not None
        with self.db.read_session() as s:
            query = sa.select(RunLog).where(RunLog.job_id == job_id, RunLog.status.in_([RunStatus.SUCCESS, RunStatus.FAILED])).order_by(RunLog.id)
            return list(s.execute(query).scalars())

    def stop(self) -> None:
        for proc in self.processes.values():
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        for proc in self.processes.values():
            try:
                proc.wait(STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(STOP_TIMEOUT_S)
        if self.db is not None:
            self.db.dispose()
