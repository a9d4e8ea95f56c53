"""A drainer in its own process, for the multi-process retry-task tests.

    python -m tests.support.retry_drainer_process --url URL --worker w1 --mode cycle --offset 1
    python -m tests.support.retry_drainer_process --url URL --worker victim --mode block

Handler "WORK" records each execution in `test_side_effect` (a row per execution, keyed by task
id, in its own transaction: a duplicate execution would show as a second row).

cycle: like an executor whose broadcast job fires again and again while the group changes size:
       every run gets shard `p % n` of n, where n walks through SHARD_TOTALS (shifted by
       --offset, so concurrent processes see different n at the same time). Runs are short
       (small batches, small budget); it exits once no PENDING task is left.
block: claims one batch and blocks inside the first handler forever (to be SIGKILLed or
       SIGSTOPped); with --flush-s long, a PostgreSQL batch stays held (not leased) meanwhile.
crash: like an executor whose drainer job fires every FIRE_INTERVAL_S on shard 0/1; the handler
       records its execution and then kills the process with `os._exit(1)` (as an out-of-memory
       kill or a segfault would). It prints each run's summary and exits 0 once no PENDING task
       is left; a supervisor (the test) starts it again after every crash.
"""

from __future__ import annotations

import argparse
import os
import threading

import sqlalchemy as sa

from shardcron.executor.retry_tasks import DrainerParams, RetryTasks, TaskStatus, retry_task
from tests.support.retry_tasks import side_effect

SHARD_TOTALS = [4, 3, 2, 4, 1, 3, 2]
#: crash mode: how often the drainer job "fires" (a real executor's FIX_RATE schedule).
FIRE_INTERVAL_S = 0.05


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--url", required=True)
    parser.add_argument("--worker", required=True)
    parser.add_argument("--mode", choices=["cycle", "block", "crash"], required=True)
    parser.add_argument("--offset", type=int, default=0)
    parser.add_argument("--lease-s", type=float, default=60)
    parser.add_argument("--flush-s", type=float, default=None, help="the drainer's flush interval (on PostgreSQL: how long a batch stays held)")
    args = parser.parse_args()
    tasks = RetryTasks(args.url, owner=args.worker, pool_size=6)
    if args.flush_s is not None:
        tasks._drainer.flush_interval_s = args.flush_s
    engine = tasks.engine
    never = threading.Event()

    @tasks.handler("WORK")
    def work(task) -> None:
        with engine.begin() as conn:
            conn.execute(side_effect.insert().values(task_id=task.id, worker=args.worker, attempt=task.attempt, last_attempt=task.is_last_attempt))
        if args.mode == "block":
            never.wait()
        if args.mode == "crash":
            os._exit(1)  # no cleanup, no outcome, no release: the process is simply gone

    if args.mode == "block":
        tasks.drain(params=DrainerParams(batch=10, concurrency=1, lease_s=args.lease_s), budget_s=3600)
        return

    def pending() -> int:
        with engine.connect() as conn:
            return conn.execute(
                sa.select(sa.func.count()).select_from(retry_task).where(retry_task.c.status == TaskStatus.PENDING.value)
            ).scalar_one()

    if args.mode == "crash":
        while pending():
            report = tasks.drain(params=DrainerParams(batch=10, concurrency=1, lease_s=args.lease_s), budget_s=60)
            if report.claimed:
                print(report.summary(), flush=True)
            never.wait(FIRE_INTERVAL_S)
        tasks.close()
        return
    run = 0
    while True:
        if pending() == 0:
            break
        total = SHARD_TOTALS[(run + args.offset) % len(SHARD_TOTALS)]
        index = args.offset % total
        tasks.drain(shard_index=index, shard_total=total, params=DrainerParams(batch=25, concurrency=4, lease_s=args.lease_s), budget_s=0.3)
        run += 1
    tasks.close()


if __name__ == "__main__":
    main()
