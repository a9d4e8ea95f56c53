"""A bell that wakes this process's fire loops when fires were written for now.

A workflow step's successor is written as a PENDING fire by whoever advances its instance: most
often the callback that brought the step's result, in the same process as the fire loop
(`shardcron admin` serves both). Polling for it every `workflow_tick_ms` costs a write
transaction per poll (on SQLite, a turn at the one write lock). So the writer rings this bell
after its commit, and the fire loops of the process on that database wake at once and claim;
fires written by another process are still found by the loop's own polling.

One bell per database URL in the process (the scheduler may use its own engine on the admin's
database). `ring()` counts; a waiter remembers the count it has seen, so several loops on one
bell (two scheduler nodes in one test process) each hear every ring.
"""

from __future__ import annotations

import threading

from ..db import Database


class FireBell:
    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._rings = 0

    @property
    def rings(self) -> int:
        return self._rings

    def ring(self) -> None:
        with self._cond:
            self._rings += 1
            self._cond.notify_all()

    def wait(self, seen: int, timeout_s: float) -> int:
        """Wait until the count differs from `seen` or `timeout_s` passed; returns the count."""
        with self._cond:
            if self._rings == seen and timeout_s > 0:
                self._cond.wait(timeout_s)
            return self._rings


_BELLS: dict[str, FireBell] = {}
_BELLS_LOCK = threading.Lock()


def bell_for(db: Database) -> FireBell:
    key = db.engine.url.render_as_string(hide_password=False)
    with _BELLS_LOCK:
        bell = _BELLS.get(key)
        if bell is None:
            bell = _BELLS[key] = FireBell()
        return bell
