"""One executor call as the multiplexer takes it, and the waiter of a call made synchronously."""

from __future__ import annotations

import threading
from typing import Protocol

from .outcome import Outcome


class Guard(Protocol):
    def holds(self, at_ms: int) -> bool: ...


class Waiter:
    """The outcome of one `call`, handed from the sending thread to the thread waiting for it."""

    __slots__ = ("event", "outcome")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.outcome: Outcome | None = None


class Call:
    """One call. `guard`: checked right before the first byte of the request is written; a call
    whose guard no longer holds is dropped unsent (`on_dropped`). `repeatable`: whether the call
    may be sent again on a fresh connection after a keep-alive one failed once its whole request
    was written (not a `/run`: the executor may have acted on it)."""

    __slots__ = ("address", "path", "body", "token", "retried", "guard", "guard_at_ms", "repeatable")

    def __init__(self, address: str, path: str, body: bytes, token: object, guard: Guard | None = None, guard_at_ms: int = 0) -> None:
        self.address = address
        self.path = path
        self.body = body
        self.token = token
        self.retried = False
        self.guard = guard
        self.guard_at_ms = guard_at_ms
        self.repeatable = path != "run"
