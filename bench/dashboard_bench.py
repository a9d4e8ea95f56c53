"""Server time of the dashboard's one grouped query on a big run table (SQLite).

    python bench/dashboard_bench.py [--runs 100000] [--requests 20]

Fills a temporary SQLite database with 20 groups and --runs run-log rows spread evenly over the
last 90 days (60 executor addresses, a status mix of SUCCESS / FAILED / RUNNING / UNKNOWN), then
times `get_dashboard` (cards, chart buckets, per-group and per-executor counts, recent failures)
for today, 7, 30 and 90 days, as an admin and as a user of two groups, and prints the query plan
of the grouped query (it must search ix_run_time or ix_run_group_time, not scan the table).
"""

from __future__ import annotations

import argparse
import datetime as dt
import statistics
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shardcron.admin.db import Database, init_schema  # noqa: E402
from shardcron.admin.services import dashboard  # noqa: E402
from shardcron.admin.services.actor import SYSTEM_ACTOR, Actor  # noqa: E402
from shardcron.admin.enums import RunStatus, TriggerType, UserRole  # noqa: E402
from shardcron.admin.models import RunLog  # noqa: E402

GROUPS = 20
NOW_MS = 1_767_225_600_000 + 12 * 3_600_000  # 2026-01-01 12:00 UTC
DAY_MS = 86_400_000
STATUSES = ["SUCCESS"] * 16 + ["FAILED", "FAILED", "RUNNING", "UNKNOWN"]


def fill(engine: sa.Engine, runs: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            sa.text("INSERT INTO sc_executor_group (app_name, title, address_type, created_at_ms, updated_at_ms) VALUES (:a, :a, 'AUTO', 0, 0)"),
            [{"a": f"app-{g:02d}"} for g in range(1, GROUPS + 1)],
        )
        step = 90 * DAY_MS // runs
        rows = [
            {
                "job_id": i % 500 + 1, "group_id": i % GROUPS + 1, "executor_address": f"http://10.0.{i % GROUPS + 1}.{i % 3 + 1}:9999",
                "status": RunStatus(STATUSES[i % len(STATUSES)]), "fire_at_ms": NOW_MS - i * step, "trigger_at_ms": NOW_MS - i * step,
                "trigger_type": TriggerType.CRON, "handler": "demo",
            }
            for i in range(runs)
        ]
        with Session(bind=conn) as session:
            session.execute(sa.insert(RunLog), rows)
            session.commit()
        conn.exec_driver_sql("ANALYZE")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=20)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="shardcron-dash-bench-") as folder:
        database = Database(f"sqlite:///{folder}/bench.db", pool_size=2)
        init_schema(database.engine)
        began = time.perf_counter()
        fill(database.engine, args.runs)
        print(f"filled {args.runs} runs in {time.perf_counter() - began:.1f} s")
        user = Actor(user_id=2, username="bench-user", role=UserRole.USER, group_ids=frozenset({1, 2}))
        print(f"{'case':28} {'p50 ms':>8} {'max ms':>8} {'runs':>8}")
        for label, actor, kwargs in (
            ("today", SYSTEM_ACTOR, {"days": 1}),
            ("7 days", SYSTEM_ACTOR, {"days": 7}),
            ("30 days", SYSTEM_ACTOR, {"days": 30}),
            ("90 days (custom)", SYSTEM_ACTOR, {"start": dt.date(2025, 10, 4)}),
            ("30 days, user of 2 groups", user, {"days": 30}),
        ):
            samples, total = [], 0
            for _ in range(args.requests):
                with database.read_session() as session:
                    t0 = time.perf_counter()
                    board = dashboard.get_dashboard(session, actor, now_ms=NOW_MS, **kwargs)  # type: ignore[arg-type]
                    samples.append((time.perf_counter() - t0) * 1000)
                total = board.runs.totals.total
            print(f"{label:28} {statistics.median(samples):8.1f} {max(samples):8.1f} {total:8d}")
        with database.engine.connect() as conn:
            plan = conn.exec_driver_sql(
                "EXPLAIN QUERY PLAN SELECT group_id, executor_address, status, count(*) FROM sc_run_log "
                f"WHERE trigger_at_ms >= {NOW_MS - 30 * DAY_MS} AND trigger_at_ms < {NOW_MS} GROUP BY group_id, executor_address, status"
            ).all()
        print("plan:", "; ".join(str(row[-1]) for row in plan))
        database.engine.dispose()


if __name__ == "__main__":
    main()
