"""Revision 0017 (workflow documents as MEDIUMTEXT on MySQL/MariaDB) on a database at 0015 holding
0.1.0's rows, on SQLite, MariaDB and PostgreSQL: every row is kept, and a workflow definition, an
instance's copy of it and a step's upstream data over 65,535 bytes are stored whole."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Workflow, WorkflowInstance, WorkflowStepRun
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0017_stores_workflow_documents_over_64_kib(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0015", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        definition = json.dumps({"steps": [{"key": f"step-{i:04d}", "job_id": 1, "param": "x" * 80} for i in range(1000)], "edges": []})
        upstream = json.dumps({"extract": {"blob": "y" * 200_000}})
        assert len(definition) > 65_535
        with engine.begin() as conn:
            group_id = conn.execute(sa.text("SELECT MIN(id) FROM sc_executor_group")).scalar_one()
            workflow_id = conn.execute(sa.insert(Workflow.__table__).values(
                group_id=group_id, name="big", description="", author="", definition_json=definition, version=1,
                schedule_type="NONE", schedule_conf="", timezone="UTC", misfire_strategy="DO_NOTHING", overlap_policy="ALLOW_ALL",
                timeout_s=0, alarm_emails="", alarm_webhook="", enabled=False, next_fire_at_ms=0, last_fire_at_ms=0, created_at_ms=1, updated_at_ms=1,
            )).inserted_primary_key[0]
            instance_id = conn.execute(sa.insert(WorkflowInstance.__table__).values(
                workflow_id=workflow_id, workflow_version=1, definition_json=definition, trigger_type="MANUAL", planned_at_ms=5,
                origin_ref=7, status="RUNNING", triggered_by="ann", created_at_ms=5, deadline_at_ms=0,
            )).inserted_primary_key[0]
            step_id = conn.execute(sa.insert(WorkflowStepRun.__table__).values(
                instance_id=instance_id, step_key="load", generation=0, job_id=1, status="WAITING", created_at_ms=5, upstream_json=upstream,
            )).inserted_primary_key[0]
            stored = conn.execute(sa.select(WorkflowInstance.__table__.c.definition_json).where(WorkflowInstance.__table__.c.id == instance_id)).scalar_one()
            sent = conn.execute(sa.select(WorkflowStepRun.__table__.c.upstream_json).where(WorkflowStepRun.__table__.c.id == step_id)).scalar_one()
        assert stored == definition and sent == upstream
    finally:
        engine.dispose()
