"""A sample executor: one handler per thing worth watching in the console.

    SHARDCRON_EXECUTOR_APP_NAME=demo SHARDCRON_EXECUTOR_ADMIN_ADDRESSES=http://127.0.0.1:8080/ \\
    SHARDCRON_EXECUTOR_ACCESS_TOKEN=... shardcron executor run shardcron.executor.examples.demo_jobs:create_executor

Every setting comes from the SHARDCRON_EXECUTOR_* environment (deploy/ uses it this way).
Handlers:

- `hello`: logs and returns its parameter.
- `shardInfo`: reports which shard of a broadcast it got (`i/n`).
- `flaky`: fails with the probability given as its parameter (default 0.3).
- `alwaysFail`: fails every time (for retries and alarms).
- `longJob`: runs for the number of seconds in its parameter (default 120), reporting progress
  every second and stopping when killed.
- `retryTaskDrainer`, when `DEMO_TASKS_URL` names a retry-task table: drains tasks of code
  `DEMO_NOTIFY`, whose handler fails now and then so backoff, retries and dead rows show.

`shardcron demo` also runs this module as a small producer that keeps the table filling:

    python -m shardcron.executor.examples.demo_jobs init-table --url sqlite:///demo-tasks.db
    python -m shardcron.executor.examples.demo_jobs produce --url sqlite:///demo-tasks.db --every 1
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import threading
from collections.abc import Sequence

from ..app import Executor
from ..context import JobContext, JobResult
from ..retry_tasks import Backoff, RetryTasks, Task

TASKS_URL_ENV = "DEMO_TASKS_URL"
TASK_CODE = "DEMO_NOTIFY"
#: Short delays so a demo shows retries within a minute: about 2 s, 4 s, 8 s, then DEAD.
DEMO_BACKOFF = Backoff(base_s=2, factor=2, cap_s=30, jitter=0.2)
DEMO_MAX_ATTEMPTS = 4


def _float(text: str, default: float) -> float:
    try:
        return float(text) if text.strip() else default
    except ValueError:
        return default


def register_demo_jobs(executor: Executor, rng: random.Random | None = None) -> Executor:
    pick = rng or random.Random()

    @executor.job("hello")
    def hello(ctx: JobContext) -> str:
        ctx.log("hello from shard %s of %s, param %r", ctx.shard_index, ctx.shard_total, ctx.param)
        return f"hello {ctx.param or 'world'}"

    @executor.job("shardInfo")
    def shard_info(ctx: JobContext) -> str:
        return f"shard {ctx.shard_index}/{ctx.shard_total}"

    @executor.job("flaky")
    def flaky(ctx: JobContext) -> JobResult | str:
        chance = min(max(_float(ctx.param, 0.3), 0.0), 1.0)
        if pick.random() < chance:
            ctx.log("failing on purpose (chance %.2f)", chance)
            return JobResult.fail(f"flaky: failed on purpose (chance {chance:.2f})")
        return "flaky: succeeded this time"

    @executor.job("alwaysFail")
    def always_fail(ctx: JobContext) -> JobResult:
        ctx.log("this job fails every time, so its retries and alarms can be watched")
        return JobResult.fail("alwaysFail: failed on purpose")

    @executor.job("longJob")
    def long_job(ctx: JobContext) -> str:
        seconds = max(int(_float(ctx.param, 120)), 1)
        for second in range(seconds):
            if ctx.wait(1.0):  # True once the run is killed or timed out
                ctx.check_cancelled()
            ctx.progress(second + 1, seconds)
            ctx.log("working: %d of %d seconds", second + 1, seconds)
        return f"longJob: ran {seconds} s"

    return executor


class PartnerBusy(Exception):
    """The demo handler's made-up failure: the task goes back with the backoff delay."""


def demo_tasks(url: str, rng: random.Random | None = None, fail_chance: float = 0.25) -> RetryTasks:
    """The demo's retry-task table, with a handler that fails `fail_chance` of the time."""
    pick = rng or random.Random()
    tasks = RetryTasks(url, default_backoff=DEMO_BACKOFF, default_max_attempts=DEMO_MAX_ATTEMPTS, pool_size=4)

    @tasks.handler(TASK_CODE)
    def notify(task: Task) -> str:
        if pick.random() < fail_chance:
            raise PartnerBusy(f"demo: partner busy for {task.request_no}")
        return f"notified {task.payload.get('user', '?')}"

    return tasks


def create_executor() -> Executor:
    """The sample executor, configured from SHARDCRON_EXECUTOR_* variables (plus the retry-task
    drainer when DEMO_TASKS_URL is set)."""
    executor = register_demo_jobs(Executor())
    url = os.environ.get(TASKS_URL_ENV)
    if url:
        demo_tasks(url).register_drainer(executor)
    return executor


def produce(url: str, every_s: float, stop: threading.Event, per_round: int = 5) -> int:
    """Enqueue `per_round` DEMO_NOTIFY tasks every `every_s` seconds until `stop` is set."""
    tasks = RetryTasks(url, default_backoff=DEMO_BACKOFF, default_max_attempts=DEMO_MAX_ATTEMPTS, pool_size=1)
    made = 0
    try:
        while not stop.is_set():
            for _ in range(per_round):
                made += 1
                tasks.enqueue(TASK_CODE, f"demo-{os.getpid()}-{made}", {"user": f"user{made % 50}", "text": "hello"})
            stop.wait(every_s)
    finally:
        tasks.close()
    return made


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m shardcron.executor.examples.demo_jobs")
    parser.add_argument("command", choices=("init-table", "produce"))
    parser.add_argument("--url", required=True, help="the demo's retry-task database URL")
    parser.add_argument("--every", type=float, default=1.0, help="seconds between two rounds of new tasks")
    args = parser.parse_args(argv)
    if args.command == "init-table":
        tasks = RetryTasks(args.url, pool_size=1)
        try:
            tasks.create_table()
        finally:
            tasks.close()
        return 0
    stop = threading.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: stop.set())
    produce(args.url, args.every, stop)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
