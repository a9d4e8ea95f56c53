"""The drainer as a real executor job: a sharding broadcast with discard-on-busy over two executors.

Each executor serves the built-in `retryTaskDrainer` handler on loopback; the test plays the admin
(it sends `/run` with broadcastIndex/broadcastTotal, as a SHARDING_BROADCAST trigger does) and a
recording fake admin receives the callbacks. Real clock, real HTTP, real database.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.executor import Executor
from shardcron.core.protocol import BlockStrategy, ResultCode
from shardcron.executor.retry_tasks import DRAINER_HANDLER, TABLE_NAME, RetryTasks, TaskStatus
from tests.support.executor_calls import TOKEN, call, trigger
from tests.support.fake_admin import FakeAdmin
from tests.support.retry_tasks import EXACT_BACKOFF

TASKS = 40
gate = threading.Event()


@pytest.fixture
def setup(db_url: str, tmp_path: Path) -> Iterator[tuple[RetryTasks, list[Executor], FakeAdmin, list[int]]]:
    admin = FakeAdmin(token=TOKEN).start()
    tasks = RetryTasks(db_url, owner="integration", default_backoff=EXACT_BACKOFF, default_max_attempts=3)
    tasks.create_table()
    handled: list[int] = []
    lock = threading.Lock()

    @tasks.handler("NOTIFY")
    def notify(task):
        gate.wait(10)
        with lock:
            handled.append(task.payload["n"])

    for n in range(TASKS):
        tasks.enqueue("NOTIFY", f"req-{n}", {"n": n})
    executors = []
    for i in range(2):
        ex = Executor(
            app_name="drainers",
            admin_addresses=[admin.url],
            access_token=TOKEN,
            listen="127.0.0.1:0",
            data_dir=str(tmp_path / f"executor{i}"),
            shutdown_timeout_s=5,
            env={},
        )
        tasks.register_drainer(ex)
        executors.append(ex.start())
    gate.clear()
    yield tasks, executors, admin, handled
    gate.set()
    for ex in executors:
        ex.stop(timeout_s=5)
    tasks.close()
    admin.stop()


def test_broadcast_drains_every_task_once_and_discards_a_busy_trigger(setup) -> None:
    tasks, executors, admin, handled = setup
    shard_runs = {}
    for index, ex in enumerate(executors):
        log_id = 100 + index
        body = trigger(7, log_id, DRAINER_HANDLER, executorBlockStrategy=str(BlockStrategy.DISCARD_LATER), broadcastIndex=index, broadcastTotal=2)
        accepted = call(ex.port, "/run", body)
        assert accepted.ok, accepted.msg
        shard_runs[index] = log_id

    # While shard 0 is still working (handlers wait on the gate), the next fire is discarded.
    busy = call(executors[0].port, "/run", trigger(7, 200, DRAINER_HANDLER, executorBlockStrategy=str(BlockStrategy.DISCARD_LATER), broadcastIndex=0, broadcastTotal=2))
    assert not busy.ok
    assert "discard" in (busy.msg or "").lower() or "busy" in (busy.msg or "").lower()

    gate.set()
    results = {index: admin.wait_for_result(log_id) for index, log_id in shard_runs.items()}
    for index, result in results.items():
        assert result.handle_code == ResultCode.SUCCESS, result.handle_msg
        assert result.result_data is not None
        # Shard i claimed exactly the rows with id % 2 == i.
        with tasks.engine.connect() as conn:
            expected = conn.execute(sa.text(f"SELECT COUNT(*) FROM {TABLE_NAME} WHERE id % 2 = :i"), {"i": index}).scalar_one()
        assert result.result_data["claimed"] == expected
        assert result.result_data["succeeded"] == expected
    assert sorted(handled) == list(range(TASKS))
    assert {row.status for row in tasks.stats()} == {TaskStatus.SUCCEEDED}
    assert 200 not in {c.log_id for c in admin.callbacks()}
