"""A step's fire is written once and its id read back, whether the INSERT returned it (MariaDB,
PostgreSQL, SQLite) or it is read by its unique key (a fire written earlier, or a database that
cannot return rows from an INSERT), on every backend."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, TriggerType
from shardcron.admin.models import Fire
from shardcron.admin.upserts import insert_ignoring_duplicates, insert_ignoring_duplicates_returning
from shardcron.admin.workflows import step_fires

T0 = 1_767_225_600_000
_F = Fire.__table__.c


def step_fire(step_run_id: int, param: str | None = None) -> dict:
    return {
        "job_id": 7, "fire_at_ms": T0, "trigger_type": TriggerType.WORKFLOW.value, "origin_ref": step_run_id,
        "status": FireStatus.PENDING.value, "owner": None, "lease_until_ms": 0, "param": param, "shard_index": None,
        "shard_total": None, "address": None, "attempt": 0, "created_at_ms": T0, "resume_from_run_id": None, "step_run_id": step_run_id,
    }


def stored(db) -> dict[int, tuple[int, str | None]]:
    """step run id -> (fire id, param) of every fire."""
    with db.read_session() as s:
        return {step: (fire_id, param) for step, fire_id, param in s.execute(sa.select(_F.step_run_id, _F.id, _F.param))}


@pytest.mark.parametrize("returning", [True, False], ids=["read-back-in-the-insert", "read-by-unique-key"])
def test_every_step_gets_its_fire_id_and_a_fire_written_earlier_is_kept(admin_db, monkeypatch, returning) -> None:
    if not returning:  # as on MySQL, which cannot return rows from an INSERT
        monkeypatch.setattr(step_fires, "insert_ignoring_duplicates_returning", lambda *args: None)
    with admin_db.session() as s:
        insert_ignoring_duplicates(s, Fire.__table__, [step_fire(102, "first")])
    earlier = stored(admin_db)[102][0]

    with admin_db.session() as s:
        ids = step_fires._write_fires(s, [step_fire(101), step_fire(102, "second"), step_fire(103)])

    rows = stored(admin_db)
    assert sorted(rows) == [101, 102, 103]  # one fire per step, none twice
    assert ids == {step: fire_id for step, (fire_id, _) in rows.items()}
    assert rows[102] == (earlier, "first")


def test_one_new_fire_comes_back_from_its_insert(admin_db) -> None:
    with admin_db.session() as s:
        got = insert_ignoring_duplicates_returning(s, Fire.__table__, [step_fire(201)], (_F.step_run_id, _F.id))
    assert got is not None  # every test backend returns rows from an INSERT (MariaDB 10.5+, PostgreSQL, SQLite 3.35+)
    assert [tuple(row) for row in got] == [(201, stored(admin_db)[201][0])]


def test_a_duplicate_is_returned_as_it_is_stored_or_not_at_all(admin_db) -> None:
    with admin_db.session() as s:
        insert_ignoring_duplicates(s, Fire.__table__, [step_fire(301, "first")])
    with admin_db.session() as s:
        got = insert_ignoring_duplicates_returning(s, Fire.__table__, [step_fire(301, "second"), step_fire(302)], (_F.step_run_id, _F.id))
    rows = stored(admin_db)
    assert got is not None
    returned = {step: fire_id for step, fire_id in got}
    # MariaDB returns the existing row too; PostgreSQL and SQLite only what they inserted.
    assert returned.get(302) == rows[302][0] and returned.get(301, rows[301][0]) == rows[301][0]
    assert rows[301][1] == "first"
