"""Answers: the fires a dispatcher holds until every send of theirs is answered, and the
recorder that writes `/run` answers in batches (one transaction per batch).

The ledger has no lock of its own: the dispatcher and the recorder make every call holding the
dispatcher's lock (the condition `changed` is built on it), so a term's sends are queued, dropped
and counted atomically.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import Counter

from shardcron.core.clock import Clock

from ..firing.run_store import Answer, RunStore

log = logging.getLogger("shardcron.admin.scheduling")

#: How long the recorder keeps collecting answers after the first one of a batch, and the most
#: answers one batch records. A fire stays CLAIMED under its lease term until recorded, so a
#: fraction of a second here costs nothing but saves a transaction per handful of answers.
RECORD_LINGER_S = 0.2
RECORD_BATCH = 2000


class FireLedger:
    """Which fires this node holds, how many sends each still waits for, and how many sends
    handed out are not yet recorded."""

    def __init__(self) -> None:
        self.held: set[int] = set()  # fires prepared here and not yet finished
        self.outstanding: dict[int, int] = {}  # fire id -> sends not yet answered
        self.fires_of: dict[str, set[int]] = {}  # lease term owner -> its fires held here
        self.unrecorded = 0  # sends handed out whose answer is not yet written (or dropped)

    def take(self, owner: str, sends_per_fire: Counter[int], sends: int) -> None:
        """The fires of term `owner` wait for `sends_per_fire` answers each."""
        self.fires_of.setdefault(owner, set()).update(sends_per_fire)
        for fire_id, count in sends_per_fire.items():
            self.held.add(fire_id)
            self.outstanding[fire_id] = count
        self.unrecorded += sends

    def forget(self, fires: set[int]) -> None:
        """These fires are no longer this node's to finish."""
        self.held.difference_update(fires)
        for fire_id in fires:
            self.outstanding.pop(fire_id, None)

    def end_term(self, owner: str) -> set[int]:
        """Forget every fire of the term `owner`; returns them."""
        fires = self.fires_of.pop(owner, set())
        self.forget(fires)
        return fires

    def drop_send(self, owner: str, fire_id: int) -> None:
        """A send of `fire_id` under `owner` will never be answered: nothing of it went out."""
        fires = self.fires_of.get(owner)
        if fires is not None and fire_id in fires:
            fires.discard(fire_id)
            self.forget({fire_id})
        self.unrecorded -= 1

    def count(self, answers: list[Answer]) -> list[tuple[int, str]]:
        """Count `answers` against their fires; returns the (fire, owner) pairs now fully answered."""
        finished: list[tuple[int, str]] = []
        for a in answers:
            # A fire forgotten here (its term ended) is not finished here: its adopter does it.
            fires = self.fires_of.get(a.owner)
            if fires is None or a.fire_id not in fires:
                continue
            left = self.outstanding.get(a.fire_id, 0) - 1
            if left <= 0:
                self.outstanding.pop(a.fire_id, None)
                finished.append((a.fire_id, a.owner))
            else:
                self.outstanding[a.fire_id] = left
        return finished

    def uncount(self, answers: list[Answer], finished: list[tuple[int, str]]) -> None:
        """Undo `count` (the batch was not written and goes back to the queue)."""
        for fire_id, _ in finished:
            self.outstanding[fire_id] = self.outstanding.get(fire_id, 0)
        for a in answers:
            if a.fire_id in self.outstanding:
                self.outstanding[a.fire_id] += 1

    def recorded(self, answers: list[Answer], finished: list[tuple[int, str]]) -> None:
        """`answers` are written; the `finished` fires are DONE."""
        for fire_id, owner in finished:
            self.held.discard(fire_id)
            fires = self.fires_of.get(owner)
            if fires is not None:
                fires.discard(fire_id)
        self.unrecorded -= len(answers)


class AnswerRecorder:
    """Takes answers from any thread; `record` writes them in batches."""

    def __init__(self, runs: RunStore, clock: Clock, ledger: FireLedger, changed: threading.Condition, stop: threading.Event) -> None:
        self.runs = runs
        self.clock = clock
        self.ledger = ledger
        self.changed = changed
        self.stop = stop
        self.queue: queue.SimpleQueue[Answer] = queue.SimpleQueue()

    def put(self, answer: Answer | None) -> None:
        if answer is not None:
            self.queue.put(answer)

    def record(self, block_s: float = 0.0, linger_s: float = 0.0) -> int:
        """Write the answers received so far in one transaction; fires fully answered become DONE.

        `block_s`: wait that long for a first answer. `linger_s`: after the first one, let more
        arrive for that long (a stop cuts the wait short), then take up to RECORD_BATCH, so that a
        steady trickle of answers costs one transaction per linger period instead of one per
        handful. The recorder sleeps through the linger rather than waking for each answer: a
        wake-up per answer cost the dispatch threads the interpreter lock once per /run."""
        answers: list[Answer] = []
        try:
            answers.append(self.queue.get(timeout=block_s) if block_s > 0 else self.queue.get_nowait())
            if linger_s > 0:
                self.stop.wait(linger_s)  # a real wait in the recorder thread
            while len(answers) < RECORD_BATCH:
                answers.append(self.queue.get_nowait())
        except queue.Empty:
            pass
        if not answers:
            return 0
        with self.changed:
            finished = self.ledger.count(answers)
        try:
            self.runs.record(answers, finished, self.clock.now_ms())
        except Exception:
            log.exception("recording %d /run answers failed; retrying", len(answers))
            with self.changed:
                self.ledger.uncount(answers, finished)
            for a in answers:
                self.queue.put(a)
            return 0
        with self.changed:
            self.ledger.recorded(answers, finished)
            self.changed.notify_all()
        return len(answers)
