"""Revision 0016 (sc_fire.planned_at_ms, sc_run_log.planned_at_ms) on a database at 0014 holding
0.1.0's rows, on SQLite, MariaDB and PostgreSQL: every row is kept, every fire and run keeps NULL
(its fire time is its planned time, as before), and a planned time set afterwards is kept."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0016_leaves_existing_fires_and_runs_at_their_fire_time(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    assert rows["sc_fire"] and rows["sc_run_log"]  # the test needs rows to upgrade
    database_at(db_url, ADMIN_SCHEMA, "0015", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        inspector = sa.inspect(engine)
        assert "planned_at_ms" not in {c["name"] for c in inspector.get_columns("sc_fire")}
        assert "planned_at_ms" not in {c["name"] for c in inspector.get_columns("sc_run_log")}
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        fire, run = Fire.__table__.c, RunLog.__table__.c
        with engine.begin() as conn:
            assert set(conn.execute(sa.select(fire.planned_at_ms)).scalars()) == {None}
            assert set(conn.execute(sa.select(run.planned_at_ms)).scalars()) == {None}
            run_id = conn.execute(sa.select(sa.func.min(run.id))).scalar_one()
            fire_at_ms = conn.execute(sa.select(run.fire_at_ms).where(run.id == run_id)).scalar_one()
            conn.execute(sa.update(RunLog.__table__).where(run.id == run_id).values(planned_at_ms=1_767_225_600_000))
            kept = conn.execute(sa.select(run.planned_at_ms, run.fire_at_ms).where(run.id == run_id)).one()
        assert tuple(kept) == (1_767_225_600_000, fire_at_ms)
    finally:
        engine.dispose()
