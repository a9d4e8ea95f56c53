"""Time, injected.

Nothing else in shardcron reads the wall clock: loops and stores take a `Clock` so tests can
drive time with `FakeClock` and never sleep. Instants are UTC epoch milliseconds (`*_at_ms`).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime, UTC
from typing import Protocol


class Clock(Protocol):
    def now_ms(self) -> int:
        """Current UTC time as epoch milliseconds."""

    def monotonic(self) -> float:
        """Seconds from an arbitrary origin that never goes backwards (for durations)."""


class SystemClock:
    """The real clock."""

    def now_ms(self) -> int:
        return time.time_ns() // 1_000_000

    def monotonic(self) -> float:
        return time.monotonic()


class FakeClock:
    """A clock that moves only when told to. Thread-safe."""

    def __init__(self, start_ms: int = 1_767_225_600_000) -> None:  # 2026-01-01T00:00:00Z
        self._now_ms = start_ms
        self._mono = 0.0
        self._lock = threading.Lock()

    def now_ms(self) -> int:
        with self._lock:
            return self._now_ms

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def advance(self, ms: int = 0, *, s: float = 0.0) -> int:
        """Move forward by `ms` milliseconds plus `s` seconds; returns the new time."""
        step = ms + round(s * 1000)
        if step < 0:
            raise ValueError("a FakeClock never goes backwards")
        with self._lock:
            self._now_ms += step
            self._mono += step / 1000
            return self._now_ms

    def set(self, now_ms: int) -> None:
        """Jump to `now_ms` (not earlier than the current time)."""
        with self._lock:
            if now_ms < self._now_ms:
                raise ValueError("a FakeClock never goes backwards")
            self._mono += (now_ms - self._now_ms) / 1000
            self._now_ms = now_ms


SYSTEM_CLOCK = SystemClock()


def ms_to_datetime(at_ms: int) -> datetime:
    """Epoch milliseconds -> aware UTC datetime."""
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC)


def datetime_to_ms(value: datetime) -> int:
    """Aware datetime -> epoch milliseconds. Naive datetimes are refused: their zone is a guess."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no time zone")
    delta = value - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * 1000 + delta.microseconds // 1000
