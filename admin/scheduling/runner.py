"""The scheduler process: the fire loop, the monitors and a node heartbeat, each on its own thread.

`SchedulerRunner` owns every thread it starts. Each duty is a `Loop` (`name`, `interval_s`,
`tick(now_ms)`); the runner calls `tick` with the clock's time, then waits on its stop event for
the rest of the interval. A tick that raises is logged and the loop carries on. `stop()` stops
claiming, lets the dispatcher send what it prepared (bounded), records every answer, hands back
fires it claimed but never prepared, and removes the node's heartbeat row. `run()` does all of
it in the foreground until SIGTERM or SIGINT. Starting also settles the cyclic garbage
collector for a long-running process (`settle_garbage_collector`).
"""

from __future__ import annotations

import gc
import logging
import os
import secrets
import signal
import socket
import threading
from typing import Any, Protocol

import sqlalchemy as sa

from shardcron.executor.clock import SYSTEM_CLOCK

from ..models import SchedulerNode
from .dispatch import Dispatcher
from .executor_client import ExecutorClient
from .fire_loop import FireLoop
from .fire_store import FireStore
from .run_store import RunStore

log = logging.getLogger("shardcron.admin.scheduling")

NODE_HEARTBEAT_S = 5.0
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


class Loop(Protocol):
    name: str
    interval_s: float

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


class SchedulerRunner:
    def __init__(self, ctx: Any, node_id: str | None = None, *, monitors: list[Loop] | None = None) -> None:
        from shardcron.admin.config import read_or_create_secret
        from shardcron.admin.monitors import build_monitors

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
        self.store = FireStore(ctx.db, self.node_id, lookahead_ms=config.lookahead_ms, lease_ms=config.lease_ms, misfire_grace_ms=config.misfire_grace_ms)
        self.dispatcher = Dispatcher(RunStore(ctx.db, self.node_id), self.client, self.clock, workers=config.trigger_workers)
        self.heartbeat = NodeHeartbeat(ctx.db, self.node_id, self.clock.now_ms())
        self.loops: list[Loop] = [FireLoop(self.store, self.dispatcher, config.tick_interval_ms / 1000), self.heartbeat]
        self.loops += build_monitors(ctx, self.node_id) if monitors is None else monitors
        self.drain_timeout_s = config.lookahead_ms / 1000 + 2 * config.executor_timeout_s
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    def start(self) -> "SchedulerRunner":
        settle_garbage_collector()
        self.dispatcher.start()
        for loop in self.loops:
            thread = threading.Thread(target=self._drive, args=(loop,), name=f"shardcron-{loop.name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("scheduler started", extra={"node_id": self.node_id, "loops": ",".join(loop.name for loop in self.loops)})
        return self

    def alive(self) -> bool:
        """True while started and every loop thread runs, the dispatcher's too (the scheduler's /healthz)."""
        return bool(self._threads) and not self._stop.is_set() and all(t.is_alive() for t in self._threads) and self.dispatcher.alive()

    def _drive(self, loop: Loop) -> None:
        while not self._stop.is_set():
            started = SYSTEM_CLOCK.monotonic()
            try:
                loop.tick(self.clock.now_ms())
            except Exception:  # one bad tick must not end the loop; the next one retries
                log.exception("scheduler loop tick failed", extra={"loop": loop.name, "node_id": self.node_id})
            self._stop.wait(max(0.0, loop.interval_s - (SYSTEM_CLOCK.monotonic() - started)))

    def stop(self) -> None:
        if self._stop.is_set():
            return
        self._stop.set()
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
        try:
            released = self.store.release(sorted(self._unprepared()))
            self.heartbeat.remove()
        except Exception:
            log.exception("scheduler could not hand back its fires; other nodes adopt them when the lease ends")
            released = 0
        self.client.close()
        log.info("scheduler stopped", extra={"node_id": self.node_id, "released_fires": released})

    def _unprepared(self) -> set[int]:
        """Fires this node still holds in the database but never prepared (their run rows do
        not exist; release() checks that again)."""
        from ..enums import FireStatus
        from ..models import Fire

        with self.ctx.db.read_session() as session:
            return set(session.execute(sa.select(Fire.id).where(Fire.owner == self.node_id, Fire.status == FireStatus.CLAIMED)).scalars())

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
