"""Revision 0014 (calendars) on a database at 0013 holding 0.1.0's rows, on SQLite, MariaDB and
PostgreSQL: every row is kept, every job uses no calendar (nothing is skipped), and a calendar
with entries can be stored and named by a job afterwards."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Calendar, CalendarEntry, Job
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0014_gives_existing_jobs_no_calendar(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0013", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        inspector = sa.inspect(engine)
        assert "calendar_ids" not in {c["name"] for c in inspector.get_columns("sc_job")}
        assert "sc_calendar" not in inspector.get_table_names()
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        job = Job.__table__.c
        with engine.begin() as conn:
            assert set(conn.execute(sa.select(job.calendar_ids)).scalars()) == {""}
            calendar_id = conn.execute(
                sa.insert(Calendar.__table__).values(name="holidays", timezone="Europe/Berlin", description="", version=1, created_at_ms=1, updated_at_ms=1)
            ).inserted_primary_key[0]
            conn.execute(sa.insert(CalendarEntry.__table__).values(
                calendar_id=calendar_id, start_date=dt.date(2026, 12, 24), end_date=dt.date(2026, 12, 26), label="office closed",
            ))
            job_id = conn.execute(sa.select(sa.func.min(job.id))).scalar_one()
            conn.execute(sa.update(Job.__table__).where(job.id == job_id).values(calendar_ids=str(calendar_id)))
            kept = conn.execute(sa.select(job.calendar_ids).where(job.id == job_id)).scalar_one()
            entry = conn.execute(sa.select(CalendarEntry.__table__.c.start_date, CalendarEntry.__table__.c.end_date)).one()
        assert kept == str(calendar_id)
        assert tuple(entry) == (dt.date(2026, 12, 24), dt.date(2026, 12, 26))
    finally:
        engine.dispose()
