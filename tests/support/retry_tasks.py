"""Building blocks for retry-task tests: a drainer's job context, and a side-effect table.

The job context is the real `JobContext` the executor hands to handlers (the contract), built
directly from a TriggerParam; its log lines and progress reports are collected for assertions.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa

from shardcron.core.clock import Clock, FakeClock
from shardcron.executor.context import JobContext
from shardcron.core.protocol import BlockStrategy, TriggerParam
from shardcron.executor.retry_tasks import DRAINER_HANDLER, Backoff, retry_task

#: Exact delays (no jitter): 10 s, 20 s, 40 s, ... capped at 300 s.
EXACT_BACKOFF = Backoff(base_s=10, factor=2, cap_s=300, jitter=0)


@dataclass
class DrainerRun:
    ctx: JobContext
    lines: list[str] = field(default_factory=list)
    progress: list[tuple[int, int | None, dict[str, Any]]] = field(default_factory=list)


def drainer_ctx(
    *, shard_index: int = 0, shard_total: int = 1, param: str = "", timeout_s: int = 0, clock: Clock | None = None, log_id: int = 1
) -> DrainerRun:
    """A JobContext for one shard of the drainer job, as the executor would build it."""
    run = DrainerRun(ctx=None)  # type: ignore[arg-type]
    trigger = TriggerParam(
        job_id=7,
        log_id=log_id,
        log_date_time_ms=1_767_225_600_000,
        executor_handler=DRAINER_HANDLER,
        executor_params=param,
        executor_block_strategy=BlockStrategy.DISCARD_LATER,
        executor_timeout_s=timeout_s,
        broadcast_index=shard_index,
        broadcast_total=shard_total,
    )
    lock = threading.Lock()

    def sink(ctx: JobContext, done: int, total: int | None, data: Any) -> None:
        with lock:
            run.progress.append((done, total, dict(data)))

    run.ctx = JobContext(trigger=trigger, write_log=run.lines.append, progress_sink=sink, clock=clock or FakeClock())
    return run


# ---------------------------------------------------------------------- side effects

side_metadata = sa.MetaData()
#: One row per handler execution (no unique key: a duplicate execution shows as a second row),
#: with what the handler was told about its attempt.
side_effect = sa.Table(
    "test_side_effect",
    side_metadata,
    sa.Column("seq", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_id", sa.BigInteger, nullable=False),
    sa.Column("worker", sa.String(64), nullable=False),
    sa.Column("attempt", sa.Integer, nullable=True),
    sa.Column("last_attempt", sa.Boolean, nullable=True),
)


def insert_due(engine: sa.Engine, count: int, *, task_code: str = "WORK", max_attempts: int = 5) -> list[int]:
    """`count` PENDING rows due since the epoch, written in one statement (as another service or
    a backlog would leave them, not through enqueue); their ids in order."""
    rows = [
        {"task_code": task_code, "request_no": f"R{i:05d}", "payload": "{}", "status": "PENDING", "attempts": 0, "max_attempts": max_attempts,
         "next_attempt_at_ms": 0, "lease_until_ms": 0, "created_at_ms": 0, "updated_at_ms": 0}
        for i in range(count)
    ]
    with engine.begin() as conn:
        conn.execute(retry_task.insert(), rows)
        return sorted(conn.execute(sa.select(retry_task.c.id).where(retry_task.c.task_code == task_code)).scalars())


def executions_per_task(engine: sa.Engine) -> dict[int, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(side_effect.c.task_id, sa.func.count()).group_by(side_effect.c.task_id)).all()
    return {int(task_id): int(count) for task_id, count in rows}


def status_counts(engine: sa.Engine) -> dict[str, int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.select(retry_task.c.status, sa.func.count()).group_by(retry_task.c.status)).all()
    return {status: int(count) for status, count in rows}


def row(engine: sa.Engine, task_id: int) -> Any:
    with engine.connect() as conn:
        return conn.execute(sa.select(retry_task).where(retry_task.c.id == task_id)).one()

