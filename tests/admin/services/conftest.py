"""Fixtures for service tests: a fresh admin database (SQLite and MariaDB), a fake clock, and a
cheaper scrypt cost so that tests creating users stay fast (test_passwords checks the real cost)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shardcron.admin.db import Database, init_schema
from shardcron.admin.services import passwords

#: 2**10 instead of 2**15: the same code path, a thirty-second of the memory and time.
TEST_COST = passwords.ScryptCost(log2_n=10, r=8, p=1)


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_COST", TEST_COST)


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url, pool_size=2)
    init_schema(db.engine)
    try:
        yield db
    finally:
        db.dispose()
