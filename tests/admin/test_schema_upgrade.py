"""Upgrading the admin database: from each released version with its rows, on SQLite and MariaDB.

Each test starts from a database exactly as a release left it (its DDL as shipped, its rows
written around today's models), upgrades it the way an operator would, and checks every row
and the features that read and write them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin import create_app
from shardcron.admin.alarms.sender import AlarmSender
from shardcron.admin.config import load_config
from shardcron.admin.db import Database, init_schema, read_schema_status
from shardcron.admin.enums import AlarmStatus, RunStatus
from shardcron.admin.models import Alarm, Base, RunLog, User
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.admin.services import users
from shardcron.core.clock import FakeClock
from shardcron.core.schema_versions.status import SchemaState, head_revision
from shardcron.core.schema_versions.upgrade import upgrade_schema
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, Release, assert_rows_kept, database_at, released_database
from tests.support.released import rows_0_1_0 as facts
from tests.support.run_receiver import RunReceiver
from tests.support.scheduler_node import build_node
from tests.support.schema_snapshot import drop_tables, snapshot

TOKEN = "upgrade-test-token-0123456789"
TABLES = [t.name for t in Base.metadata.sorted_tables]


def _snapshot(url: str) -> dict:
    engine = sa.create_engine(url)
    try:
        return snapshot(engine, TABLES)
    finally:
        engine.dispose()


def _fresh_install(url: str) -> dict:
    """The schema a new installation gets, in a database of its own (same server, same engine)."""
    engine = create_db_engine(url, pool_size=1)
    try:
        drop_tables(engine, [ADMIN_SCHEMA.version_table, *reversed(TABLES)])
        init_schema(engine)
    finally:
        engine.dispose()
    return _snapshot(url)


def test_the_baseline_revision_is_the_released_0_1_0_schema(db_url: str) -> None:
    released_database(db_url, RELEASES[0], "admin", {})
    released = _snapshot(db_url)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        drop_tables(engine, list(reversed(TABLES)))
        upgrade_schema(ADMIN_SCHEMA, engine, target="0001")
    finally:
        engine.dispose()
    from_revision = _snapshot(db_url)
    from_revision["tables"].remove(ADMIN_SCHEMA.version_table)
    assert released["tables"] == sorted(ADMIN_SCHEMA.baseline_tables)
    for table in ADMIN_SCHEMA.baseline_tables:
        assert from_revision[table] == released[table], table


@pytest.mark.parametrize("release", RELEASES, ids=str)
def test_upgrade_from_a_release_keeps_every_row_and_every_feature(db_url: str, release: Release, tmp_path: Path) -> None:
    released_database(db_url, release, "admin", release.admin_rows)
    database = Database(db_url, pool_size=4)
    try:
        before = read_schema_status(database.engine)
        assert (before.state, before.revision) == (SchemaState.UNVERSIONED, None)
        result = init_schema(database.engine)
        assert result.after.is_current and result.after.revision == head_revision(ADMIN_SCHEMA)
        assert result.created_tables == tuple(sorted(set(TABLES) - set(ADMIN_SCHEMA.baseline_tables)))
        assert init_schema(database.engine).changed is False
        upgraded = _snapshot(db_url)
        assert_rows_kept(db_url, release.admin_rows)
        _check_admin_features(database, tmp_path)
    finally:
        database.dispose()
    assert upgraded == _fresh_install(db_url)  # an upgraded database is a new one, row for row aside


def test_a_database_at_the_baseline_revision_with_rows_upgrades_to_head(db_url: str) -> None:
    """The start of each revision's own upgrade test (docs/development.md)."""
    database_at(db_url, ADMIN_SCHEMA, "0001", RELEASES[0].admin_rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert read_schema_status(engine).revision == "0001"
        assert init_schema(engine).after.revision == head_revision(ADMIN_SCHEMA)
    finally:
        engine.dispose()
    assert_rows_kept(db_url, RELEASES[0].admin_rows)


# --------------------------------------------------------------------------- features


def _post(client, path: str, body: object, *, token: str | None = None, rpc: bool = False):
    headers = {"XXL-JOB-ACCESS-TOKEN": TOKEN} if rpc else {"Authorization": f"Bearer {token}"}
    return client.post(path, data=json.dumps(body), headers={**headers, "Content-Type": "application/json"})


def _check_admin_features(database: Database, tmp_path: Path) -> None:
    """Log in, read, register an executor, fire the scheduled job and take its result, send the
    due alarm, create a job: each on the rows of the release."""
    clock = FakeClock(facts.T)
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path / "instance"), "database_url": database.url, "access_token": TOKEN})
    app = create_app(config, db=database, clock=clock)
    client = app.test_client()

    with database.session() as session:  # passwords, roles, grants and API tokens of the release still work
        alice = users.authenticate(session, "alice", facts.ALICE_PASSWORD, facts.T)
        bob = users.authenticate(session, "bob", facts.BOB_PASSWORD, facts.T)
        assert alice is not None and alice.is_admin and alice.user_id is not None
        assert bob is not None and not bob.is_admin and bob.group_ids == {facts.USER_GROUP_ORDERS}
        alice_token = users.issue_api_token(session, alice, alice.user_id, now_ms=facts.T)
    bob_jobs = client.get("/api/v1/jobs", headers={"Authorization": f"Bearer {facts.BOB_TOKEN}"})
    assert bob_jobs.status_code == 200 and [job["id"] for job in bob_jobs.get_json()["items"]] == facts.ORDERS_JOB_IDS
    # Bob's token of the release is now his named token "default" (its hash only, moved out of sc_user).
    bob_tokens = client.get("/api/v1/me/tokens", headers={"Authorization": f"Bearer {facts.BOB_TOKEN}"}).get_json()["items"]
    assert [(token["name"], token["expires_at_ms"]) for token in bob_tokens] == [("default", None)]
    with database.read_session() as session:
        assert session.scalars(sa.select(User.api_token_hash)).all() == [None, None]
    runs = client.get("/api/v1/runs", headers={"Authorization": f"Bearer {alice_token}"}).get_json()["items"]
    assert {run["id"] for run in runs} == {1, 2, 3}
    board = client.get("/api/v1/dashboard?days=7", headers={"Authorization": f"Bearer {alice_token}"}).get_json()
    # The dashboard counts the kept runs (1, 2 and 3, all on 31 December), not the old daily report.
    assert next(day for day in board["runs"]["daily"] if day["day"] == "2025-12-31") == {"day": "2025-12-31", "success": 2, "failed": 1, "running": 0, "unknown": 0}

    # An executor registers for the billing group; the scheduled job fires to it once, at its time.
    receiver = RunReceiver(TOKEN).start()
    try:
        fire_at = facts.SCHEDULED_JOB_NEXT_FIRE_MS
        clock.set(fire_at - 1_000)
        registry = {"registryGroup": "EXECUTOR", "registryKey": "billing", "registryValue": receiver.address}
        assert _post(client, "/api/registry", registry, rpc=True).get_json()["code"] == 200
        executor_client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
        try:
            node = build_node(database, clock, executor_client, "node-upgraded")
            for now in (fire_at - 1_000, fire_at):
                node.step(now)
        finally:
            executor_client.close()
        assert [(run.job_id, run.log_date_ms) for run in receiver.runs] == [(facts.SCHEDULED_JOB_ID, fire_at)]
        log_id = receiver.runs[0].log_id
    finally:
        receiver.stop()
    assert log_id > 3  # ids go on after the release's rows
    callback = [{"logId": log_id, "logDateTim": fire_at, "handleCode": 200, "handleMsg": "billed"}]
    assert _post(client, "/api/callback", callback, rpc=True).get_json()["code"] == 200
    with database.read_session() as session:
        assert session.get(RunLog, log_id).status == RunStatus.SUCCESS

    sent: list[str] = []
    AlarmSender(database, clock, config, webhook=lambda target, message: sent.append(target)).tick(facts.T)
    with database.read_session() as session:
        assert session.get(Alarm, facts.DUE_ALARM_ID).status == AlarmStatus.SENT
    assert sent == ["https://hooks.example/alarm"]

    job = {"name": "after the upgrade", "group_id": facts.ADMIN_GROUP_BILLING, "handler": "x", "schedule_conf": "0 0 * * *"}
    created = _post(client, "/api/v1/jobs", job, token=alice_token)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["id"] > 4

