"""Monitor tests: a fresh admin database per test (SQLite and MariaDB) and the fake clock."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from shardcron.admin.db import Database
from tests.support.run_rows import open_db


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_db(db_url)
    yield database
    database.dispose()
