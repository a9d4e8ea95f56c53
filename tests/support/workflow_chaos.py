"""The chaos scenario with workflows: real `shardcron scheduler` processes on MariaDB/MySQL plan
and run scheduled workflows while the fault script of chaos.py kills (-9) and stalls them.

A run (`WorkflowChaosRun(url, scenario, shape, workdir).run()`):

1. `init_schema`, a `shardcron admin --no-scheduler` process (its `/api/callback` is where step
   results come in and instances advance), the accepting executor reporting every run it accepts
   as succeeded to that admin, `nodes` schedulers;
2. `shape.chains` 3-step chains (a -> b -> c) and `shape.fanouts` fan-out/joins (root -> w
   branches -> join), every step its own job, each workflow FIX_RATE every `shape.period_s`
   seconds from the same first planned time a little later (the planner starts the instances);
3. the faults at their offsets from the first planned time (chaos.ChaosRun: a node holding
   claimed fires is SIGSTOPped, then killed and restarted, or resumed after the lease);
4. after the window's last planned time, and a lease and more after the last fault, wait
   (bounded) until every planned instance of the window has ended; stop everything, read the rows
   and arrivals, and check (chaos_check.check_workflows).
"""

from __future__ import annotations

import functools
import heapq
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import sqlalchemy as sa
from shardcron.admin.db import init_schema
from shardcron.admin.enums import ScheduleType, WORKFLOW_FINAL
from shardcron.core.clock import SYSTEM_CLOCK

from .accepting_executor import Arrival, CallFile
from .chaos import SETTLE_AFTER_LEASE_S, ChaosRun, FaultWindow, Scenario, node_ids_seen, start_accepting_executor, wait_until_wall
from .chaos_check import InstanceRow, StepRunRow, WorkflowReport, check_workflows
from .net import free_port, wait_until
from .scheduler_rows import add_group, add_job
from .workflow_rows import add_workflow


@dataclass(frozen=True)
class WorkflowShape:
    chains: int = 8
    fanouts: int = 8
    fan_width: int = 4
    period_s: int = 2

    def steps_per_instance(self) -> tuple[int, int]:
        return 3, self.fan_width + 2


@dataclass
class WorkflowOutcome:
    report: WorkflowReport
    faults: list[FaultWindow]
    exit_codes: dict[str, int | None]
    killed: set[str]
    alive_at_end: set[str]
    cpu_line: str
    workdir: Path

    def lines(self) -> list[str]:
        faults = [f"  {f.kind} {f.node}: held {len(f.held)} fires ({f.in_flight} due)" for f in self.faults]
        return [*self.report.lines(), *faults, f"  exit codes {self.exit_codes}", f"  {self.cpu_line}", f"  logs and step fires in {self.workdir}"]


def start_admin(env: dict[str, str], log_path: Path, home: Path) -> tuple[subprocess.Popen, str]:
    """`shardcron admin --no-scheduler` on a free port; returns it and its address once healthy."""
    import urllib.request

    port = free_port()
    script = Path(sys.executable).parent / "shardcron"
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [str(script), "admin", "--no-scheduler", "--bind", f"127.0.0.1:{port}"], env={**env, "XDG_DATA_HOME": str(home)},
            stdout=out, stderr=subprocess.STDOUT,
        )
    base = f"http://127.0.0.1:{port}"

    def healthy() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the admin exited with {proc.returncode}; see {log_path}")
        try:
            with urllib.request.urlopen(f"{base}/healthz", timeout=2) as reply:
                return bool(reply.status == 200)
        except OSError:
            return False

    wait_until(healthy, timeout_s=60, interval_s=0.2, what="the admin to answer /healthz")
    return proc, base


def _chain(jobs: list[int]) -> dict:
    keys = ["a", "b", "c"]
    return {"steps": [{"key": k, "job_id": j} for k, j in zip(keys, jobs, strict=True)], "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}]}


def _fanout(jobs: list[int]) -> dict:
    root, *branches, join = jobs
    keys = [f"w{i}" for i in range(len(branches))]
    return {
        "steps": [{"key": "root", "job_id": root}, *({"key": k, "job_id": j} for k, j in zip(keys, branches, strict=True)), {"key": "join", "job_id": join}],
        "edges": [*({"from": "root", "to": k} for k in keys), *({"from": k, "to": "join"} for k in keys)],
    }


class WorkflowChaosRun(ChaosRun):
    def __init__(self, url: str, scenario: Scenario, shape: WorkflowShape, workdir: Path) -> None:
        super().__init__(url, scenario, workdir)
        self.shape = shape

    def _make_workflows(self, group: int, now: int, first_ms: int) -> list[int]:
        made: list[int] = []
        chain_steps, fan_steps = self.shape.steps_per_instance()
        for kind, count, steps, definition in (("chain", self.shape.chains, chain_steps, _chain), ("fan", self.shape.fanouts, fan_steps, _fanout)):
            for i in range(count):
                jobs = [add_job(self.db, group, now, name=f"{kind}{i}-s{k}") for k in range(steps)]
                made.append(add_workflow(
                    self.db, group, definition(jobs), now, name=f"{kind}{i}", schedule_type=ScheduleType.FIX_RATE,
                    schedule_conf=str(self.shape.period_s), enabled=True, next_fire_at_ms=first_ms,
                ))
        return made

    def run(self) -> WorkflowOutcome:  # type: ignore[override]
        s = self.scenario
        init_schema(self.db.engine)
        admin, admin_url = start_admin(self.env, self.workdir / "admin.log", self.workdir)
        executor, address = start_accepting_executor(self.workdir / "arrivals.jsonl", self.workdir / "executor.log", self.token, callback_to=admin_url)
        calls = CallFile(self.workdir / "arrivals.jsonl")
        arrivals: list[Arrival] = []
        try:
            now = SYSTEM_CLOCK.now_ms()
            group = add_group(self.db, "wfchaos", now, manual=[address])
            for i in range(1, s.nodes + 1):
                self._spawn(f"n{i}")
            wait_until(lambda: set(self.procs) <= node_ids_seen(self.db), timeout_s=60, interval_s=0.2, what="every scheduler's heartbeat row")
            now = SYSTEM_CLOCK.now_ms()
            first_ms = ((now + s.lead_ms) // 1000 + 1) * 1000
            workflows = self._make_workflows(group, now, first_ms)
            period_ms = self.shape.period_s * 1000
            planned_times = [first_ms + k * period_ms for k in range(s.seconds // self.shape.period_s)]
            expected = {(wf, at) for wf in workflows for at in planned_times}
            self.cpu.begin_machine()
            for fault in s.faults:
                self._at(first_ms + int(fault.at_s * 1000), functools.partial(self._inject, fault))
            while self._events:
                at_ms, _, action = heapq.heappop(self._events)
                wait_until_wall(at_ms)
                action()
            last_fault_ms = max((f.ended_ms for f in self.faults), default=0)
            wait_until_wall(max(planned_times[-1] + 1000, last_fault_ms + self.lease_ms + int(SETTLE_AFTER_LEASE_S * 1000)))
            try:
                wait_until(lambda: self._ended(expected), timeout_s=s.drain_timeout_s, interval_s=0.5, what="every planned instance to end")
            except AssertionError:
                pass  # the checker counts what did not end
            for label in list(self.procs):
                self.cpu.end(label)
            self.cpu.end_machine()
        finally:
            exit_codes = self._stop_all(executor)
            admin.send_signal(signal.SIGTERM)
            try:
                admin.wait(timeout=30)
            except subprocess.TimeoutExpired:
                admin.kill()
                admin.wait(timeout=30)
        got, _ = calls.read()
        arrivals.extend(got)
        report = self._check(expected, arrivals)
        self.db.dispose()
        return WorkflowOutcome(report, sorted(self.faults, key=lambda f: f.started_ms), exit_codes, set(self.killed), set(self.alive_at_end), self.cpu.line(), self.workdir)

    def _ended(self, expected: set[tuple[int, int]]) -> bool:
        final = [status.value for status in WORKFLOW_FINAL]
        with self.db.read_session() as session:
            rows = session.execute(sa.text("SELECT workflow_id, planned_at_ms, status FROM sc_workflow_instance")).all()
        done = {(int(w), int(at)) for w, at, st in rows if st in final}
        return expected <= done

    def _check(self, expected: set[tuple[int, int]], arrivals: list[Arrival]) -> WorkflowReport:
        with self.db.read_session() as session:
            instances = [
                InstanceRow(int(i), int(w), int(at), str(st), None if fin is None else int(fin))
                for i, w, at, st, fin in session.execute(sa.text("SELECT id, workflow_id, planned_at_ms, status, finished_at_ms FROM sc_workflow_instance"))
            ]
            steps = [
                StepRunRow(int(i), int(inst), str(k), int(g), str(st), int(j))
                for i, inst, k, g, st, j in session.execute(sa.text("SELECT id, instance_id, step_key, generation, status, job_id FROM sc_workflow_step_run"))
            ]
            runs = [(int(i), int(sr)) for i, sr in session.execute(sa.text("SELECT id, step_run_id FROM sc_run_log WHERE step_run_id IS NOT NULL"))]
            # What became of the fires of steps never sent (read when the check fails).
            with open(self.workdir / "step_fires.txt", "w", encoding="utf-8") as out:
                for row in session.execute(sa.text(
                    "SELECT f.id, f.job_id, f.fire_at_ms, f.status, f.owner, f.step_run_id, s.instance_id, s.step_key, s.status, "
                    "(SELECT COUNT(*) FROM sc_run_log r WHERE r.fire_id = f.id) FROM sc_fire f JOIN sc_workflow_step_run s ON s.id = f.step_run_id "
                    "WHERE s.status = 'FIRED' ORDER BY f.id"
                )):
                    out.write(" ".join(map(str, row)) + "\n")
            at_least_once = frozenset(int(j) for j in session.execute(sa.text("SELECT id FROM sc_job WHERE delivery = 'AT_LEAST_ONCE'")).scalars())
        return check_workflows(expected, instances, steps, runs, arrivals, at_least_once_jobs=at_least_once)

