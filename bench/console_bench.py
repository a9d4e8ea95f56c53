"""Server time of the console's heavy reads through the REST API, on MariaDB with a big history.

    python bench/console_bench.py [--url mysql+pymysql://root@127.0.0.1:3306/sc_console_bench]
                                  [--jobs 10000] [--runs 1000000] [--requests 60] [--keep]

It creates the database named in --url (dropping any old one of that name), fills it with
--jobs jobs in 20 groups and --runs run-log rows spread over the last 30 days (bulk: one
INSERT ... SELECT from MariaDB's sequence engine), 30 days of daily-report rows and 3 live
executors per group, then times GET requests through the Flask test client — the whole server
path (routing, token auth, services, SQL, JSON) without a network — for the job list, the
run-log list with each filter, and the dashboard. Each request varies its ids, pages and time
windows so no two are the same. Baselines measured in the same run on the same engine: a bare
`SELECT 1` round trip, and the run-log page query without filters or joins
(`SELECT * FROM sc_run_log ORDER BY trigger_at_ms DESC, id DESC LIMIT 20`).
Target: p95 < 150 ms for every API row. The database is dropped afterwards unless --keep.
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shardcron.admin import create_app  # noqa: E402
from shardcron.admin.config import load_config  # noqa: E402
from shardcron.admin.db import Database, init_schema  # noqa: E402
from shardcron.admin.enums import UserRole  # noqa: E402
from shardcron.admin.services import users  # noqa: E402
from shardcron.admin.services.actor import SYSTEM_ACTOR  # noqa: E402
from shardcron.core.clock import FakeClock  # noqa: E402

GROUPS = 20
DAY_MS = 86_400_000
NOW_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z: the fake clock the app runs on
TARGET_MS = 150.0


def fill(engine: sa.Engine, jobs: int, runs: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO sc_executor_group (app_name, title, address_type, created_at_ms, updated_at_ms) VALUES (:a, :a, 'AUTO', 0, 0)"),
            [{"a": f"app-{g:02d}"} for g in range(1, GROUPS + 1)],
        )
        conn.execute(
            sa.text(
                "INSERT INTO sc_executor_registry (registry_group, app_name, address, registered_at_ms, heartbeat_at_ms) "
                "VALUES ('EXECUTOR', :a, :addr, :t, :t)"
            ),
            [{"a": f"app-{g:02d}", "addr": f"http://10.0.{g}.{n}:9999", "t": NOW_MS - 10_000} for g in range(1, GROUPS + 1) for n in range(1, 4)],
        )
        # Jobs: group = id % 20 + 1; every third one enabled; a spread of names and handlers.
        conn.execute(
            sa.text(
                f"""INSERT INTO sc_job (id, group_id, name, author, schedule_type, schedule_conf, timezone, misfire_strategy,
                    route_strategy, handler, param, block_strategy, timeout_s, retry_count, retry_delay_s,
                    retry_backoff_multiplier, retry_max_delay_s, glue_type, glue_updated_at_ms, child_job_ids,
                    alarm_emails, alarm_webhook, enabled, next_fire_at_ms, last_fire_at_ms, created_at_ms, updated_at_ms)
                SELECT seq, seq % {GROUPS} + 1, CONCAT('job ', seq, ' sync shard ', seq % 97), 'bench', 'CRON', '0 */5 * * * ?', 'UTC',
                    'DO_NOTHING', IF(seq % 5 = 0, 'SHARDING_BROADCAST', 'ROUND'), CONCAT('handler', seq % 50), NULL,
                    'SERIAL_EXECUTION', 0, 3, 10, 2, 600, 'BEAN', 0, '', '', '', seq % 3 = 0,
                    IF(seq % 3 = 0, {NOW_MS} + 300000, 0), {NOW_MS} - 300000, 0, seq
                FROM seq_1_to_{jobs}"""
            )
        )
        # Run-log rows: newest last; job = a spread over all jobs; 90 % success, 7 % failed,
        # 2 % running, 1 % pending; trigger times spread evenly over 30 days before NOW.
        step_ms = 30 * DAY_MS // runs
        conn.execute(
            sa.text(
                f"""INSERT INTO sc_run_log (job_id, group_id, fire_id, trigger_type, fire_at_ms, trigger_at_ms, executor_address,
                    handler, param, shard_index, shard_total, attempt, retry_remaining, status, trigger_code, trigger_msg,
                    handle_at_ms, handle_code, handle_msg, result_json, followup_status)
                SELECT j, j % {GROUPS} + 1, seq, IF(seq % 20 = 0, 'MANUAL', 'CRON'), t, t + 3,
                    CONCAT('http://10.0.', j % {GROUPS} + 1, '.', seq % 3 + 1, '\\:9999'), CONCAT('handler', j % 50), NULL,
                    seq % 3, 3, 0, 3,
                    CASE WHEN seq % 100 < 90 THEN 'SUCCESS' WHEN seq % 100 < 97 THEN 'FAILED' WHEN seq % 100 < 99 THEN 'RUNNING' ELSE 'PENDING' END,
                    200, NULL, t + 1500,
                    CASE WHEN seq % 100 < 90 THEN 200 WHEN seq % 100 < 97 THEN 500 ELSE 0 END,
                    IF(seq % 100 BETWEEN 90 AND 96, 'handler failed: connection reset', NULL),
                    IF(seq % 7 = 0, '{{"claimed": 40, "succeeded": 37, "retried": 2, "dead": 1}}', NULL),
                    IF(seq % 100 BETWEEN 90 AND 96, 'DONE', 'NONE')
                FROM (SELECT seq, (seq * 7919) % {jobs} + 1 AS j, {NOW_MS} - {30 * DAY_MS} + seq * {step_ms} AS t FROM seq_1_to_{runs}) s"""
            )
        )
        conn.execute(
            sa.text(
                f"""INSERT INTO sc_daily_report (day, group_id, running_count, success_count, fail_count, updated_at_ms)
                SELECT DATE_SUB('2026-01-01', INTERVAL d.seq - 1 DAY), g.seq, 0, 1000 + d.seq * 10 + g.seq, 70 + g.seq, 0
                FROM seq_1_to_30 d CROSS JOIN seq_1_to_{GROUPS} g"""
            )
        )
        conn.exec_driver_sql("ANALYZE TABLE sc_job, sc_run_log, sc_daily_report")


def timed(call: Callable[[int], object], requests: int, warmup: int = 3) -> list[float]:
    for i in range(warmup):
        call(-1 - i)
    samples = []
    for i in range(requests):
        began = time.perf_counter()
        call(i)
        samples.append((time.perf_counter() - began) * 1000)
    return samples


def p95(samples: list[float]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(round(0.95 * len(ordered))) - 1)]


@contextmanager
def filled_database(description: str, default_url: str) -> Iterator[tuple[argparse.Namespace, Database]]:
    """The benchmark's command line and its MariaDB database, created and filled with the bench
    data (or reused with --reuse), dropped afterwards unless --keep."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--url", default=default_url)
    parser.add_argument("--jobs", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=1_000_000)
    parser.add_argument("--requests", type=int, default=60)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards (re-use it with --reuse)")
    parser.add_argument("--reuse", action="store_true", help="use the database as it is (filled by an earlier --keep run)")
    args = parser.parse_args()

    url = sa.engine.make_url(args.url)
    server = sa.create_engine(url.set(database=""), isolation_level="AUTOCOMMIT")
    if not args.reuse:
        with server.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{url.database}`")
            conn.exec_driver_sql(f"CREATE DATABASE `{url.database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_bin")
    database = Database(url.render_as_string(hide_password=False), pool_size=4)
    try:
        if not args.reuse:
            init_schema(database.engine)
            began = time.perf_counter()
            fill(database.engine, args.jobs, args.runs)
            print(f"filled {args.jobs:,} jobs and {args.runs:,} run-log rows in {time.perf_counter() - began:.1f} s")
        with database.engine.connect() as conn:
            version = conn.exec_driver_sql("select version()").scalar_one()
            counts = conn.exec_driver_sql("select (select count(*) from sc_job), (select count(*) from sc_run_log)").one()
        print(f"database: MariaDB {version}; {counts[0]:,} jobs, {counts[1]:,} run-log rows; load average {os.getloadavg()[0]:.1f} (2 cores)")
        yield args, database
    finally:
        database.dispose()
        if not args.keep:
            with server.connect() as conn:
                conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{url.database}`")
        server.dispose()


def measure(database: Database, scenarios: list[tuple[str, Callable[[int], object]]], requests: int) -> None:
    """Time every scenario against two baselines measured in the same run (a bare `SELECT 1` and the
    bare run-log page query) and print p50/p95/max, the p95 ratio to the bare page and the verdict."""

    def select_one(i: int) -> object:
        with database.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT 1").scalar_one()

    def bare_page(i: int) -> object:
        with database.engine.connect() as conn:
            return conn.exec_driver_sql("SELECT * FROM sc_run_log ORDER BY trigger_at_ms DESC, id DESC LIMIT 20").all()

    baselines = [("baseline: SELECT 1", select_one), ("baseline: bare run page SQL", bare_page)]

    print(f"\n{'request':32} {'p50 ms':>8} {'p95 ms':>8} {'max ms':>8}  {'vs bare':>8}  target")
    print("-" * 78)
    results = {}
    for label, call in baselines + scenarios:
        samples = timed(call, requests)
        results[label] = samples
        bare = p95(results.get("baseline: bare run page SQL", samples))
        verdict = "" if label.startswith("baseline") else ("ok" if p95(samples) < TARGET_MS else "OVER")
        ratio = "" if label.startswith("baseline") else f"{p95(samples) / bare:7.1f}x"
        print(f"{label:32} {statistics.median(samples):8.1f} {p95(samples):8.1f} {max(samples):8.1f}  {ratio:>8}  {verdict}")
    over = [label for label, s in results.items() if not label.startswith("baseline") and p95(s) >= TARGET_MS]
    print(f"\nload average after: {os.getloadavg()[0]:.1f}; {'all rows under' if not over else 'OVER'} the {TARGET_MS:.0f} ms p95 target" + (f": {', '.join(over)}" if over else ""))


def main() -> None:
    with filled_database(__doc__.split("\n\n")[0], "mysql+pymysql://root@127.0.0.1:3306/sc_console_bench") as (args, database):
        config = load_config(env={}, overrides={"instance_dir": tempfile.mkdtemp(prefix="sc-bench-"), "database_url": str(args.url), "access_token": "bench-access-token-0123456789"})
        app = create_app(config, db=database, clock=FakeClock(NOW_MS))
        with database.session() as s:
            existing = s.scalar(sa.text("select id from sc_user where username='bench-admin'"))
            if existing is None:
                admin_id = users.create_user(s, SYSTEM_ACTOR, "bench-admin", "bench password 1", UserRole.ADMIN, now_ms=NOW_MS).id
                user_id = users.create_user(s, SYSTEM_ACTOR, "bench-user", "bench password 1", UserRole.USER, [3, 7], now_ms=NOW_MS).id
            else:
                admin_id = existing
                user_id = s.scalar(sa.text("select id from sc_user where username='bench-user'"))
            admin_token = users.issue_api_token(s, SYSTEM_ACTOR, admin_id, now_ms=NOW_MS)
            user_token = users.issue_api_token(s, SYSTEM_ACTOR, user_id, now_ms=NOW_MS)
        client = app.test_client()
        rnd = random.Random(7)

        def api(path_of: Callable[[int], str], token: str = admin_token) -> Callable[[int], object]:
            def call(i: int) -> object:
                response = client.get("/api/v1" + path_of(i), headers={"Authorization": f"Bearer {token}"})
                if response.status_code != 200:
                    raise SystemExit(f"GET {path_of(i)} answered {response.status_code}: {response.get_data(as_text=True)[:300]}")
                return response

            return call

        def window(hours: int) -> str:
            start = NOW_MS - rnd.randrange(1, 29 * 24) * 3_600_000
            return f"from_ms={start}&to_ms={start + hours * 3_600_000}"

        scenarios: list[tuple[str, Callable[[int], object]]] = [
            ("jobs: first page", api(lambda i: "/jobs")),
            ("jobs: group", api(lambda i: f"/jobs?group_id={rnd.randrange(1, GROUPS + 1)}&page={rnd.randrange(1, 10)}")),
            ("jobs: search name", api(lambda i: f"/jobs?search=shard+{rnd.randrange(0, 97)}")),
            ("jobs: by next fire, page 50", api(lambda i: f"/jobs?sort=next_fire_at_ms&order=desc&page={rnd.randrange(45, 55)}")),
            ("runs: no filter", api(lambda i: f"/runs?page={rnd.randrange(1, 5)}")),
            ("runs: group", api(lambda i: f"/runs?group_id={rnd.randrange(1, GROUPS + 1)}")),
            ("runs: job", api(lambda i: f"/runs?job_id={rnd.randrange(1, args.jobs + 1)}")),
            ("runs: status FAILED", api(lambda i: f"/runs?status=FAILED&page={rnd.randrange(1, 5)}")),
            ("runs: status RUNNING", api(lambda i: "/runs?status=RUNNING")),
            ("runs: 1 h window", api(lambda i: "/runs?" + window(1))),
            ("runs: 7 day window", api(lambda i: "/runs?" + window(24 * 7))),
            ("runs: group+status+24 h", api(lambda i: f"/runs?group_id={rnd.randrange(1, GROUPS + 1)}&status=FAILED&" + window(24))),
            ("runs: user with 2 groups", api(lambda i: "/runs", user_token)),
            ("dashboard 7 days", api(lambda i: "/dashboard")),
            ("dashboard 30 days", api(lambda i: "/dashboard?days=30")),
            ("dashboard, user", api(lambda i: "/dashboard", user_token)),
        ]

        measure(database, scenarios, args.requests)


if __name__ == "__main__":
    main()
