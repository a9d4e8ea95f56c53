"""One worker per jobId, run by an elastic pool of threads.

A `JobWorker` is a job's FIFO of accepted runs plus the run it is executing; at most one of its
runs executes at a time. Workers do not own threads: a worker with work is put on the pool's
ready queue and one pool thread runs its runs one after another until its queue is empty. The
pool grows a thread whenever work arrives and no thread is idle (a handler may block for hours,
so there is no fixed cap), and `tick()` retires threads idle for longer than the idle time.
Reusing a few hot threads instead of one thread per job keeps the executor cheap with
thousands of jobs. All state here is guarded by the dispatcher's lock.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import deque
from collections.abc import Callable

from shardcron.core.clock import Clock
from .handlers import JobHandler
from .runs import Run

log = logging.getLogger("shardcron.executor.worker")


class JobWorker:
    def __init__(self, job_id: int, now_s: float) -> None:
        self.job_id = job_id
        self.queue: deque[Run] = deque()
        self.current: Run | None = None
        #: On the ready queue or being run by a pool thread.
        self.scheduled = False
        self.retired = False
        self.idle_since_s = now_s
        #: The handler whose `init` ran for this job (its `destroy` is owed).
        self.initialized: JobHandler | None = None

    @property
    def busy(self) -> bool:
        """Running a handler or holding queued runs (what DISCARD_LATER and /idleBeat look at)."""
        return self.current is not None or bool(self.queue)


class RunnerPool:
    """Threads that run scheduled workers; `schedule` and `tick` are called under `lock`."""

    def __init__(self, lock: threading.Lock, clock: Clock, run_worker: Callable[[JobWorker], None], *, name: str = "shardcron-run") -> None:
        self._lock = lock
        self._clock = clock
        self._run_worker = run_worker
        self._name = name
        self._ready: queue.SimpleQueue[JobWorker | None] = queue.SimpleQueue()
        #: When each idle thread became idle, oldest first; its length is the number of idle threads.
        self._idle_since: deque[float] = deque()
        self._threads = 0
        self._spawned = 0
        self._stopping = False

    @property
    def thread_count(self) -> int:
        return self._threads

    @property
    def idle_thread_count(self) -> int:
        return len(self._idle_since)

    def schedule(self, worker: JobWorker) -> bool:
        """Under the lock: queue `worker` for a thread. True if the caller must `spawn()` one
        (after releasing the lock) because no thread is idle."""
        worker.scheduled = True
        self._ready.put(worker)
        if self._idle_since:
            self._idle_since.pop()  # the most recently idle thread will take it
            return False
        self._threads += 1
        return True

    def spawn(self) -> None:
        with self._lock:
            self._spawned += 1
            number = self._spawned
        threading.Thread(target=self._thread_main, name=f"{self._name}-{number}", daemon=True).start()

    def tick(self, now_s: float, idle_s: float) -> float:
        """Under the lock: retire threads idle for `idle_s`; returns seconds until the next may go."""
        while self._idle_since and now_s - self._idle_since[0] >= idle_s:
            self._idle_since.popleft()
            self._threads -= 1
            self._ready.put(None)  # whichever idle thread takes it ends
        return self._idle_since[0] + idle_s - now_s if self._idle_since else idle_s

    def stop(self) -> None:
        """Let every thread end once it has no more work."""
        with self._lock:
            self._stopping = True
            while self._idle_since:
                self._idle_since.popleft()
                self._threads -= 1
                self._ready.put(None)

    def _thread_main(self) -> None:
        while (worker := self._ready.get()) is not None:
            try:
                self._run_worker(worker)
            except BaseException:  # the dispatcher's own code failed: say so, keep the thread
                log.exception("job worker failed", extra={"job_id": worker.job_id})
            with self._lock:
                if self._stopping:
                    self._threads -= 1
                    return
                self._idle_since.append(self._clock.monotonic())
