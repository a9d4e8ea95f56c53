"""An admin app on a fresh SQLite database with a fake clock, and API clients holding tokens.

The services underneath are tested on SQLite and MariaDB (tests/admin/services); these tests
are about HTTP: auth, status codes, JSON shapes, the OpenAPI document.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from shardcron.admin import create_app
from shardcron.admin.config import load_config
from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import UserRole
from shardcron.admin.services import passwords, users
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.core.clock import FakeClock
from tests.support.admin_data import NOW, PASSWORD

EXECUTOR_TOKEN = "executor-token-for-api-tests"


@pytest.fixture(autouse=True)
def cheap_scrypt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(passwords, "DEFAULT_COST", passwords.ScryptCost(log2_n=10))


@dataclass
class Api:
    """A test client that sends `Authorization: Bearer <token>` for one user."""

    client: FlaskClient
    token: str | None
    user_id: int | None = None

    def _headers(self, headers: dict[str, str] | None) -> dict[str, str]:
        out = dict(headers or {})
        if self.token is not None:
            out.setdefault("Authorization", f"Bearer {self.token}")
        return out

    def get(self, path: str, **kw: Any):
        return self.client.get("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)

    def post(self, path: str, json: Any = None, **kw: Any):
        return self.client.post("/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def patch(self, path: str, json: Any = None, **kw: Any):
        return self.client.patch("/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def put(self, path: str, json: Any = None, **kw: Any):
        return self.client.put("/api/v1" + path, json=json, headers=self._headers(kw.pop("headers", None)), **kw)

    def delete(self, path: str, **kw: Any):
        return self.client.delete("/api/v1" + path, headers=self._headers(kw.pop("headers", None)), **kw)


@dataclass
class AdminApp:
    app: Flask
    db: Database
    clock: FakeClock

    def user(self, name: str, role: UserRole = UserRole.USER, groups: list[int] | None = None) -> Api:
        with self.db.session() as s:
            view = users.create_user(s, SYSTEM_ACTOR, name, PASSWORD, role, groups or [], now_ms=NOW)
            token = users.issue_api_token(s, SYSTEM_ACTOR, view.id, now_ms=NOW)
        return Api(self.app.test_client(), token, view.id)

    def anonymous(self) -> Api:
        return Api(self.app.test_client(), None)


@pytest.fixture
def admin_app(tmp_path: Path, sqlite_url: str) -> Iterator[AdminApp]:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path / "instance"), "database_url": sqlite_url, "access_token": EXECUTOR_TOKEN})
    db = Database(sqlite_url)
    init_schema(db.engine)
    clock = FakeClock(NOW)
    app = create_app(config, db=db, clock=clock)
    app.config["TESTING"] = True
    yield AdminApp(app, db, clock)
    client = app.extensions.get("shardcron.executor_client")
    if client is not None:
        client.close()
    db.dispose()


@pytest.fixture
def admin(admin_app: AdminApp) -> Api:
    return admin_app.user("root", UserRole.ADMIN)
