"""What exactly-once costs next to at-least-once, for the async-task recipe.

    python bench/async_tasks_bench.py [--url sqlite:///... | mysql+pymysql://root@127.0.0.1:3306/sc_bench
                                       | postgresql+psycopg://postgres@127.0.0.1:5432/sc_bench] [--tasks 5000]

For each mode it fills a fresh retry-task table with `--tasks` due tasks and drains them in this
process (`RetryTasks.drain`, batch 500, concurrency 8), timing the drain:

  no-effect      the handler does nothing: the drainer's own cost;
  at-least-once  an idempotent effect, as the example's receipts: a transaction that reads the
                 receipt by request number and inserts it if absent; the outcome is written in
                 bulk by the drainer (a duplicate run after a crash finds the receipt);
  exactly-once   the same effect as the example's ledger entries (`exactly_once=True`): one
                 transaction per task that locks the task row and checks it is still this
                 attempt's, inserts, and calls `tasks.complete(..., session=conn)`; the
                 drainer's bulk outcome write then finds each task finished (skipped).

It prints tasks/s, milliseconds of drain per task and SQL statements per task (counted on the
engine, the handler's included). Without --url a temporary SQLite file is used; a server database named in the URL is
created and dropped by the script.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from shardcron.executor.examples.async_tasks import TaskComponent, create_tables, receipt  # noqa: E402
from shardcron.executor.retry_tasks import DrainerParams, RetryTasks, Task, retry_task  # noqa: E402

MODES = {"no-effect": "NO_EFFECT", "at-least-once": "RECEIPT", "exactly-once": "LEDGER"}


def _server_database(url: sa.engine.URL, create: bool) -> None:
    if url.get_backend_name() == "sqlite":
        return
    admin_db = "postgres" if url.get_backend_name() == "postgresql" else ""
    server = sa.create_engine(url.set(database=admin_db), isolation_level="AUTOCOMMIT")
    quote = '"' if url.get_backend_name() == "postgresql" else "`"
    with server.connect() as conn:
        if create:
            conn.exec_driver_sql(f"CREATE DATABASE {quote}{url.database}{quote}")
        else:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS {quote}{url.database}{quote}")
    server.dispose()


def run_mode(url: str, mode: str, count: int) -> tuple[float, float]:
    """Drain `count` tasks of `mode` on a fresh database; returns (seconds, statements per task)."""
    tasks = RetryTasks(url, owner="bench", pool_size=12)
    engine = tasks.engine
    tasks.create_table()
    create_tables(engine)
    component = TaskComponent(tasks)

    @component.task("NO_EFFECT", lane="small")
    def no_effect(task: Task) -> None:
        return None

    @component.task("RECEIPT", lane="small")
    def idempotent_receipt(task: Task) -> None:
        with engine.begin() as conn:
            if conn.execute(sa.select(receipt.c.id).where(receipt.c.request_no == task.request_no)).scalar_one_or_none() is None:
                conn.execute(receipt.insert().values(request_no=task.request_no, body="receipt"))

    @component.task("LEDGER", lane="small", exactly_once=True)
    def ledger_entry(task: Task, conn: sa.Connection) -> None:
        conn.execute(receipt.insert().values(request_no=task.request_no, body="ledger"))

    code = MODES[mode]
    rows = [{"task_code": code, "request_no": f"R{i:07d}", "payload": '{"order": 1, "amount_cents": 1}', "status": "PENDING", "attempts": 0,
             "max_attempts": 3, "next_attempt_at_ms": 0, "lease_until_ms": 0, "created_at_ms": 0, "updated_at_ms": 0} for i in range(count)]
    with engine.begin() as conn:
        conn.execute(retry_task.insert(), rows)
    statements = 0

    def on_statement(*_: object) -> None:
        nonlocal statements
        statements += 1

    sa.event.listen(engine, "before_cursor_execute", on_statement)
    started = time.perf_counter()
    report = tasks.drain(params=DrainerParams(batch=500, concurrency=8), budget_s=3600)
    elapsed = time.perf_counter() - started
    sa.event.remove(engine, "before_cursor_execute", on_statement)
    finished = report.succeeded + report.skipped
    if finished != count:
        raise SystemExit(f"{mode}: {finished} of {count} tasks finished ({report.summary()})")
    tasks.close()
    return elapsed, statements / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url")
    parser.add_argument("--tasks", type=int, default=5000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="async-bench-") as folder:
        url = args.url or f"sqlite:///{Path(folder) / 'bench.db'}"
        parsed = sa.engine.make_url(url)

        def mode_url(base: str, mode: str) -> str:
            suffix = mode.replace("-", "_")
            if parsed.get_backend_name() == "sqlite":
                return f"sqlite:///{Path(folder) / (suffix + '.db')}"
            return parsed.set(database=f"{parsed.database}_{suffix}").render_as_string(hide_password=False)

        for mode in MODES:
            _server_database(sa.engine.make_url(mode_url(url, mode)), create=True)
        try:
            print(f"{parsed.get_backend_name()}, {args.tasks} tasks per mode, batch 500, concurrency 8, load {os.getloadavg()[0]:.2f}")
            print(f"{'mode':<14} {'tasks/s':>9} {'ms/task':>8} {'stmts/task':>13}")
            for mode in MODES:
                elapsed, statements = run_mode(mode_url(url, mode), mode, args.tasks)
                rate = args.tasks / elapsed
                print(f"{mode:<14} {rate:>9,.0f} {1000 * elapsed / args.tasks:>8.3f} {statements:>13.2f}")
        finally:
            for mode in MODES:
                _server_database(sa.engine.make_url(mode_url(url, mode)), create=False)
        print(f"load {os.getloadavg()[0]:.2f} after")


if __name__ == "__main__":
    main()
