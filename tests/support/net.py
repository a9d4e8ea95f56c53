"""Loopback helpers for tests that run real servers."""

from __future__ import annotations

import socket
import time
from collections.abc import Callable


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(predicate: Callable[[], bool], *, timeout_s: float = 30.0, interval_s: float = 0.05, what: str = "condition") -> None:
    """Poll `predicate` until it is true; fail after `timeout_s` (a deadline, not a sleep-to-pass-time)."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval_s)
    raise AssertionError(f"timed out after {timeout_s}s waiting for {what}")
