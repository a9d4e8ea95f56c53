"""Revision 0008 (run checkpoints, resume) on a database at 0007 holding 0.1.0's rows, on SQLite,
MariaDB and PostgreSQL: every row is kept, old runs have no checkpoint (number 0) and old fires
resume from nothing; a checkpoint reported for an old run after the upgrade is stored."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shardcron.admin.db import init_schema
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.rpc.run_results import apply_checkpoints
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.protocol import CheckpointParam
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, database_at


def test_0008_gives_old_runs_no_checkpoint_and_then_takes_one(db_url: str) -> None:
    rows = RELEASES[0].admin_rows
    database_at(db_url, ADMIN_SCHEMA, "0007", rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        assert "checkpoint_json" not in {c["name"] for c in sa.inspect(engine).get_columns("sc_run_log")}
        init_schema(engine)
    finally:
        engine.dispose()
    assert_rows_kept(db_url, rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        with engine.begin() as conn:
            runs = conn.execute(sa.select(RunLog.id, RunLog.checkpoint_json, RunLog.checkpoint_seq, RunLog.resume_from_run_id)).all()
            assert runs and {(r.checkpoint_json, r.checkpoint_seq, r.resume_from_run_id) for r in runs} == {(None, 0, None)}
            assert set(conn.execute(sa.select(Fire.resume_from_run_id)).scalars()) <= {None}
        with sa.orm.Session(engine) as session, session.begin():
            outcome = apply_checkpoints(session, [CheckpointParam(runs[0].id, 1, {"next": 3})], 1_800_000_000_000)
        assert outcome.applied == [runs[0].id]
        with engine.connect() as conn:
            saved = conn.execute(sa.select(RunLog.checkpoint_json, RunLog.checkpoint_seq).where(RunLog.id == runs[0].id)).one()
        assert (json.loads(saved.checkpoint_json), saved.checkpoint_seq) == ({"next": 3}, 1)
    finally:
        engine.dispose()
