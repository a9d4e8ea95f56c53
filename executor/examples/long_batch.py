"""Recipe: a long batch with progress, checkpoints and repair.

`longBatch` processes items 0..N-1 (N = `items=` in the job parameter, 10,000 by default) in
chunks of 100. Each chunk is one transaction of the business database: it marks its items done
(`example_batch_item`, one row per item with the number of times it was processed). After the
commit the handler reports progress and saves a checkpoint, `{"next": <first item not done>}`.
A retry, a lost-run re-run or "repair now" gets that checkpoint as `ctx.resume_from` and starts
at `next`: the finished items are not processed again. A checkpoint it does not understand
(another shape, a position out of range) is logged and the batch starts over — safe, because a
chunk that is processed again only counts its items once more.

For the demo and the end-to-end test, `pause_at=K` makes a fresh run stop after item K-1 (its
checkpoint saved) and wait until it is killed — so "kill -9 the executor half-way" does not
depend on timing. A run that resumes never pauses. `pace_ms=M` waits M milliseconds after each
chunk, standing in for slower real work, so that the progress can be watched (the demo uses it).

`create_executor()` is the executor application (`shardcron executor run
shardcron.executor.examples.long_batch:create_executor`); the business database is named by
SHARDCRON_EXAMPLE_DATABASE_URL.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from shardcron.core.errors import ShardcronError

from ..app import Executor
from ..context import JobContext, JobResult

HANDLER = "longBatch"
DATABASE_URL_ENV = "SHARDCRON_EXAMPLE_DATABASE_URL"
DEFAULT_ITEMS = 10_000
CHUNK = 100
#: The longest wait after a chunk `pace_ms` may ask for.
MAX_PACE_MS = 10_000

metadata = sa.MetaData()
batch_item = sa.Table(
    "example_batch_item",
    metadata,
    sa.Column("item", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("times", sa.Integer, nullable=False),
    sa.Column("log_id", sa.BigInteger, nullable=False),
)


@dataclass(frozen=True)
class BatchParam:
    items: int = DEFAULT_ITEMS
    pause_at: int | None = None
    pace_ms: int = 0

    @classmethod
    def parse(cls, text: str) -> BatchParam:
        """`items=10000 pause_at=5000 pace_ms=200` (each optional)."""
        values: dict[str, int] = {}
        for word in text.split():
            key, sep, raw = word.partition("=")
            if not sep or key not in ("items", "pause_at", "pace_ms") or not raw.isdigit():
                raise ShardcronError(f"bad parameter {word!r}: expected items=N, pause_at=K and/or pace_ms=M (whole numbers)")
            values[key] = int(raw)
        if values.get("items", DEFAULT_ITEMS) < 1:
            raise ShardcronError("items must be at least 1")
        if values.get("pace_ms", 0) > MAX_PACE_MS:
            raise ShardcronError(f"pace_ms must be at most {MAX_PACE_MS}")
        return cls(**values)


def start_of(resume_from: Any, total: int) -> int | None:
    """The first item to process for a checkpoint, or None when it is not one of this handler's."""
    if isinstance(resume_from, dict) and set(resume_from) == {"next"}:
        position = resume_from["next"]
        if isinstance(position, int) and not isinstance(position, bool) and 0 <= position <= total:
            return position
    return None


class LongBatch:
    def __init__(self, url: str) -> None:
        self.engine = sa.create_engine(url)

    def create_tables(self) -> None:
        metadata.create_all(self.engine)

    def processed(self) -> dict[int, int]:
        """item -> how many times it was processed."""
        with self.engine.connect() as conn:
            return {row.item: row.times for row in conn.execute(sa.select(batch_item))}

    def _process_chunk(self, first: int, last: int, log_id: int) -> None:
        with self.engine.begin() as conn:
            seen = set(conn.execute(sa.select(batch_item.c.item).where(batch_item.c.item.between(first, last - 1))).scalars())
            if seen:
                conn.execute(
                    sa.update(batch_item).where(batch_item.c.item.in_(seen)).values(times=batch_item.c.times + 1, log_id=log_id)
                )
            fresh = [{"item": i, "times": 1, "log_id": log_id} for i in range(first, last) if i not in seen]
            if fresh:
                conn.execute(sa.insert(batch_item), fresh)

    def run(self, ctx: JobContext) -> JobResult:
        param = BatchParam.parse(ctx.param)
        start = 0
        if ctx.resume_from is not None:
            found = start_of(ctx.resume_from, param.items)
            if found is None:
                ctx.log("checkpoint %r of run %s is not one of this batch's; starting over", ctx.resume_from, ctx.resume_from_log_id)
            else:
                start = found
                ctx.log("resuming at item %s from the checkpoint of run %s", start, ctx.resume_from_log_id)
        pause_at = param.pause_at if ctx.resume_from is None else None
        ctx.progress(start, param.items)
        position = start
        while position < param.items:
            ctx.check_cancelled()
            end = min(position + CHUNK, param.items)
            if pause_at is not None and position < pause_at <= end:
                end = pause_at
            self._process_chunk(position, end, ctx.log_id)
            position = end
            ctx.progress(position, param.items)
            ctx.checkpoint({"next": position})
            if param.pace_ms and position < param.items and ctx.wait(param.pace_ms / 1000):
                ctx.check_cancelled()
            if position == pause_at:
                ctx.log("paused at item %s (pause_at): waiting to be killed", position)
                while not ctx.wait(1):
                    pass
                ctx.check_cancelled()
        ctx.result_data.update({"started_at": start, "processed": param.items - start})
        return JobResult.success(f"items {start}..{param.items - 1} processed ({param.items - start} items)")


def create_executor() -> Executor:
    """The recipe's executor application: the executor's settings from SHARDCRON_EXECUTOR_*, the
    business database from SHARDCRON_EXAMPLE_DATABASE_URL."""
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        raise ShardcronError(f"{DATABASE_URL_ENV} is not set: the long-batch recipe needs the business database")
    batch = LongBatch(url)
    batch.create_tables()
    executor = Executor()
    executor.job(HANDLER)(batch.run)
    return executor
