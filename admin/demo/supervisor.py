"""The demo's processes: started together, watched, and stopped together.

Every child runs in its own session, so Ctrl-C reaches only the supervisor, which then stops
the children in order (executors first, so they deregister and hand in their results; then the
producer; then the admin) with SIGTERM, and SIGKILL after a bound. On Linux each child also
asks the kernel to SIGTERM it if the supervisor itself dies, so not even `kill -9` of the demo
leaves processes behind.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.core.errors import ShardcronError

from ..config import load_config, read_or_create_secret
from ..db import Database
from .setup import APP_NAME, DemoSetup, prepare_demo, registered_executors, start_demo_jobs
from .webhook import AlarmReceiver

STOP_TIMEOUT_S = 20.0
_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):
        pass  # not Linux: the supervisor's own stop() is the only guard


@dataclass
class Child:
    name: str
    proc: subprocess.Popen
    log_path: Path


class DemoSupervisor:
    def __init__(self, workdir: Path, port: int, executors: int, echo: Callable[[str], None], *, removes_workdir: bool = False) -> None:
        self.workdir = workdir
        #: The folder is the demo's own temporary one, deleted at stop (else the user's --dir, kept).
        self.removes_workdir = removes_workdir
        self.port = port
        self.executors = executors
        self.echo = echo
        self.children: list[Child] = []
        self.alarms: AlarmReceiver | None = None
        self.setup: DemoSetup | None = None
        self._db: Database | None = None

    # ------------------------------------------------------------------ starting

    def _spawn(self, name: str, args: list[str], env: dict[str, str]) -> Child:
        log_path = self.workdir / "logs" / f"{name}.log"
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, *args], cwd=self.workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        child = Child(name, proc, log_path)
        self.children.append(child)
        return child

    def _base_env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("SHARDCRON_", "DEMO_"))}
        env["PYTHONUNBUFFERED"] = "1"
        return env

    def start(self) -> None:
        _check_port_free(self.port)
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        instance = self.workdir / "admin"
        config = load_config(env={}, overrides={"instance_dir": str(instance), "bind": f"127.0.0.1:{self.port}"})
        token = read_or_create_secret(config, "access_token")
        self.alarms = AlarmReceiver(self._print_alarm).start()
        self._db = db = Database(config.effective_database_url, pool_size=1, create_folder=True)
        self.setup = prepare_demo(db, webhook_url=self.alarms.url, now_ms=SYSTEM_CLOCK.now_ms())
        tasks_url = f"sqlite:///{self.workdir / 'retry_tasks.db'}"
        demo_module = "shardcron.executor.examples.demo_jobs"
        init = subprocess.run([sys.executable, "-m", demo_module, "init-table", "--url", tasks_url], env=self._base_env(), capture_output=True, text=True, timeout=120)
        if init.returncode != 0:
            raise ShardcronError(f"cannot create the demo's retry-task table: {init.stderr.strip().splitlines()[-1:]}")

        cli = ["-m", "shardcron.admin.cli"]
        admin_env = self._base_env() | {"SHARDCRON_INSTANCE_DIR": str(instance), "SHARDCRON_PUBLIC_URL": f"http://127.0.0.1:{self.port}"}
        self._spawn("admin", [*cli, "admin", "--bind", f"127.0.0.1:{self.port}"], admin_env)
        self._spawn("producer", ["-m", demo_module, "produce", "--url", tasks_url, "--every", "1"], self._base_env())
        for index in range(self.executors):
            env = self._base_env() | {
                "SHARDCRON_EXECUTOR_APP_NAME": APP_NAME,
                "SHARDCRON_EXECUTOR_ADMIN_ADDRESSES": f"http://127.0.0.1:{self.port}/",
                "SHARDCRON_EXECUTOR_ACCESS_TOKEN": token,
                "SHARDCRON_EXECUTOR_LISTEN": "127.0.0.1:0",
                "SHARDCRON_EXECUTOR_DATA_DIR": str(self.workdir / f"executor-{index + 1}"),
                "SHARDCRON_EXECUTOR_CALLBACK_RETRY_S": "2",
                "SHARDCRON_EXECUTOR_SHUTDOWN_TIMEOUT_S": "5",
                "DEMO_TASKS_URL": tasks_url,
            }
            self._spawn(f"executor-{index + 1}", [*cli, "executor", "run", f"{demo_module}:create_executor"], env)
        self._wait_for("the console", lambda: _answers(f"http://127.0.0.1:{self.port}/healthz"))
        self._wait_for("the executors to register", lambda: registered_executors(db, SYSTEM_CLOCK.now_ms()) >= self.executors)
        start_demo_jobs(db, self.setup, webhook_url=self.alarms.url, now_ms=SYSTEM_CLOCK.now_ms())

    def _wait_for(self, what: str, ready: Callable[[], bool], timeout_s: float = 60.0) -> None:
        deadline = SYSTEM_CLOCK.monotonic() + timeout_s
        while SYSTEM_CLOCK.monotonic() < deadline:
            if (dead := self.dead_child()) is not None:
                raise ShardcronError(f"the demo's {dead.name} process exited with status {dead.proc.returncode}; see {dead.log_path}")
            if ready():
                return
            time.sleep(0.2)
        raise ShardcronError(f"timed out after {timeout_s:g} s waiting for {what}; see the logs in {self.workdir / 'logs'}")

    def _print_alarm(self, body: dict[str, Any]) -> None:
        run = body.get("run") or {}
        self.echo(f"alarm (webhook): {body.get('text', 'run failed')} [log id {run.get('id', '?')}, attempt {run.get('attempt', '?')}]")

    # ------------------------------------------------------------------ running

    def dead_child(self) -> Child | None:
        for child in self.children:
            if child.proc.poll() is not None:
                return child
        return None

    def banner(self) -> list[str]:
        assert self.setup is not None
        lines = [
            "shardcron demo is running",
            f"  console:   http://127.0.0.1:{self.port}/",
            f"  login:     {self.setup.username} / {self.setup.password}   (made for this run)",
            f"  API token: {self.setup.api_token}",
            f"             e.g. curl -H 'Authorization: Bearer {self.setup.api_token}' http://127.0.0.1:{self.port}/api/v1/jobs",
            f"  executors: {self.executors} processes in group {APP_NAME}, plus a producer filling the retry-task table",
            "  jobs:",
        ]
        lines += [f"    #{job_id} {name}" for name, job_id in self.setup.jobs.items()]
        kept = "deleted when the demo stops; pass --dir to keep them" if self.removes_workdir else "kept after the demo stops"
        lines += [
            f"  files:     {self.workdir} (logs in {self.workdir / 'logs'}; {kept})",
            "Webhook alarms are printed below as they arrive. Press Ctrl-C to stop everything.",
        ]
        return lines

    # ------------------------------------------------------------------ stopping

    def stop(self) -> None:
        """Executors first (together: they deregister, cancel the long job and hand in its
        result while the admin still listens), then the producer, then the admin."""
        executors = [c for c in self.children if c.name.startswith("executor")]
        for stage in (executors, [c for c in self.children if c.name == "producer"], [c for c in self.children if c.name == "admin"]):
            for child in stage:
                if child.proc.poll() is None:
                    child.proc.send_signal(signal.SIGTERM)
            for child in stage:
                self._reap(child)
        if self.alarms is not None:
            self.alarms.stop()
        if self._db is not None:
            self._db.dispose()

    def _reap(self, child: Child) -> None:
        try:
            child.proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self.echo(f"{child.name} did not stop within {STOP_TIMEOUT_S:g} s; killing it")
            child.proc.kill()
            child.proc.wait(timeout=10)
        try:  # anything the child started in its session goes with it
            os.killpg(child.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _answers(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ShardcronError(f"port {port} on 127.0.0.1 is in use: pick another one with --port") from None


def run_demo(workdir: Path, port: int, executors: int, echo: Callable[[str], None], *, removes_workdir: bool = False) -> int:
    """Start everything, print the banner, wait for Ctrl-C (or SIGTERM), stop everything; with
    `removes_workdir` (the demo's own temporary folder) delete the folder once every process is gone."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    supervisor = DemoSupervisor(workdir, port, executors, echo, removes_workdir=removes_workdir)
    status = 1  # until the demo has run and stopped as asked: a failure keeps the logs it wrote
    try:
        supervisor.start()
        for line in supervisor.banner():
            echo(line)
        status = 0
        while not stop.wait(0.5):
            if (dead := supervisor.dead_child()) is not None:
                echo(f"error: the demo's {dead.name} process exited with status {dead.proc.returncode}; see {dead.log_path}")
                status = 1
                break
    finally:
        echo("stopping the demo ...")
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        if removes_workdir and (status == 0 or not (workdir / "logs").exists()):
            # Only after every child is reaped: none of them can write into it any more.
            shutil.rmtree(workdir, ignore_errors=True)
            echo("demo stopped; no process left running, its files deleted")
        else:
            echo(f"demo stopped; no process left running, its files kept in {workdir}")
    return status
