"""The timer heap: sends waiting for their fire time, one heap entry per fire time.

A backlog or a busy second is one entry, not thousands. The heap has no lock of its own: the
dispatcher makes every call holding its lock, so that queueing a term's sends and dropping them
when the term ends stay atomic with the dispatcher's other bookkeeping.
"""

from __future__ import annotations

import heapq
import itertools

from shardcron.core.clock import Clock

from ..firing.node_lease import LeaseTerm
from ..firing.run_store import Send

#: The longest the timer thread sleeps without looking at its heap again.
MAX_TIMER_WAIT_S = 0.5


class SendTimers:
    def __init__(self) -> None:
        self._heap: list[tuple[int, int, list[Send]]] = []  # (fire time, seq, its sends)
        self._seq = itertools.count()

    def push(self, sends: list[Send]) -> None:
        """Queue `sends`, grouped by the time they go out (fire time plus jitter)."""
        by_time: dict[int, list[Send]] = {}
        for send in sends:
            send_at_ms = send.fire_at_ms + send.delay_ms  # the job's jitter (0 for most)
            at = by_time.get(send_at_ms)
            if at is None:
                by_time[send_at_ms] = [send]
            else:
                at.append(send)
        for send_at_ms, group in by_time.items():
            heapq.heappush(self._heap, (send_at_ms, next(self._seq), group))

    def pop_due(self, now_ms: int) -> list[Send]:
        """Take every send due at `now_ms`, earliest first."""
        due: list[Send] = []
        while self._heap and self._heap[0][0] <= now_ms:
            due += heapq.heappop(self._heap)[2]
        return due

    def drop_term(self, term: LeaseTerm) -> int:
        """Drop every queued send of `term`; returns how many."""
        kept: list[tuple[int, int, list[Send]]] = []
        dropped = 0
        for at, seq, sends in self._heap:
            left = [s for s in sends if s.term is not term]
            dropped += len(sends) - len(left)
            if left:
                kept.append((at, seq, left))
        heapq.heapify(kept)
        self._heap = kept
        return dropped

    def next_due_ms(self) -> int | None:
        return self._heap[0][0] if self._heap else None

    def wait_s(self, clock: Clock) -> float:
        """How long the timer thread may sleep before the earliest send is due (0: one is due
        now), at most MAX_TIMER_WAIT_S."""
        if not self._heap:
            return MAX_TIMER_WAIT_S
        delay_ms = self._heap[0][0] - clock.now_ms()
        return min(delay_ms / 1000, MAX_TIMER_WAIT_S) if delay_ms > 0 else 0.0

    def queued(self) -> list[Send]:
        """Every send still waiting, in heap order (for tests and diagnostics)."""
        return [send for _, _, sends in self._heap for send in sends]
