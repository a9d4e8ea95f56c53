"""One accepted trigger: its context, its log, and the promise to report its result exactly once.

A run's result is reported at the first of: the handler returns; its timeout passes (502); it is
killed (`/kill`, COVER_EARLY, shutdown: 500). A handler that keeps going after its result was
reported (Python cannot stop a thread) still holds its job's worker until it returns, and what it
returns then is only written to the run log.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

from .context import JobContext
from .handlers import JobHandler
from .joblog import RunLogFile
from shardcron.core.protocol import TriggerParam


@dataclass(eq=False)
class Run:
    trigger: TriggerParam
    ctx: JobContext
    log: RunLogFile
    #: The registered handler of a BEAN job; None for a script job.
    handler: JobHandler | None
    started_at_s: float | None = None
    deadline_s: float | None = None
    _reported: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)
    #: Held until the report is finished; a C lock is much cheaper to create than an Event, and
    #: one is made per accepted trigger.
    _report_pending: threading.Lock = field(default_factory=threading.Lock)
    #: A run ends when its handler returned (or it was dropped) and its result is in the spool.
    _unsettled: int = 2

    def __post_init__(self) -> None:
        self._report_pending.acquire()

    @property
    def log_id(self) -> int:
        return self.trigger.log_id

    @property
    def job_id(self) -> int:
        return self.trigger.job_id

    @property
    def shard(self) -> str:
        return f"{self.trigger.broadcast_index}/{self.trigger.broadcast_total}"

    @property
    def reported(self) -> bool:
        return self._reported

    def claim_report(self) -> bool:
        """True exactly once: the caller is the one that reports this run's result."""
        with self._lock:
            if self._reported:
                return False
            self._reported = True
            return True

    def settle(self) -> bool:
        """One of the two ends happened; True when that makes the run over."""
        with self._lock:
            self._unsettled -= 1
            return self._unsettled == 0

    def report_finished(self) -> None:
        """The reporter is done: the result line is logged and the result spooled."""
        self._report_pending.release()

    def wait_report(self, timeout_s: float) -> bool:
        """Wait for whoever claimed the report to finish it (so the log is closed after its last line)."""
        if self._report_pending.acquire(timeout=timeout_s):
            self._report_pending.release()
            return True
        return False

    def start(self, now_s: float) -> None:
        self.started_at_s = now_s
        if self.trigger.executor_timeout_s > 0:
            self.deadline_s = now_s + self.trigger.executor_timeout_s

    def describe(self) -> str:
        t = self.trigger
        what = f"handler {t.executor_handler}" if self.handler is not None else f"{t.glue_type} script"
        timeout = f"{t.executor_timeout_s}s" if t.executor_timeout_s else "none"
        return (
            f"run {t.log_id} of job {t.job_id} started: {what}, shard {self.shard}, "
            f"block strategy {t.executor_block_strategy}, timeout {timeout}, param {t.executor_params!r}"
        )
