"""Scheduler figures: trigger lag, trigger throughput against a raw-client baseline, idle CPU.

    python bench/scheduler_bench.py [--database-url URL] [--cpu-seconds 60] [--burst 6000] [--pairs 5] [--overlap SKIP] [--cap 1000]

One scheduler (`SchedulerRunner`, the code `shardcron scheduler` runs) runs in this process, on
a fresh SQLite file by default (the embedded default; `--database-url` for MariaDB/MySQL, a
scratch database that is emptied). Four local executors run in their own processes: the
executor's own server stack (waitress via EmbeddedServer) with a WSGI app that notes the arrival
time of every `/run` and answers "accepted" at once, so that the figures are the scheduler's.

  (a) trigger lag = arrival of /run at the executor - planned fire time, p50/p99/max, for 1 job
      (every second, 30 fires), 100 jobs due in the same second (5 rounds) and 1,000 jobs due in
      the same second (3 rounds), ROUND-routed over the 4 executors.
  (b) sustained triggers/s of the scheduler working off `--burst` fires due at once (claim,
      run rows, /run, answers recorded: the whole path), next to the rate the same HTTP client
      (the dispatcher's Multiplexer, same bounds) reaches calling /run on the same executors with
      no scheduling, measured right before it; `--pairs` such pairs in turn, so that a machine
      whose load changes affects both sides of each pair alike. The median ratio is the figure.
  (c) the scheduler process's CPU (user + system) while 10,000 enabled jobs fire once a minute
      (spread over the minute's seconds), over `--cpu-seconds`, as % of one core.

`--overlap POLICY` gives the jobs of (a) that overlap policy (default ALLOW_ALL, the feature
off); the benchmark then finishes each run at its next look after its planned time (every 0.5 s, as an executor's
callback would, so that the next round's fires find the job idle and start). `--cap K` gives
the executor group of (a) a concurrency cap of K runs (WAIT), with runs finished the same way.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
TOKEN = "bench-token-0123456789abcdef"
EXECUTORS = 4


# ---------------------------------------------------------------------- the executors (subprocesses)


def serve_receiver(port: int) -> None:
    from shardcron.executor.embedded import EmbeddedServer
    from shardcron.core.protocol import Envelope, encode_json

    ok = encode_json(Envelope.success(msg="accepted").to_wire())
    seen: list[tuple[int, int, int, int]] = []
    lock = threading.Lock()

    def app(environ, start_response):
        arrived_ms = time.time_ns() // 1_000_000
        body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        path = environ["PATH_INFO"]
        if path == "/run":
            t = json.loads(body)
            with lock:
                seen.append((t["jobId"], t["logId"], t["logDateTime"], arrived_ms))
            out = ok
        elif path == "/count":
            with lock:
                out = str(len(seen)).encode()
        elif path == "/dump":
            with lock:
                out = json.dumps(seen).encode()
                seen.clear()
        else:
            out = ok
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
        return [out]

    EmbeddedServer(app, f"127.0.0.1:{port}", threads=16).start()
    threading.Event().wait()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _post(port: int, path: str) -> bytes:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    conn.request("POST", path, b"", {"XXL-JOB-ACCESS-TOKEN": TOKEN})
    data = conn.getresponse().read()
    conn.close()
    return data


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            _post(port, "/beat")
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def dump(ports: list[int]) -> list[tuple[int, int, int, int]]:
    return [tuple(row) for port in ports for row in json.loads(_post(port, "/dump"))]


# ---------------------------------------------------------------------- the scheduler (this process)


class Bench:
    def __init__(
        self, database_url: str | None, ports: list[int], tmp: Path, workers: int | None = None, overlap: str = "ALLOW_ALL", cap: int | None = None,
    ) -> None:
        self.database_url = database_url
        self.overlap = overlap
        self.cap = cap
        self.workers = workers
        self.ports = ports
        self.addresses = [f"http://127.0.0.1:{p}" for p in ports]
        self.tmp = tmp
        self.round = 0

    def fresh(self, **overrides):
        """A new, empty admin database and a runner for it (not started)."""
        from shardcron.admin import AdminContext
        from shardcron.admin.config import load_config
        from shardcron.admin.db import Database, init_schema
        from shardcron.admin.models import Base
        from shardcron.admin.schema import ADMIN_SCHEMA
        from shardcron.admin.scheduling.runner import SchedulerRunner
        from shardcron.core.clock import SYSTEM_CLOCK

        self.round += 1
        url = self.database_url or f"sqlite:///{self.tmp / f'bench{self.round}.db'}"
        config = load_config(env={}, overrides={
            "instance_dir": str(self.tmp), "database_url": url, "access_token": TOKEN, "log_level": "WARNING",
            **({"trigger_workers": self.workers} if self.workers else {}), **overrides,
        })
        db = Database(url)
        if self.database_url:
            Base.metadata.drop_all(db.engine)
            with db.engine.begin() as conn:  # and the revision it recorded, or the schema counts as there
                conn.exec_driver_sql(f"DROP TABLE IF EXISTS {ADMIN_SCHEMA.version_table}")
        init_schema(db.engine)
        runner = SchedulerRunner(AdminContext(config=config, db=db, clock=SYSTEM_CLOCK), node_id="bench", monitors=[])
        return db, runner

    def add_jobs(self, db, rows: list[dict], cap: int | None = None) -> list[int]:
        import sqlalchemy as sa

        from shardcron.admin.enums import AddressType
        from shardcron.admin.models import ExecutorGroup, Job

        now = int(time.time() * 1000)
        with db.session() as s:
            group = ExecutorGroup(app_name="bench", title="bench", address_type=AddressType.MANUAL, manual_addresses="\n".join(self.addresses), created_at_ms=now, updated_at_ms=now)
            s.add(group)
            s.flush()
            if cap is not None:  # set apart from the constructor: a tree without the column runs the rest
                s.execute(sa.update(ExecutorGroup.__table__).where(ExecutorGroup.__table__.c.id == group.id).values(cap_runs=cap))
            base = {"group_id": group.id, "handler": "noop", "enabled": True, "route_strategy": "ROUND", "timezone": "UTC", "created_at_ms": now, "updated_at_ms": now, "last_fire_at_ms": 0}
            s.execute(sa.insert(Job.__table__), [{**base, "name": f"job{i}", **row} for i, row in enumerate(rows)])
            return list(s.execute(sa.select(Job.id)).scalars())


def percentile(values: list[int], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q * (len(ordered) - 1))))]


def measure_lag(bench: Bench, jobs: int, rounds: int, period_s: int) -> dict:
    db, runner = bench.fresh()
    first = (int(time.time()) + 4) * 1000
    policy = {"overlap_policy": bench.overlap} if bench.overlap != "ALLOW_ALL" else {}
    bench.add_jobs(db, [{"schedule_type": "FIX_RATE", "schedule_conf": str(period_s), "next_fire_at_ms": first, **policy} for _ in range(jobs)], bench.cap)
    dump(bench.ports)
    runner.start()
    try:
        last = first + (rounds - 1) * period_s * 1000
        deadline = time.monotonic() + (last - time.time() * 1000) / 1000 + 30
        got: list[tuple[int, int, int, int]] = []
        while time.monotonic() < deadline:
            time.sleep(0.5)
            got += dump(bench.ports)
            if sum(1 for r in got if r[2] <= last) >= jobs * rounds:
                break
            if policy or bench.cap is not None:
                finish_runs(db, int(time.time() * 1000))
    finally:
        runner.stop()
        db.dispose()
    lags = [arrived - planned for _, _, planned, arrived in got if planned <= last]
    if len(lags) != jobs * rounds:
        raise SystemExit(f"lag run for {jobs} jobs: {len(lags)} of {jobs * rounds} triggers arrived")
    return {"jobs": jobs, "samples": len(lags), "p50": percentile(lags, 0.5), "p99": percentile(lags, 0.99), "max": max(lags)}


def finish_runs(db, planned_before_ms: int) -> None:
    """Mark the runs planned before `planned_before_ms` finished, as their callbacks would."""
    import sqlalchemy as sa

    from shardcron.admin.models import RunLog

    with db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.status == "RUNNING", RunLog.fire_at_ms < planned_before_ms).values(status="SUCCESS", handle_code=200))


@dataclass(frozen=True)
class Rate:
    """/run calls per second: `whole` over the whole run (the baseline: first call to last
    answer; the scheduler: from its start, so with its first claim's preparing, to the last
    arrival); `sustained` from the first arrival at an executor to the last (receiver stamps)."""

    whole: float
    sustained: float


def sustained(arrived: list[tuple[int, int, int, int]], total: int) -> float:
    """Calls per second between the first and the last arrival at the executors."""
    if len(arrived) != total:  # a call missing, sent twice or left over from elsewhere
        raise SystemExit(f"{len(arrived)} /run calls arrived where {total} were made")
    stamps = [row[3] for row in arrived]
    return (total - 1) / max((max(stamps) - min(stamps)) / 1000, 0.001)


def measure_raw(bench: Bench, total: int, workers: int) -> Rate:
    """/run calls per second of the scheduler's own client on the same executors with no
    scheduling: the Multiplexer the dispatcher sends through, with the same bounds (`workers`
    calls in flight, a quarter of them per executor) and the same ExecutorClient settings,
    handed all `total` calls at once."""
    from shardcron.admin.transport.executor_client import ExecutorClient
    from shardcron.admin.transport.calls import Call
    from shardcron.admin.transport.multiplex import Multiplexer
    from shardcron.core.protocol import TriggerParam, encode_json

    client = ExecutorClient(TOKEN)
    answered = threading.Event()
    refused: list[str] = []
    count = [0]

    def on_answer(token, answer) -> None:
        if not answer.ok:
            refused.append(answer.msg)
        count[0] += 1
        if count[0] == total:
            answered.set()

    sender = Multiplexer(client, on_answer, per_address=max(1, workers // 4), total=workers)
    sender.start()
    dump(bench.ports)  # nothing left over from an earlier part counts as an arrival of this one
    calls = []
    for n in range(total):  # built before the clock starts: the baseline times the calls alone
        trigger = TriggerParam(job_id=n % 1000 + 1, log_id=10_000_000 + n, log_date_time_ms=0, executor_handler="noop")
        calls.append(Call(bench.addresses[n % len(bench.addresses)], "run", encode_json(trigger.to_wire()), n))
    started = time.perf_counter()
    sender.submit(calls)
    if not answered.wait(120):
        raise SystemExit(f"raw /run: {count[0]} of {total} answered")
    elapsed = time.perf_counter() - started
    sender.stop(10)
    client.close()
    arrived = dump(bench.ports)
    if refused:
        raise SystemExit(f"raw /run refused: {refused[0]}")
    return Rate(total / elapsed, sustained(arrived, total))


def measure_burst(bench: Bench, total: int) -> Rate:
    """`total` API fires due now, worked off by the scheduler from its start."""
    import sqlalchemy as sa

    from shardcron.admin.models import Fire

    db, runner = bench.fresh()
    job_ids = bench.add_jobs(db, [{"schedule_type": "NONE", "schedule_conf": "", "next_fire_at_ms": 0} for _ in range(1000)])
    now = int(time.time() * 1000)
    with db.session() as s:
        s.execute(sa.insert(Fire.__table__), [
            {"job_id": job_ids[i % len(job_ids)], "fire_at_ms": now, "trigger_type": "API", "origin_ref": i + 1, "status": "PENDING", "owner": None,
             "lease_until_ms": 0, "attempt": 0, "created_at_ms": now}
            for i in range(total)
        ])
    dump(bench.ports)
    started_ms = time.time_ns() / 1e6  # the receivers stamp arrivals with the same clock
    runner.start()
    try:
        # Only counts are asked for while it runs (the arrivals are fetched afterwards), so
        # that watching costs the scheduler's process next to nothing.
        count = 0
        deadline = time.monotonic() + 300
        while count < total and time.monotonic() < deadline:
            time.sleep(0.05)
            count = sum(int(_post(port, "/count")) for port in bench.ports)
        arrived = dump(bench.ports)
        runner.dispatcher.wait_idle(60)
    finally:
        runner.stop()
        db.dispose()
    if count < total:
        raise SystemExit(f"burst: only {count} of {total} triggers arrived")
    # until the last /run arrived (not until the loop above next looked)
    return Rate(total / ((max(row[3] for row in arrived) - started_ms) / 1000), sustained(arrived, total))


def measure_cpu(bench: Bench, seconds: float) -> tuple[float, int]:
    db, runner = bench.fresh()
    base_s = int(time.time()) + 5
    rows = []
    for i in range(10_000):
        second = i % 60
        at = (base_s + (second - base_s) % 60) * 1000  # the next time the clock shows that second
        rows.append({"schedule_type": "CRON", "schedule_conf": f"{second} * * * * ?", "next_fire_at_ms": at})
    bench.add_jobs(db, rows)
    runner.start()
    try:
        time.sleep(5)  # warm-up: first claims, connections opened
        dump(bench.ports)
        cpu0, wall0 = time.process_time(), time.perf_counter()
        time.sleep(seconds)
        cpu1, wall1 = time.process_time(), time.perf_counter()
        fired = len(dump(bench.ports))
    finally:
        runner.stop()
        db.dispose()
    return 100 * (cpu1 - cpu0) / (wall1 - wall0), fired


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default=None, help="scratch MySQL/MariaDB database (emptied!); default: a temporary SQLite file")
    parser.add_argument("--cpu-seconds", type=float, default=60.0, help="length of the CPU measurement (c)")
    parser.add_argument("--burst", type=int, default=6000, help="fires due at once for the throughput measurement (b)")
    parser.add_argument("--role", choices=["receiver"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--skip", default="", help="comma list of parts to skip: a,b,c")
    parser.add_argument("--pairs", type=int, default=5, help="(b): baseline/scheduler pairs measured in turn; the median ratio is the figure")
    parser.add_argument("--workers", type=int, default=None, help="trigger_workers (default: the setting's default)")
    parser.add_argument("--overlap", default="ALLOW_ALL", help="(a): the jobs' overlap policy (default ALLOW_ALL: the feature off)")
    parser.add_argument("--cap", type=int, default=None, help="(a): the executor group's concurrency cap (default: none, the feature off)")
    args = parser.parse_args()
    if args.role == "receiver":
        return serve_receiver(args.port)

    import logging

    logging.basicConfig(level=logging.WARNING)
    ports = [_free_port() for _ in range(EXECUTORS)]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    procs = [subprocess.Popen([sys.executable, __file__, "--role", "receiver", "--port", str(p)], env=env) for p in ports]
    load_seen = [os.getloadavg()[0]]
    try:
        for port in ports:
            _wait_listening(port)
        with tempfile.TemporaryDirectory(prefix="shardcron-sched-bench-") as tmp:
            bench = Bench(args.database_url, ports, Path(tmp), args.workers, args.overlap, args.cap)
            skip = set(args.skip.split(","))
            print(f"scheduler bench: {EXECUTORS} local executors, database {'SQLite (temporary file)' if not args.database_url else args.database_url.split('@')[-1]}")
            if args.overlap != "ALLOW_ALL":
                print(f"(a): every job has overlap policy {args.overlap}; runs are finished within 0.5 s of their planned time")
            if args.cap is not None:
                print(f"(a): the group has a concurrency cap of {args.cap} runs (WAIT); runs are finished within 0.5 s of their planned time")
            print(f"CPUs this benchmark and its executors may use: {','.join(map(str, sorted(os.sched_getaffinity(0))))} of {os.cpu_count()}")
            if "a" not in skip:
                print("\n(a) trigger lag, /run arrival - planned fire time (ms)")
                print(f"{'co-due jobs':>12} {'samples':>8} {'p50':>6} {'p99':>6} {'max':>6}")
                for jobs, rounds, period in ((1, 30, 1), (100, 5, 2), (1000, 3, 5)):
                    r = measure_lag(bench, jobs, rounds, period)
                    load_seen.append(os.getloadavg()[0])
                    print(f"{r['jobs']:>12} {r['samples']:>8} {r['p50']:>6} {r['p99']:>6} {r['max']:>6}")
            if "b" not in skip:
                from shardcron.admin.config import load_config

                workers = args.workers or load_config(env={}).trigger_workers
                print(f"\n(b) throughput, {args.burst} fires due at once, {workers} calls in flight at most; {args.pairs} pairs, each baseline measured right before its run")
                print("    sustained: first /run arrival to last; whole: the baseline from its first call, the scheduler from its start")
                ratios, whole_ratios = [], []
                for pair in range(1, args.pairs + 1):
                    raw = measure_raw(bench, args.burst, workers)
                    rate = measure_burst(bench, args.burst)
                    load_seen.append(os.getloadavg()[0])
                    ratios.append(rate.sustained / raw.sustained)
                    whole_ratios.append(rate.whole / raw.whole)
                    print(
                        f"pair {pair}: sustained: raw client /run {raw.sustained:6.0f} /s, scheduler {rate.sustained:6.0f} /s, ratio {ratios[-1]:.2f}"
                        f"   whole: {raw.whole:6.0f} /s, {rate.whole:6.0f} /s ({args.burst / rate.whole:.2f} s), ratio {whole_ratios[-1]:.2f}"
                    )
                print(f"ratio, sustained: median {statistics.median(ratios):.2f}, range {min(ratios):.2f}-{max(ratios):.2f}")
                print(f"ratio, whole run: median {statistics.median(whole_ratios):.2f}, range {min(whole_ratios):.2f}-{max(whole_ratios):.2f}")
            if "c" not in skip:
                cpu, fired = measure_cpu(bench, args.cpu_seconds)
                load_seen.append(os.getloadavg()[0])
                print(f"\n(c) 10,000 jobs firing once a minute: scheduler CPU {cpu:.1f} % of one core over {args.cpu_seconds:.0f} s ({fired} triggers sent)")
        print(f"\nload average (1 min) seen during the run: {min(load_seen):.1f}-{max(load_seen):.1f} on {os.cpu_count()} CPUs")
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.wait(timeout=10)


if __name__ == "__main__":
    main()
