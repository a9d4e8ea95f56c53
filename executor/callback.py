"""Results to the admins: spooled first, sent in batches of at most 50, admins tried in turn.

`submit()` is the durable boundary: it returns once the result is fsync'd in the spool. Runs
finishing together are committed together (the first caller writes everything queued so far,
the others wait for that write), so a burst costs one fsync. The sender's `tick()` then posts
batches (`POST {admin}/api/callback`, a JSON array) to the first admin that answers code 200,
and a spool segment is removed once all of its results were accepted. When every admin fails,
the batch stays and the next attempt waits `retry_s`. Spooled results are replayed at start
(`replay()`). The admin ignores a second result for a finished logId, so sending a result twice
(a crash between "accepted" and "removed") is harmless.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from dataclasses import dataclass

from .admin_client import AdminClient, AdminUnavailable
from .clock import Clock
from .protocol import CallbackParam, encode_json
from .spool import CallbackSpool, SpoolError

log = logging.getLogger("shardcron.executor.callback")

#: At most this many results per POST, as XXL-JOB executors send them.
CALLBACK_BATCH_MAX = 50
#: ... and at most this many bytes, well under the protocol's 5 MiB body limit (one result is at
#: most ~200 KB: its message is capped at 50,000 characters, its resultData at 64 KiB).
CALLBACK_BATCH_MAX_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True)
class _Pending:
    result: CallbackParam
    wire: bytes  # the result's JSON, encoded once
    segment: str | None  # its spool segment; None if the disk refused it


class CallbackSender:
    def __init__(self, spool: CallbackSpool, client: AdminClient, clock: Clock, retry_s: float) -> None:
        self._spool = spool
        self._client = client
        self._clock = clock
        self._retry_s = retry_s
        self._pending: deque[_Pending] = deque()
        self._unaccepted: set[int] = set()  # log ids submitted or replayed, not yet accepted
        self._lock = threading.Lock()  # guards the two above
        # group commit: results waiting to be written, and who is writing
        self._commit = threading.Condition()
        self._to_write: list[CallbackParam] = []
        self._tickets_issued = 0
        self._tickets_durable = 0
        self._writing = False
        self._send_lock = threading.Lock()  # one sender at a time (the loop, a test, flush)
        self._next_attempt_s = 0.0
        self._failing = False
        self.on_submit = lambda: None  # wakes the loop that drives tick()

    # ------------------------------------------------------------------ producers

    def replay(self) -> list[int]:
        """Queue every result left in the spool by an earlier process; returns their log ids."""
        replayed: list[int] = []
        for segment, results in self._spool.load():
            self._queue([(r, encode_json(r.to_wire())) for r in results], segment)
            replayed.extend(r.log_id for r in results)
        if replayed:
            log.info("spooled results replayed", extra={"count": len(replayed)})
            self.on_submit()
        return replayed

    def submit(self, result: CallbackParam) -> None:
        """Spool `result` (fsync, shared with results finishing at the same time) and queue it."""
        with self._commit:
            self._to_write.append(result)
            self._tickets_issued += 1
            ticket = self._tickets_issued
            while self._tickets_durable < ticket:
                if self._writing:
                    self._commit.wait()
                    continue
                batch, self._to_write = self._to_write, []
                last_ticket = self._tickets_issued
                self._writing = True
                self._commit.release()
                try:
                    self._write(batch)
                finally:
                    self._commit.acquire()
                    self._writing = False
                    self._tickets_durable = last_ticket
                    self._commit.notify_all()
        self.on_submit()

    def _write(self, batch: list[CallbackParam]) -> None:
        encoded = [(r, encode_json(r.to_wire())) for r in batch]  # once, for the spool and the wire
        try:
            segment: str | None = self._spool.append([wire for _, wire in encoded])
        except SpoolError as exc:
            # Nothing durable can be done; sending them from memory still beats dropping them.
            log.error("results not spooled, sending from memory only", extra={"results": len(batch), "error": str(exc)})
            segment = None
        except Exception:  # never lose the batch (other runs' results) to an unexpected error
            log.exception("results not spooled, sending from memory only", extra={"results": len(batch)})
            segment = None
        self._queue(encoded, segment)

    def _queue(self, encoded: list[tuple[CallbackParam, bytes]], segment: str | None) -> None:
        with self._lock:
            self._pending.extend(_Pending(result, wire, segment) for result, wire in encoded)
            self._unaccepted.update(result.log_id for result, _ in encoded)

    def is_pending(self, log_id: int) -> bool:
        """True while the result of `log_id` is spooled or queued (not yet accepted by an admin)."""
        with self._lock:
            return log_id in self._unaccepted

    @property
    def pending_count(self) -> int:
        with self._lock:
            return len(self._pending)

    # ------------------------------------------------------------------ sending

    def tick(self) -> float:
        """Send what is due; returns the seconds until the next attempt is worth making."""
        with self._send_lock:
            now_s = self._clock.monotonic()
            if now_s < self._next_attempt_s:
                return self._next_attempt_s - now_s
            while self._send_one_batch():
                pass
            if not self.pending_count:
                self._spool.tidy()
            return self._retry_s if self._failing else 60.0

    def flush(self, timeout_s: float) -> bool:
        """Send everything now, ignoring the retry delay (graceful stop). True when nothing is left."""
        deadline_s = self._clock.monotonic() + timeout_s
        with self._send_lock:
            while self.pending_count and self._clock.monotonic() < deadline_s:
                if not self._send_one_batch():
                    break
        return self.pending_count == 0

    def _send_one_batch(self) -> bool:
        """Post one batch; True if it was accepted and there may be more to send."""
        batch = self._take_batch()
        if not batch:
            return False
        body = b"[" + b",".join(item.wire for item in batch) + b"]"
        try:
            accepted = self._client.post_raw("callback", body)
        except AdminUnavailable as exc:
            with self._lock:
                self._pending.extendleft(reversed(batch))
            self._next_attempt_s = self._clock.monotonic() + self._retry_s
            log.warning(
                "callback batch not accepted, kept in the spool",
                extra={"results": len(batch), "pending": self.pending_count, "retry_in_s": self._retry_s, "error": str(exc)},
            )
            self._failing = True
            return False
        self._accepted(batch)
        if self._failing:
            log.info("callbacks accepted again", extra={"admin": accepted.admin, "pending": self.pending_count})
        self._failing = False
        log.debug("callback batch accepted", extra={"admin": accepted.admin, "results": len(batch), "first_log_id": batch[0].result.log_id})
        return True

    def _accepted(self, batch: list[_Pending]) -> None:
        counts: dict[str, int] = {}
        with self._lock:
            for item in batch:
                self._unaccepted.discard(item.result.log_id)
                if item.segment is not None:
                    counts[item.segment] = counts.get(item.segment, 0) + 1
        self._spool.accepted(counts)

    def _take_batch(self) -> list[_Pending]:
        batch: list[_Pending] = []
        size = 2
        with self._lock:
            while self._pending and len(batch) < CALLBACK_BATCH_MAX:
                item_size = len(self._pending[0].wire) + 1
                if batch and size + item_size > CALLBACK_BATCH_MAX_BYTES:
                    break
                batch.append(self._pending.popleft())
                size += item_size
        return batch

    def close(self) -> None:
        self._client.close()
        self._spool.close()
