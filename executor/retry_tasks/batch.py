"""One claimed batch, run through the task handlers by a bounded set of threads.

Worker threads take rows in claim order; the calling thread meanwhile writes finished outcomes
in bulk (every `flush_interval_s`, and when the batch is done) and renews the lease of the rows
still waiting or running, so a slow batch neither holds its results back nor loses its rows.
When the run must stop (budget spent, cancelled), workers start no new row; rows never started
are released at once, and the attempt their claim counted is given back.

A batch held by its claim's transaction (PostgreSQL, held_claim.py) writes nothing until its
handlers are done, or until the first flush interval or a stage write asks for a commit, which
leases what is left; a batch done in time commits on the run's commit thread while the next one
is claimed (`settle` waits for it and reports it).
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, Executor, Future, wait
from dataclasses import dataclass, field
from typing import Any

from shardcron.core.clock import Clock, SystemClock
from .backoff import Backoff
from .errors import TaskInputError, TaskLeaseLost
from .record import clip_error, decode_stages, dump_json, encode_json_text, load_json
from .store import Claim, ClaimedRow, ExhaustedRow, HeldBatch, Outcome, OutcomeKind, TaskStore, WriteCounts
from .handling import GiveUp, RetryLater, Task

log = logging.getLogger("shardcron.retry_tasks")

#: Errors of this many rows per run are also written to the run log (all go to the rows).
MAX_LOGGED_ERRORS = 20
#: The held phase's deadline is real time, like the flush interval's waits (`wait(timeout=)`),
#: whatever clock the run was given: it bounds how long results and callbacks wait.
_REAL_TIME = SystemClock()
#: How often a held batch looks whether a stage write asks for its commit (its handlers
#: finishing end the wait at once).
HELD_POLL_S = 0.01


@dataclass(frozen=True)
class HandlerSpec:
    task_code: str
    fn: Callable[[Task], Any]
    backoff: Backoff | None = None


@dataclass
class _StageGate:
    """A held batch's commit, as a stage write waits for it."""

    #: Set by a handler recording a stage: commit the held batch now.
    asked: threading.Event = field(default_factory=threading.Event)
    #: Set once the held batch is committed (or abandoned): the rows are leased, or lost.
    open: threading.Event = field(default_factory=threading.Event)


@dataclass
class BatchCounts:
    written: WriteCounts
    released: int = 0


def describe_exception(exc: BaseException) -> str:
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


class BatchRunner:
    """Runs batches for one drainer run (one lease token, one thread pool)."""

    def __init__(
        self,
        *,
        store: TaskStore,
        token: str,
        handlers: Mapping[str, HandlerSpec],
        default_backoff: Backoff,
        clock: Clock,
        rng: random.Random,
        pool: Executor,
        concurrency: int,
        lease_ms: int,
        should_stop: Callable[[], bool],
        on_flush: Callable[[WriteCounts], None],
        run_log: Callable[[str], None],
        flush_interval_s: float = 1.0,
        committer: Executor | None = None,
    ) -> None:
        self.store = store
        self.token = token
        self.handlers = handlers
        self.default_backoff = default_backoff
        self.clock = clock
        self.rng = rng
        self.rng_lock = threading.Lock()
        self.pool = pool
        self.concurrency = concurrency
        self.lease_ms = lease_ms
        self.should_stop = should_stop
        self.on_flush = on_flush
        self.run_log = run_log
        self.flush_interval_s = flush_interval_s
        self.logged_errors = 0
        self.note_lock = threading.Lock()
        self._stage_gate: _StageGate | None = None
        #: Commits held batches whose handlers are all done, while the next batch is claimed.
        self.committer = committer
        self._in_flight: tuple[Future[WriteCounts], int] | None = None

    # ------------------------------------------------------------------ one batch

    def run(self, rows: Sequence[ClaimedRow], held: HeldBatch | None = None) -> BatchCounts:
        """Run `rows`; with `held`, their locks are held by the claim's open transaction until
        the batch ends, or until the first flush interval or a stage write asks for a commit,
        after which the rest runs under leases (held_claim.py)."""
        lock = threading.Lock()
        next_index = 0
        finished: set[int] = set()
        outcomes: list[Outcome] = []
        lost_in_handler = 0

        def worker() -> None:
            nonlocal next_index, lost_in_handler
            while not self.should_stop():
                with lock:
                    if next_index >= len(rows):
                        return
                    row = rows[next_index]
                    next_index += 1
                outcome = self.attempt(row)
                with lock:
                    finished.add(row.id)
                    if outcome is None:
                        lost_in_handler += 1
                    else:
                        outcomes.append(outcome)

        def take() -> tuple[list[Outcome], int]:
            nonlocal lost_in_handler
            with lock:
                taken, lost = outcomes[:], lost_in_handler
                outcomes.clear()
                lost_in_handler = 0
            return taken, lost

        def unfinished() -> list[int]:
            with lock:
                return [row.id for row in rows if row.id not in finished]

        total = WriteCounts()
        # The lease was taken just before this batch started: count from here, before any handler runs.
        renew_every_s = self.lease_ms / 3000
        next_renew = self.clock.monotonic() + renew_every_s
        gate = _StageGate()
        self._stage_gate = gate if held is not None else None
        futures: list[Future[None]] = [self.pool.submit(worker) for _ in range(min(self.concurrency, len(rows)))]
        if held is not None:
            handed_off = False
            try:
                # Real time, like the flush interval's waits below: it bounds how long a result
                # (and a callback waiting for a held row) is held back.
                flush_at = _REAL_TIME.monotonic() + self.flush_interval_s
                while True:
                    done, not_done = wait(futures, timeout=HELD_POLL_S, return_when=FIRST_EXCEPTION)
                    for future in done:
                        future.result()
                    if not not_done or gate.asked.is_set() or _REAL_TIME.monotonic() >= flush_at:
                        break
                taken, lost = take()
                self.settle()
                if not not_done and self.committer is not None:
                    # The whole batch is done: it commits beside the next claim (`settle`).
                    self._in_flight = (self.committer.submit(held.commit, taken, [], 0, self.clock.now_ms()), lost)
                    handed_off = True
                    # Nothing was written for rows never started: no attempt was counted for them.
                    return BatchCounts(total, len(rows) - next_index)
                # Rows still running or waiting: lease them (the batch goes on under leases).
                waiting = unfinished() if not_done else []
                now_ms = self.clock.now_ms()
                written = held.commit(taken, waiting, now_ms + self.lease_ms, now_ms)
            finally:
                if not held.committed and not handed_off:
                    held.abandon()
                gate.open.set()
            written.lost += lost
            total.add(written)
            self.on_flush(written)
            if not not_done:
                return BatchCounts(total, len(rows) - next_index)
            next_renew = self.clock.monotonic() + renew_every_s
        while True:
            done, not_done = wait(futures, timeout=self.flush_interval_s, return_when=FIRST_EXCEPTION)
            for future in done:
                future.result()  # a worker that died of a bug must not pass for an empty batch
            taken, lost = take()
            if taken or lost:
                written = self.store.write_outcomes(self.token, taken, self.clock.now_ms())
                written.lost += lost
                total.add(written)
                self.on_flush(written)
            if not not_done:
                break
            if self.clock.monotonic() >= next_renew:
                waiting = unfinished()
                now_ms = self.clock.now_ms()
                self.store.renew(self.token, waiting, now_ms + self.lease_ms, now_ms)
                next_renew = self.clock.monotonic() + renew_every_s
        never_started = [row.id for row in rows[next_index:]]
        released = self.store.release(self.token, never_started, self.clock.now_ms())
        return BatchCounts(total, released)

    def settle(self) -> bool:
        """Wait for the commit of the previous held batch, which runs beside the next claim,
        and report what it wrote; its error, if any, is raised here. True if there was one."""
        if self._in_flight is None:
            return False
        future, lost = self._in_flight
        self._in_flight = None
        written = future.result()
        written.lost += lost
        self.on_flush(written)
        return True

    # ------------------------------------------------------------------ one row

    def attempt(self, row: ClaimedRow) -> Outcome | None:
        """Run one claimed row's handler; the outcome to write, or None if the row was lost."""
        attempt_no = row.attempt
        try:
            payload = load_json(row.payload_json)
            if not isinstance(payload, dict):
                raise ValueError(f"expected a JSON object, got {type(payload).__name__}")
        except ValueError as exc:
            return self._dead(row, f"malformed payload: {exc}")
        try:
            stages = decode_stages(row.stages_json)
        except ValueError as exc:
            return self._dead(row, f"malformed stages_done: {exc}")
        spec = self.handlers.get(row.task_code)
        if spec is None:
            known = ", ".join(sorted(self.handlers)) or "none"
            return self._failed(row, attempt_no, f"no handler for task_code {row.task_code!r} on this executor (handlers: {known})", None)
        task = Task(
            id=row.id,
            task_code=row.task_code,
            request_no=row.request_no,
            payload=payload,
            attempt=attempt_no,
            max_attempts=row.max_attempts,
            stages_done=stages,
            _record_stages=lambda text: self._record_stages(row, text),
        )
        try:
            value = spec.fn(task)
        except TaskLeaseLost:
            return None
        except RetryLater as exc:
            return self._failed(row, attempt_no, exc.reason or "retry requested", round(exc.delay_s * 1000))
        except GiveUp as exc:
            return self._dead(row, describe_exception(exc))
        except Exception as exc:
            return self._failed(row, attempt_no, describe_exception(exc), None, exc=exc)
        return Outcome(row.id, OutcomeKind.SUCCEEDED, self._result_json(row, value))

    def _record_stages(self, row: ClaimedRow, text: str) -> None:
        gate = self._stage_gate
        if gate is not None and not gate.open.is_set():
            # A stage must be on the row before the handler goes on: have the held batch
            # committed (this row leased) first.
            gate.asked.set()
            gate.open.wait()
        if not self.store.record_stages(self.token, row.id, text, self.clock.now_ms()):
            raise TaskLeaseLost(row.id, row.task_code, row.request_no)

    def _result_json(self, row: ClaimedRow, value: Any) -> str | None:
        if value is None:
            return None
        try:
            return encode_json_text("result", value)
        except TaskInputError as exc:
            # The work is done: a result that cannot be stored must not undo the success.
            log.warning("task result not stored", extra={"task_id": row.id, "task_code": row.task_code, "error": str(exc)})
            return dump_json({"result_not_stored": str(exc)})

    def _failed(self, row: ClaimedRow, attempt_no: int, error: str, delay_ms: int | None, exc: BaseException | None = None) -> Outcome:
        if attempt_no >= row.max_attempts:
            return self._dead(row, error, exc=exc)
        if delay_ms is None:
            spec = self.handlers.get(row.task_code)
            backoff = spec.backoff if spec is not None and spec.backoff is not None else self.default_backoff
            with self.rng_lock:  # the run's worker threads share this generator
                delay_ms = backoff.delay_ms(attempt_no, self.rng)
        next_at = self.clock.now_ms() + delay_ms
        self._note(row, f"attempt {attempt_no}/{row.max_attempts} failed, next in {delay_ms / 1000:g} s: {error}")
        return Outcome(row.id, OutcomeKind.RETRY, error=clip_error(error), next_attempt_at_ms=next_at)

    def _dead(self, row: ClaimedRow, error: str, exc: BaseException | None = None) -> Outcome:
        self._note(row, f"DEAD after attempt {row.attempt}/{row.max_attempts}: {error}", always=True)
        log.warning(
            "retry task dead",
            extra={"task_id": row.id, "task_code": row.task_code, "request_no": row.request_no, "error": error},
            exc_info=exc,
        )
        return Outcome(row.id, OutcomeKind.DEAD, error=clip_error(error))

    def note_lapses(self, claim: Claim) -> None:
        """Tell the run log about the rows of `claim` whose previous attempt ended without an
        outcome (its drainer died or stalled), and about those the claim made DEAD for it."""
        for dead in claim.exhausted:
            self._note(dead, f"DEAD, not run again: {dead.error}", always=True)
            log.warning(
                "retry task dead",
                extra={"task_id": dead.id, "task_code": dead.task_code, "request_no": dead.request_no, "error": dead.error},
            )
        for row in claim.rows:
            if row.lapsed_owner is not None:
                self._note(row, f"attempt {row.attempt - 1}/{row.max_attempts} crashed or stalled (lease of {row.lapsed_owner} expired); running attempt {row.attempt}")

    def _note(self, row: ClaimedRow | ExhaustedRow, text: str, *, always: bool = False) -> None:
        with self.note_lock:
            if always or self.logged_errors < MAX_LOGGED_ERRORS:
                self.logged_errors += 1
                self.run_log(f"task {row.id} {row.task_code}/{row.request_no}: {text}")
