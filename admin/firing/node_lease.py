"""A scheduler's lease on what it claimed: renewed by one thread, checked before every `/run`.

A scheduler process holds one lease *term* at a time: a row of `sc_scheduler_lease` keyed by an
owner token (`<node_id>#<8 hex>`), which every fire it claims during the term carries in
`sc_fire.owner`. `NodeLease.tick` renews the term every `lease_renew_ms`:

    m0, w0          = own monotonic clock, own wall clock, read before the renewal statement
    lease_until_ms  = <database now> + lease_ms              stamped by the database server
    send_horizon_ms = w0 + lease_ms - lease_margin_ms
    fence           = m0 + lease_ms - lease_margin_ms         (set once the renewal committed)

`LeaseTerm.holds(fire_at_ms)` is the check a send makes right before its bytes go out: true
while the monotonic clock is before the fence and the fire is planned before the send horizon.
The first false ends the term for good: it never sends again, even if a renewal would still
succeed. The node then hands the term over (its lease is cut to `<database now> + margin`),
starts a new term, and the old term's fires are adopted by whichever node looks first (this one
included) once the database says the term's lease ended; the adopter settles what the old term
may have sent (dispatch) before sending anything again.

Why no send of a term can follow its adoption: another node adopts only when
`lease_until_ms < <database now>`. The holder read m0 before the database stamped the renewal,
so its fence ends at least `lease_margin_ms` before the stamped lease in real time — whatever
the nodes' wall clocks say. What it assumes (docs/scheduling.md): the database server's clock and
each node's monotonic clock run at the same rate to well within the margin over one lease, the
database server's clock is not stepped forward, and a `/run` written to its socket before the
fence reaches the executor within the margin. And since a send also needs its fire planned before
the send horizon, and horizons only grow with renewals, a fire planned at or after the horizon
stored in the term's row was certainly never sent by that term (a wall clock stepped forward
ends the term instead of breaking that rule).

MySQL/MariaDB read `<database now>` as `UNIX_TIMESTAMP(NOW(3))` on connections whose session time
zone is UTC (sqlengine), PostgreSQL as the epoch milliseconds of `statement_timestamp()` (like
MySQL's NOW(3), the time the statement began, read after m0; a time zone plays no part); SQLite runs one scheduler per file on one machine and uses the injected
clock, as do tests on every backend (`LeaseClock`).
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable

import sqlalchemy as sa

from shardcron.core.clock import Clock

from ..db import Database, changed_rows
from ..enums import FireStatus
from ..models import Fire, SchedulerLease

log = logging.getLogger("shardcron.admin.scheduling")

#: Longest node id kept in an owner token (sc_fire.owner holds 128 characters).
MAX_NODE_ID_IN_OWNER = 119

_LEASE = SchedulerLease.__table__
_NEVER = float("-inf")
#: `<database now>` in epoch milliseconds, per server dialect.
_SERVER_NOW = {
    "mysql": "CAST(UNIX_TIMESTAMP(NOW(3)) * 1000 AS SIGNED)",
    "postgresql": "CAST(FLOOR(EXTRACT(EPOCH FROM statement_timestamp()) * 1000) AS BIGINT)",
}


class LeaseClock:
    """The clock leases are stamped and judged by, as an SQL expression: the database server's
    for MySQL/MariaDB and PostgreSQL (every node reads the same one), the injected clock otherwise."""

    def __init__(self, clock: Clock, *, server_dialect: str | None = None) -> None:
        self.clock = clock
        self.server_dialect = server_dialect if server_dialect in _SERVER_NOW else None

    @classmethod
    def for_database(cls, db: Database, clock: Clock) -> LeaseClock:
        """What a scheduler process uses: the server's clock where there is a server."""
        return cls(clock, server_dialect=db.dialect)

    def now_sql(self) -> sa.ColumnElement[int]:
        if self.server_dialect is not None:
            return sa.literal_column(_SERVER_NOW[self.server_dialect], sa.BigInteger())
        return sa.literal(self.clock.now_ms(), sa.BigInteger())


class LeaseTerm:
    """One term of this node's lease, as the senders see it (thread-safe: the fence and the
    horizon only grow, and `over` never goes back)."""

    __slots__ = ("owner", "_monotonic", "_fence", "_horizon_ms", "over", "ended")

    def __init__(self, owner: str, monotonic: Callable[[], float]) -> None:
        self.owner = owner
        self._monotonic = monotonic
        self._fence = _NEVER
        self._horizon_ms = -1
        self.over = False  # it may send nothing any more
        self.ended = False  # and NodeLease has done what an ending term needs (once)

    def holds(self, fire_at_ms: int) -> bool:
        """Whether a `/run` of a fire planned at `fire_at_ms` may go out now. False ends the term."""
        if self.over:
            return False
        if fire_at_ms < self._horizon_ms and self._monotonic() < self._fence:
            return True
        self.over = True
        return False

    def alive(self) -> bool:
        """Whether the term may still claim and send (False ends it)."""
        if not self.over and self._monotonic() >= self._fence:
            self.over = True
        return not self.over

    @property
    def horizon_ms(self) -> int:
        return self._horizon_ms

    def extend(self, fence: float, horizon_ms: int) -> None:
        """A renewal committed: move the fence and the horizon (never back)."""
        if horizon_ms > self._horizon_ms:
            self._horizon_ms = horizon_ms
        if fence > self._fence:
            self._fence = fence


class NodeLease:
    """Keeps this node's lease term alive; a `Loop` for the runner (`tick(now_ms)`)."""

    name = "lease"

    def __init__(
        self,
        db: Database,
        node_id: str,
        clock: Clock,
        lease_clock: LeaseClock,
        *,
        lease_ms: int,
        renew_ms: int,
        margin_ms: int,
    ) -> None:
        self.db = db
        self.node_id = node_id
        self.clock = clock
        self.lease_clock = lease_clock
        self.lease_ms = lease_ms
        self.margin_ms = margin_ms
        self.interval_s = renew_ms / 1000
        self.term: LeaseTerm | None = None
        self._listeners: list[Callable[[LeaseTerm], None]] = []
        self._lock = threading.Lock()
        self.terms_started = 0

    def on_term_end(self, listener: Callable[[LeaseTerm], None]) -> None:
        """`listener(term)` is called once when a term ends (the dispatcher drops its sends)."""
        self._listeners.append(listener)

    def current(self) -> LeaseTerm | None:
        """The term claims are made under, or None while there is none that holds."""
        term = self.term
        return term if term is not None and term.alive() else None

    # ------------------------------------------------------------------ the loop

    def tick(self, now_ms: int) -> None:
        """Renew the term; start a new one when there is none, or the old one ended."""
        term = self.term
        if term is not None:
            over_before = not term.alive()
            if not over_before and self._renew(term):
                return
            self.end(term, "it was not renewed in time (the node stalled, or the database was slow or away)" if over_before else "another node took it over")
        self.term = self._begin()

    def _stamp(self) -> tuple[float, int, dict]:
        """The clocks read before a renewal statement, and the values it writes."""
        m0 = self.clock.monotonic()
        w0 = self.clock.now_ms()
        now = self.lease_clock.now_sql()
        values = {"lease_until_ms": now + self.lease_ms, "send_horizon_ms": w0 + self.lease_ms - self.margin_ms, "renewed_at_ms": now}
        return m0 + (self.lease_ms - self.margin_ms) / 1000, w0 + self.lease_ms - self.margin_ms, values

    def _renew(self, term: LeaseTerm) -> bool:
        fence, horizon_ms, values = self._stamp()
        with self.db.session() as session:
            renewed = changed_rows(session.execute(sa.update(_LEASE).where(_LEASE.c.owner == term.owner).values(**values)))
        if not renewed:
            term.over = True  # its row is gone: another node adopted the term
            return False
        term.extend(fence, horizon_ms)
        return True

    def _begin(self) -> LeaseTerm:
        term = LeaseTerm(f"{self.node_id[:MAX_NODE_ID_IN_OWNER]}#{secrets.token_hex(4)}", self.clock.monotonic)
        fence, horizon_ms, values = self._stamp()
        with self.db.session() as session:
            session.execute(sa.insert(_LEASE).values(owner=term.owner, node_id=self.node_id, started_at_ms=self.clock.now_ms(), **values))
        term.extend(fence, horizon_ms)
        self.terms_started += 1
        log.info("lease term started", extra={"node_id": self.node_id, "owner": term.owner})
        return term

    # ------------------------------------------------------------------ ending a term

    def end(self, term: LeaseTerm, why: str) -> None:
        """End `term` for good: nothing of it is sent any more, and its fires go to whichever node
        adopts them once its lease (cut to `margin` from now) has run out. Once per term, from
        whichever thread sees it first."""
        with self._lock:
            term.over = True
            if term.ended:
                return
            term.ended = True
            if self.term is term:
                self.term = None
        log.warning("lease term ended: %s; its fires are adopted once its lease runs out", why, extra={"node_id": self.node_id, "owner": term.owner})
        for listener in self._listeners:
            try:
                listener(term)
            except Exception:
                log.exception("a lease-term listener failed")
        self.hand_over(term)

    def hand_over(self, term: LeaseTerm) -> None:
        """Cut the ended term's lease to `margin` from now (database clock), so it is adopted soon
        after a /run sent in its last instant has arrived; never lengthen it."""
        cut = self.lease_clock.now_sql() + self.margin_ms
        try:
            with self.db.session() as session:
                session.execute(
                    sa.update(_LEASE)
                    .where(_LEASE.c.owner == term.owner)
                    .values(lease_until_ms=sa.case((_LEASE.c.lease_until_ms > cut, cut), else_=_LEASE.c.lease_until_ms))
                )
        except Exception:  # its lease simply runs out on its own
            log.exception("could not hand over an ended lease term", extra={"owner": term.owner})

    def finish(self) -> None:
        """A clean stop, once the dispatcher stopped sending: end the term. Its row goes at once
        when it holds no fire; otherwise it is handed over like any ended term."""
        with self._lock:
            term, self.term = self.term, None
            if term is None or term.ended:
                return
            term.over = term.ended = True
        with self.db.session() as session:
            held = session.execute(
                sa.select(sa.func.count()).select_from(Fire).where(Fire.owner == term.owner, Fire.status == FireStatus.CLAIMED)
            ).scalar_one()
            if not held:
                session.execute(sa.delete(_LEASE).where(_LEASE.c.owner == term.owner))
        if held:
            self.hand_over(term)
