"""The chaos scenario: real `shardcron scheduler` processes on MariaDB/MySQL, jobs firing every
second into an executor that accepts every `/run` (repeats included), and a fault script of
`kill -9` and `SIGSTOP`/`SIGCONT` aimed at nodes holding claimed fires. Used by
tests/admin/scheduling/test_chaos.py and bench/takeover_bench.py; chaos_check.py counts.

A run (`ChaosRun(url, scenario, workdir).run()`):

1. `init_schema` on the (fresh) database, a MANUAL executor group naming the accepting executor
   (its own process, tests.support.accepting_executor), `nodes` schedulers started and seen in
   sc_scheduler_node; then `jobs` jobs, half CRON `* * * * * ?`, half FIX_RATE 1, all firing
   first at the same second a little later, `seconds` times each in the checked window.
2. Each fault at its offset from the first fire: find a node holding CLAIMED fires (a fire's
   owner is the node id, or `<node id>#<term>`), SIGSTOP it, note the fires it holds, then
   - kill: SIGKILL it; a supervisor restarts it under a new id `restart_after_s` later;
   - stall: SIGCONT it `stall_s` later (default: the effective lease + STALL_BEYOND_LEASE_S).
   A kill prefers a node holding fires already due (sent, answers not recorded yet: the
   ambiguous case), a stall the node holding most fires not yet due.
3. After the last fire of the window and once the last fault is a lease and more behind, wait
   (bounded) until every planned fire has arrived; then SIGTERM every live scheduler and the
   executor, read the arrivals and the run rows, and check.

Scheduler settings are one dict of `SHARDCRON_*` names without the prefix (`scheduler_settings`),
so that renamed or added settings change one place; lease settings not given are not set (the
product's defaults apply). The misfire grace is 60 s by default so that a slow shared machine
cannot turn a late fire into a deliberate skip: every planned fire must arrive.
"""

from __future__ import annotations

import enum
import functools
import heapq
import itertools
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import sqlalchemy as sa
from shardcron.admin.config import load_config
from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import FireStatus, ScheduleType
from shardcron.core.clock import SYSTEM_CLOCK

from .accepting_executor import Arrival, CallFile, LogQuery
from .chaos_check import FaultWindow, Plan, Report, RunRow, check
from .cpu_usage import CpuMeter, pid_of
from .executor_calls import TOKEN
from .net import free_port, wait_until
from .scheduler_rows import add_group, add_job

ROOT = Path(__file__).resolve().parents[2]
#: A stall lasts this much longer than the lease, unless the fault says how long.
STALL_BEYOND_LEASE_S = 5.0
#: After the last fault ends, the run goes on for the lease plus this (an adopter's re-send, a
#: resumed node's late send would still be seen).
SETTLE_AFTER_LEASE_S = 3.0
_NODE_NAME = re.compile(r"^[a-z0-9-]+$")  # no LIKE wildcards in node ids


class FaultKind(enum.StrEnum):
    KILL = "kill"
    STALL = "stall"


@dataclass(frozen=True)
class Fault:
    kind: FaultKind
    #: Seconds after the first planned fire (a kill at N.05 s meets sends still unanswered).
    at_s: float
    restart_after_s: float = 4.0
    stall_s: float | None = None


@dataclass(frozen=True)
class Scenario:
    nodes: int = 3
    jobs: int = 150
    seconds: int = 60
    faults: tuple[Fault, ...] = ()
    lease_ms: int | None = None
    lease_renew_ms: int | None = None
    lease_margin_ms: int | None = None
    misfire_grace_ms: int = 60_000
    #: Further scheduler settings, names without SHARDCRON_ (e.g. {"LOOKAHEAD_MS": "1500"}).
    settings: Mapping[str, str] = field(default_factory=dict)
    lead_ms: int = 3000  # from the jobs' creation to their first fire
    window_after_ms: int = 5000
    catch_timeout_s: float = 5.0
    drain_timeout_s: float = 30.0


def scheduler_settings(scenario: Scenario) -> dict[str, str]:
    settings = {"MISFIRE_GRACE_MS": str(scenario.misfire_grace_ms), "LOG_LEVEL": "WARNING"}
    for name, value in (("LEASE_MS", scenario.lease_ms), ("LEASE_RENEW_MS", scenario.lease_renew_ms), ("LEASE_MARGIN_MS", scenario.lease_margin_ms)):
        if value is not None:
            settings[name] = str(value)
    settings.update(scenario.settings)
    return settings


def scheduler_env(url: str, settings: Mapping[str, str], token: str = TOKEN) -> dict[str, str]:
    """This process's environment without any SHARDCRON_ variable, plus the scheduler's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env.update({"SHARDCRON_DATABASE_URL": url, "SHARDCRON_ACCESS_TOKEN": token})
    env.update({f"SHARDCRON_{name}": value for name, value in settings.items()})
    return env


def effective_lease_ms(env: Mapping[str, str]) -> int:
    """The lease the schedulers started with `env` use (set, or the product's default); reading
    the settings as they do also fails early, with the setting's name, on a bad value."""
    return load_config(env=env).lease_ms


def start_scheduler(env: Mapping[str, str], node_id: str, log_path: Path) -> subprocess.Popen:
    if not _NODE_NAME.match(node_id):
        raise ValueError(f"node id {node_id!r}: use lower-case letters, digits and '-'")
    script = Path(sys.executable).parent / "shardcron"
    with open(log_path, "ab") as out:
        return subprocess.Popen([str(script), "scheduler", "--node-id", node_id], env=dict(env), stdout=out, stderr=subprocess.STDOUT)


def start_accepting_executor(
    out_path: Path, log_path: Path, token: str = TOKEN, callback_to: str | None = None, run_ms: tuple[int, int] | None = None,
) -> tuple[subprocess.Popen, str]:
    """The accepting executor in its own process; returns it and its address once it listens.
    `callback_to`: an admin's address to report every accepted run to as succeeded; `run_ms`:
    (low, high) ms each run "takes" before that report."""
    extra = [callback_to] if callback_to else []
    if run_ms is not None:
        assert callback_to, "run_ms needs callback_to"
        extra.append(f"{run_ms[0]}-{run_ms[1]}")
    import socket

    port = free_port()
    with open(log_path, "ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.accepting_executor", str(port), token, str(out_path), *extra],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT,
        )

    def listening() -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"the accepting executor exited with {proc.returncode}; see {log_path}")
        with socket.socket() as s:
            return s.connect_ex(("127.0.0.1", port)) == 0

    wait_until(listening, timeout_s=30, what="the accepting executor to listen")
    return proc, f"http://127.0.0.1:{port}"


def node_ids_seen(db: Database) -> set[str]:
    """Scheduler nodes with a heartbeat row (ids as the owner rule names them)."""
    with db.read_session() as s:
        return {str(n).split("#", 1)[0] for n in s.execute(sa.text("SELECT node_id FROM sc_scheduler_node")).scalars()}


def wait_until_wall(at_ms: int) -> None:
    """Wait until the wall clock reaches `at_ms`: the scenario is scripted in the real time the
    scheduler processes run on."""
    left_s = max(0.0, (at_ms - SYSTEM_CLOCK.now_ms()) / 1000)
    wait_until(lambda: SYSTEM_CLOCK.now_ms() >= at_ms, timeout_s=left_s + 5, interval_s=0.01, what=f"the wall clock to reach {at_ms}")


@dataclass
class Outcome:
    report: Report
    scenario: Scenario
    lease_ms: int  # the effective lease (given, or the product default)
    faults: list[FaultWindow]
    exit_codes: dict[str, int | None]  # None: did not exit within the bound after SIGTERM
    killed: set[str]
    alive_at_end: set[str]  # the nodes still running when the run ended (each got SIGTERM)
    log_queries: list[LogQuery]
    fire_statuses: dict[str, int]  # sc_fire rows of the window, per status
    cpu_line: str
    workdir: Path

    def lines(self) -> list[str]:
        s = self.scenario
        head = f"chaos: {s.nodes} schedulers, {s.jobs} jobs/s, {s.seconds} s, lease {self.lease_ms} ms, {len(self.faults)} faults"
        known = sum(1 for q in self.log_queries if q.known)
        tail = (
            f"  /log queries {len(self.log_queries)} ({known} about an accepted logId); fires of the window by status {self.fire_statuses}; "
            f"exit codes {self.exit_codes} (alive at the end: {sorted(self.alive_at_end)})"
        )
        return [head, *self.report.lines(), tail, f"  {self.cpu_line}"]


class ChaosRun:
    def __init__(self, url: str, scenario: Scenario, workdir: Path, *, token: str = TOKEN) -> None:
        self.url = url
        self.scenario = scenario
        self.workdir = workdir
        self.token = token
        self.env = scheduler_env(url, scheduler_settings(scenario), token)
        self.lease_ms = effective_lease_ms(self.env)
        self.db = Database(url, pool_size=2)
        self.procs: dict[str, subprocess.Popen] = {}
        self.stopped: set[str] = set()
        self.killed: set[str] = set()
        self.faults: list[FaultWindow] = []
        self.cpu = CpuMeter()
        self._restarts: dict[str, int] = {}
        self._events: list[tuple[int, int, Callable[[], None]]] = []
        self._seq = itertools.count()
        self.alive_at_end: set[str] = set()

    # ------------------------------------------------------------------ processes

    def _spawn(self, node_id: str) -> None:
        self.procs[node_id] = start_scheduler(self.env, node_id, self.workdir / f"{node_id}.log")
        self.cpu.begin(node_id, self.procs[node_id].pid)

    def _running(self) -> list[str]:
        return [n for n, p in self.procs.items() if n not in self.stopped and n not in self.killed and p.poll() is None]

    def _at(self, at_ms: int, action: Callable[[], None]) -> None:
        heapq.heappush(self._events, (at_ms, next(self._seq), action))

    # ------------------------------------------------------------------ who holds what

    def _holders(self, now_ms: int) -> dict[str, tuple[int, int]]:
        """node -> (CLAIMED fires it owns, how many of them are due by `now_ms`)."""
        held: dict[str, tuple[int, int]] = {}
        with self.db.read_session() as s:
            rows = s.execute(
                sa.text("SELECT owner, COUNT(*), SUM(CASE WHEN fire_at_ms <= :now THEN 1 ELSE 0 END) FROM sc_fire WHERE status = :claimed GROUP BY owner"),
                {"now": now_ms, "claimed": FireStatus.CLAIMED.value},
            ).all()
        for owner, count, due in rows:
            node = str(owner).split("#", 1)[0]
            had, had_due = held.get(node, (0, 0))
            held[node] = (had + int(count), had_due + int(due or 0))
        return held

    def _held_by(self, node: str) -> frozenset[tuple[int, int]]:
        with self.db.read_session() as s:
            rows = s.execute(
                sa.text("SELECT job_id, fire_at_ms FROM sc_fire WHERE status = :claimed AND (owner = :node OR owner LIKE :term)"),
                {"claimed": FireStatus.CLAIMED.value, "node": node, "term": f"{node}#%"},
            ).all()
        return frozenset((int(j), int(at)) for j, at in rows)

    def _catch(self, kind: FaultKind) -> tuple[str, int, frozenset[tuple[int, int]]]:
        """SIGSTOP a running node that holds claimed fires; returns it, the moment it stopped and
        what it holds. For a while a kill waits for a node with fires already due (in flight)."""
        begun = time.monotonic()
        prefer_until = begun + min(1.5, self.scenario.catch_timeout_s / 2)
        while time.monotonic() < begun + self.scenario.catch_timeout_s:
            holders = {n: h for n, h in self._holders(SYSTEM_CLOCK.now_ms()).items() if n in self._running() and h[0] > 0}
            if kind == FaultKind.KILL:
                ranked = sorted(holders, key=lambda n: (holders[n][1] > 0, holders[n][0]), reverse=True)
                if ranked and holders[ranked[0]][1] == 0 and time.monotonic() < prefer_until:
                    ranked = []
            else:
                ranked = sorted(holders, key=lambda n: holders[n][0] - holders[n][1], reverse=True)
            for node in ranked:
                self.procs[node].send_signal(signal.SIGSTOP)
                stopped_ms = SYSTEM_CLOCK.now_ms()
                held = self._held_by(node)
                if held:
                    return node, stopped_ms, held
                self.procs[node].send_signal(signal.SIGCONT)
            time.sleep(0.02)  # poll again shortly: claims change every tick
        raise AssertionError(f"{kind}: no running scheduler held claimed fires within {self.scenario.catch_timeout_s}s (running: {self._running()})")

    # ------------------------------------------------------------------ faults

    def _inject(self, fault: Fault) -> None:
        node, stopped_ms, held = self._catch(fault.kind)
        in_flight = sum(1 for _, at in held if at <= stopped_ms)
        self.cpu.end(node)
        if fault.kind == FaultKind.KILL:
            self.procs[node].send_signal(signal.SIGKILL)
            self.procs[node].wait(timeout=30)
            self.killed.add(node)
            self.faults.append(FaultWindow("kill", node, stopped_ms, stopped_ms, held, in_flight))
            self._at(stopped_ms + int(fault.restart_after_s * 1000), functools.partial(self._restart, node))
            return
        self.stopped.add(node)
        stall_ms = int((fault.stall_s if fault.stall_s is not None else self.lease_ms / 1000 + STALL_BEYOND_LEASE_S) * 1000)

        def resume() -> None:
            self.procs[node].send_signal(signal.SIGCONT)
            resumed_ms = SYSTEM_CLOCK.now_ms()
            self.stopped.discard(node)
            self.cpu.begin(node, self.procs[node].pid)
            self.faults.append(FaultWindow("stall", node, stopped_ms, resumed_ms, held, in_flight))

        self._at(stopped_ms + stall_ms, resume)

    def _restart(self, node: str) -> None:
        base = node.split("-r", 1)[0]
        self._restarts[base] = self._restarts.get(base, 0) + 1
        self._spawn(f"{base}-r{self._restarts[base]}")

    # ------------------------------------------------------------------ the run

    def run(self) -> Outcome:
        s = self.scenario
        executor, address = start_accepting_executor(self.workdir / "arrivals.jsonl", self.workdir / "executor.log", self.token)
        calls = CallFile(self.workdir / "arrivals.jsonl")
        arrivals: list[Arrival] = []
        queries: list[LogQuery] = []
        exit_codes: dict[str, int | None] = {}
        try:
            init_schema(self.db.engine)
            now = SYSTEM_CLOCK.now_ms()
            group = add_group(self.db, "chaos", now, manual=[address])
            for i in range(1, s.nodes + 1):
                self._spawn(f"n{i}")
            wait_until(lambda: set(self.procs) <= node_ids_seen(self.db), timeout_s=60, interval_s=0.2, what="every scheduler's heartbeat row")
            now = SYSTEM_CLOCK.now_ms()
            first_ms = ((now + s.lead_ms) // 1000 + 1) * 1000
            cron = {"schedule_type": ScheduleType.CRON, "schedule_conf": "* * * * * ?"}
            rate = {"schedule_type": ScheduleType.FIX_RATE, "schedule_conf": "1"}
            jobs = tuple(add_job(self.db, group, now, name=f"job{i}", first_fire_ms=first_ms, **(cron if i % 2 else rate)) for i in range(s.jobs))
            plan = Plan(jobs, first_ms, s.seconds)
            if SYSTEM_CLOCK.now_ms() > first_ms - 1000:
                raise AssertionError(f"creating {s.jobs} jobs took too long for lead_ms={s.lead_ms}")
            self.cpu.begin_machine()
            self.cpu.begin("executor", executor.pid)
            self.cpu.begin("mariadbd", pid_of("mariadbd") or pid_of("mysqld"))
            self.cpu.begin("runner", os.getpid())
            for fault in s.faults:
                self._at(first_ms + int(fault.at_s * 1000), functools.partial(self._inject, fault))
            while self._events:
                at_ms, _, action = heapq.heappop(self._events)
                wait_until_wall(at_ms)
                action()
            last_fault_ms = max((f.ended_ms for f in self.faults), default=0)
            wait_until_wall(max(plan.last_fire_ms + 1000, last_fault_ms + self.lease_ms + int(SETTLE_AFTER_LEASE_S * 1000)))
            planned = plan.fires()

            def delivered() -> bool:
                got, asked = calls.read()
                arrivals.extend(got)
                queries.extend(asked)
                planned.difference_update((a.job_id, a.log_date_ms) for a in got)
                return not planned

            try:
                wait_until(delivered, timeout_s=s.drain_timeout_s, interval_s=0.5, what="every planned fire to arrive")
            except AssertionError:
                pass  # the checker counts what is missing
            for label in list(self.procs) + ["executor", "mariadbd", "runner"]:
                self.cpu.end(label)
            self.cpu.end_machine()
        finally:
            exit_codes = self._stop_all(executor)
        got, asked = calls.read()
        arrivals.extend(got)
        queries.extend(asked)
        rows, fire_statuses = self._read_rows(plan)
        self.db.dispose()
        report = check(plan, arrivals, rows, self.faults, window_after_ms=s.window_after_ms)
        faults = sorted(self.faults, key=lambda f: f.started_ms)
        return Outcome(report, s, self.lease_ms, faults, exit_codes, set(self.killed), set(self.alive_at_end), queries, fire_statuses, self.cpu.line(), self.workdir)

    def _stop_all(self, executor: subprocess.Popen) -> dict[str, int | None]:
        for node in list(self.stopped):
            self.procs[node].send_signal(signal.SIGCONT)
        self.alive_at_end = {node for node, proc in self.procs.items() if proc.poll() is None}
        for node in self.alive_at_end:
            self.procs[node].send_signal(signal.SIGTERM)
        codes: dict[str, int | None] = {}
        for node, proc in self.procs.items():
            try:
                codes[node] = proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=30)
                codes[node] = None
        executor.send_signal(signal.SIGTERM)
        executor.wait(timeout=30)
        return codes

    def _read_rows(self, plan: Plan) -> tuple[list[RunRow], dict[str, int]]:
        """Run rows and fires of the window, statuses as the strings stored (new ones included)."""
        bounds = {"first": plan.first_fire_ms, "last": plan.last_fire_ms}
        with self.db.read_session() as s:
            rows = [
                RunRow(int(j), int(at), int(i), str(st), str(tt))
                for j, at, i, st, tt in s.execute(
                    sa.text("SELECT job_id, fire_at_ms, id, status, trigger_type FROM sc_run_log WHERE fire_at_ms BETWEEN :first AND :last"), bounds
                )
            ]
            fires = {str(st): int(n) for st, n in s.execute(sa.text("SELECT status, COUNT(*) FROM sc_fire WHERE fire_at_ms BETWEEN :first AND :last GROUP BY status"), bounds)}
        return rows, fires
