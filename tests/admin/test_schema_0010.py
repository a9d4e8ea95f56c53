"""Revision 0010 (pause on failure: sc_job.pause_after_failures and its state, sc_alarm.job_paused)
on a database at 0009 holding 0.1.0's rows, on SQLite, MariaDB and PostgreSQL: every row is kept,
every job keeps today's behaviour (never pauses, nothing counted), every alarm announces no pause,
and a job given a limit afterwards keeps it."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Alarm, Job
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0010_leaves_existing_jobs_unpaused_and_off(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0009", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "pause_after_failures" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_job")}
        assert "job_paused" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_alarm")}
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        job, alarm = Job.__table__.c, Alarm.__table__.c
        with engine.begin() as conn:
            states = set(conn.execute(sa.select(job.pause_after_failures, job.consecutive_failures, job.paused_at_ms, job.paused_reason)).all())
            alarms = set(conn.execute(sa.select(alarm.job_paused)).scalars())
            job_id = conn.execute(sa.select(sa.func.min(job.id))).scalar_one()
            conn.execute(sa.update(Job.__table__).where(job.id == job_id).values(pause_after_failures=5))
            kept = conn.execute(sa.select(job.pause_after_failures).where(job.id == job_id)).scalar_one()
        assert states == {(0, 0, 0, None)}
        assert alarms == {False}
        assert kept == 5
    finally:
        engine.dispose()
