"""Retry-task revision 0002 (the claim table of PostgreSQL's held claims) on a table at 0001 holding
0.1.0's rows, on SQLite, MariaDB and PostgreSQL: every row is kept, the claim table is there, and
an upgrade stopped after creating it (MySQL commits DDL statement by statement) resumes."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.core.clock import FakeClock
from shardcron.executor.retry_tasks import RetryTasks
from shardcron.executor.retry_tasks.schema import CLAIM_TABLE_NAME, RETRY_TASK_SCHEMA, retry_claim
from tests.support.released import RELEASES, assert_rows_kept, database_at, table_names
from tests.support.released import rows_0_1_0 as facts


def test_0002_adds_the_claim_table_and_keeps_every_task(db_url: str) -> None:
    rows = RELEASES[0].retry_task_rows
    database_at(db_url, RETRY_TASK_SCHEMA, "0001", rows)
    assert CLAIM_TABLE_NAME not in table_names(db_url)
    tasks = RetryTasks(db_url, clock=FakeClock(facts.T), owner="upgraded")
    try:
        assert tasks.create_table() is False
        assert tasks.db.schema_status().is_current
        assert_rows_kept(db_url, rows)
        assert {c["name"] for c in sa.inspect(tasks.engine).get_columns(CLAIM_TABLE_NAME)} == {"id", "owner", "task_ids", "claim_xid", "created_at_ms"}
        tasks.handler("SEND_SMS")(lambda task: "sent")
        tasks.handler("SYNC_ORDER")(lambda task: "synced")
        assert tasks.drain().succeeded == len(facts.DUE_TASKS)
        with tasks.engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.count()).select_from(retry_claim)).scalar_one() == 0
    finally:
        tasks.close()


def test_0002_resumes_after_a_stop_once_the_table_was_created(db_url: str) -> None:
    """The claim table created, the revision not yet recorded (a stop between MySQL's DDL
    statements): the upgrade runs again without failing on the table it finds."""
    database_at(db_url, RETRY_TASK_SCHEMA, "0001", RELEASES[0].retry_task_rows)
    engine = sa.create_engine(db_url)
    try:
        with engine.begin() as conn:
            retry_claim.create(conn)
    finally:
        engine.dispose()
    tasks = RetryTasks(db_url)
    try:
        assert tasks.create_table() is False
        assert tasks.db.schema_status().is_current
    finally:
        tasks.close()
