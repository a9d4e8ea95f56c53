"""The fire loop: one `tick(now_ms)` claims due fires and writes their run rows in one
transaction (claims and rows commit together, or neither does), then hands the sends to the
dispatcher, which makes each at its millisecond.

The loop knows the dispatcher only as a `ClaimedFireSink` (the dispatch package's
`FireDispatcher` is one), so firing does not import dispatch, which imports firing."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Protocol

from sqlalchemy.orm import Session

from shardcron.core.clock import Clock

from .fire_bell import FireBell
from .fire_store import ClaimedFire, FireStore, LeaseLost
from .node_lease import LeaseTerm
from .run_store import Prepared


class ClaimedFireSink(Protocol):
    """Who takes the fires a tick claims: writes their run rows inside the claim transaction,
    then, once that commits, takes their sends."""

    clock: Clock

    def prepare_claimed(self, session: Session, fires: list[ClaimedFire], now_ms: int, term: LeaseTerm) -> Prepared: ...

    def accept(self, prepared: Prepared) -> int: ...


class FireLoop:
    """`interval_s` is read by the runner before every wait: `base_interval_s`, or
    `busy_interval_s` while `busy()` says so (workflow instances run: a step's successor is
    fired by the callback and should be sent at once). `busy()` is asked at most once per
    BUSY_CHECK_MS of the ticks' clock, so an idle scheduler costs what it did; a tick that
    claims a workflow step's fire turns fast at once (an instance runs: its next steps follow
    within milliseconds, not after the next check).

    A fast tick between two full ones (`base_interval_s` apart) first asks, in a read, whether
    any PENDING fire is due, and claims only then: a claim is a write transaction, and on SQLite
    every poll would queue for the one write lock with the callbacks it waits for. With a `bell`
    (fire_bell: rung after this process wrote fires) the runner waits on it through `wait`, and
    a rung tick claims at once. A fast tick claims PENDING fires only (FireStore.claim_then
    `pending_only`): adoption, scheduled fires and waiting fires are the full ticks' work."""

    name = "fire"
    #: How often the loop asks whether it should tick fast.
    BUSY_CHECK_MS = 1000

    def __init__(
        self, store: FireStore, dispatcher: ClaimedFireSink, interval_s: float,
        *, busy: Callable[[], bool] | None = None, busy_interval_s: float | None = None,
        on_steps_ended: Callable[[list[int], int], None] | None = None, bell: FireBell | None = None,
    ) -> None:
        self.store = store
        self.bell = bell
        self._heard = bell.rings if bell is not None else 0
        self._rung = False
        self._full_at_ms: int | None = None
        self.dispatcher = dispatcher
        self.base_interval_s = interval_s
        self.busy = busy
        self.busy_interval_s = interval_s if busy_interval_s is None else min(busy_interval_s, interval_s)
        self._fast = False
        self._checked_at_ms: int | None = None
        #: Called after a claim committed with the workflow step runs whose fire ended without a
        #: run (Prepared.ended_steps) and the time: the runner advances their instances.
        self.on_steps_ended = on_steps_ended

    @property
    def interval_s(self) -> float:
        return self.busy_interval_s if self._fast else self.base_interval_s

    def _check_busy(self, now_ms: int) -> None:
        if self.busy is None or (self._checked_at_ms is not None and now_ms - self._checked_at_ms < self.BUSY_CHECK_MS):
            return
        self._checked_at_ms = now_ms
        self._fast = self.busy()

    #: Claims in a row within one tick when every batch comes back full (a backlog).
    MAX_ROUNDS = 20
    #: The first round of a tick claims this share of the batch (200 of 5,000), and each
    #: further round GROWTH times the one before, up to the batch: a backlog's first sends go
    #: out once a small round is prepared, while the later rounds grow large. Every statement
    #: of a round lets the dispatch threads take the interpreter lock, and winning it back
    #: costs the fire loop milliseconds under load, so a backlog's rounds must be few.
    FIRST_ROUND_SHARE = 25
    GROWTH = 5

    def wait(self, timeout_s: float, stop: threading.Event) -> None:
        """The runner's wait between ticks: until `timeout_s` passed, the bell rang or `stop`
        was set (the runner rings the bell when it stops)."""
        if self.bell is None:
            stop.wait(timeout_s)
            return
        heard = self.bell.wait(self._heard, timeout_s)
        if heard != self._heard:
            self._heard, self._rung = heard, True

    def close(self) -> None:
        """(The runner's, once the loop's thread ended.) Gives back the store's held connection."""
        self.store.close()

    def tick(self, now_ms: int) -> None:
        """Claim and prepare under the node's current lease term; nothing while it has none (the
        lease loop starts a new term within `lease_renew_ms`)."""
        self._check_busy(now_ms)
        rung, self._rung = self._rung, False
        full = self._full_at_ms is None or now_ms - self._full_at_ms >= (self.base_interval_s - self.busy_interval_s) * 1000
        if full:
            self._full_at_ms = now_ms
        elif not rung and not self.store.pending_due(now_ms):
            return  # a fast tick with nothing due: no write transaction
        for round_no in range(self.MAX_ROUNDS):
            if round_no:
                # Later rounds of a long tick use the current time: what is due is judged from
                # when it is claimed, not from when the tick began.
                now_ms = max(now_ms, self.dispatcher.clock.now_ms())
            term = self.store.lease.current()
            if term is None:
                return
            limit = min(self.store.batch, max(1, self.store.batch // self.FIRST_ROUND_SHARE) * self.GROWTH**round_no)
            try:
                prepared = self.store.claim_then(
                    now_ms, lambda session, fires: self.dispatcher.prepare_claimed(session, fires, now_ms, term), limit, term,  # noqa: B023 (called before the loop moves on)
                    pending_only=not full,
                )
            except LeaseLost:
                return
            if self.busy is not None and not self._fast and any(fire.step_run_id is not None for fire in prepared.fired):
                self._fast, self._checked_at_ms = True, now_ms
            self.dispatcher.accept(prepared)
            if prepared.ended_steps and self.on_steps_ended is not None:
                self.on_steps_ended(prepared.ended_steps, now_ms)
            if not self.store.last_claim_full:
                break
