"""Revision 0013 (concurrency caps: sc_executor_group.cap_runs/cap_policy/cap_wait_s,
sc_job.cap_runs) on a database at 0012 holding 0.1.0's rows, on SQLite, MariaDB and PostgreSQL:
every row is kept, no group or job gets a cap (today's behaviour), and a cap set afterwards is
kept."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import ExecutorGroup, Job
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0013_gives_existing_groups_and_jobs_no_cap(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0012", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "cap_runs" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_executor_group")}
        assert "cap_runs" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_job")}
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        group, job = ExecutorGroup.__table__.c, Job.__table__.c
        with engine.begin() as conn:
            groups = set(conn.execute(sa.select(group.cap_runs, group.cap_policy, group.cap_wait_s)).all())
            jobs = set(conn.execute(sa.select(job.cap_runs)).scalars())
            group_id = conn.execute(sa.select(sa.func.min(group.id))).scalar_one()
            job_id = conn.execute(sa.select(sa.func.min(job.id))).scalar_one()
            conn.execute(sa.update(ExecutorGroup.__table__).where(group.id == group_id).values(cap_runs=4, cap_policy="SKIP", cap_wait_s=30))
            conn.execute(sa.update(Job.__table__).where(job.id == job_id).values(cap_runs=1))
            kept = conn.execute(sa.select(group.cap_runs, group.cap_policy, group.cap_wait_s).where(group.id == group_id)).one()
            kept_job = conn.execute(sa.select(job.cap_runs).where(job.id == job_id)).scalar_one()
        assert groups == {(None, "WAIT", 60)}
        assert jobs == {None}
        assert tuple(kept) == (4, "SKIP", 30) and kept_job == 1
    finally:
        engine.dispose()
