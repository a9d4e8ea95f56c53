"""Fixtures for executor tests: a recording fake admin and executors wired to it on loopback."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shardcron.executor import Executor
from tests.support.executor_calls import TOKEN
from tests.support.fake_admin import FakeAdmin


@pytest.fixture
def fake_admin() -> Iterator[FakeAdmin]:
    admin = FakeAdmin(token=TOKEN).start()
    yield admin
    admin.stop()


@pytest.fixture
def make_executor(tmp_path: Path, fake_admin: FakeAdmin) -> Iterator[Callable[..., Executor]]:
    """Build (not start) an executor talking to `fake_admin`, with an `echo` handler that returns
    its parameter. Every executor built here is stopped after the test."""
    built: list[Executor] = []

    def make(**settings: Any) -> Executor:
        options: dict[str, Any] = {
            "app_name": "test-app",
            "admin_addresses": [fake_admin.url],
            "access_token": TOKEN,
            "listen": "127.0.0.1:0",
            "data_dir": str(tmp_path / f"executor{len(built)}"),
            "shutdown_timeout_s": 5,
            "env": {},
        }
        options.update(settings)
        executor = Executor(**options)
        executor.job("echo")(lambda ctx: ctx.param)
        built.append(executor)
        return executor

    yield make
    for executor in built:
        executor.stop(timeout_s=5)
