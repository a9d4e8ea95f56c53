"""A `RetryTasks` on each engine (SQLite file, fresh MariaDB database), on the fake clock."""

from __future__ import annotations

import random
from collections.abc import Iterator

import pytest

from shardcron.core.clock import FakeClock
from shardcron.executor.retry_tasks import RetryTasks
from tests.support.retry_tasks import EXACT_BACKOFF


@pytest.fixture
def tasks(db_url: str, fake_clock: FakeClock) -> Iterator[RetryTasks]:
    retry_tasks = RetryTasks(db_url, clock=fake_clock, owner="test-drainer", default_backoff=EXACT_BACKOFF, rng=random.Random(7), default_max_attempts=5)
    retry_tasks.create_table()
    try:
        yield retry_tasks
    finally:
        retry_tasks.close()
