"""Revision 0007 (sc_job.overlap_policy, sc_fire.overlap_note) on a database at 0006 holding
0.1.0's rows, on SQLite, MariaDB and PostgreSQL: every row is kept, every job keeps today's
behaviour (ALLOW_ALL), existing fires carry no note, and a job given SKIP afterwards keeps it."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.enums import OverlapPolicy
from shardcron.admin.models import Fire, Job
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0007_gives_existing_jobs_allow_all_and_fires_no_note(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0006", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "overlap_policy" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_job")}
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        with engine.begin() as conn:
            policies = set(conn.execute(sa.select(Job.__table__.c.overlap_policy)).scalars())
            notes = set(conn.execute(sa.select(Fire.__table__.c.overlap_note)).scalars())
            job_id = conn.execute(sa.select(sa.func.min(Job.__table__.c.id))).scalar_one()
            conn.execute(sa.update(Job.__table__).where(Job.__table__.c.id == job_id).values(overlap_policy=OverlapPolicy.SKIP))
            kept = conn.execute(sa.select(Job.__table__.c.overlap_policy).where(Job.__table__.c.id == job_id)).scalar_one()
        assert policies == {OverlapPolicy.ALLOW_ALL}
        assert notes <= {None}
        assert kept == OverlapPolicy.SKIP
    finally:
        engine.dispose()
