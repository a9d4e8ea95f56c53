"""A workflow cluster on every backend: one scheduler node, the admin app's callback, and
stand-in executors on loopback (tests.support.workflow_cluster)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from pathlib import Path

import pytest
from flask import Flask

from shardcron.admin import create_app
from shardcron.admin.config import load_config
from shardcron.admin.db import Database
from shardcron.admin.monitors.followups import FollowupMonitor
from shardcron.core.clock import FakeClock
from tests.support.executor_calls import TOKEN
from tests.support import scheduler_fixtures
from tests.support.scheduler_rows import add_group, register
from tests.support.workflow_cluster import WorkflowCluster

APP = "wf-app"
admin_db = scheduler_fixtures.admin_db
receivers = scheduler_fixtures.receivers
make_scheduler = scheduler_fixtures.make_scheduler


@pytest.fixture
def admin_overrides() -> dict[str, Any]:
    """Settings of the admin app (a test changes them with pytest.mark.parametrize)."""
    return {}


@pytest.fixture
def admin_app(tmp_path: Path, admin_db: Database, fake_clock: FakeClock, admin_overrides: dict[str, Any]):
    overrides = {"instance_dir": str(tmp_path / "admin"), "database_url": admin_db.url, "access_token": TOKEN, **admin_overrides}
    config = load_config(env={}, overrides=overrides)
    return create_app(config, db=admin_db, clock=fake_clock)


@pytest.fixture
def cluster(admin_db: Database, admin_app: Flask, fake_clock: FakeClock, receivers: Any, make_scheduler: Any) -> Iterator[WorkflowCluster]:
    """Three stand-in executors registered in group `wf-app` (cluster.group_id)."""
    now = fake_clock.now_ms()
    group_id = add_group(admin_db, APP, now)
    executors = [receivers() for _ in range(3)]
    for executor in executors:
        register(admin_db, APP, executor.address, now)
    node = make_scheduler(admin_db, lookahead_ms=2000)
    made = WorkflowCluster(admin_db, fake_clock, node, admin_app.test_client(), executors, monitors=[FollowupMonitor(admin_db, "node-a")])
    made.group_id = group_id  # type: ignore[attr-defined]
    yield made
