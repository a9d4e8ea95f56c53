"""Results to the admins: spooled first, sent in batches of at most 50, admins tried in turn.

`submit()` hands a result to the committer thread, which waits `commit_linger_s` for others to
join it, appends everything queued to the spool with one fsync (group commit) and only then
queues it for sending and calls the run's `on_durable` (the run counts as ended from then on).
The sender's `tick()` then posts batches (`POST {admin}/api/callback`, a JSON array) to the
first admin that answers code 200, and a spool segment is removed once all of its results were
accepted. When every admin fails, the batch stays and the next attempt waits `retry_s`.
Spooled results are replayed at start (`replay()`). The admin ignores a second result for a
finished logId, so sending a result twice (a crash between "accepted" and "removed") is
harmless.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from .admin_client import AdminClient, AdminUnavailable
from shardcron.core.clock import Clock
from shardcron.core.protocol import CallbackParam, encode_json
from .spool import CallbackSpool, SpoolError

log = logging.getLogger("shardcron.executor.callback")

#: At most this many results per POST, as XXL-JOB executors send them.
CALLBACK_BATCH_MAX = 50
#: ... and at most this many bytes, well under the protocol's 5 MiB body limit (one result is at
#: most ~200 KB: its message is capped at 50,000 characters, its resultData at 64 KiB).
CALLBACK_BATCH_MAX_BYTES = 4 * 1024 * 1024
#: Once a result arrives, the committer waits this long for more before the write and fdatasync
#: they share: under load the groups grow and the executor's CPU per trigger falls (figures in
#: docs/benchmarks.md, "The spool committer lingers 5 ms"). A result is durable, and sent, that
#: much later; the sender lingers 20 ms for a batch anyway.
COMMIT_LINGER_S = 0.005


@dataclass(frozen=True)
class _Pending:
    result: CallbackParam
    wire: bytes  # the result's JSON, encoded once
    segment: str | None  # its spool segment; None if the disk refused it


class CallbackSender:
    def __init__(self, spool: CallbackSpool, client: AdminClient, clock: Clock, retry_s: float, *, commit_linger_s: float = COMMIT_LINGER_S) -> None:
        self._spool = spool
        self._commit_linger_s = commit_linger_s
        self._client = client
        self._clock = clock
        self._retry_s = retry_s
        self._pending: deque[_Pending] = deque()
        self._unaccepted: set[int] = set()  # log ids submitted or replayed, not yet accepted
        self._lock = threading.Lock()  # guards the two above
        # group commit: results wait here for the committer thread, which writes all it finds
        self._commit_queue: queue.SimpleQueue[tuple[CallbackParam, Callable[[], None] | None] | None] = queue.SimpleQueue()
        self._commit_lock = threading.Lock()
        self._committer: threading.Thread | None = None
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

    def submit(self, result: CallbackParam, on_durable: Callable[[], None] | None = None) -> None:
        """Queue `result` for the spool; `on_durable()` is called once it is fsync'd there (and
        queued for sending). Without a running committer the result is written right here."""
        with self._lock:
            self._unaccepted.add(result.log_id)
        with self._commit_lock:
            if self._committer is not None:
                self._commit_queue.put((result, on_durable))
                return
        self._commit([(result, on_durable)])

    def start(self) -> None:
        """Start the committer thread: runs never wait for the disk, and results that arrive
        while one batch is being synced are written together by the next write."""
        with self._commit_lock:
            if self._committer is None:
                self._committer = threading.Thread(target=self._commit_loop, name="shardcron-executor-spool", daemon=True)
                self._committer.start()

    def stop_commits(self, timeout_s: float = 30.0) -> None:
        """Write what is queued and stop the committer; later results are written inline."""
        with self._commit_lock:
            committer, self._committer = self._committer, None
            if committer is None:
                return
            self._commit_queue.put(None)
        committer.join(timeout_s)

    def _commit_loop(self) -> None:
        while (item := self._commit_queue.get()) is not None:
            # Real time, not the injected clock: a short pause of this thread, whatever the clock says.
            time.sleep(self._commit_linger_s)
            batch = [item]
            while True:
                try:
                    more = self._commit_queue.get_nowait()
                except queue.Empty:
                    break
                if more is None:
                    self._commit(batch)
                    return
                batch.append(more)
            self._commit(batch)

    def _commit(self, batch: list[tuple[CallbackParam, Callable[[], None] | None]]) -> None:
        self._write([result for result, _ in batch])
        for _, on_durable in batch:
            if on_durable is not None:
                try:
                    on_durable()
                except Exception:
                    log.exception("callback after spooling failed")
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
