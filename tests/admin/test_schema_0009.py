"""Revision 0009 (sc_job.jitter_s) on a database at 0008 holding 0.1.0's rows, on SQLite,
MariaDB and PostgreSQL: every row is kept, every job keeps today's behaviour (no jitter), and a
job given a jitter afterwards keeps it."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Job
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0009_gives_existing_jobs_no_jitter(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0008", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "jitter_s" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_job")}
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        job = Job.__table__.c
        with engine.begin() as conn:
            jitters = set(conn.execute(sa.select(job.jitter_s)).scalars())
            job_id = conn.execute(sa.select(sa.func.min(job.id))).scalar_one()
            conn.execute(sa.update(Job.__table__).where(job.id == job_id).values(jitter_s=90))
            kept = conn.execute(sa.select(job.jitter_s).where(job.id == job_id)).scalar_one()
        assert jitters == {0}
        assert kept == 90
    finally:
        engine.dispose()
