"""Fixtures for scheduler tests: a fresh admin database, a run receiver, an inline fire loop.

Shared by the test folders of the scheduler's packages (schedules, transport, firing, dispatch,
scheduling): each folder's conftest.py imports the fixtures its tests use."""

from __future__ import annotations

from collections.abc import Callable, Iterator
import threading

import pytest

from shardcron.admin.db import Database, init_schema
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.core.clock import FakeClock
from shardcron.executor import Executor
from shardcron.core.protocol import normalize_address
from tests.support.executor_calls import TOKEN
from tests.support.fake_admin import FakeAdmin
from tests.support.run_receiver import RunReceiver
from tests.support.scheduler_node import SchedulerNode, build_node


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



@pytest.fixture
def make_scheduler(fake_clock: FakeClock) -> Iterator[Callable[..., SchedulerNode]]:
    """`make_scheduler(db, node_id, ...)`: one node on the shared fake clock (tests.support.scheduler_node)."""
    clients: list[ExecutorClient] = []

    def make(db: Database, node_id: str = "node-a", **options) -> SchedulerNode:
        client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
        clients.append(client)
        return build_node(db, fake_clock, client, node_id, **options)

    yield make
    for client in clients:
        client.close()


@pytest.fixture
def fake_admin() -> Iterator[FakeAdmin]:
    admin = FakeAdmin(token=TOKEN).start()
    yield admin
    admin.stop()


@pytest.fixture
def executors(tmp_path, fake_admin: FakeAdmin) -> Iterator[Callable[[int], list[Executor]]]:
    """`executors(n)`: n real shardcron executors on loopback (handlers `echo` and `block`, which
    waits until `release` is set), calling back to `fake_admin`, sorted by address."""
    built: list[Executor] = []
    release = threading.Event()

    def make(count: int) -> list[Executor]:
        for _ in range(count):
            executor = Executor(
                app_name="routing-app", admin_addresses=[fake_admin.url], access_token=TOKEN, listen="127.0.0.1:0",
                data_dir=str(tmp_path / f"executor{len(built)}"), shutdown_timeout_s=2, env={},
            )
            executor.job("echo")(lambda ctx: ctx.param)
            executor.job("block")(lambda ctx: release.wait(30) and "released")
            built.append(executor.start())
        return sorted(built, key=lambda e: normalize_address(e.address))

    make.release = release  # type: ignore[attr-defined]
    yield make
    release.set()
    for executor in built:
        executor.stop(timeout_s=2)


@pytest.fixture
def sqlite_admin_db(sqlite_url: str) -> Iterator[Database]:
    db = Database(sqlite_url, pool_size=4)
    init_schema(db.engine)
    yield db
    db.dispose()
