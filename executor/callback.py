"""Results to the admins: spooled first, sent in batches of at most 50, admins tried in turn.

`submit()` is the durable boundary: it returns once the result is fsync'd in the spool. The
sender's `tick()` then posts batches (`POST {admin}/api/callback`, a JSON array) to the first
admin that answers code 200 and only then removes the batch from the spool. When every admin
fails, the batch stays and the next attempt waits `retry_s`. Spooled results are replayed at
start (`replay()`). The admin ignores a second result for a finished logId, so sending a result
twice (a crash between "accepted" and "removed") is harmless.
"""

from __future__ import annotations

import logging
import threading
from collections import deque

from .admin_client import AdminClient, AdminUnavailable
from .clock import Clock
from .protocol import CallbackParam, callbacks_to_wire, encode_json
from .spool import CallbackSpool, SpoolError

log = logging.getLogger("shardcron.executor.callback")

#: At most this many results per POST, as XXL-JOB executors send them.
CALLBACK_BATCH_MAX = 50
#: ... and at most this many bytes, well under the protocol's 5 MiB body limit (one result is at
#: most ~200 KB: its message is capped at 50,000 characters, its resultData at 64 KiB).
CALLBACK_BATCH_MAX_BYTES = 4 * 1024 * 1024


class CallbackSender:
    def __init__(self, spool: CallbackSpool, client: AdminClient, clock: Clock, retry_s: float) -> None:
        self._spool = spool
        self._client = client
        self._clock = clock
        self._retry_s = retry_s
        self._pending: deque[CallbackParam] = deque()
        self._unaccepted: set[int] = set()  # log ids submitted or replayed, not yet accepted
        self._lock = threading.Lock()  # guards _pending and _unaccepted
        self._send_lock = threading.Lock()  # one sender at a time (the loop, a test, flush)
        self._next_attempt_s = 0.0
        self._failing = False
        self.delivered = 0
        self.on_submit = lambda: None  # wakes the loop that drives tick()

    # ------------------------------------------------------------------ producers

    def replay(self) -> list[int]:
        """Queue every result left in the spool by an earlier process; returns their log ids."""
        results = self._spool.load()
        with self._lock:
            fresh = [r for r in results if r.log_id not in self._unaccepted]
            self._pending.extendleft(reversed(fresh))
            self._unaccepted.update(r.log_id for r in fresh)
        if results:
            log.info("spooled results replayed", extra={"count": len(results)})
            self.on_submit()
        return [r.log_id for r in results]

    def submit(self, result: CallbackParam) -> None:
        """Spool `result` (fsync) and queue it for sending."""
        try:
            self._spool.write(result)
        except SpoolError as exc:
            # Nothing durable can be done; sending it from memory still beats dropping it.
            log.error("result not spooled, sending from memory only", extra={"log_id": result.log_id, "error": str(exc)})
        with self._lock:
            self._pending.append(result)
            self._unaccepted.add(result.log_id)
        self.on_submit()

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
        try:
            accepted = self._client.post("callback", callbacks_to_wire(batch))
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
        for result in batch:
            self._spool.remove(result.log_id)
        with self._lock:
            self._unaccepted.difference_update(r.log_id for r in batch)
        self.delivered += len(batch)
        if self._failing:
            log.info("callbacks accepted again", extra={"admin": accepted.admin, "pending": self.pending_count})
        self._failing = False
        log.debug("callback batch accepted", extra={"admin": accepted.admin, "results": len(batch), "first_log_id": batch[0].log_id})
        return True

    def _take_batch(self) -> list[CallbackParam]:
        batch: list[CallbackParam] = []
        size = 2
        with self._lock:
            while self._pending and len(batch) < CALLBACK_BATCH_MAX:
                item_size = len(encode_json(self._pending[0].to_wire())) + 1
                if batch and size + item_size > CALLBACK_BATCH_MAX_BYTES:
                    break
                batch.append(self._pending.popleft())
                size += item_size
        return batch

    def close(self) -> None:
        self._client.close()
