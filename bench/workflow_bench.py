"""Workflow figures: step-to-step latency, very large instances, idle CPU with scheduled workflows.

    python bench/workflow_bench.py [--mysql-url URL] [--quick]

One scheduler (`SchedulerRunner`, the code `shardcron scheduler` runs, with its monitors) and the
admin app (`/api/callback`, served by waitress with 16 threads as `shardcron admin` serves it) run in this
process, as `shardcron admin` runs both; a fresh SQLite file by default, and the same again on
MariaDB/MySQL with `--mysql-url` (a scratch database that is emptied). The executor is
tests/support/accepting_executor.py in its own process: it accepts every `/run`, notes its
arrival, and reports it succeeded through `/api/callback` at once, noting when it sent that.

  (a) 100 workflows of 20 steps (chains) started at once: the time from a step's result leaving
      the executor (its callback sent) to its successor's `/run` arriving, p50/p99/max (issue
      target: p99 <= 50 ms). Baseline, measured in the same run: the same from one chain alone.
      Twice: with steps that take a while (each run reported 1-3 s after it arrived, at random:
      100 workflows then make about 50 step transitions a second), and with steps that take no
      time (reported at once), which is a throughput test — every chain always has a transition
      waiting, so by Little's law the latency there is 100 / (transitions per second): it shows
      the scheduler's capacity, printed with it. Each prints the CPU one step transition cost
      this process (admin + scheduler, every thread) and, on MariaDB/MySQL running on this
      machine, the database server.
  (b) a 1,000-step chain and a 1,000-wide fan-out (root -> 1,000 branches -> join) run to the
      end; every step's `/run` counted at the executor: none missing, none twice.
  (c) the scheduler's CPU (this process, user + system) over 30 s idle with 100 enabled
      workflows not due for a day, next to the same with no workflows (the baseline).

`--quick` runs every part on a small size (5 workflows of 5 steps, 30-step instances, 2 s of
CPU): tests/bench/test_workflow_bench.py runs it so that this file cannot rot. Its figures mean
nothing; the full run is for a quiet machine.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOKEN = "bench-token-0123456789abcdef"


@dataclass(frozen=True)
class Sizes:
    workflows: int = 100
    steps: int = 20
    large: int = 1000
    cpu_s: float = 30.0
    idle_workflows: int = 100
    timeout_s: float = 600.0
    step_ms: tuple[int, int] = (1000, 3000)


QUICK = Sizes(workflows=5, steps=5, large=30, cpu_s=2.0, idle_workflows=10, timeout_s=120.0, step_ms=(50, 150))


def percentile(values: list[int], q: float) -> int:
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)] if ordered else -1  # nearest rank


def spread(values: list[int]) -> str:
    if not values:
        return "n=0"
    return f"p50 {percentile(values, 0.50)} ms, p99 {percentile(values, 0.99)} ms, max {max(values)} ms (n={len(values)})"


class Stack:
    """A fresh database, the scheduler and the admin app on it, the accepting executor."""

    def __init__(self, url: str | None, tmp: Path, name: str, *, serve: bool = True, run_ms: tuple[int, int] | None = None) -> None:
        from shardcron.admin import AdminContext, create_app
        from shardcron.admin.config import load_config
        from shardcron.admin.db import Database, init_schema
        from shardcron.admin.models import Base
        from shardcron.admin.schema import ADMIN_SCHEMA
        from shardcron.admin.scheduling.runner import SchedulerRunner
        from shardcron.core.clock import SYSTEM_CLOCK
        from shardcron.executor.embedded import EmbeddedServer
        from tests.support.chaos import start_accepting_executor
        from tests.support.scheduler_rows import add_group

        self.url = url or f"sqlite:///{tmp / f'{name}.db'}"
        self.config = load_config(env={}, overrides={
            "instance_dir": str(tmp), "database_url": self.url, "access_token": TOKEN, "log_level": "WARNING",
        })
        self.db = Database(self.url)
        if url:
            Base.metadata.drop_all(self.db.engine)
            with self.db.engine.begin() as conn:
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {ADMIN_SCHEMA.version_table}")
        init_schema(self.db.engine)
        self.calls = tmp / f"{name}-calls.jsonl"
        self.server = self.executor = None
        address = "http://127.0.0.1:9"  # (c) sends nothing
        if serve:
            app = create_app(self.config, db=self.db, clock=SYSTEM_CLOCK)
            self.server = EmbeddedServer(app, "127.0.0.1:0", threads=16, ident="shardcron")  # waitress, stoppable from here
            port = self.server.start()
            self.executor, address = start_accepting_executor(
                self.calls, tmp / f"{name}-executor.log", TOKEN, callback_to=f"http://127.0.0.1:{port}", run_ms=run_ms,
            )
        self.group = add_group(self.db, "bench", SYSTEM_CLOCK.now_ms(), manual=[address])
        self.runner = SchedulerRunner(AdminContext(config=self.config, db=self.db, clock=SYSTEM_CLOCK), node_id=f"bench-{name}")

    def close(self) -> None:
        self.runner.stop()
        if self.server is not None:
            self.server.stop()
        if self.executor is not None:
            self.executor.terminate()
            self.executor.wait(timeout=30)
        self.db.dispose()

    def workflow(self, definition_of, steps: int, name: str, **fields) -> int:
        from shardcron.core.clock import SYSTEM_CLOCK
        from tests.support.scheduler_rows import add_job
        from tests.support.workflow_rows import add_workflow

        now = SYSTEM_CLOCK.now_ms()
        jobs = [add_job(self.db, self.group, now, name=f"{name}-{k}") for k in range(steps)]
        return add_workflow(self.db, self.group, definition_of(jobs), now, name=name, **fields)

    def wait_ended(self, instance_ids: list[int], timeout_s: float) -> dict[str, int]:
        import sqlalchemy as sa

        from shardcron.admin.enums import WORKFLOW_FINAL
        from shardcron.admin.models import WorkflowInstance

        final = [s.value for s in WORKFLOW_FINAL]
        t = WorkflowInstance.__table__.c
        deadline = time.monotonic() + timeout_s
        while True:
            with self.db.read_session() as s:
                rows = dict(s.execute(sa.select(t.id, t.status).where(t.id.in_(instance_ids))).all())
            if all(str(v) in final for v in rows.values()) or time.monotonic() > deadline:
                return dict(Counter(str(v) for v in rows.values()))
            time.sleep(0.2)

    def read_calls(self) -> tuple[dict[int, list[int]], dict[int, int]]:
        """logId -> arrival times of its /run; logId -> when its result was sent."""
        arrived: dict[int, list[int]] = {}
        sent: dict[int, int] = {}
        for line in self.calls.read_text().splitlines():
            record = json.loads(line)
            if record["kind"] == "run":
                arrived.setdefault(record["log_id"], []).append(record["arrived_ms"])
            elif record["kind"] == "callback":
                for log_id in record["log_ids"]:
                    sent.setdefault(log_id, record["sent_ms"])
        return arrived, sent

    def step_logs(self) -> dict[tuple[int, str], list[int]]:
        """(instance, step key) -> the logIds of its runs."""
        import sqlalchemy as sa

        from shardcron.admin.models import RunLog, WorkflowStepRun

        r, s = RunLog.__table__.c, WorkflowStepRun.__table__.c
        with self.db.read_session() as session:
            rows = session.execute(sa.select(s.instance_id, s.step_key, r.id).join_from(RunLog.__table__, WorkflowStepRun.__table__, r.step_run_id == s.id)).all()
        out: dict[tuple[int, str], list[int]] = {}
        for instance_id, key, log_id in rows:
            out.setdefault((instance_id, key), []).append(log_id)
        return out


def chain(jobs: list[int]) -> dict:
    keys = [f"s{k}" for k in range(len(jobs))]
    return {"steps": [{"key": k, "job_id": j} for k, j in zip(keys, jobs, strict=True)], "edges": [{"from": a, "to": b} for a, b in zip(keys, keys[1:], strict=False)]}


def fan_out(jobs: list[int]) -> dict:
    root, *branches, join = jobs
    keys = [f"w{k}" for k in range(len(branches))]
    return {
        "steps": [{"key": "root", "job_id": root}, *({"key": k, "job_id": j} for k, j in zip(keys, branches, strict=True)), {"key": "join", "job_id": join}],
        "edges": [*({"from": "root", "to": k} for k in keys), *({"from": k, "to": "join"} for k in keys)],
    }


def start_all(stack: Stack, workflow_ids: list[int]) -> list[int]:
    from shardcron.core.clock import SYSTEM_CLOCK
    from tests.support.workflow_rows import start

    now = SYSTEM_CLOCK.now_ms()
    return [start(stack.db, wf, now) for wf in workflow_ids]  # type: ignore[misc]


def chain_latencies(stack: Stack, instance_ids: list[int]) -> list[int]:
    """Per step after the first of these chains: its /run's arrival - its predecessor's result sent."""
    arrived, sent = stack.read_calls()
    logs = stack.step_logs()
    wanted = set(instance_ids)
    out: list[int] = []
    for (instance_id, key), log_ids in logs.items():
        k = int(key[1:])
        if k == 0 or instance_id not in wanted:
            continue
        before = logs.get((instance_id, f"s{k - 1}"), [])
        sent_at = [sent[i] for i in before if i in sent]
        got = [t for i in log_ids for t in arrived.get(i, [])]
        if sent_at and got:
            out.append(min(got) - max(sent_at))
    return out


def part_a(url: str | None, tmp: Path, sizes: Sizes, label: str) -> None:
    from retry_drain_bench import server_cpu_reader  # the database server's CPU, where it runs here

    low, high = sizes.step_ms
    for run_ms in ((low, high), None):
        stack = Stack(url, tmp, f"a-{label}-{'timed' if run_ms else 'instant'}", run_ms=run_ms)
        try:
            stack.runner.start()
            alone = start_all(stack, [stack.workflow(chain, sizes.steps, "alone")])
            ended = stack.wait_ended(alone, sizes.timeout_s)
            baseline = chain_latencies(stack, alone)
            many = [stack.workflow(chain, sizes.steps, f"chain{i}") for i in range(sizes.workflows)]
            server_cpu = server_cpu_reader(url) if url else lambda: None
            cpu_before, server_before = time.process_time(), server_cpu()
            started = time.perf_counter()
            instances = start_all(stack, many)
            ended_many = stack.wait_ended(instances, sizes.timeout_s)
            took = time.perf_counter() - started
            cpu_s, server_after = time.process_time() - cpu_before, server_cpu()
            latencies = chain_latencies(stack, instances)
            steps = "taking no time" if run_ms is None else f"taking {low}-{high} ms"
            print(f"(a) {label}, steps {steps}: one chain of {sizes.steps} steps alone: result -> next /run {spread(baseline)}; instance {ended}")
            print(f"    {sizes.workflows} chains of {sizes.steps} steps at once: result -> next /run {spread(latencies)}")
            rate = len(latencies) / took if took > 0 else 0.0
            print(f"    (all instances {ended_many} in {took:.1f} s: {rate:.0f} step transitions/s"
                  + ("; saturated: latency ~ chains / rate" if run_ms is None else "; target p99 <= 50 ms") + ")")
            per = max(1, len(latencies))
            server = "" if server_before is None or server_after is None else f", database server {(server_after - server_before) * 1000 / per:.1f} ms"
            print(f"    CPU per step transition: this process (admin + scheduler) {cpu_s * 1000 / per:.1f} ms{server}")
        finally:
            stack.close()


def part_b(url: str | None, tmp: Path, sizes: Sizes) -> None:
    stack = Stack(url, tmp, "b")
    try:
        stack.runner.start()
        for name, shape, steps in (("chain", chain, sizes.large), ("fan-out", fan_out, sizes.large + 2)):
            wf = stack.workflow(shape, steps, name)
            started = time.perf_counter()
            ended = stack.wait_ended(start_all(stack, [wf]), sizes.timeout_s)
            took = time.perf_counter() - started
            arrived, _ = stack.read_calls()
            runs = {key: sum(len(arrived.get(i, [])) for i in ids) for key, ids in stack.step_logs().items() if key[1] in _keys(shape, steps)}
            per_step = Counter(runs.get((iid, key), 0) for iid in _instances_of(stack, wf) for key in _keys(shape, steps))
            print(f"(b) {sizes.large}-{'step chain' if shape is chain else 'wide fan-out'}: {ended} in {took:.1f} s; "
                  f"steps by /run arrivals {dict(sorted(per_step.items()))} (every step once: {set(per_step) == {1}})")
    finally:
        stack.close()


def _keys(shape, steps: int) -> set[str]:
    return {s["key"] for s in shape(list(range(steps)))["steps"]}


def _instances_of(stack: Stack, workflow_id: int) -> list[int]:
    import sqlalchemy as sa

    from shardcron.admin.models import WorkflowInstance

    with stack.db.read_session() as s:
        return list(s.scalars(sa.select(WorkflowInstance.id).where(WorkflowInstance.workflow_id == workflow_id)))


def part_c(tmp: Path, sizes: Sizes) -> None:
    from shardcron.admin.enums import ScheduleType
    from shardcron.core.clock import SYSTEM_CLOCK

    figures = []
    for count in (0, sizes.idle_workflows):
        stack = Stack(None, tmp, f"c{count}", serve=False)
        try:
            day_ahead = SYSTEM_CLOCK.now_ms() + 86_400_000
            for i in range(count):
                stack.workflow(chain, 2, f"idle{i}", schedule_type=ScheduleType.FIX_RATE, schedule_conf="86400", enabled=True, next_fire_at_ms=day_ahead)
            stack.runner.start()
            time.sleep(1.0)  # started
            cpu0, wall0 = time.process_time(), time.perf_counter()
            time.sleep(sizes.cpu_s)
            cpu1, wall1 = time.process_time(), time.perf_counter()
            figures.append(100 * (cpu1 - cpu0) / (wall1 - wall0))
        finally:
            stack.close()
    print(f"(c) scheduler CPU idle over {sizes.cpu_s:.0f} s: {figures[1]:.2f} % of one core with {sizes.idle_workflows} enabled workflows "
          f"not due, {figures[0]:.2f} % with none (baseline)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mysql-url", default=None, help="also run (a) on this MariaDB/MySQL database (emptied first)")
    parser.add_argument("--quick", action="store_true", help="small sizes: checks that the benchmark runs, its figures mean nothing")
    args = parser.parse_args()
    sizes = QUICK if args.quick else Sizes()
    with tempfile.TemporaryDirectory(prefix="workflow-bench-") as tmp_name:
        tmp = Path(tmp_name)
        part_a(None, tmp, sizes, "SQLite")
        if args.mysql_url:
            part_a(args.mysql_url, tmp, sizes, "MariaDB")
        part_b(None, tmp, sizes)
        part_c(tmp, sizes)


if __name__ == "__main__":
    main()
