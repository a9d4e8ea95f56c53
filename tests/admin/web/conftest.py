"""Console fixtures: an app on a fresh database (SQLite and MariaDB),
a fake clock, and a cheap scrypt cost so that creating users stays fast."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shardcron.admin.services import passwords
from shardcron.core.clock import FakeClock
from tests.support.console import Console, build_console

TEST_COST = passwords.ScryptCost(log2_n=10, r=8, p=1)


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_COST", TEST_COST)


@pytest.fixture
def console(tmp_path: Path, db_url: str, fake_clock: FakeClock) -> Iterator[Console]:
    """The console on a fresh database: once on SQLite, once on MariaDB/MySQL."""
    built = build_console(tmp_path, db_url, fake_clock)
    try:
        yield built
    finally:
        built.db.dispose()
