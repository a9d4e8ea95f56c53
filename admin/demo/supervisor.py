"""The demo's processes: started together, watched, and stopped together.

The batch recipe's executor can be killed on purpose (SIGKILL, asked for from the console's Demo
page through the control endpoint, control.py); the supervisor starts it again, on a new port,
`RESTART_AFTER_S` later, and does not count it as a failure of the demo meanwhile.

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
import sqlalchemy as sa

from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.core.errors import ShardcronError

from ..config import load_config, read_or_create_secret
from ..db import Database
from ..enums import RunStatus
from ..models import RunLog
from . import pipeline, recipes
from .control import ControlServer, KillDone, KillOutcome, KillRefused
from .setup import APP_NAME, DemoSetup, prepare_demo, registered_executors, start_demo_jobs
from .webhook import AlarmReceiver

STOP_TIMEOUT_S = 20.0
#: A batch executor killed from the Demo page is started again this long after.
RESTART_AFTER_S = 15.0
#: Lost-run detection of the demo's admin: its shortest, so the automatic repair comes soon too.
LOST_RUN_AFTER_S = 30
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
    args: list[str]
    env: dict[str, str]
    #: The executor's group, for executor processes.
    app_name: str | None = None
    #: Where the admin calls it (batch executors, which listen on a port chosen here).
    address: str | None = None
    #: Killed on purpose: started again at this monotonic instant.
    restart_at_s: float | None = None


class DemoSupervisor:
    def __init__(
        self, workdir: Path, port: int, executors: int, echo: Callable[[str], None], *, removes_workdir: bool = False, shift_after_s: int = 60
    ) -> None:
        self.workdir = workdir
        #: The folder is the demo's own temporary one, deleted at stop (else the user's --dir, kept).
        self.removes_workdir = removes_workdir
        self.port = port
        self.executors = executors
        self.echo = echo
        #: Seconds after the jobs start until somebody is on shift in the shift recipe.
        self.shift_after_s = shift_after_s
        self.children: list[Child] = []
        self.alarms: AlarmReceiver | None = None
        self.control: ControlServer | None = None
        self.setup: DemoSetup | None = None
        self.shift_starts_at_ms: int | None = None
        self._db: Database | None = None
        self._lock = threading.Lock()  # children: the control endpoint's thread kills, the main loop restarts

    # ------------------------------------------------------------------ starting

    def _spawn(self, name: str, args: list[str], env: dict[str, str], *, app_name: str | None = None, address: str | None = None) -> Child:
        log_path = self.workdir / "logs" / f"{name}.log"
        with open(log_path, "ab") as out:
            proc = subprocess.Popen(
                [sys.executable, *args], cwd=self.workdir, env=env, stdout=out, stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL, start_new_session=True, preexec_fn=_die_with_parent if sys.platform.startswith("linux") else None,
            )
        child = Child(name, proc, log_path, args, env, app_name, address)
        self.children.append(child)
        return child

    def _spawn_executor(self, name: str, app_name: str, target: str, token: str, extra_env: dict[str, str], *, fixed_port: bool = False) -> Child:
        # A batch executor listens on a port chosen here, so that the supervisor knows which of its
        # children a run's executor address is (the others take any free port).
        port = _free_port() if fixed_port else 0
        env = self._base_env() | {
            "SHARDCRON_EXECUTOR_APP_NAME": app_name,
            "SHARDCRON_EXECUTOR_ADMIN_ADDRESSES": f"http://127.0.0.1:{self.port}/",
            "SHARDCRON_EXECUTOR_ACCESS_TOKEN": token,
            "SHARDCRON_EXECUTOR_LISTEN": f"127.0.0.1:{port}",
            "SHARDCRON_EXECUTOR_DATA_DIR": str(self.workdir / name),
            "SHARDCRON_EXECUTOR_CALLBACK_RETRY_S": "2",
            "SHARDCRON_EXECUTOR_SHUTDOWN_TIMEOUT_S": "5",
        } | extra_env
        args = ["-m", "shardcron.admin.cli", "executor", "run", target]
        return self._spawn(name, args, env, app_name=app_name, address=f"http://127.0.0.1:{port}" if fixed_port else None)

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
        self.control = ControlServer(self.kill_batch_executor).start()

        admin_env = self._base_env() | {
            "SHARDCRON_INSTANCE_DIR": str(instance), "SHARDCRON_PUBLIC_URL": f"http://127.0.0.1:{self.port}", "SHARDCRON_LOST_RUN_AFTER_S": str(LOST_RUN_AFTER_S),
            "SHARDCRON_DEMO_CONTROL_URL": self.control.url, "SHARDCRON_DEMO_CONTROL_TOKEN": self.control.token,
        }  # fmt: skip
        self._spawn("admin", ["-m", "shardcron.admin.cli", "admin", "--bind", f"127.0.0.1:{self.port}"], admin_env)
        self._spawn("producer", ["-m", demo_module, "produce", "--url", tasks_url, "--every", "1"], self._base_env())
        for index in range(self.executors):
            self._spawn_executor(f"executor-{index + 1}", APP_NAME, f"{demo_module}:create_executor", token, {"DEMO_TASKS_URL": tasks_url})
        shift_url = f"sqlite:///{self.workdir / 'shift.db'}"
        self._spawn_executor("shift-executor", recipes.SHIFT_APP, recipes.SHIFT_TARGET, token, {recipes.DATABASE_URL_ENV: shift_url, recipes.RETRY_BASE_ENV: "1"})
        for index in range(2):
            batch_env = {recipes.DATABASE_URL_ENV: f"sqlite:///{self.workdir / 'batch.db'}"}
            self._spawn_executor(f"batch-executor-{index + 1}", recipes.BATCH_APP, recipes.BATCH_TARGET, token, batch_env, fixed_port=True)
        for index in range(pipeline.PIPELINE_EXECUTORS):
            self._spawn_executor(f"pipeline-executor-{index + 1}", pipeline.PIPELINE_APP, pipeline.PIPELINE_TARGET, token, {})
        wanted = {APP_NAME: self.executors, recipes.SHIFT_APP: 1, recipes.BATCH_APP: 2, pipeline.PIPELINE_APP: pipeline.PIPELINE_EXECUTORS}
        self._wait_for("the console", lambda: _answers(f"http://127.0.0.1:{self.port}/healthz"))

        def all_registered() -> bool:
            live = registered_executors(db, SYSTEM_CLOCK.now_ms())
            return all(live.get(app_name, 0) >= count for app_name, count in wanted.items())

        self._wait_for("the executors to register", all_registered)
        jobs_start_ms = SYSTEM_CLOCK.now_ms()
        self.shift_starts_at_ms = recipes.write_roster(shift_url, jobs_start_ms, self.shift_after_s)
        self.setup = start_demo_jobs(db, self.setup, webhook_url=self.alarms.url, now_ms=jobs_start_ms)

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
        workflow = body.get("workflow")
        if isinstance(workflow, dict):  # a workflow instance's alarm: no run
            instance = workflow.get("instance") or {}
            self.echo(f"alarm (webhook): {body.get('text', 'workflow failed')} [workflow instance {instance.get('id', '?')}]")
            return
        run = body.get("run") or {}
        self.echo(f"alarm (webhook): {body.get('text', 'run failed')} [log id {run.get('id', '?')}, attempt {run.get('attempt', '?')}]")

    # ------------------------------------------------------------------ running

    def dead_child(self) -> Child | None:
        """A child that exited by itself (one killed on purpose waits for its restart)."""
        with self._lock:
            for child in self.children:
                if child.restart_at_s is None and child.proc.poll() is not None:
                    return child
        return None

    def kill_batch_executor(self) -> KillOutcome:
        """SIGKILL the executor child running the batch recipe's run (the control endpoint's
        action): the newest RUNNING run of the batch job, its executor address one of the batch
        children's. Never another process."""
        assert self._db is not None and self.setup is not None
        job_id = self.setup.jobs[recipes.BATCH_JOB]
        with self._db.read_session() as session:
            run = session.execute(
                sa.select(RunLog.id, RunLog.executor_address).where(RunLog.job_id == job_id, RunLog.status == RunStatus.RUNNING).order_by(RunLog.id.desc()).limit(1)
            ).first()
        if run is None:
            return KillRefused("no_running_batch")
        address = (run.executor_address or "").rstrip("/")
        with self._lock:
            child = next((c for c in self.children if c.app_name == recipes.BATCH_APP and c.address == address), None)
            if child is None:
                return KillRefused("executor_not_ours")
            if child.restart_at_s is not None or child.proc.poll() is not None:
                return KillRefused("executor_gone")
            child.proc.kill()
            child.proc.wait(timeout=10)
            child.restart_at_s = SYSTEM_CLOCK.monotonic() + RESTART_AFTER_S
        self.echo(f"demo: {child.name} (pid {child.proc.pid}, {address}) killed with SIGKILL while running run {run.id}; restarting it in {RESTART_AFTER_S:g} s")
        return KillDone(run.id, job_id, child.name, child.proc.pid, address, round(RESTART_AFTER_S))

    def tick(self, now_s: float) -> None:
        """Start again, on a new port, each batch executor killed on purpose whose time has come."""
        with self._lock:
            for index, child in enumerate(self.children):
                if child.restart_at_s is not None and child.restart_at_s <= now_s:
                    port = _free_port()
                    env = child.env | {"SHARDCRON_EXECUTOR_LISTEN": f"127.0.0.1:{port}"}
                    self.children.pop(index)
                    self._spawn(child.name, child.args, env, app_name=child.app_name, address=f"http://127.0.0.1:{port}")
                    self.echo(f"demo: {child.name} started again ({self.children[-1].address})")
                    return  # one per tick: the list changed

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
        console = f"http://127.0.0.1:{self.port}"
        assert self.shift_starts_at_ms is not None
        carol = time.strftime("%H:%M:%S", time.gmtime(self.shift_starts_at_ms / 1000))
        lines += [
            f"  recipes:   the Demo page tells both stories: {console}/demo",
            f"    work orders until someone is on shift (group {recipes.SHIFT_APP}, 1 executor): nobody is on shift,",
            f"      so delivery is retried with backoff until Carol's shift starts at {carol} UTC (in {self.shift_after_s} s);",
            f"      watch the deliveries: {console}/runs?job_id={self.setup.jobs[recipes.SHIFT_JOB]}",
            f"    long batch of {recipes.BATCH_ITEMS:,} items (group {recipes.BATCH_APP}, 2 executors): it pauses at item {recipes.BATCH_PAUSE_AT:,};",
            f"      kill its executor on {console}/demo, then press Repair now: it resumes on the other executor",
            f"      watch its runs: {console}/runs?job_id={self.setup.jobs[recipes.BATCH_JOB]}",
            f"  workflow:  {pipeline.WORKFLOW_NAME} (group {pipeline.PIPELINE_APP}, {pipeline.PIPELINE_EXECUTORS} executors): extract on every executor,",
            "      then load orders, customers and invoices from its result, then a report of what they left;",
            "      the invoices load fails in the first instance and every third after it, and is compensated;",
            f"      its first instance (#{self.setup.first_instance_id}) started now; its schedule: each minute at :30",
            f"      watch its instances: {console}/workflow-instances?workflow_id={self.setup.workflow_id}",
            f"      the Demo page tells its story, with its latest instances and how to trigger it: {console}/demo",
        ]
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
        with self._lock:  # no restart from now on
            for child in self.children:
                child.restart_at_s = None
            children = list(self.children)
        executors = [c for c in children if c.app_name is not None]
        for stage in (executors, [c for c in children if c.name == "producer"], [c for c in children if c.name == "admin"]):
            for child in stage:
                if child.proc.poll() is None:
                    child.proc.send_signal(signal.SIGTERM)
            for child in stage:
                self._reap(child)
        if self.alarms is not None:
            self.alarms.stop()
        if self.control is not None:
            self.control.stop()
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


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _check_port_free(port: int) -> None:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            raise ShardcronError(f"port {port} on 127.0.0.1 is in use: pick another one with --port") from None


def run_demo(workdir: Path, port: int, executors: int, echo: Callable[[str], None], *, removes_workdir: bool = False, shift_after_s: int = 60) -> int:
    """Start everything, print the banner, wait for Ctrl-C (or SIGTERM), stop everything; with
    `removes_workdir` (the demo's own temporary folder) delete the folder once every process is gone."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    supervisor = DemoSupervisor(workdir, port, executors, echo, removes_workdir=removes_workdir, shift_after_s=shift_after_s)
    status = 1  # until the demo has run and stopped as asked: a failure keeps the logs it wrote
    try:
        supervisor.start()
        for line in supervisor.banner():
            echo(line)
        status = 0
        while not stop.wait(0.5):
            supervisor.tick(SYSTEM_CLOCK.monotonic())
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
