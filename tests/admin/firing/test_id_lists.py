"""Long id lists written as integer literals, on SQLite and MariaDB."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, TriggerType
from shardcron.admin.models import Fire
from shardcron.admin.firing.id_lists import SHORT_LIST, execute_for_ids, in_ids

T0 = 1_767_225_600_000


def add_fires(admin_db, count: int) -> list[int]:
    rows = [
        {"job_id": 1, "fire_at_ms": T0, "trigger_type": TriggerType.API, "origin_ref": ref, "status": FireStatus.PENDING,
         "owner": None, "lease_until_ms": 0, "attempt": 0, "created_at_ms": T0}
        for ref in range(1, count + 1)
    ]
    with admin_db.session() as s:
        s.execute(sa.insert(Fire.__table__), rows)
    with admin_db.read_session() as s:
        return list(s.execute(sa.select(Fire.id).order_by(Fire.id)).scalars())


def test_selects_and_updates_exactly_the_listed_rows(admin_db):
    ids = add_fires(admin_db, 40)
    chosen = ids[::3]
    fire = Fire.__table__.c
    with admin_db.session() as s:
        changed = s.execute(sa.update(Fire.__table__).where(in_ids(fire.id, chosen), fire.status == FireStatus.PENDING).values(owner="me")).rowcount
    assert changed == len(chosen)
    with admin_db.read_session() as s:
        assert list(s.execute(sa.select(fire.id).where(in_ids(fire.id, set(chosen))).order_by(fire.id)).scalars()) == chosen
        assert set(s.execute(sa.select(fire.id).where(fire.owner == "me")).scalars()) == set(chosen)


def test_no_ids_match_nothing(admin_db):
    add_fires(admin_db, 3)
    with admin_db.read_session() as s:
        assert s.execute(sa.select(sa.func.count()).select_from(Fire).where(in_ids(Fire.__table__.c.id, []))).scalar_one() == 0


def test_more_ids_than_a_statement_may_bind(admin_db):
    """Beyond SQLite's (and any driver's) limit on bound parameters: literals have none."""
    ids = add_fires(admin_db, 5)
    many = list(range(10_000_000, 10_040_000)) + ids[1:3]
    with admin_db.read_session() as s:
        assert list(s.execute(sa.select(Fire.id).where(in_ids(Fire.__table__.c.id, many)).order_by(Fire.id)).scalars()) == ids[1:3]


@pytest.mark.parametrize("bad", ["1) OR (1=1", 1.5, True, None, b"1"])
def test_anything_but_an_int_is_refused_before_any_sql(bad):
    with pytest.raises(TypeError):
        in_ids(Fire.__table__.c.id, [1, bad])


def test_short_lists_share_one_compiled_statement(admin_db):
    """Up to SHORT_LIST ids are bound: other ids, same SQL text, compiled once and cached."""
    from shardcron.admin.firing.id_lists import SHORT_LIST

    ids = add_fires(admin_db, SHORT_LIST + 1)
    fire = Fire.__table__.c
    texts = set()
    with admin_db.read_session() as s:
        for chosen in (ids[:1], ids[1:3], ids[3:SHORT_LIST]):
            stmt = sa.select(fire.id).where(in_ids(fire.id, chosen)).order_by(fire.id)
            assert list(s.execute(stmt).scalars()) == chosen
            texts.add(str(stmt.compile(dialect=admin_db.engine.dialect)))
        longer = sa.select(fire.id).where(in_ids(fire.id, ids)).order_by(fire.id)
        assert list(s.execute(longer).scalars()) == ids
    assert len(texts) == 1
    assert str(ids[-1]) in str(longer.compile(dialect=admin_db.engine.dialect))  # a long list: literals


def _refs_where(ids: sa.ColumnElement[bool]) -> sa.Select:
    return sa.select(Fire.__table__.c.origin_ref).where(ids)


def test_execute_for_ids_reads_the_same_rows_for_a_short_list_and_a_long_one(admin_db):
    """A short list runs the statement built once (ids expanding), a longer one the statement
    built with literals: the same rows either way, and anything but ints refused first."""
    ids = add_fires(admin_db, SHORT_LIST + 8)
    refs = dict(zip(ids, range(1, len(ids) + 1), strict=True))
    with admin_db.read_session() as s:
        for chosen in (ids[:1], ids[2:SHORT_LIST + 2], ids[: SHORT_LIST + 5]):
            got = execute_for_ids(s, _refs_where, Fire.__table__.c.id, chosen).scalars().all()
            assert sorted(got) == [refs[i] for i in chosen]
        with pytest.raises(TypeError, match="an id must be an int"):
            execute_for_ids(s, _refs_where, Fire.__table__.c.id, [ids[0], "2; DROP TABLE sc_fire"])
