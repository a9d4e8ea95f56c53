"""Fixtures for scheduler tests: a fresh admin database, a run receiver, an inline fire loop."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from shardcron.admin.db import Database, init_schema
from shardcron.admin.scheduling.dispatch import Dispatcher
from shardcron.admin.scheduling.executor_client import ExecutorClient
from shardcron.admin.scheduling.fire_loop import FireLoop
from shardcron.admin.scheduling.fire_store import FireStore
from shardcron.admin.scheduling.run_store import RunStore
from shardcron.executor.clock import FakeClock
from tests.support.executor_calls import TOKEN
from tests.support.run_receiver import RunReceiver


@pytest.fixture
def admin_db(db_url: str) -> Iterator[Database]:
    db = Database(db_url, pool_size=4)
    init_schema(db.engine)
    yield db
    db.dispose()


@pytest.fixture
def receivers() -> Iterator[Callable[[], RunReceiver]]:
    started: list[RunReceiver] = []

    def make() -> RunReceiver:
        receiver = RunReceiver(TOKEN).start()
        started.append(receiver)
        return receiver

    yield make
    for receiver in started:
        receiver.stop()


@dataclass
class Scheduler:
    """One scheduler node's pieces, driven by hand: `step(now)` ticks and sends what is due."""

    db: Database
    clock: FakeClock
    store: FireStore
    dispatcher: Dispatcher
    loop: FireLoop

    def step(self, now_ms: int | None = None) -> None:
        if now_ms is not None:
            self.clock.set(now_ms)
        now = self.clock.now_ms()
        self.loop.tick(now)
        self.dispatcher.send_due(now)


@pytest.fixture
def make_scheduler(fake_clock: FakeClock) -> Iterator[Callable[..., Scheduler]]:
    clients: list[ExecutorClient] = []

    def make(db: Database, node_id: str = "node-a", *, lookahead_ms: int = 2000, lease_ms: int = 10_000, grace_ms: int = 5000) -> Scheduler:
        client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
        clients.append(client)
        store = FireStore(db, node_id, lookahead_ms=lookahead_ms, lease_ms=lease_ms, misfire_grace_ms=grace_ms)
        dispatcher = Dispatcher(RunStore(db, node_id), client, fake_clock, workers=0)
        return Scheduler(db, fake_clock, store, dispatcher, FireLoop(store, dispatcher, 0.2))

    yield make
    for client in clients:
        client.close()
