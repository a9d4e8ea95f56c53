"""Helpers for console tests: an app on a fresh database with a fake clock, users, logins, CSRF."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from shardcron.admin import create_app
from shardcron.admin.config import Config, load_config
from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import UserRole
from shardcron.admin.services import setup_code, users
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.core.clock import FakeClock

PASSWORD = "correct horse battery"
_CSRF_META = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Console:
    app: Flask
    db: Database
    clock: FakeClock
    config: Config

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def add_user(self, username: str, role: UserRole = UserRole.USER, group_ids: list[int] | None = None, password: str = PASSWORD) -> int:
        with self.db.session() as session:
            return users.create_user(session, SYSTEM_ACTOR, username, password, role, group_ids or [], now_ms=self.clock.now_ms()).id

    def setup_code(self) -> str:
        """The one-time setup code, as `shardcron admin` makes it at start while no user exists."""
        code = setup_code.ensure_setup_code(self.db, self.config.instance_dir)
        assert code is not None, "a user exists: there is no setup code"
        return code

    def login(self, username: str, password: str = PASSWORD) -> FlaskClient:
        client = self.client()
        response = post_form(client, "/login", {"username": username, "password": password}, csrf_from="/login")
        assert response.status_code == 302, response.get_data(as_text=True)
        return client


def build_console(tmp_path: Path, db_url: str, clock: FakeClock, **overrides) -> Console:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path / "instance"), "database_url": db_url, "secret_key": "k" * 32, **overrides})
    db = Database(db_url, pool_size=2)
    init_schema(db.engine)
    app = create_app(config, db=db, clock=clock)
    app.config["TESTING"] = True
    return Console(app=app, db=db, clock=clock, config=config)


def csrf_of(html: str) -> str:
    match = _CSRF_META.search(html)
    assert match, "page has no csrf-token meta tag"
    return match.group(1)


def page_csrf(client: FlaskClient, path: str = "/login") -> str:
    response = client.get(path)
    return csrf_of(response.get_data(as_text=True))


def post_form(client: FlaskClient, path: str, data: dict, *, csrf_from: str | None = None, csrf: str | None = None):
    """POST a form with the session's CSRF token (read from `csrf_from`'s page unless given)."""
    token = csrf if csrf is not None else page_csrf(client, csrf_from or "/account")
    return client.post(path, data={**data, "csrf_token": token})
