"""Revision 0005 (the audit trail, sc_audit) on a database at 0004 holding 0.1.0's rows, on SQLite,
MariaDB and PostgreSQL: every row is kept, the trail starts empty, and the first changes made
after the upgrade are recorded in it, readable through the audit list with its filters."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import AuditAction
from shardcron.admin.models import AuditEntry
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.admin.services import audit_query, jobs, users
from shardcron.admin.services.paging import PageRequest
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at
from tests.support.released import rows_0_1_0 as facts


def test_0005_adds_an_empty_trail_that_records_the_first_changes(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0004", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "sc_audit" not in sa.inspect(engine).get_table_names()
        init_schema(engine)
        assert "sc_audit" in sa.inspect(engine).get_table_names()
    finally:
        engine.dispose()
    assert_rows_kept(db_url, rows)

    database = Database(db_url, pool_size=1)
    job = rows["sc_job"][0]
    try:
        with database.read_session() as session:
            assert session.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0
        with database.session() as session:
            alice = users.authenticate(session, "alice", facts.ALICE_PASSWORD, facts.T)
            assert alice is not None
            jobs.stop_job(session, alice, job["id"], now_ms=facts.T + 1)
            jobs.update_job(session, alice, job["id"], {"author": "after the upgrade"}, now_ms=facts.T + 2)
        with database.read_session() as session:
            page = audit_query.list_entries(session, alice, audit_query.AuditFilter.parse({"target_type": "job", "target_id": str(job["id"])}), PageRequest())
        newest = page.items[0]
        assert (newest.action, newest.actor_name, newest.target_name, newest.group_id) == (AuditAction.JOB_UPDATE.value, "alice", job["name"], job["group_id"])
        assert newest.before == {"author": job["author"]} and newest.after == {"author": "after the upgrade"}
    finally:
        database.dispose()
