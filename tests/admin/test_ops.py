"""`/readyz` and `/metrics` of the admin."""

from __future__ import annotations

from pathlib import Path

import pytest

from shardcron.admin import admin_context, create_app
from shardcron.admin.config import load_config
from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import AddressType
from shardcron.admin.metrics import TriggerFailure, record_fire, record_run_finished, record_trigger_failure, record_trigger_lag
from shardcron.admin.models import ExecutorGroup, ExecutorRegistry, SchedulerNode
from shardcron.core.clock import FakeClock

TOKEN = "metrics-token-0123456789"


def _app(db_url: str, tmp_path: Path, clock: FakeClock, **overrides):
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": db_url, **overrides})
    database = Database(db_url, pool_size=2)
    init_schema(database.engine)
    return create_app(config, db=database, clock=clock)


def _beat(app, node_id: str, at_ms: int) -> None:
    with admin_context(app).db.session() as s:
        s.merge(SchedulerNode(node_id=node_id, hostname="h", pid=1, started_at_ms=at_ms, heartbeat_at_ms=at_ms))


def test_readyz_needs_a_recent_scheduler_heartbeat(db_url: str, tmp_path: Path, fake_clock: FakeClock) -> None:
    app = _app(db_url, tmp_path, fake_clock)
    client = app.test_client()
    answer = client.get("/readyz")
    assert answer.status_code == 503
    assert answer.json["checks"]["database"] == "ok"
    assert answer.json["reasons"] == ["scheduler: no scheduler process has ever started on this database"]

    _beat(app, "node-a", fake_clock.now_ms())
    fake_clock.advance(s=59)
    assert client.get("/readyz").status_code == 200
    fake_clock.advance(s=2)
    stale = client.get("/readyz")
    assert stale.status_code == 503
    assert "no scheduler heartbeat in the last 60 s (newest 61 s ago)" in stale.json["reasons"][0]
    admin_context(app).db.dispose()


def test_readyz_without_scheduler_check(db_url: str, tmp_path: Path, fake_clock: FakeClock) -> None:
    app = _app(db_url, tmp_path, fake_clock, ready_scheduler_max_age_s=0)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 200
    assert answer.json["checks"] == {"database": "ok", "scheduler": "not checked"}
    admin_context(app).db.dispose()


def test_readyz_reports_an_unreachable_database_without_its_url(tmp_path: Path, fake_clock: FakeClock) -> None:
    url = "mysql+pymysql://shardcron:s3cret@127.0.0.1:1/shardcron"
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": url})
    app = create_app(config, clock=fake_clock)
    answer = app.test_client().get("/readyz")
    assert answer.status_code == 503
    assert answer.json["reasons"] == ["database: not reachable"]
    assert b"s3cret" not in answer.data and b"127.0.0.1" not in answer.data


def test_metrics_expose_counters_and_live_executors(db_url: str, tmp_path: Path, fake_clock: FakeClock) -> None:
    app = _app(db_url, tmp_path, fake_clock)
    now = fake_clock.now_ms()
    with admin_context(app).db.session() as s:
        s.add_all([
            ExecutorGroup(app_name="billing", title="B", address_type=AddressType.AUTO, created_at_ms=now, updated_at_ms=now),
            ExecutorGroup(app_name="static", title="S", address_type=AddressType.MANUAL, manual_addresses="http://a:1\nhttp://b:1", created_at_ms=now, updated_at_ms=now),
            ExecutorRegistry(registry_group="EXECUTOR", app_name="billing", address="http://e1:9999", registered_at_ms=now, heartbeat_at_ms=now),
            ExecutorRegistry(registry_group="EXECUTOR", app_name="billing", address="http://e2:9999", registered_at_ms=now, heartbeat_at_ms=now - 91_000),
        ])
    _beat(app, "node-a", now)
    record_fire("CRON")
    record_trigger_lag(120)
    record_trigger_failure(TriggerFailure.NO_LIVE_EXECUTOR)
    record_run_finished("SUCCESS", 2500)
    # No metrics_token set: /metrics is still closed, behind the one generated into instance_dir.
    assert app.test_client().get("/metrics").status_code == 401
    generated = tmp_path / "metrics_token"
    assert generated.stat().st_mode & 0o777 == 0o600
    answer = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {generated.read_text().strip()}"})
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    text = answer.get_data(as_text=True)
    assert 'shardcron_live_executors{group="billing"} 1.0' in text  # e2's heartbeat is too old
    assert 'shardcron_live_executors{group="static"} 2.0' in text
    assert "shardcron_scheduler_nodes_live 1.0" in text
    assert "shardcron_database_up 1.0" in text
    assert 'shardcron_fires_total{trigger_type="CRON"}' in text
    assert 'shardcron_trigger_failures_total{reason="no_live_executor"}' in text
    assert 'shardcron_trigger_lag_seconds_bucket{le="0.25"}' in text
    assert 'shardcron_run_duration_seconds_count{status="SUCCESS"}' in text
    admin_context(app).db.dispose()


def test_metrics_answer_without_the_database(tmp_path: Path, fake_clock: FakeClock) -> None:
    # metrics_open: served to anyone, as an operator may choose explicitly.
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": "mysql+pymysql://u:p@127.0.0.1:1/x", "metrics_open": True})
    answer = create_app(config, clock=fake_clock).test_client().get("/metrics")
    assert answer.status_code == 200
    assert b"shardcron_database_up 0.0" in answer.data and b"shardcron_live_executors" not in answer.data


def test_metrics_token_is_enforced_when_set(sqlite_url: str, tmp_path: Path, fake_clock: FakeClock) -> None:
    app = _app(sqlite_url, tmp_path, fake_clock, metrics_token=TOKEN)
    client = app.test_client()
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong-token-000000000"}).status_code == 401
    answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200 and b"shardcron_live_executors" in answer.data
    admin_context(app).db.dispose()


def test_trigger_failure_reasons_are_a_closed_set() -> None:
    with pytest.raises(ValueError):
        record_trigger_failure("something new")  # type: ignore[arg-type]
