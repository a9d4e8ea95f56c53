"""Rows written in bulk, on SQLite and MariaDB: run rows come back with their ids in row order and their
values intact; fires that exist already are skipped."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, FollowupStatus, RunStatus, TriggerType
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.firing import bulk_insert
from shardcron.admin.firing.bulk_insert import insert_ignoring_duplicates, insert_returning_ids

T0 = 1_767_225_600_000
AWKWARD = ["plain", "it's", 'say "hi"', "back\\slash", "50% done %s %(x)s", "naïve ✓", "line\nbreak", None, ""]


def run_row(i: int, param: str | None) -> dict:
    return {
        "job_id": 7, "group_id": 3, "fire_id": 1000 + i, "trigger_type": TriggerType.API, "fire_at_ms": T0, "trigger_at_ms": T0 + i,
        "executor_address": None, "handler": "echo", "param": param, "shard_index": i, "shard_total": 99,
        "attempt": 0, "retry_remaining": 0, "status": RunStatus.PENDING, "trigger_code": 0, "trigger_msg": None,
        "followup_status": FollowupStatus.NONE,
    }


def test_rows_come_back_in_order_with_every_value_intact(admin_db):
    rows = [run_row(i, param) for i, param in enumerate(AWKWARD)]
    with admin_db.session() as s:
        ids = insert_returning_ids(s, RunLog.__table__, rows)
    assert len(ids) == len(rows) and ids == sorted(ids) and len(set(ids)) == len(ids)
    with admin_db.read_session() as s:
        stored = {r.id: r for r in s.execute(sa.select(RunLog)).scalars()}
    for run_id, row in zip(ids, rows, strict=True):
        got = stored[run_id]
        assert (got.shard_index, got.param, got.fire_id) == (row["shard_index"], row["param"], row["fire_id"])
        # the model's Python-side defaults fill what the rows leave out
        assert (got.handle_code, got.handle_msg, got.status, got.trigger_type) == (0, None, RunStatus.PENDING, TriggerType.API)


def test_plain_enum_values_are_refused_before_anything_is_written(admin_db):
    import enum

    class Plain(enum.Enum):
        API = "API"

    row = {**run_row(0, "x"), "trigger_type": Plain.API}
    with pytest.raises(TypeError):
        with admin_db.session() as s:
            insert_returning_ids(s, RunLog.__table__, [row])
    with admin_db.read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(RunLog)).scalar_one() == 0


def test_a_large_batch_is_split_into_several_statements_and_keeps_its_order(admin_db, monkeypatch):
    monkeypatch.setattr(bulk_insert, "MAX_STATEMENT_BYTES", 600)  # a few rows per statement (MariaDB)
    rows = [run_row(i, f"p{i}") for i in range(25)]
    with admin_db.session() as s:
        ids = insert_returning_ids(s, RunLog.__table__, rows)
    with admin_db.read_session() as s:
        by_id = dict(s.execute(sa.select(RunLog.id, RunLog.shard_index)).all())
    assert [by_id[i] for i in ids] == list(range(25))


def test_a_failed_transaction_leaves_no_row(admin_db):
    try:
        with admin_db.session() as s:
            insert_returning_ids(s, RunLog.__table__, [run_row(i, "x") for i in range(3)])
            raise RuntimeError("the rest of the preparation failed")
    except RuntimeError:
        pass
    with admin_db.read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(RunLog)).scalar_one() == 0


def test_rows_that_exist_already_are_skipped_and_the_rest_written(admin_db):
    def fire(ref: int, param: str | None = None) -> dict:
        return {
            "job_id": 7, "fire_at_ms": T0, "trigger_type": TriggerType.CRON, "origin_ref": ref, "status": FireStatus.CLAIMED,
            "owner": "node-a", "lease_until_ms": T0 + 10_000, "attempt": 0, "created_at_ms": T0, "param": param,
        }

    with admin_db.session() as s:
        insert_ignoring_duplicates(s, Fire.__table__, [fire(1, "first"), fire(2, "it's 100%")])
    with admin_db.session() as s:  # ref 2 exists (same job, time, type, origin): kept as it was
        insert_ignoring_duplicates(s, Fire.__table__, [fire(2, "second write"), fire(3)])
    with admin_db.read_session() as s:
        stored = s.execute(sa.select(Fire.origin_ref, Fire.param, Fire.status).order_by(Fire.origin_ref)).all()
    assert stored == [(1, "first", FireStatus.CLAIMED), (2, "it's 100%", FireStatus.CLAIMED), (3, None, FireStatus.CLAIMED)]


def _own_mysql_db(mysql_url):
    from shardcron.admin.db import Database, init_schema

    db = Database(mysql_url, pool_size=2)
    init_schema(db.engine)
    return db


def _stored(db) -> dict[int, tuple]:
    with db.read_session() as s:
        return {r.id: (r.shard_index, r.param, r.handle_code) for r in s.execute(sa.select(RunLog)).scalars()}


@pytest.mark.mysql
def test_the_test_server_gives_consecutive_ids_so_the_other_mariadb_tests_take_that_way(mysql_url):
    db = _own_mysql_db(mysql_url)
    try:
        with db.session() as s:
            assert bulk_insert.consecutive_ids(s) is True
    finally:
        db.dispose()


@pytest.mark.mysql
def test_ids_that_may_not_be_consecutive_are_read_back_and_match_their_rows(mysql_url):
    """A session stepping ids by 2 (as a Galera node does): counting on a run would give ids that
    are not the rows' (every second one); RETURNING reads the real ones."""
    db = _own_mysql_db(mysql_url)
    try:
        rows = [run_row(i, param) for i, param in enumerate(AWKWARD)]
        with db.session() as s:
            s.execute(sa.text("SET SESSION auto_increment_increment = 2"))
            assert bulk_insert.consecutive_ids(s) is False
            ids = insert_returning_ids(s, RunLog.__table__, rows)
            s.execute(sa.text("SET SESSION auto_increment_increment = 1"))
        assert all(b - a == 2 for a, b in zip(ids, ids[1:], strict=False))
        stored = _stored(db)
        assert [stored[i] for i in ids] == [(row["shard_index"], row["param"], 0) for row in rows]
    finally:
        db.dispose()


@pytest.mark.mysql
def test_without_insert_returning_rows_go_one_by_one_and_keep_their_order(mysql_url, monkeypatch):
    """MySQL 8 has no INSERT … RETURNING, and its default autoinc lock mode promises no run of
    ids: each row is its own INSERT (here forced on MariaDB)."""
    db = _own_mysql_db(mysql_url)
    try:
        monkeypatch.setattr(db.engine.dialect, "insert_executemany_returning_sort_by_parameter_order", False)
        monkeypatch.setattr(bulk_insert, "consecutive_ids", lambda session: False)
        rows = [run_row(i, param) for i, param in enumerate(AWKWARD)]
        with db.session() as s:
            ids = insert_returning_ids(s, RunLog.__table__, rows)
        stored = _stored(db)
        assert [stored[i] for i in ids] == [(row["shard_index"], row["param"], 0) for row in rows]
    finally:
        db.dispose()
