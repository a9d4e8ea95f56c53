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
"""

from __future__ import annotations

import random

from ..app import Executor
from ..context import JobContext, JobResult


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


def create_executor() -> Executor:
    """The sample executor, configured from SHARDCRON_EXECUTOR_* variables."""
    return register_demo_jobs(Executor())
