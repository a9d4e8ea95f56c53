"""`RetryTasks`: the one object an application uses — producer API, handler registry, drainer.

    tasks = RetryTasks(app_engine)                       # the application's own SQLAlchemy engine

    @tasks.handler("SEND_SMS", backoff=Backoff(base_s=30, cap_s=1800))
    def send_sms(task): gateway.send(task.payload["phone"], task.payload["text"])

    with Session(app_engine) as session, session.begin():          # outbox: one transaction
        session.add(order)
        tasks.enqueue("SEND_SMS", order.request_no, {"phone": ..., "text": ...}, session=session)

    tasks.register_drainer(executor)                     # job handler "retryTaskDrainer"
"""

from __future__ import annotations

import os
import random
import secrets
import socket
import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Engine

from shardcron.core.clock import SYSTEM_CLOCK, Clock
from ..context import JobContext, JobResult
from .backoff import Backoff
from .batch import HandlerSpec
from .database import TaskDatabase
from .drainer import DRAINER_HANDLER, DrainHooks, Drainer, DrainReport
from .errors import TaskInputError
from .maintenance import Maintenance, RedriveScope, StatsRow
from .params import DrainerParams
from .producer import Executable, TaskProducer
from .record import MAX_TASK_CODE_CHARS, TaskRecord
from .store import TaskStore
from .handling import Task

DEFAULT_MAX_ATTEMPTS = 10
_MAX_OWNER_CHARS = 100

TaskHandler = Callable[[Task], Any]


class JobRegistrar(Protocol):
    """What `register_drainer` needs from an executor: `executor.job(name)(fn)`."""

    def job(self, name: str) -> Callable[[Callable[[JobContext], Any]], Any]: ...


def default_owner() -> str:
    """`host-pid-random`: names this process in leases (the random part survives pid reuse)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


class RetryTasks:
    """The retry-task table of one business database, its handlers, and the drainer over them."""

    def __init__(
        self,
        engine_or_url: Engine | str,
        *,
        clock: Clock = SYSTEM_CLOCK,
        owner: str | None = None,
        default_max_attempts: int = DEFAULT_MAX_ATTEMPTS,
        default_backoff: Backoff = Backoff(),
        rng: random.Random | None = None,
        pool_size: int = 10,
    ) -> None:
        if isinstance(default_max_attempts, bool) or not isinstance(default_max_attempts, int) or default_max_attempts < 1:
            raise TaskInputError("default_max_attempts", default_max_attempts, "expected a whole number >= 1")
        owner = owner or default_owner()
        if not owner.strip() or len(owner) > _MAX_OWNER_CHARS:
            raise TaskInputError("owner", owner, f"must be 1 to {_MAX_OWNER_CHARS} characters")
        self.owner = owner
        self.clock = clock
        self.default_backoff = default_backoff
        self.db = TaskDatabase(engine_or_url, pool_size=pool_size)
        self._handlers: dict[str, HandlerSpec] = {}
        self._handlers_lock = threading.Lock()
        self._producer = TaskProducer(self.db, clock, default_max_attempts=default_max_attempts)
        self._maintenance = Maintenance(self.db, clock)
        self._drainer = Drainer(
            store=TaskStore(self.db),
            maintenance=self._maintenance,
            handlers=self.handlers,
            default_backoff=default_backoff,
            clock=clock,
            rng=rng or random.Random(),
            owner=owner,
        )

    @property
    def engine(self) -> Engine:
        return self.db.engine

    def create_table(self) -> bool:
        """Create the table, or bring an existing one to this version's revision (what
        `shardcron tasks init` does); True if the table was created."""
        return self.db.create_table()

    def close(self) -> None:
        """Dispose of the engine if this object created it from a URL."""
        self.db.dispose()

    # ------------------------------------------------------------------ handlers

    def handler(self, task_code: str, *, backoff: Backoff | None = None) -> Callable[[TaskHandler], TaskHandler]:
        """Decorator: `fn(task)` handles tasks of `task_code` (with its own backoff, if given)."""
        if not isinstance(task_code, str) or not task_code.strip() or len(task_code) > MAX_TASK_CODE_CHARS:
            raise TaskInputError("task_code", task_code, f"must be a non-blank string of at most {MAX_TASK_CODE_CHARS} characters")
        if backoff is not None and not isinstance(backoff, Backoff):
            raise TaskInputError("backoff", backoff, "expected a Backoff")

        def register(fn: TaskHandler) -> TaskHandler:
            if not callable(fn):
                raise TaskInputError("handler", fn, "is not callable")
            with self._handlers_lock:
                if task_code in self._handlers:
                    raise TaskInputError("task_code", task_code, "already has a handler")
                self._handlers[task_code] = HandlerSpec(task_code, fn, backoff)
            return fn

        return register

    def handlers(self) -> Mapping[str, HandlerSpec]:
        with self._handlers_lock:
            return dict(self._handlers)

    # ------------------------------------------------------------------ producer and callbacks

    def enqueue(
        self,
        task_code: str,
        request_no: str,
        payload: Mapping[str, Any],
        *,
        max_attempts: int | None = None,
        run_at: int | datetime | None = None,
        stages: Mapping[str, Any] | Iterable[str] | None = None,
        session: Executable | None = None,
    ) -> TaskRecord:
        """Record a task, due at `run_at` (epoch ms or aware datetime; default now).

        Idempotent on (task_code, request_no): if the task exists, it is returned unchanged
        (`record.created` is False). With `session=` (an SQLAlchemy Session or Connection) the row
        is written in the caller's transaction and commits or rolls back with the business change.
        `stages` records stages already finished before the task was enqueued (names, or a mapping
        of name -> result) so the handler skips them.
        """
        return self._producer.enqueue(
            task_code, request_no, payload, max_attempts=max_attempts, run_at=run_at, stages=stages, session=session
        )

    def complete(self, task_code: str, request_no: str, result: Any = None, *, session: Executable | None = None) -> TaskRecord:
        """An external callback completed the task: SUCCEEDED with `result`; the drainer leaves it alone.
        Unknown request number: `TaskNotFound`. Completing twice is harmless."""
        return self._producer.complete(task_code, request_no, result, session=session)

    def fail(self, task_code: str, request_no: str, error: str, *, session: Executable | None = None) -> TaskRecord:
        """An external callback failed the task for good: FAILED with `error`; no more attempts."""
        return self._producer.fail(task_code, request_no, error, session=session)

    def get(self, task_code: str, request_no: str) -> TaskRecord | None:
        return self._producer.get(task_code, request_no)

    # ------------------------------------------------------------------ operators

    def redrive(self, scope: RedriveScope) -> int:
        """Re-queue DEAD tasks (all, one task code or one request number); returns how many."""
        return self._maintenance.redrive(scope)

    def purge(self, older_than_days: float, *, include_dead: bool = False) -> int:
        """Delete finished rows older than the retention period; returns how many."""
        return self._maintenance.purge(older_than_days, include_dead=include_dead)

    def stats(self) -> list[StatsRow]:
        return self._maintenance.stats()

    # ------------------------------------------------------------------ the drainer

    def drainer(self, ctx: JobContext) -> JobResult:
        """The built-in job handler; register it as `DRAINER_HANDLER` ("retryTaskDrainer")."""
        return self._drainer.run_job(ctx)

    def register_drainer(self, executor: JobRegistrar, name: str = DRAINER_HANDLER) -> None:
        """Register the drainer with an executor: `executor.job(name)(tasks.drainer)`; an
        executor that reports metrics also counts this table's rows by status on /metrics."""
        executor.job(name)(self.drainer)
        watch = getattr(executor, "watch_retry_tasks", None)
        if watch is not None:
            watch(self)

    def drain(
        self,
        *,
        shard_index: int = 0,
        shard_total: int = 1,
        params: DrainerParams = DrainerParams(),
        budget_s: float | None = None,
        cancel_event: threading.Event | None = None,
    ) -> DrainReport:
        """One drainer run without an executor (scripts, tests, a one-off catch-up); it stops
        claiming when `cancel_event` is set or `budget_s` (default: the parameter's) is spent."""
        if not 0 <= shard_index < shard_total:
            raise TaskInputError("shard", f"{shard_index}/{shard_total}", "expected 0 <= index < total")
        report = DrainReport(shard_index, shard_total)
        budget = params.effective_budget_s(0) if budget_s is None else budget_s
        event = cancel_event or threading.Event()
        return self._drainer.drain(report, params, budget, DrainHooks(cancelled=event.is_set, wait=event.wait))
