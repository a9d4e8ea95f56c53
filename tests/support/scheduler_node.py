"""One scheduler node's pieces wired as the runner wires them, driven by hand on an injected clock:
its lease (renewed on every `step`), fire store, dispatcher and fire loop."""

from __future__ import annotations

from dataclasses import dataclass

from shardcron.admin.db import Database
from shardcron.admin.dispatch.dispatcher import FireDispatcher
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.admin.firing.fire_loop import FireLoop
from shardcron.admin.firing.fire_store import FireStore
from shardcron.admin.firing.node_lease import LeaseClock, NodeLease
from shardcron.admin.firing.run_store import RunStore
from shardcron.core.clock import Clock, FakeClock


@dataclass
class SchedulerNode:
    """`step(now)`: renew the lease, tick the fire loop, send what is due (a live node's second)."""

    db: Database
    clock: Clock
    lease: NodeLease
    store: FireStore
    dispatcher: FireDispatcher
    loop: FireLoop

    def live(self, now_ms: int | None = None) -> int:
        """Move the (fake) clock to `now_ms` and renew the lease as a live node would (a new term
        if the last one ran out meanwhile); returns the time."""
        if now_ms is not None and isinstance(self.clock, FakeClock):
            self.clock.set(now_ms)
        now = self.clock.now_ms()
        self.lease.tick(now)
        return now

    def step(self, now_ms: int | None = None) -> None:
        now = self.live(now_ms)
        self.loop.tick(now)
        self.dispatcher.send_due(now)

    @property
    def owner(self) -> str:
        """The owner token of the current lease term."""
        term = self.lease.term
        assert term is not None, "the node holds no lease term"
        return term.owner


def build_node(
    db: Database,
    clock: Clock,
    client: ExecutorClient,
    node_id: str = "node-a",
    *,
    lookahead_ms: int = 2000,
    lease_ms: int = 10_000,
    renew_ms: int | None = None,
    margin_ms: int | None = None,
    grace_ms: int = 5000,
    workers: int = 0,
    per_address: int | None = None,
    start_lease: bool = True,
) -> SchedulerNode:
    """A node on `clock` (leases stamped by the same clock, as on SQLite). `start_lease`: take a
    lease term now, so the first `loop.tick` can claim."""
    lease = NodeLease(
        db, node_id, clock, LeaseClock(clock),
        lease_ms=lease_ms, renew_ms=renew_ms or max(1, lease_ms // 4), margin_ms=margin_ms if margin_ms is not None else max(1, lease_ms // 4),
    )
    store = FireStore(db, lease, lookahead_ms=lookahead_ms, misfire_grace_ms=grace_ms)
    dispatcher = FireDispatcher(RunStore(db), client, clock, workers=workers, per_address=per_address)
    lease.on_term_end(dispatcher.term_ended)
    if start_lease:
        lease.tick(clock.now_ms())
    return SchedulerNode(db, clock, lease, store, dispatcher, FireLoop(store, dispatcher, 0.2))


def claim_once(node: SchedulerNode, at_ms: int, batch: int) -> None:
    """One claim by `node` at `at_ms` (at most `batch` fires), its runs prepared and sent: the
    step two nodes race through in the exactly-once tests (tests.support.together)."""
    prepared = node.store.claim_then(at_ms, lambda session, got: node.dispatcher.prepare_claimed(session, got, at_ms, node.lease.current()), batch)
    node.dispatcher.accept(prepared)
    node.dispatcher.send_due(at_ms)
