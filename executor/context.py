"""What a job handler receives (`ctx`) and may return.

This is the contract between the executor's runtime and every handler, including the built-in
retry-task drainer:

    @executor.job("syncInvoices")
    def sync_invoices(ctx: JobContext):
        ctx.log("shard %s of %s", ctx.shard_index, ctx.shard_total)
        for i, item in enumerate(items):
            ctx.check_cancelled()          # raises JobCancelled after /kill, COVER_EARLY or timeout
            ...
            ctx.progress(i + 1, len(items), synced=i + 1)
        return "synced %d invoices" % len(items)   # -> handle code 200 with this message

A long run saves where it is with `ctx.checkpoint(state)` (a small JSON value, at most
`MAX_CHECKPOINT_BYTES` = 16 KiB encoded); a retry, a lost-run re-run, a "repair now" or a
manual trigger that asks for it gets the last one back as `ctx.resume_from` (None: start fresh):

    start = ctx.resume_from["next"] if ctx.resume_from else 0
    for i in range(start, len(items)):
        ...
        ctx.checkpoint({"next": i + 1})

Returning None or a string means success; returning `JobResult.fail(...)` reports a failure
without an exception; raising reports 500 with the error (the traceback goes to the run log).
`ctx.result_data` travels to the admin with the result (`resultData` on the wire).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shardcron.core.clock import SYSTEM_CLOCK, Clock
from shardcron.core.errors import ShardcronError
from shardcron.core.protocol import MAX_CHECKPOINT_BYTES, CheckpointTooLarge, ResultCode, TriggerParam, encode_checkpoint

#: Called with (ctx, done, total, data) whenever a handler reports progress.
ProgressSink = Callable[["JobContext", int, "int | None", Mapping[str, Any]], None]
#: Called with (ctx, seq, state) for each accepted checkpoint.
CheckpointSink = Callable[["JobContext", int, Any], None]

__all__ = ["MAX_CHECKPOINT_BYTES", "CheckpointTooLarge", "JobCancelled", "JobContext", "JobResult"]


class JobCancelled(ShardcronError):
    """Raised by `JobContext.check_cancelled()` once the run was asked to stop."""

    def __init__(self, log_id: int, reason: str) -> None:
        self.log_id = log_id
        self.reason = reason
        super().__init__(f"run {log_id} cancelled: {reason}")


@dataclass(frozen=True)
class JobResult:
    """An explicit result. Handlers usually just return a message (or nothing) or raise."""

    code: int = ResultCode.SUCCESS
    msg: str | None = None
    data: Mapping[str, Any] | None = None

    @classmethod
    def success(cls, msg: str | None = None, data: Mapping[str, Any] | None = None) -> JobResult:
        return cls(int(ResultCode.SUCCESS), msg, data)

    @classmethod
    def fail(cls, msg: str, data: Mapping[str, Any] | None = None) -> JobResult:
        return cls(int(ResultCode.FAIL), msg, data)


def _ignore_progress(ctx: JobContext, done: int, total: int | None, data: Mapping[str, Any]) -> None:
    return None


def _ignore_checkpoint(ctx: JobContext, seq: int, state: Any) -> None:
    return None


@dataclass
class JobContext:
    """One run of one job (one shard of a broadcast), as its handler sees it."""

    trigger: TriggerParam
    #: Appends one line to this run's log file.
    write_log: Callable[[str], None]
    cancel_event: threading.Event = field(default_factory=threading.Event)
    progress_sink: ProgressSink = _ignore_progress
    clock: Clock = SYSTEM_CLOCK
    #: Structured result data sent to the admin with the result (JSON-serialisable values).
    result_data: dict[str, Any] = field(default_factory=dict)
    cancel_reason: str | None = None
    checkpoint_sink: CheckpointSink = _ignore_checkpoint
    #: The last checkpoint this run saved: (seq, state); sent with the run's result.
    last_checkpoint: tuple[int, Any] | None = None

    # ------------------------------------------------------------------ what the trigger says

    @property
    def job_id(self) -> int:
        return self.trigger.job_id

    @property
    def log_id(self) -> int:
        return self.trigger.log_id

    @property
    def param(self) -> str:
        return self.trigger.executor_params

    @property
    def shard_index(self) -> int:
        return self.trigger.broadcast_index

    @property
    def shard_total(self) -> int:
        return self.trigger.broadcast_total

    @property
    def trigger_time_ms(self) -> int:
        """The planned fire time (the wire's logDateTime), the same for every shard."""
        return self.trigger.log_date_time_ms

    @property
    def timeout_s(self) -> int:
        return self.trigger.executor_timeout_s

    @property
    def resume_from(self) -> Any:
        """The checkpoint this run resumes from (the JSON value an earlier run of the job saved),
        or None to start fresh. A handler whose checkpoint format changed decides what an old
        one means: convert it, or ignore it and start over (docs/executor.md)."""
        return self.trigger.resume_from if self.trigger.resume_from_log_id is not None else None

    @property
    def resume_from_log_id(self) -> int | None:
        """The run that saved `resume_from` (None: starting fresh)."""
        return self.trigger.resume_from_log_id

    @property
    def upstream(self) -> dict[str, Any]:
        """In a workflow step: the result data of the steps with an edge into this one, by step
        key (a broadcast step's is `{"shards": [...]}`); `{}` when none left any, or outside a
        workflow."""
        return self.trigger.upstream if self.trigger.upstream is not None else {}

    # ------------------------------------------------------------------ logging and progress

    def log(self, msg: str, *args: Any) -> None:
        """Write a line to the run's log, `%`-formatted like `logging` (`ctx.log("got %d", n)`)."""
        text = msg % args if args else msg
        self.write_log(str(text))

    def progress(self, done: int, total: int | None = None, **data: Any) -> None:
        """Report how far the run is; `data` (counts, ...) is shown with the run while it runs."""
        if done < 0 or (total is not None and total < 0):
            raise ValueError("progress counts cannot be negative")
        self.progress_sink(self, done, total, data)

    def checkpoint(self, state: Any) -> None:
        """Save where the run is: `state` (a JSON value, at most 16 KiB encoded) is kept with the
        run in the admin; a later run of this job resuming from it gets it as `resume_from`.
        Only the last one counts. It is written to the executor's spool and sent to the admin
        within `progress_interval_s`, and always with the run's result.

        Raises CheckpointTooLarge (over the bound) or ValueError (not JSON); the run goes on and
        the previous checkpoint stays."""
        # Refused before anything is kept; kept as a copy, so the handler may go on changing its own.
        state = json.loads(encode_checkpoint(state))
        seq = self.last_checkpoint[0] + 1 if self.last_checkpoint is not None else 1
        self.last_checkpoint = (seq, state)
        self.checkpoint_sink(self, seq, state)

    # ------------------------------------------------------------------ cancellation

    def cancel(self, reason: str) -> None:
        """Ask the handler to stop (kill, COVER_EARLY, timeout, shutdown); idempotent."""
        if not self.cancel_event.is_set():
            self.cancel_reason = reason
            self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def check_cancelled(self) -> None:
        """Raise `JobCancelled` if the run was asked to stop; call it between units of work."""
        if self.cancel_event.is_set():
            raise JobCancelled(self.log_id, self.cancel_reason or "cancelled")

    def wait(self, seconds: float) -> bool:
        """Pause up to `seconds` but wake at once on cancellation; returns True if cancelled."""
        return self.cancel_event.wait(seconds)
