"""Retry-task drain throughput on MariaDB/MySQL or PostgreSQL, next to the database's raw claim rate.

    python bench/retry_drain_bench.py [--url mysql+pymysql://root@127.0.0.1:3306/sc_bench]
                                      [--tasks 100000] [--processes 1,2,4] [--batch 500]
    python bench/retry_drain_bench.py --url postgresql+psycopg://postgres@127.0.0.1:5432/sc_bench

For each process count P it fills a fresh table with `--tasks` due rows and times two loops,
each in P worker processes started before the clock and released together:

  raw-shard  the bare loop: BEGIN; SELECT id ... WHERE due AND id % P = i ORDER BY
             next_attempt_at_ms LIMIT batch FOR UPDATE SKIP LOCKED; UPDATE ... SET
             status='SUCCEEDED' WHERE id IN (..); COMMIT — until a plain read finds nothing due
             (the bare driver — PyMySQL or psycopg — no ORM, no handler, no lease);
  raw-queue  the same loop without the shard filter: P workers compete for the same rows;
  raw-lease  the raw-shard loop writing each row twice as the drainer does: the lease (owner,
             until, next_attempt_at_ms, attempts) committed, then the outcome under the lease's
             owner — the ceiling of the drainer's design before any client work;
  drainer    RetryTasks.drain(shard i of P) with a no-op handler, until nothing is due.

With `--threads` it also prints the drainer's CPU per row per thread (the claiming thread, the
handler threads, the commit thread), read from /proc every 20 ms while the drain runs (the
reading costs the drainer 0.5-0.8 us of CPU per row of its own, in `client us/row`).

It prints rows/s, the drainer's share of the better raw rate at the same P, the CPU time per
row of the worker processes (`client us/row`) and of the database server (`db us/row`, when the
server runs on this machine and its pid file is readable: MariaDB's one process, or
PostgreSQL's postmaster with all its backends, those that ended included; it also counts
whatever else the server does meanwhile), duplicates (rows handled more than once, counted from the ids every
worker reports back) and leftovers (rows not SUCCEEDED afterwards, or never reported). On a
shared machine rows/s swing with the other load; CPU per row is much steadier, so compare
changes to the hot path by it.
The database named in the URL is created and dropped by the script.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shardcron.executor.retry_tasks import DrainerParams, RetryTasks, metadata, retry_task  # noqa: E402

NOOP = "BENCH_NOOP"
INSERT_CHUNK = 5_000
#: Set by `--threads` before the workers are forked.
THREAD_CPU = False


def _is_postgresql(url: str | sa.engine.URL) -> bool:
    return sa.engine.make_url(url).get_backend_name() == "postgresql"


def _raw_connection(url: str):
    """A bare driver connection (no SQLAlchemy) in READ COMMITTED, not autocommitting."""
    parsed = sa.engine.make_url(url)
    if _is_postgresql(parsed):
        import psycopg

        # PostgreSQL's default isolation level is READ COMMITTED already. The claim's plan as
        # the drainer gets it (store.pg_claim_settings), for the whole session at no cost per
        # claim: without it the planner reads and sorts the whole table for a sharded claim.
        conn = psycopg.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 5432, user=parsed.username or "postgres", password=parsed.password or "", dbname=parsed.database, autocommit=True)
        conn.execute("SET enable_seqscan = off")
        conn.execute("SET enable_bitmapscan = off")
        conn.autocommit = False
        return conn
    import pymysql

    conn = pymysql.connect(host=parsed.host or "127.0.0.1", port=parsed.port or 3306, user=parsed.username or "root", password=parsed.password or "", database=parsed.database, autocommit=False)
    with conn.cursor() as cur:
        cur.execute("SET SESSION TRANSACTION ISOLATION LEVEL READ COMMITTED")
    return conn


def fill(url: str, count: int) -> None:
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        metadata.drop_all(conn)
        metadata.create_all(conn)
    now_ms = int(time.time() * 1000)
    rows = [
        {
            "task_code": NOOP,
            "request_no": f"R{i:09d}",
            "payload": f'{{"n":{i}}}',
            "status": "PENDING",
            "attempts": 0,
            "max_attempts": 5,
            "next_attempt_at_ms": now_ms - 1000,
            "lease_owner": None,
            "lease_until_ms": 0,
            "created_at_ms": now_ms,
            "updated_at_ms": now_ms,
        }
        for i in range(count)
    ]
    with engine.begin() as conn:
        for start in range(0, count, INSERT_CHUNK):
            conn.execute(retry_task.insert(), rows[start : start + INSERT_CHUNK])
        conn.exec_driver_sql(f"ANALYZE {retry_task.name}" if _is_postgresql(url) else f"ANALYZE TABLE {retry_task.name}")
    engine.dispose()


def raw_worker(url: str, index: int, total: int, batch: int, ready, go, out, *, sharded: bool = True, leased: bool = False) -> None:
    conn = _raw_connection(url)
    token = f"bench-{os.getpid()}"
    shard = f" AND id %% {total} = {index}" if total > 1 and sharded else ""
    select_sql = (
        f"SELECT id FROM {retry_task.name} WHERE status = 'PENDING' AND next_attempt_at_ms <= %s{shard} "
        f"ORDER BY next_attempt_at_ms LIMIT {batch} FOR UPDATE SKIP LOCKED"
    )
    probe_sql = f"SELECT id FROM {retry_task.name} WHERE status = 'PENDING' AND next_attempt_at_ms <= %s{shard} LIMIT 1"
    handled: list[int] = []
    ready.set()
    go.wait()
    cpu_started = time.process_time()
    with conn.cursor() as cur:
        while True:
            now_ms = int(time.time() * 1000)
            cur.execute(select_sql, (now_ms,))
            ids = [row[0] for row in cur.fetchall()]
            if not ids:
                conn.commit()
                # SKIP LOCKED returns nothing while other shards' range scans hold rows of this
                # shard for an instant: only a plain (non-locking) read can say "none due".
                cur.execute(probe_sql, (now_ms,))
                remaining = cur.fetchall()
                conn.commit()
                if remaining:
                    continue
                break
            marks = ",".join(["%s"] * len(ids))
            if leased:
                # The drainer's two writes, bare: the lease (making the row not due), committed,
                # then the outcome under the lease's owner.
                until = now_ms + 60_000
                cur.execute(
                    f"UPDATE {retry_task.name} SET lease_owner = %s, lease_until_ms = %s, next_attempt_at_ms = %s, attempts = attempts + 1, updated_at_ms = %s WHERE id IN ({marks})",
                    (token, until, until, now_ms, *ids),
                )
                conn.commit()
                cur.execute(
                    f"UPDATE {retry_task.name} SET status = 'SUCCEEDED', lease_owner = NULL, lease_until_ms = 0, finished_at_ms = %s, updated_at_ms = %s WHERE id IN ({marks}) AND lease_owner = %s",
                    (now_ms, now_ms, *ids, token),
                )
            else:
                cur.execute(
                    f"UPDATE {retry_task.name} SET status = 'SUCCEEDED', attempts = attempts + 1, finished_at_ms = %s, updated_at_ms = %s WHERE id IN ({marks})",
                    (now_ms, now_ms, *ids),
                )
            conn.commit()
            handled.extend(ids)
    cpu_s = time.process_time() - cpu_started
    conn.close()
    out.put((handled, cpu_s, {}))


def raw_queue_worker(url: str, index: int, total: int, batch: int, ready, go, out) -> None:
    raw_worker(url, index, total, batch, ready, go, out, sharded=False)


def raw_lease_worker(url: str, index: int, total: int, batch: int, ready, go, out) -> None:
    raw_worker(url, index, total, batch, ready, go, out, leased=True)


def drainer_worker(url: str, index: int, total: int, batch: int, ready, go, out) -> None:
    tasks = RetryTasks(url, pool_size=2)
    handled: list[int] = []

    @tasks.handler(NOOP)
    def noop(task) -> None:
        handled.append(task.id)

    tasks.drain(shard_index=0, shard_total=1, params=DrainerParams(task_codes=("NOTHING",)))  # warm the pool and caches
    sampler = ThreadCpu() if THREAD_CPU else None
    ready.set()
    go.wait()
    cpu_started = time.process_time()  # all threads of the process: the handler pool included
    if sampler is not None:
        sampler.start()
    report = tasks.drain(shard_index=index, shard_total=total, params=DrainerParams(batch=batch), budget_s=3600)
    cpu_s = time.process_time() - cpu_started
    per_thread = sampler.stop() if sampler is not None else {}
    assert report.stopped == "drained", report.summary()
    tasks.close()
    out.put((handled, cpu_s, per_thread))


class ThreadCpu:
    """CPU seconds of this process's threads while the drain runs, by role: the drain's own
    threads end with it, so /proc/self/task is read every 20 ms and each thread's last reading
    kept."""

    ROLES = (("MainThread", "claiming"), ("retry-task-commit", "commit"), ("retry-task", "handlers"))

    def __init__(self) -> None:
        self._ticks = os.sysconf("SC_CLK_TCK")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="bench-thread-cpu", daemon=True)
        self._first: dict[int, float] = {}
        self._last: dict[int, tuple[str, float]] = {}

    def start(self) -> None:
        self._first = {tid: cpu for tid, (_, cpu) in self._read().items()}
        self._thread.start()

    def stop(self) -> dict[str, float]:
        self._stop.set()
        self._thread.join()
        self._sample()
        roles: Counter[str] = Counter()
        for tid, (name, cpu) in self._last.items():
            if name == "bench-thread-cpu":
                continue
            role = next((label for prefix, label in self.ROLES if name.startswith(prefix)), "other")
            roles[role] += cpu - self._first.get(tid, 0.0)
        return dict(roles)

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self._sample()

    def _sample(self) -> None:
        for tid, reading in self._read().items():
            self._last[tid] = reading

    def _read(self) -> dict[int, tuple[str, float]]:
        names = {thread.native_id: thread.name for thread in threading.enumerate()}
        readings: dict[int, tuple[str, float]] = {}
        for entry in Path("/proc/self/task").iterdir():
            try:
                fields = _stat_fields(f"self/task/{entry.name}")
            except OSError:
                continue  # ended meanwhile: its last reading stands
            tid = int(entry.name)
            name = names.get(tid) or self._last.get(tid, ("other", 0.0))[0]
            readings[tid] = (name, (int(fields[11]) + int(fields[12])) / self._ticks)
        return readings


def _stat_fields(pid: int | str) -> list[str]:
    """/proc/<pid>/stat after the command name: [0] state, [1] ppid, [11] utime, [12] stime,
    [13] cutime, [14] cstime (clock ticks)."""
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def server_cpu_reader(url: str):
    """A function returning the database server's CPU seconds so far, or None when the server's
    process cannot be read from here (another machine, or no access to its pid file).

    MariaDB/MySQL is one process. PostgreSQL is a postmaster with a process per connection and
    its helpers: their CPU so far, plus what the postmaster's ended children used (it reaps
    them, so their time is in its cutime/cstime)."""
    engine = sa.create_engine(url)
    postgresql = _is_postgresql(url)
    try:
        with engine.connect() as conn:
            if postgresql:
                data_dir = conn.exec_driver_sql("SHOW data_directory").scalar_one()
                pid = int((Path(data_dir) / "postmaster.pid").read_text().split()[0])
            else:
                pid_file = conn.exec_driver_sql("SELECT @@pid_file").scalar_one()
                pid = int(Path(pid_file).read_text().strip())
        _stat_fields(pid)
    except (OSError, ValueError, IndexError, sa.exc.SQLAlchemyError):
        return lambda: None
    finally:
        engine.dispose()
    ticks = os.sysconf("SC_CLK_TCK")

    def read() -> float | None:
        # A backend that ends while /proc is walked moves its CPU into the postmaster's
        # cutime/cstime when reaped; read between the two, it would be counted in neither (the
        # end of a run, when the workers' backends end, once read 0.0 us/row). So the walk is
        # done again until no child was reaped during it.
        for _ in range(20):
            try:
                before = _stat_fields(pid)
            except OSError:
                return None
            children = 0
            if postgresql:
                for entry in Path("/proc").iterdir():
                    if not entry.name.isdigit():
                        continue
                    try:
                        fields = _stat_fields(entry.name)
                    except OSError:
                        continue  # ended meanwhile: the check below sees its reaping
                    if fields[1] == str(pid):
                        children += int(fields[11]) + int(fields[12])
                try:
                    after = _stat_fields(pid)
                except OSError:
                    return None
                if after[13:15] != before[13:15]:
                    continue  # a child was reaped during the walk
            total = int(before[11]) + int(before[12])  # utime + stime
            if postgresql:
                total += int(before[13]) + int(before[14]) + children  # the children it reaped, and the live ones
            return total / ticks
        return None

    return read


def timed(target, url: str, processes: int, batch: int, server_cpu) -> tuple[float, list[int], float, float | None, Counter[str]]:
    ctx = mp.get_context("fork")
    go = ctx.Event()
    out = ctx.Queue()
    readies = [ctx.Event() for _ in range(processes)]
    procs = [ctx.Process(target=target, args=(url, i, processes, batch, readies[i], go, out)) for i in range(processes)]
    for proc in procs:
        proc.start()
    for ready in readies:
        if not ready.wait(120):
            raise SystemExit("a worker did not get ready")
    server_started = server_cpu()
    started = time.perf_counter()
    go.set()
    handled: list[int] = []
    client_cpu_s = 0.0
    per_thread: Counter[str] = Counter()
    for _ in procs:
        ids, cpu_s, threads = out.get(timeout=1800)
        handled.extend(ids)
        client_cpu_s += cpu_s
        per_thread.update(threads)
    elapsed = time.perf_counter() - started
    server_ended = server_cpu()
    server_cpu_s = None if server_started is None or server_ended is None else server_ended - server_started
    for proc in procs:
        proc.join(60)
        if proc.exitcode != 0:
            raise SystemExit(f"worker exited with {proc.exitcode}")
    return elapsed, handled, client_cpu_s, server_cpu_s, per_thread


def leftovers(url: str) -> int:
    engine = sa.create_engine(url)
    with engine.connect() as conn:
        count = conn.execute(sa.select(sa.func.count()).select_from(retry_task).where(retry_task.c.status != "SUCCEEDED")).scalar_one()
    engine.dispose()
    return int(count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", default="mysql+pymysql://root@127.0.0.1:3306/sc_bench", help="MySQL/MariaDB or PostgreSQL URL; the database is created and dropped")
    parser.add_argument("--tasks", type=int, default=100_000)
    parser.add_argument("--processes", default="1,2,4")
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--threads", action="store_true", help="also print the drainer's CPU per row per thread")
    args = parser.parse_args()
    global THREAD_CPU
    THREAD_CPU = args.threads
    url = sa.engine.make_url(args.url)
    if url.get_backend_name() not in ("mysql", "postgresql") or not url.database:
        parser.error(f"--url: a MySQL/MariaDB or PostgreSQL URL naming a scratch database, not {args.url!r}")
    postgresql = _is_postgresql(url)
    quoted = f'"{url.database}"' if postgresql else f"`{url.database}`"
    server = sa.create_engine(url.set(database="postgres" if postgresql else ""), isolation_level="AUTOCOMMIT")
    with server.connect() as conn:
        conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
        conn.exec_driver_sql(f"CREATE DATABASE {quoted}" if postgresql else f"CREATE DATABASE {quoted} CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    db_url = url.render_as_string(hide_password=False)
    counts = [int(p) for p in args.processes.split(",")]
    with server.connect() as conn:
        version = "PostgreSQL " + conn.exec_driver_sql("SHOW server_version").scalar_one() if postgresql else conn.exec_driver_sql("SELECT version()").scalar_one()
    print(f"retry-task drain benchmark: {args.tasks} due tasks, batch {args.batch}, {version}, {os.cpu_count()} CPUs")
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    server_cpu = server_cpu_reader(db_url)
    print(f"{'procs':>5} {'loop':>9} {'seconds':>8} {'rows/s':>9} {'vs raw':>7} {'client us/row':>13} {'db us/row':>9} {'dupes':>6} {'left':>6}")
    try:
        for processes in counts:
            raw_rate = 0.0
            for name, target in (("raw-shard", raw_worker), ("raw-queue", raw_queue_worker), ("raw-lease", raw_lease_worker), ("drainer", drainer_worker)):
                fill(db_url, args.tasks)
                elapsed, handled, client_cpu_s, server_cpu_s, per_thread = timed(target, db_url, processes, args.batch, server_cpu)
                dupes = sum(n - 1 for n in Counter(handled).values() if n > 1)
                left = leftovers(db_url) + (args.tasks - len(set(handled)))
                rate = args.tasks / elapsed
                ratio = f"{rate / raw_rate:.2f}" if name in ("drainer", "raw-lease") else ""
                if name in ("raw-shard", "raw-queue"):
                    raw_rate = max(raw_rate, rate)
                client_us = f"{client_cpu_s / args.tasks * 1e6:.1f}"
                db_us = "-" if server_cpu_s is None else f"{server_cpu_s / args.tasks * 1e6:.1f}"
                print(f"{processes:>5} {name:>9} {elapsed:>8.2f} {rate:>9.0f} {ratio:>7} {client_us:>13} {db_us:>9} {dupes:>6} {left:>6}", flush=True)
                if per_thread:
                    split = ", ".join(f"{role} {cpu_s / args.tasks * 1e6:.1f}" for role, cpu_s in per_thread.most_common())
                    print(f"{'':>15} client us/row by thread: {split}", flush=True)
    finally:
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quoted}")
        server.dispose()
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
