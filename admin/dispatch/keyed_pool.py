"""A thread pool that keeps one key's backlog from blocking the others (probes and named hosts).

The dispatcher sends FAILOVER/BUSYOVER probes, `/run` calls to executors named by host name and
settlements (`/log`, then `/run`) through blocking calls on worker threads; the key is the
executor's address, so a slow executor ties up at most `per_key` workers.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

log = logging.getLogger("shardcron.admin.scheduling")


class KeyedPool:
    """Runs tasks on at most `workers` threads, at most `per_key` of them for one key at a time;
    a key's further tasks wait in its own FIFO queue, not in front of other keys' tasks."""

    def __init__(self, workers: int, per_key: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shardcron-dispatch")
        self._per_key = per_key
        self._lock = threading.Lock()
        self._active: Counter[str] = Counter()
        self._waiting: dict[str, deque[Callable[[], None]]] = {}

    def submit(self, key: str, task: Callable[[], None]) -> None:
        with self._lock:
            if self._active[key] >= self._per_key:
                self._waiting.setdefault(key, deque()).append(task)
                return
            self._active[key] += 1
        self._executor.submit(self._drain, key, task)

    def _drain(self, key: str, task: Callable[[], None] | None) -> None:
        while task is not None:
            try:
                task()
            except Exception:  # a task must never take a worker down with it
                log.exception("dispatch task failed")
            with self._lock:
                waiting = self._waiting.get(key)
                if waiting:
                    task = waiting.popleft()
                else:
                    self._waiting.pop(key, None)
                    self._active[key] -= 1
                    if not self._active[key]:
                        del self._active[key]
                    task = None

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=True)
