"""Recipe: an async task component on the retry-task table.

What an application usually wants from "a task queue", built from shardcron's pieces:

- **handlers registered by task code** (`@component.task("SEND_RECEIPT", lane="small")`);
- **delayed tasks**: `submit(..., run_at=...)` is not run before that instant;
- **per-code concurrency, so big tasks never block small ones**: every task code belongs to a
  lane, and each lane is its own drainer job in the console (handler `retryTaskDrainer`, the
  parameter `lane_param(lane)` prints: `task_codes=... concurrency=N`). Jobs run side by side
  on an executor, each with its own threads, so a lane full of hour-long renders leaves the
  receipts' lane free;
- **at-least-once delivery with idempotent handlers**: a task whose executor dies mid-attempt
  is run again after its lease, so the effect is keyed by the request number (`receipts.
  request_no` is unique: a second run finds the receipt and does nothing);
- **exactly-once, for effects in the same database**: `exactly_once=True` writes the effect
  and completes the task (`tasks.complete(..., session=conn)`) in one transaction, so the two
  commit or roll back together; the transaction first locks the task row and checks it is still
  this attempt's (PENDING, attempts unchanged), so a drainer that stalled past its lease writes
  nothing. It costs a transaction per task (the drainer's outcomes are
  otherwise written in bulk); bench/async_tasks_bench.py measures how much. Effects outside
  the database (an e-mail, a partner's API) cannot be made exactly-once this way: they need the
  other side to deduplicate on the request number.

    python -m shardcron.executor.examples.async_tasks   # the story on SQLite, in a few seconds
"""

from __future__ import annotations

import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from ..app import Executor
from shardcron.core.errors import ShardcronError
from ..retry_tasks import Backoff, DrainerParams, RetryTasks, Task, TaskLeaseLost, TaskRecord, TaskStatus, retry_task
from ..retry_tasks.errors import TaskInputError

DATABASE_URL_ENV = "SHARDCRON_EXAMPLE_DATABASE_URL"
#: The example's lanes and their threads per executor.
DEFAULT_LANES = {"small": 8, "big": 2}

metadata = sa.MetaData()

#: The example's effect: one receipt per request number (unique), so a repeated run is harmless.
receipt = sa.Table(
    "example_receipt",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_no", sa.String(128), nullable=False, unique=True),
    sa.Column("body", sa.String(255), nullable=False),
)

#: Every run of a handler, duplicates included: what at-least-once looks like from the inside.
handler_run = sa.Table(
    "example_handler_run",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("task_code", sa.String(64), nullable=False),
    sa.Column("request_no", sa.String(128), nullable=False),
    sa.Column("started_at_ms", sa.BigInteger, nullable=False),
    sa.Column("finished_at_ms", sa.BigInteger, nullable=True),
)


class UnknownTaskCode(ShardcronError):
    def __init__(self, task_code: str, known: list[str]) -> None:
        super().__init__(f"no handler for task code {task_code!r} (known: {', '.join(known) or 'none'})")
        self.task_code = task_code


@dataclass(frozen=True)
class Registration:
    task_code: str
    lane: str
    max_attempts: int | None


class TaskComponent:
    """Handlers by task code, grouped in lanes; tasks submitted now or for later."""

    def __init__(self, tasks: RetryTasks, lanes: dict[str, int] | None = None) -> None:
        self.tasks = tasks
        self.lanes = dict(lanes or DEFAULT_LANES)
        self._registrations: dict[str, Registration] = {}

    def task(
        self, task_code: str, *, lane: str, backoff: Backoff | None = None, max_attempts: int | None = None, exactly_once: bool = False
    ) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
        """Register a handler for `task_code` in `lane`. With `exactly_once`, the handler is
        called as `fn(task, conn)` inside a transaction that also completes the task."""
        if lane not in self.lanes:
            raise TaskInputError("lane", lane, f"expected one of {', '.join(self.lanes)}")
        if task_code in self._registrations:
            raise TaskInputError("task_code", task_code, "has a handler already")

        def register(fn: Callable[..., Any]) -> Callable[..., Any]:
            handler = self._exactly_once(fn) if exactly_once else fn
            self.tasks.handler(task_code, backoff=backoff)(handler)
            self._registrations[task_code] = Registration(task_code, lane, max_attempts)
            return fn

        return register

    def _exactly_once(self, fn: Callable[[Task, Connection], Any]) -> Callable[[Task], Any]:
        def in_one_transaction(task: Task) -> Any:
            with self.tasks.engine.begin() as conn:
                # The fence: the row, locked, must still be this attempt's. A drainer that stalled
                # past its lease finds the task finished, or re-claimed (attempts moved on), and
                # writes nothing; `complete` alone would accept a finished task harmlessly.
                held = conn.execute(
                    sa.select(retry_task.c.status, retry_task.c.attempts).where(retry_task.c.id == task.id).with_for_update()
                ).one_or_none()
                if held is None or held.status != TaskStatus.PENDING.value or held.attempts != task.attempt:
                    raise TaskLeaseLost(task.id, task.task_code, task.request_no)
                result = fn(task, conn)
                # Completing under the drainer's lease: its own outcome write then finds the
                # task finished and leaves it (counted as skipped).
                self.tasks.complete(task.task_code, task.request_no, result, session=conn)
            return result

        return in_one_transaction

    def submit(self, task_code: str, request_no: str, payload: dict[str, Any], *, run_at: int | datetime | None = None, session: Any = None) -> TaskRecord:
        """Enqueue a task (idempotent on the request number); `run_at` delays its first run."""
        registration = self._registrations.get(task_code)
        if registration is None:
            raise UnknownTaskCode(task_code, sorted(self._registrations))
        return self.tasks.enqueue(task_code, request_no, payload, run_at=run_at, max_attempts=registration.max_attempts, session=session)

    def lane_codes(self, lane: str) -> tuple[str, ...]:
        return tuple(sorted(r.task_code for r in self._registrations.values() if r.lane == lane))

    def lane_params(self, lane: str, **overrides: Any) -> DrainerParams:
        if lane not in self.lanes:
            raise TaskInputError("lane", lane, f"expected one of {', '.join(self.lanes)}")
        values: dict[str, Any] = {"concurrency": self.lanes[lane], "task_codes": self.lane_codes(lane)} | overrides
        return DrainerParams(**values)

    def lane_param(self, lane: str, **overrides: Any) -> str:
        """The drainer job's parameter for `lane`, to paste into the console."""
        return self.lane_params(lane, **overrides).to_text()


def create_tables(engine: sa.engine.Engine) -> None:
    metadata.create_all(engine)


def register_example_handlers(component: TaskComponent, *, big_task_s: float = 2.0, render: Callable[[Task], None] | None = None) -> None:
    """The example's three task codes: receipts (small, idempotent), reports (big, slow: `render`,
    by default a pause of the payload's `seconds` or `big_task_s`) and ledger entries (small,
    exactly once)."""
    engine = component.tasks.engine
    clock = component.tasks.clock

    def record_run(task: Task) -> int:
        with engine.begin() as conn:
            key = conn.execute(handler_run.insert().values(task_code=task.task_code, request_no=task.request_no, started_at_ms=clock.now_ms())).inserted_primary_key
        assert key is not None
        return int(key[0])

    def finish_run(run_id: int) -> None:
        with engine.begin() as conn:
            conn.execute(handler_run.update().where(handler_run.c.id == run_id).values(finished_at_ms=clock.now_ms()))

    @component.task("SEND_RECEIPT", lane="small")
    def send_receipt(task: Task) -> dict[str, Any]:
        run_id = record_run(task)
        with engine.begin() as conn:
            exists = conn.execute(sa.select(receipt.c.id).where(receipt.c.request_no == task.request_no)).scalar_one_or_none()
            if exists is None:  # idempotent: the second run of the same request adds nothing
                conn.execute(receipt.insert().values(request_no=task.request_no, body=f"receipt for {task.payload.get('order')}"))
        finish_run(run_id)
        return {"receipt": task.request_no, "new": exists is None}

    @component.task("RENDER_REPORT", lane="big")
    def render_report(task: Task) -> dict[str, Any]:
        run_id = record_run(task)
        if render is not None:
            render(task)
        else:  # the work itself: a render that takes a while (the payload may say how long)
            time.sleep(float(task.payload.get("seconds", big_task_s)))
        finish_run(run_id)
        return {"report": task.request_no}

    @component.task("LEDGER_ENTRY", lane="small", exactly_once=True)
    def ledger_entry(task: Task, conn: Connection) -> dict[str, Any]:
        conn.execute(receipt.insert().values(request_no=task.request_no, body=f"ledger {task.payload.get('amount_cents')}"))
        return {"booked": task.request_no}


def create_executor() -> Executor:
    """The recipe's executor application (`shardcron executor run
    shardcron.executor.examples.async_tasks:create_executor`): the business database from
    SHARDCRON_EXAMPLE_DATABASE_URL; one drainer handler serves every lane (each lane is its own
    job with its own parameter)."""
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        raise ShardcronError(f"{DATABASE_URL_ENV} is not set: the async-tasks recipe needs the business database")
    component = TaskComponent(RetryTasks(url))
    component.tasks.create_table()
    create_tables(component.tasks.engine)
    register_example_handlers(component)
    executor = Executor()
    component.tasks.register_drainer(executor)
    return executor


def run_demo(url: str | None = None, *, out: Callable[[str], None] = print, big_task_s: float = 1.0) -> dict[str, str]:
    """Two big reports, ten receipts, one ledger entry and one receipt for later, drained by the
    two lanes at once; the receipts finish while the reports still render. Returns request
    number -> status."""
    with tempfile.TemporaryDirectory(prefix="shardcron-async-tasks-") as folder:
        tasks = RetryTasks(url or f"sqlite:///{Path(folder) / 'business.db'}", owner="demo-executor")
        component = TaskComponent(tasks)
        try:
            tasks.create_table()
            create_tables(tasks.engine)
            register_example_handlers(component, big_task_s=big_task_s)
            submitted = [component.submit("RENDER_REPORT", f"RPT-{i}", {}) for i in (1, 2)]
            submitted += [component.submit("SEND_RECEIPT", f"ORD-{i:03d}", {"order": i}) for i in range(1, 11)]
            submitted.append(component.submit("LEDGER_ENTRY", "LED-001", {"amount_cents": 1250}))
            later = component.submit("SEND_RECEIPT", "ORD-LATER", {"order": "later"}, run_at=tasks.clock.now_ms() + 3_600_000)
            out(f"submitted {len(submitted)} tasks now and {later.request_no} for an hour from now")
            for lane in component.lanes:
                out(f"lane {lane}: drainer job parameter {component.lane_param(lane)!r}")
            started = tasks.clock.monotonic()
            finished: dict[str, float] = {}

            def drain(lane: str) -> None:
                report = tasks.drain(params=component.lane_params(lane), budget_s=60)
                finished[lane] = tasks.clock.monotonic() - started
                out(f"lane {lane}: {report.summary()}")

            threads = [threading.Thread(target=drain, args=(lane,)) for lane in component.lanes]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
            out(f"small lane done after {finished['small']:.1f} s, big lane after {finished['big']:.1f} s")
            final = {}
            for task in [*submitted, later]:
                record = tasks.get(task.task_code, task.request_no)
                assert record is not None
                final[task.request_no] = record.status.value
            out(f"{later.request_no}: {final[later.request_no]} (due in an hour)")
            return final
        finally:
            tasks.close()


if __name__ == "__main__":
    run_demo()
