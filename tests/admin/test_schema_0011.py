"""Revision 0011 (sc_job.catchup_window_s) on a database at 0010 holding 0.1.0's rows, on SQLite,
MariaDB and PostgreSQL: every row is kept, every job keeps today's misfire behaviour (no catch-up
window), and a job given a window afterwards keeps it."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Job
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0011_gives_existing_jobs_no_catchup_window(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0010", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "catchup_window_s" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_job")}
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        job = Job.__table__.c
        with engine.begin() as conn:
            windows = set(conn.execute(sa.select(job.catchup_window_s)).scalars())
            strategies = set(conn.execute(sa.select(job.misfire_strategy)).scalars())
            job_id = conn.execute(sa.select(sa.func.min(job.id))).scalar_one()
            conn.execute(sa.update(Job.__table__).where(job.id == job_id).values(catchup_window_s=3600, misfire_strategy="CATCH_UP_ALL"))
            kept = conn.execute(sa.select(job.catchup_window_s, job.misfire_strategy).where(job.id == job_id)).one()
        assert windows == {0}
        assert strategies <= {"DO_NOTHING", "FIRE_ONCE_NOW"}
        assert tuple(kept) == (3600, "CATCH_UP_ALL")
    finally:
        engine.dispose()
