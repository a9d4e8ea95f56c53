"""`ctx.progress(done, total, **data)` -> `POST {admin}/api/progress`, best effort.

shardcron's own extension: the body is a JSON array of `ProgressParam`. Each run's progress is
sent at most once per `interval_s`, and its last value is always sent when the run ends. Nothing
is retried or spooled (the final callback carries the result that matters); an admin that does
not know the path (an XXL-JOB admin) only earns a debug line.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .admin_client import AdminClient, AdminUnavailable
from shardcron.core.clock import Clock
from .context import JobContext
from shardcron.core.protocol import ProgressParam, encode_json

log = logging.getLogger("shardcron.executor.progress")

#: Runs per POST (the protocol caps a progress body at 1,000 entries).
PROGRESS_BATCH_MAX = 500


@dataclass
class _RunProgress:
    latest: ProgressParam | None = None  # not sent yet
    last_sent_s: float | None = None
    finished: bool = False


class ProgressReporter:
    def __init__(self, client: AdminClient, clock: Clock, interval_s: float) -> None:
        self._client = client
        self._clock = clock
        self._interval_s = interval_s
        self._runs: dict[int, _RunProgress] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self.on_due = lambda: None  # wakes the loop that drives tick()

    def report(self, ctx: JobContext, done: int, total: int | None, data: Mapping[str, Any]) -> None:
        """The `progress_sink` of every run's context."""
        payload: Mapping[str, Any] | None = dict(data) if data else None
        if payload is not None:
            try:
                encode_json(payload)
            except (TypeError, ValueError) as exc:
                ctx.log("progress data dropped, it is not JSON-serialisable: %s", exc)
                payload = None
        item = ProgressParam(ctx.log_id, ctx.trigger_time_ms, done, total, payload)
        now_s = self._clock.monotonic()
        with self._lock:
            state = self._runs.setdefault(ctx.log_id, _RunProgress())
            state.latest = item
            due = state.last_sent_s is None or now_s - state.last_sent_s >= self._interval_s
        if due:
            self.on_due()

    def finish(self, log_id: int) -> None:
        """The run ended: send its last unsent value (if any), then forget it."""
        with self._lock:
            state = self._runs.get(log_id)
            if state is None:
                return
            if state.latest is None:
                del self._runs[log_id]
                return
            state.finished = True
        self.on_due()

    def tick(self) -> float:
        """Send every due value in one POST; returns the seconds until the next value is due."""
        with self._send_lock:
            now_s = self._clock.monotonic()
            due: list[ProgressParam] = []
            wait_s = 60.0
            with self._lock:
                for log_id, state in list(self._runs.items()):
                    if state.latest is None:
                        continue
                    ready_at_s = 0.0 if state.finished or state.last_sent_s is None else state.last_sent_s + self._interval_s
                    if now_s >= ready_at_s:
                        due.append(state.latest)
                        state.latest = None
                        state.last_sent_s = now_s
                        if state.finished:
                            del self._runs[log_id]
                    else:
                        wait_s = min(wait_s, ready_at_s - now_s)
            if due:
                self._send(due)
            return wait_s

    def _send(self, items: list[ProgressParam]) -> None:
        for start in range(0, len(items), PROGRESS_BATCH_MAX):
            chunk = items[start : start + PROGRESS_BATCH_MAX]
            try:
                self._client.post("progress", [item.to_wire() for item in chunk])
            except AdminUnavailable as exc:
                log.debug("progress not accepted (best effort, dropped)", extra={"runs": len(chunk), "error": str(exc)})

    def close(self) -> None:
        self._client.close()
