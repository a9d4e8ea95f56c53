"""Hardening, tried as an attacker would: the admin's token-less mode on a public address, files
another local account could read, and /metrics without a token."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.config import load_config, read_or_create_secret
from shardcron.admin.db import Database, init_schema
from shardcron.executor.config import load_executor_config
from shardcron.core.errors import ConfigError
from shardcron.executor.retry_tasks.database import TaskDatabase
from tests.support.cli import assert_one_line_error, run_cli
from tests.support.net import free_port


def _mode(path: Path) -> int:
    return path.stat().st_mode & 0o777


@pytest.fixture
def open_umask():
    """A umask that would leave new files world-readable (0644), as on many hosts."""
    previous = os.umask(0o022)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.mark.parametrize("bind", ["0.0.0.0", "192.0.2.10", "[::]"])
def test_admin_refuses_insecure_no_token_off_loopback(tmp_path: Path, bind: str) -> None:
    result = run_cli("admin", "--bind", f"{bind}:{free_port()}", home=tmp_path, env={"SHARDCRON_INSECURE_NO_TOKEN": "true"})
    assert_one_line_error(result, "insecure_no_token", "loopback", bind)
    assert not (tmp_path / "shardcron" / "shardcron.db").exists()  # refused before touching anything


@pytest.mark.parametrize("bind", ["127.0.0.1:8080", "localhost:8080", "[::1]:8080"])
def test_insecure_no_token_on_loopback_is_allowed(tmp_path: Path, bind: str) -> None:
    assert load_config(env={}, overrides={"instance_dir": str(tmp_path), "insecure_no_token": True, "bind": bind}).insecure_no_token


def test_admin_and_executor_share_the_loopback_rule(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as admin_refusal:
        load_config(env={}, overrides={"instance_dir": str(tmp_path), "insecure_no_token": True, "bind": "0.0.0.0:8080"})
    executor = load_executor_config(env={}, overrides={"app_name": "a", "admin_addresses": "http://127.0.0.1:8080", "insecure": True, "listen": "0.0.0.0:9999"})
    with pytest.raises(ConfigError) as executor_refusal:
        executor.check_complete()
    assert "insecure mode is for local use only; listen on a loopback address, not 0.0.0.0" in str(admin_refusal.value)
    assert "insecure mode is for local use only; listen on a loopback address, not 0.0.0.0" in str(executor_refusal.value)


def test_admin_sqlite_file_and_its_journal_are_private(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "instance" / "shardcron.db"
    database = Database(f"sqlite:///{path}", create_folder=True)  # the embedded default's folder is made
    try:
        init_schema(database.engine)
        with database.session() as session:  # a write, so the WAL files exist
            session.execute(sa.text("UPDATE sc_meta SET value = value"))
        files = [p for p in path.parent.iterdir() if p.name.startswith("shardcron.db")]
        assert path in files
        assert {p.name: _mode(p) for p in files} == {p.name: 0o600 for p in files}
    finally:
        database.dispose()


def test_retry_task_sqlite_file_is_private(tmp_path: Path, open_umask) -> None:
    path = tmp_path / "app" / "tasks.db"
    path.parent.mkdir()  # a SQLite URL's folder must exist
    tasks = TaskDatabase(f"sqlite:///{path}", pool_size=1)
    try:
        tasks.create_table()
        assert _mode(path) == 0o600
    finally:
        tasks.dispose()


def test_generated_secrets_are_private(tmp_path: Path, open_umask) -> None:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path / "instance")})
    for name in ("secret_key", "access_token", "metrics_token"):
        value = read_or_create_secret(config, name)
        path = tmp_path / "instance" / name
        assert path.read_text().strip() == value and _mode(path) == 0o600
        assert read_or_create_secret(config, name) == value  # created once
