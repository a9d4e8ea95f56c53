"""`ctx.checkpoint(state)` -> the spool's `checkpoints/` folder -> `POST {admin}/api/checkpoint`.

shardcron's own extension. Each run's latest checkpoint is written (one small file per run,
replaced atomically and fsync'd) and then posted, at most once per `interval_s` per run, so a
handler may checkpoint after every item. A post that no admin accepts is retried every
`retry_s`; the file survives `kill -9` and is replayed at start, like spooled results. The file
goes once an admin accepted that checkpoint, or once the run's result (which carries the last
checkpoint, `CallbackParam.checkpoint`) is in the callback spool. The admin keeps the highest
`seq` per run, so a replayed or late checkpoint never overwrites a newer one.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shardcron.core.clock import Clock
from shardcron.core.protocol import CheckpointParam, ProtocolError, encode_json

from .admin_client import AdminClient, AdminUnavailable
from .context import JobContext

log = logging.getLogger("shardcron.executor.checkpoints")

FOLDER = "checkpoints"
#: Checkpoints per POST (the protocol caps a body at 1,000 entries; 100 x 16 KiB stays far under 5 MiB).
CHECKPOINT_BATCH_MAX = 100


@dataclass
class _RunCheckpoint:
    latest: CheckpointParam
    sent_seq: int = 0  # highest seq an admin accepted
    written_seq: int = 0  # highest seq on disk
    last_sent_s: float | None = None
    finished: bool = False


class CheckpointReporter:
    def __init__(self, root: Path, client: AdminClient, clock: Clock, interval_s: float, retry_s: float) -> None:
        self.root = root / FOLDER
        self._client = client
        self._clock = clock
        self._interval_s = interval_s
        self._retry_s = retry_s
        self._runs: dict[int, _RunCheckpoint] = {}
        self._lock = threading.Lock()
        self._send_lock = threading.Lock()
        self._next_attempt_s = 0.0
        self.on_due = lambda: None  # wakes the loop that drives tick()

    # ------------------------------------------------------------------ producers

    def record(self, ctx: JobContext, seq: int, state: Any) -> None:
        """The `checkpoint_sink` of every run's context (state is already checked and copied)."""
        now_s = self._clock.monotonic()
        with self._lock:
            entry = self._runs.get(ctx.log_id)
            item = CheckpointParam(ctx.log_id, seq, state)
            if entry is None:
                entry = self._runs[ctx.log_id] = _RunCheckpoint(item)
            else:
                entry.latest = item
            due = entry.last_sent_s is None or now_s - entry.last_sent_s >= self._interval_s
        if due:
            self.on_due()

    def result_spooled(self, log_id: int) -> None:
        """The run's result, carrying its last checkpoint, is durable in the callback spool: the
        checkpoint need not be sent on its own any more."""
        with self._lock:
            self._runs.pop(log_id, None)
        self._remove(log_id)

    def replay(self) -> int:
        """Queue the checkpoints an earlier process left on disk; returns how many."""
        count = 0
        for path in sorted(self.root.glob("*.json")) if self.root.is_dir() else []:
            try:
                item = CheckpointParam.from_wire(json.loads(path.read_bytes()))
            except (OSError, ValueError, ProtocolError) as exc:
                log.error("unreadable checkpoint file removed", extra={"file": str(path), "error": str(exc)})
                path.unlink(missing_ok=True)
                continue
            with self._lock:
                self._runs[item.log_id] = _RunCheckpoint(item, written_seq=item.seq, finished=True)
            count += 1
        if count:
            log.info("spooled checkpoints replayed", extra={"count": count})
            self.on_due()
        return count

    # ------------------------------------------------------------------ sending

    def tick(self) -> float:
        """Write and send what is due; returns the seconds until the next value is due."""
        with self._send_lock:
            now_s = self._clock.monotonic()
            if now_s < self._next_attempt_s:
                return self._next_attempt_s - now_s
            due: list[CheckpointParam] = []
            wait_s = 60.0
            with self._lock:
                for entry in self._runs.values():
                    if entry.latest.seq <= entry.sent_seq:
                        continue
                    ready_at_s = 0.0 if entry.finished or entry.last_sent_s is None else entry.last_sent_s + self._interval_s
                    if now_s >= ready_at_s:
                        due.append(entry.latest)
                        entry.last_sent_s = now_s
                    else:
                        wait_s = min(wait_s, ready_at_s - now_s)
            if not due:
                return wait_s
            for item in due:
                self._write(item)
            for start in range(0, len(due), CHECKPOINT_BATCH_MAX):
                chunk = due[start : start + CHECKPOINT_BATCH_MAX]
                try:
                    self._client.post("checkpoint", [item.to_wire() for item in chunk])
                except AdminUnavailable as exc:
                    self._next_attempt_s = now_s + self._retry_s
                    with self._lock:
                        for item in due[start:]:
                            unsent = self._runs.get(item.log_id)
                            if unsent is not None:
                                unsent.last_sent_s = None  # due again at the next attempt
                    log.warning("checkpoints not accepted, kept on disk", extra={"runs": len(due) - start, "retry_in_s": self._retry_s, "error": str(exc)})
                    return self._retry_s
                self._accepted(chunk)
            return min(wait_s, self._interval_s)

    def _accepted(self, items: list[CheckpointParam]) -> None:
        for item in items:
            with self._lock:
                entry = self._runs.get(item.log_id)
                if entry is None:
                    continue
                entry.sent_seq = max(entry.sent_seq, item.seq)
                gone = entry.finished and entry.latest.seq <= entry.sent_seq
                if gone:
                    del self._runs[item.log_id]
            if gone:
                self._remove(item.log_id)

    def _write(self, item: CheckpointParam) -> None:
        with self._lock:
            entry = self._runs.get(item.log_id)
            if entry is None or entry.written_seq >= item.seq:
                return
        path = self.root / f"{item.log_id}.json"
        tmp = self.root / f".{item.log_id}.json.tmp"
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            try:
                os.write(fd, encode_json(item.to_wire()))
                os.fdatasync(fd)
            finally:
                os.close(fd)
            os.replace(tmp, path)
        except OSError as exc:
            # Sending it still beats dropping it; only a kill -9 before it is accepted loses it.
            log.error("checkpoint not written to disk, sending from memory only", extra={"log_id": item.log_id, "error": exc.strerror})
            return
        with self._lock:
            entry = self._runs.get(item.log_id)
            if entry is not None:
                entry.written_seq = max(entry.written_seq, item.seq)

    def _remove(self, log_id: int) -> None:
        try:
            (self.root / f"{log_id}.json").unlink(missing_ok=True)
        except OSError as exc:
            log.warning("checkpoint file not removable", extra={"log_id": log_id, "error": exc.strerror})

    def pending_log_ids(self) -> list[int]:
        """Runs whose latest checkpoint no admin has accepted yet (for tests and operators)."""
        with self._lock:
            return sorted(log_id for log_id, entry in self._runs.items() if entry.latest.seq > entry.sent_seq)

    def close(self) -> None:
        self._client.close()
