"""Revision 0015 (workflows) on a database at 0014 holding 0.1.0's rows, on SQLite, MariaDB and
PostgreSQL: every row is kept, no fire or run belongs to a workflow, and a workflow with an
instance and a step run can be stored and a fire and run pointed at the step afterwards."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Fire, RunLog, Workflow, WorkflowInstance, WorkflowStepRun
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0015_adds_workflows_and_leaves_fires_and_runs_outside_them(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0014", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        inspector = sa.inspect(engine)
        assert "sc_workflow" not in inspector.get_table_names()
        assert "step_run_id" not in {c["name"] for c in inspector.get_columns("sc_run_log")}
        init_schema(engine)
        assert_rows_kept(db_url, rows)
        fire, run = Fire.__table__.c, RunLog.__table__.c
        with engine.begin() as conn:
            assert set(conn.execute(sa.select(fire.step_run_id)).scalars()) == {None}
            assert set(conn.execute(sa.select(run.step_run_id)).scalars()) == {None}
            group_id = conn.execute(sa.text("SELECT MIN(id) FROM sc_executor_group")).scalar_one()
            job_id = conn.execute(sa.text("SELECT MIN(id) FROM sc_job")).scalar_one()
            definition = json.dumps({"steps": [{"key": "extract", "job_id": job_id}], "edges": []})
            workflow_id = conn.execute(sa.insert(Workflow.__table__).values(
                group_id=group_id, name="nightly", description="", author="", definition_json=definition, version=1,
                schedule_type="NONE", schedule_conf="", timezone="UTC", misfire_strategy="DO_NOTHING", overlap_policy="ALLOW_ALL",
                timeout_s=0, alarm_emails="", alarm_webhook="", enabled=False, next_fire_at_ms=0, last_fire_at_ms=0,
                created_at_ms=1, updated_at_ms=1,
            )).inserted_primary_key[0]
            instance_id = conn.execute(sa.insert(WorkflowInstance.__table__).values(
                workflow_id=workflow_id, workflow_version=1, definition_json=definition, trigger_type="MANUAL", planned_at_ms=5,
                origin_ref=7, status="RUNNING", triggered_by="ann", created_at_ms=5, started_at_ms=5, deadline_at_ms=0,
            )).inserted_primary_key[0]
            step_id = conn.execute(sa.insert(WorkflowStepRun.__table__).values(
                instance_id=instance_id, step_key="extract", generation=0, job_id=job_id, status="FIRED", created_at_ms=5,
            )).inserted_primary_key[0]
            run_id = conn.execute(sa.select(sa.func.min(run.id))).scalar_one()
            conn.execute(sa.update(RunLog.__table__).where(run.id == run_id).values(step_run_id=step_id))
            kept = conn.execute(sa.select(run.step_run_id).where(run.id == run_id)).scalar_one()
            by_step = conn.execute(sa.select(run.id).where(run.step_run_id == step_id)).scalars().all()
        assert kept == step_id
        assert by_step == [run_id]
    finally:
        engine.dispose()
