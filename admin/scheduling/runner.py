"""The scheduler process: its lease, the fire loop, the monitors and a node heartbeat, each on its own thread.

`SchedulerRunner` owns every thread it starts. Each duty is a `Loop` (`name`, `interval_s`,
`tick(now_ms)`); the runner calls `tick` with the clock's time, then waits on its stop event for
the rest of the interval. A tick that raises is logged and the loop carries on. The lease
(node_lease) takes its first term before anything is claimed and is renewed on a thread of its
own. `stop()` stops claiming, lets the dispatcher send what it prepared (bounded) while the lease
is still renewed, records every answer, hands back fires it claimed but never prepared, ends its
lease term and removes the node's heartbeat row. `run()` does all of it in the foreground until
SIGTERM or SIGINT. Starting also settles the cyclic garbage collector for a long-running process
(`settle_garbage_collector`).
"""

from __future__ import annotations

import gc
import logging
import math
import os
import secrets
import signal
import socket
import sys
import threading
from typing import Any, Protocol

import sqlalchemy as sa

from sqlalchemy import event

from shardcron.core.clock import SYSTEM_CLOCK

from ..config import read_or_create_secret
from ..db import Database
from ..dispatch.dispatcher import FireDispatcher
from ..enums import FireStatus
from ..firing.backfill_advance import BackfillAdvancer
from ..firing.fire_bell import bell_for
from ..firing.fire_loop import FireLoop
from ..firing.fire_store import FireStore
from ..firing.node_lease import LeaseClock, NodeLease
from ..firing.run_store import RunStore
from ..models import Fire, SchedulerNode
from ..monitors import build_monitors
from ..transport.executor_client import ExecutorClient
from ..workflows.advance import advance_step_runs
from ..workflows.instances import instances_running
from ..workflows.planner import WorkflowPlanner

log = logging.getLogger("shardcron.admin.scheduling")

NODE_HEARTBEAT_S = 5.0
#: MySQL's error for a system variable it does not have (idle_transaction_timeout is MariaDB's).
UNKNOWN_SYSTEM_VARIABLE = 1193
#: Container objects allocated between two young-generation collections in a scheduler process
#: (the interpreter's default is 700).
GC_YOUNG_THRESHOLD = 20_000


def settle_garbage_collector() -> None:
    """Everything alive once the scheduler is built (modules, table metadata, compiled
    statements, configuration) stays alive: `gc.freeze` takes it out of the cyclic collector's
    sight, so a full collection no longer walks the whole heap. And the young generation may
    grow to GC_YOUNG_THRESHOLD objects: a tick allocates thousands of short-lived rows and sends,
    which the default threshold promoted into the older generations, where collecting them cost
    more than any other single step of preparing a burst of fires (docs/benchmarks.md,
    Scheduler). Reference counting frees nearly all of them; the collector is only for cycles."""
    gc.freeze()
    young, middle, old = gc.get_threshold()
    if young < GC_YOUNG_THRESHOLD:
        gc.set_threshold(GC_YOUNG_THRESHOLD, middle, old)


#: The interpreter's thread switch interval while a scheduler runs (Python's default: 5 ms).
SWITCH_INTERVAL_S = 0.001


def settle_thread_switching() -> None:
    """A scheduler process is many threads that each do a little and wait (web requests, the
    loops, the dispatcher's timer, sender and recorder): a thread that gives up the interpreter
    lock for a database call or a socket waits for it again up to the switch interval when
    another thread is busy, once per call. At Python's 5 ms a workflow step's hand-over
    (callback, advance, claim, send) spent more time there than in its own work; 1 ms halves
    the tail of step-to-step latency under load (docs/benchmarks.md, "Workflows")."""
    if sys.getswitchinterval() > SWITCH_INTERVAL_S:
        sys.setswitchinterval(SWITCH_INTERVAL_S)


class Loop(Protocol):
    name: str

    @property
    def interval_s(self) -> float: ...  # read before every wait (the fire loop's changes)

    def tick(self, now_ms: int) -> None: ...

    # Optional: `close()`, called once after the loop's thread ended on a clean stop (monitors
    # give their singleton leases back there).


def default_node_id() -> str:
    """hostname-pid plus a random suffix: unique even for a container restarted with pid 1."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(2)}"


class NodeHeartbeat:
    """Keeps this node's row in sc_scheduler_node fresh (readiness checks, the console)."""

    name = "node-heartbeat"
    interval_s = NODE_HEARTBEAT_S

    def __init__(self, db: Any, node_id: str, started_at_ms: int) -> None:
        self.db = db
        self.node_id = node_id
        self.started_at_ms = started_at_ms

    def tick(self, now_ms: int) -> None:
        with self.db.session() as session:
            row = session.get(SchedulerNode, self.node_id)
            if row is None:
                session.add(SchedulerNode(node_id=self.node_id, hostname=socket.gethostname(), pid=os.getpid(), started_at_ms=self.started_at_ms, heartbeat_at_ms=now_ms))
            else:
                row.heartbeat_at_ms = now_ms

    def remove(self) -> None:
        with self.db.session() as session:
            session.execute(sa.delete(SchedulerNode).where(SchedulerNode.node_id == self.node_id))


def scheduler_database(db: Database, lease_ms: int) -> Database:
    """The database the fire loop, the recorder and the lease use. On MySQL/MariaDB an engine of
    their own, whose connections MariaDB cuts when a transaction sits idle for about a lease
    (`idle_transaction_timeout`): a node stalled inside a claim then releases the rows it locked
    within seconds, instead of when it wakes up. Every transaction, not only writing ones: a
    claim share-locks its term's lease row before it writes anything, and a node stopped there
    would keep its fires from every adopter (`idle_write_transaction_timeout` does not count a
    locking read as a write). MySQL 8 has no such setting (its connections keep their locks until
    the node resumes or `wait_timeout`). PostgreSQL: the same with
    `idle_in_transaction_session_timeout`. SQLite: the same database (one process, one file)."""
    if db.dialect == "postgresql":
        return _postgresql_scheduler_database(db, lease_ms)
    if db.dialect != "mysql":
        return db
    own = Database(db.url, pool_size=4)
    timeout_s = max(1, math.ceil(lease_ms / 1000))

    @event.listens_for(own.engine, "connect")
    def _cut_idle_transactions(dbapi_conn: Any, _record: Any) -> None:
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(f"SET SESSION idle_transaction_timeout = {int(timeout_s)}")
        except Exception as exc:  # MySQL: ER_UNKNOWN_SYSTEM_VARIABLE
            if not (exc.args and exc.args[0] == UNKNOWN_SYSTEM_VARIABLE):
                raise
        finally:
            cursor.close()

    return own


def _postgresql_scheduler_database(db: Database, lease_ms: int) -> Database:
    own = Database(db.url, pool_size=4)
    timeout_ms = max(1000, int(lease_ms))

    @event.listens_for(own.engine, "connect")
    def _cut_idle_transactions(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET idle_in_transaction_session_timeout = {timeout_ms}")
        dbapi_conn.commit()  # psycopg opened a transaction for the SET; the pool wants none

    return own


class SchedulerRunner:
    def __init__(self, ctx: Any, node_id: str | None = None, *, monitors: list[Loop] | None = None) -> None:
        config = ctx.config
        self.ctx = ctx
        self.node_id = node_id or config.scheduler_node_id or default_node_id()
        self.clock = ctx.clock
        self.client = ExecutorClient(
            None if config.insecure_no_token else read_or_create_secret(config, "access_token"),
            connect_timeout_s=config.executor_timeout_s,
            read_timeout_s=config.executor_timeout_s,
            pool_size=max(8, config.trigger_workers // 4),
        )
        self.db = scheduler_database(ctx.db, config.lease_ms)
        self.lease = NodeLease(
            self.db, self.node_id, self.clock, LeaseClock.for_database(self.db, self.clock),
            lease_ms=config.lease_ms, renew_ms=config.lease_renew_ms, margin_ms=config.lease_margin_ms,
        )
        self.store = FireStore(
            self.db, self.lease, lookahead_ms=config.lookahead_ms, misfire_grace_ms=config.misfire_grace_ms, catchup_max_fires=config.catchup_max_fires
        )
        self.dispatcher = FireDispatcher(RunStore(self.db), self.client, self.clock, workers=config.trigger_workers)
        self.lease.on_term_end(self.dispatcher.term_ended)
        self.heartbeat = NodeHeartbeat(ctx.db, self.node_id, self.clock.now_ms())
        fire_loop = FireLoop(
            self.store, self.dispatcher, config.tick_interval_ms / 1000,
            busy=lambda: instances_running(self.db), busy_interval_s=config.workflow_tick_ms / 1000,
            on_steps_ended=lambda steps, now_ms: advance_step_runs(ctx.db, steps, now_ms, upstream_max_bytes=config.workflow_upstream_max_bytes),
            bell=bell_for(ctx.db),
        )
        planner = WorkflowPlanner(
            ctx.db, lookahead_ms=config.lookahead_ms, misfire_grace_ms=config.misfire_grace_ms, client=self.client,
            upstream_max_bytes=config.workflow_upstream_max_bytes,
        )
        self.loops: list[Loop] = [fire_loop, self.heartbeat, BackfillAdvancer(ctx.db), planner]
        self.loops += build_monitors(ctx, self.node_id) if monitors is None else monitors
        self.drain_timeout_s = config.lookahead_ms / 1000 + 2 * config.executor_timeout_s
        self._stop = threading.Event()
        self._lease_stop = threading.Event()  # the lease is renewed until the dispatcher has drained
        self._threads: list[threading.Thread] = []
        self._lease_thread: threading.Thread | None = None

    def start(self) -> SchedulerRunner:
        settle_garbage_collector()
        settle_thread_switching()
        try:
            self.lease.tick(self.clock.now_ms())  # a term before the first claim
        except Exception:
            log.exception("scheduler could not start its lease term; retrying", extra={"node_id": self.node_id})
        self.dispatcher.start()
        self._lease_thread = threading.Thread(target=self._drive, args=(self.lease, self._lease_stop), name="shardcron-lease", daemon=True)
        self._lease_thread.start()
        for loop in self.loops:
            thread = threading.Thread(target=self._drive, args=(loop, self._stop), name=f"shardcron-{loop.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("scheduler started", extra={"node_id": self.node_id, "loops": ",".join(loop.name for loop in self.loops)})
        return self

    def alive(self) -> bool:
        """True while started and every loop thread runs, the lease's and the dispatcher's too (the scheduler's /healthz)."""
        return (
            bool(self._threads) and not self._stop.is_set() and all(t.is_alive() for t in self._threads)
            and self._lease_thread is not None and self._lease_thread.is_alive() and self.dispatcher.alive()
        )

    def _drive(self, loop: Loop, stop: threading.Event) -> None:
        while not stop.is_set():
            started = SYSTEM_CLOCK.monotonic()
            try:
                loop.tick(self.clock.now_ms())
            except Exception:  # one bad tick must not end the loop; the next one retries
                log.exception("scheduler loop tick failed", extra={"loop": loop.name, "node_id": self.node_id})
            remaining = max(0.0, loop.interval_s - (SYSTEM_CLOCK.monotonic() - started))
            wait = getattr(loop, "wait", None)  # the fire loop's: it also wakes on its bell
            if wait is not None:
                wait(remaining, stop)
            else:
                stop.wait(remaining)

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
        for loop in self.loops:
            bell = getattr(loop, "bell", None)
            if bell is not None:
                bell.ring()  # ends the fire loop's wait
        for thread in self._threads:
            thread.join(timeout=30)
        for loop in self.loops:
            close = getattr(loop, "close", None)
            if close is not None:
                try:
                    close()
                except Exception:
                    log.exception("scheduler loop did not close cleanly", extra={"loop": loop.name, "node_id": self.node_id})
        self.dispatcher.stop(self.drain_timeout_s)
        self._lease_stop.set()
        if self._lease_thread is not None:
            self._lease_thread.join(timeout=30)
        released = 0
        try:
            term = self.lease.term
            if term is not None:
                released = self.store.release(term.owner, sorted(self._unprepared(term.owner)))
            self.lease.finish()
            self.heartbeat.remove()
        except Exception:
            log.exception("scheduler could not hand back its fires; other nodes adopt them when its lease ends")
        self.client.close()
        if self.db is not self.ctx.db:
            self.db.dispose()
        log.info("scheduler stopped", extra={"node_id": self.node_id, "released_fires": released})

    def _unprepared(self, owner: str) -> set[int]:
        """Fires the term still holds in the database but this node never prepared (their run
        rows do not exist; release() checks that again)."""
        held = self.dispatcher.held
        with self.db.read_session() as session:
            rows = session.execute(sa.select(Fire.id).where(Fire.owner == owner, Fire.status == FireStatus.CLAIMED)).scalars()
            return {fire_id for fire_id in rows if fire_id not in held}

    def run(self) -> None:
        """Run in the foreground until SIGTERM or SIGINT, then stop cleanly."""
        stop = threading.Event()
        previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGTERM, signal.SIGINT)}
        try:
            self.start()
            while not stop.wait(1.0):
                pass
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
