"""One worker per jobId: a FIFO of accepted runs and the thread that runs them one at a time.

The worker's state (queue, current run, retired flag) is guarded by the dispatcher's lock, which
its condition shares, so the dispatcher decides block strategies and retirement atomically. The
thread waits without a timeout: only new work or retirement (decided by the dispatcher's
clock-driven `tick`) wakes it. A handler's `init` runs in this thread before its first run here,
its `destroy` when the worker ends or its job switches to another handler.
"""

from __future__ import annotations

import logging
import threading
import traceback
from collections import deque
from collections.abc import Callable

from .clock import Clock
from .handlers import JobHandler
from .outcome import Outcome
from .runs import Run

log = logging.getLogger("shardcron.executor.worker")


class JobWorker:
    def __init__(
        self,
        job_id: int,
        lock: threading.Lock,
        clock: Clock,
        execute: Callable[[Run], Outcome],
        end_run: Callable[["JobWorker", Run, Outcome], None],
        on_start: Callable[[Run], None],
    ) -> None:
        self.job_id = job_id
        self.queue: deque[Run] = deque()
        self.current: Run | None = None
        self.retired = False
        self.idle_since_s = clock.monotonic()
        self.cond = threading.Condition(lock)
        self._clock = clock
        self._execute = execute
        self._end_run = end_run
        self._on_start = on_start
        self._thread = threading.Thread(target=self._loop, name=f"shardcron-job-{job_id}", daemon=True)

    @property
    def busy(self) -> bool:
        """Running a handler or holding queued runs (what DISCARD_LATER and /idleBeat look at)."""
        return self.current is not None or bool(self.queue)

    def start(self) -> None:
        self._thread.start()

    def _next_run(self) -> Run | None:
        with self.cond:
            while not self.queue and not self.retired:
                self.cond.wait()
            if not self.queue:
                return None
            run = self.queue.popleft()
            self.current = run
            run.start(self._clock.monotonic())
        self._on_start(run)
        return run

    def _loop(self) -> None:
        initialized: JobHandler | None = None
        try:
            while (run := self._next_run()) is not None:
                outcome: Outcome | None = None
                if run.handler is not None and run.handler is not initialized:
                    if initialized is not None:
                        _destroy(initialized, self.job_id)
                        initialized = None
                    outcome = _init(run.handler, run)
                    if outcome is None:
                        initialized = run.handler
                if outcome is None:
                    outcome = self._execute(run)
                self._end_run(self, run, outcome)
        except BaseException:  # the dispatcher's own code failed: say so, never die silently
            log.exception("job worker crashed", extra={"job_id": self.job_id})
            raise
        finally:
            if initialized is not None:
                _destroy(initialized, self.job_id)


def _init(handler: JobHandler, run: Run) -> Outcome | None:
    """Run the handler's init; an Outcome when it failed (the run fails, the next run retries)."""
    if handler.init is None:
        return None
    try:
        handler.init()
    except Exception as exc:
        return Outcome.fail(f"init of job handler [{handler.name}] failed: {type(exc).__name__}: {exc}", traceback.format_exc().rstrip())
    run.log.write(f"job handler [{handler.name}] initialized")
    return None


def _destroy(handler: JobHandler, job_id: int) -> None:
    if handler.destroy is None:
        return
    try:
        handler.destroy()
    except Exception:
        log.exception("job handler destroy failed", extra={"handler": handler.name, "job_id": job_id})
