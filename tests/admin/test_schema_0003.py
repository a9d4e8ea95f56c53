"""Revision 0003 (script rights, glue versions) on a database holding 0.1.0's rows at 0002, SQLite
and MariaDB: every existing grant starts without the script right, and each script job already
there gets its current script as its first kept version (nothing else changes)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import GlueVersion
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.admin.services import glue_versions, jobs, users
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Forbidden
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at, read_rows
from tests.support.released import rows_0_1_0 as facts

SCRIPT_JOB = 4  # "say hello", GLUE_SHELL, in group 1
BOB = 2  # a USER granted group 2


def test_0003_keeps_rows_starts_grants_without_script_rights_and_seeds_versions(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0002", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        init_schema(engine)
        assert read_rows(engine, "sc_user_group", ["user_id", "group_id", "may_run_scripts"]) == [{"user_id": BOB, "group_id": 2, "may_run_scripts": 0}]
        seeded = read_rows(engine, "sc_glue_version", ["job_id", "glue_type", "glue_source", "author_user_id", "author_name", "created_at_ms"])
    finally:
        engine.dispose()
    script = next(job for job in rows["sc_job"] if job["id"] == SCRIPT_JOB)
    assert [job["id"] for job in rows["sc_job"] if job["glue_type"] != "BEAN"] == [SCRIPT_JOB]
    assert seeded == [{
        "job_id": SCRIPT_JOB, "glue_type": "GLUE_SHELL", "glue_source": script["glue_source"], "author_user_id": None,
        "author_name": "system", "created_at_ms": script["glue_updated_at_ms"],
    }]
    assert_rows_kept(db_url, rows)

    database = Database(db_url, pool_size=1)
    try:
        with database.session() as s:
            users.set_grants(s, SYSTEM_ACTOR, BOB, [1, 2], now_ms=facts.T)
            bob = users.actor_for_user(s, BOB)
        assert bob is not None and not bob.can_write_scripts(1)
        with pytest.raises(Forbidden):
            with database.session() as s:
                jobs.update_job(s, bob, SCRIPT_JOB, {"glue_source": "id"}, now_ms=facts.T)
        with database.session() as s:
            jobs.update_job(s, SYSTEM_ACTOR, SCRIPT_JOB, {"glue_source": "echo 'hello again'\n"}, now_ms=facts.T)
        with database.read_session() as s:
            newest = glue_versions.list_versions(s, SYSTEM_ACTOR, SCRIPT_JOB)[0]
            detail = glue_versions.get_version(s, SYSTEM_ACTOR, SCRIPT_JOB, newest.id)
            assert s.scalar(sa.select(sa.func.count()).select_from(GlueVersion)) == 2
        assert "-echo 'hello'\n+echo 'hello again'\n" in detail.diff
    finally:
        database.dispose()
