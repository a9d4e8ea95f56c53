"""An admin app on a fresh database with a fake clock and a known access token."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from shardcron.admin import create_app
from shardcron.admin.config import load_config
from shardcron.admin.db import Database
from tests.support.run_rows import open_db

TOKEN = "rpc-test-token-0123456789"


@pytest.fixture
def db(db_url: str) -> Iterator[Database]:
    database = open_db(db_url)
    yield database
    database.dispose()


@pytest.fixture
def app(tmp_path: Path, db: Database, fake_clock):
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": db.url, "access_token": TOKEN})
    return create_app(config, db=db, clock=fake_clock)


@pytest.fixture
def client(app):
    return app.test_client()
