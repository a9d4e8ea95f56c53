"""A background loop: `tick()` then wait until woken, stopped or the tick's chosen delay passed.

Every periodic duty of the executor (registration, callbacks, progress, timeouts, idle workers,
log retention) is a `tick()` that decides from the injected clock what is due and returns how
long it may rest. Tests call the ticks themselves with a FakeClock; this thread is only the thin
driver in production.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("shardcron.executor.loop")


class Loop:
    def __init__(self, name: str, tick: Callable[[], float], *, max_wait_s: float = 1.0, linger_s: float = 0.0) -> None:
        self.name = name
        self._tick = tick
        # After a wake-up, wait this long for more work before ticking (batches callbacks).
        self._linger_s = linger_s
        # The wait is capped so a loop driven by a FakeClock (whose delays never elapse in real
        # time) still notices the clock moving; with the real clock it rarely matters.
        self._max_wait_s = max_wait_s
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self._thread is not None:
            return
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout_s: float = 5.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout_s)

    @property
    def stopping(self) -> bool:
        return self._stop.is_set()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                delay_s = self._tick()
            except Exception:  # a loop must survive one bad tick; the next one retries
                log.exception("loop tick failed", extra={"loop": self.name})
                delay_s = self._max_wait_s
            woken = self._wake.wait(max(0.0, min(delay_s, self._max_wait_s)))
            self._wake.clear()
            if woken and self._linger_s:
                self._stop.wait(self._linger_s)
