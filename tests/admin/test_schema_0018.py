"""Revision 0018 (workflow instance alarms) on a database at 0017 holding 0.1.0's rows, on SQLite,
MariaDB and PostgreSQL: every row is kept, an alarm without a run can be written for an instance
once per channel, run alarms keep their own unique key, and (SQLite's copied table) no alarm id
is handed out twice."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Alarm
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def _alarm(**values) -> dict:
    row = {"channel": "EMAIL", "target": "ops@example.com", "status": "PENDING", "attempts": 0, "next_attempt_at_ms": 5, "created_at_ms": 5}
    row.update(values)
    return row


def test_0018_keeps_run_alarms_and_takes_one_instance_alarm_per_channel(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0017", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        with engine.begin() as conn:  # the newest alarm is gone (retention, or by hand) before the upgrade
            conn.execute(sa.text("INSERT INTO sc_alarm (run_log_id, job_id, channel, target, status, attempts, next_attempt_at_ms, created_at_ms, job_paused) "
                                 "VALUES (900, 3, 'EMAIL', 'x@example.com', 'SENT', 1, 0, 0, :f)"), {"f": False})
            high = conn.execute(sa.text("SELECT MAX(id) FROM sc_alarm")).scalar_one()
            conn.execute(sa.text("DELETE FROM sc_alarm WHERE run_log_id = 900"))
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        table = Alarm.__table__
        with engine.begin() as conn:
            first = conn.execute(sa.insert(table).values(_alarm(workflow_instance_id=41))).inserted_primary_key[0]
            conn.execute(sa.insert(table).values(_alarm(workflow_instance_id=41, channel="WEBHOOK", target="https://hooks.example/wf")))
            conn.execute(sa.insert(table).values(_alarm(workflow_instance_id=42)))
            # a run alarm beside them, as the follow-up monitor writes it
            conn.execute(sa.insert(table).values(_alarm(run_log_id=77, job_id=3)))
        assert first > high  # an id is never handed out twice (SQLite copies the table)
        with pytest.raises(sa.exc.IntegrityError):
            with engine.begin() as conn:
                conn.execute(sa.insert(table).values(_alarm(workflow_instance_id=41, target="again@example.com")))
        with pytest.raises(sa.exc.IntegrityError):
            with engine.begin() as conn:
                conn.execute(sa.insert(table).values(_alarm(run_log_id=77, job_id=3, target="again@example.com")))
        with engine.connect() as conn:
            by_instance = conn.execute(
                sa.select(table.c.workflow_instance_id, sa.func.count()).where(table.c.workflow_instance_id.is_not(None)).group_by(table.c.workflow_instance_id)
                .order_by(table.c.workflow_instance_id)
            ).all()
            instance_rows = conn.execute(sa.select(table.c.run_log_id, table.c.job_id).where(table.c.workflow_instance_id == 42)).all()
            old = conn.execute(sa.select(table.c.workflow_instance_id).where(table.c.id == 1)).scalar_one()
        assert [tuple(r) for r in by_instance] == [(41, 2), (42, 1)]
        assert [tuple(r) for r in instance_rows] == [(None, None)]
        assert old is None  # the rows already there are run alarms
        assert init_schema(engine).changed is False
    finally:
        engine.dispose()
