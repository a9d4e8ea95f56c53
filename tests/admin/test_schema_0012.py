"""Revision 0012 (sc_backfill) on a database at 0011 holding 0.1.0's rows, on SQLite, MariaDB and
PostgreSQL: every row is kept, the table starts empty and takes a backfill."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Backfill
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0012_adds_an_empty_backfill_table(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0011", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "sc_backfill" not in sa.inspect(engine).get_table_names()
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        table = Backfill.__table__
        with engine.begin() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one() == 0
            conn.execute(sa.insert(table).values(
                job_id=1, from_ms=0, to_ms=3_600_000, overlap_policy="ALLOW_ALL", pace=2, planned=2, created=0, next_at_ms=0,
                status="RUNNING", created_by="admin", created_at_ms=1,
            ))
            kept = conn.execute(sa.select(table.c.pace, table.c.status)).one()
        assert tuple(kept) == (2, "RUNNING")
    finally:
        engine.dispose()
