"""The DDL in sql/ and the SQLAlchemy models describe the same schema, on both engines."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.db import create_db_engine
from shardcron.admin.models import Base
from shardcron.executor.retry_tasks import metadata as retry_metadata
from tests.support.schema_snapshot import SQL_DIR, apply_ddl, drop_tables, snapshot

SCHEMAS = [
    pytest.param("admin.sql", Base.metadata, id="admin"),
    pytest.param("retry_task.sql", retry_metadata, id="retry_task"),
]


def _dialect_dir(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "mysql"


def _ddl_and_model_snapshots(url: str, ddl_file: str, metadata: sa.MetaData, mutate=None):
    engine = create_db_engine(url, pool_size=1)
    names = [t.name for t in metadata.sorted_tables]
    try:
        path = SQL_DIR / _dialect_dir(url) / ddl_file
        if mutate is not None:
            path = mutate(path)
        apply_ddl(engine, path)
        from_ddl = snapshot(engine, names)
        drop_tables(engine, list(reversed(names)))
        metadata.create_all(engine)
        from_models = snapshot(engine, names)
    finally:
        engine.dispose()
    return from_ddl, from_models


@pytest.mark.parametrize(("ddl_file", "metadata"), SCHEMAS)
def test_ddl_matches_models(db_url: str, ddl_file: str, metadata: sa.MetaData) -> None:
    from_ddl, from_models = _ddl_and_model_snapshots(db_url, ddl_file, metadata)
    assert from_ddl["tables"] == sorted(t.name for t in metadata.sorted_tables)
    for table in from_ddl["tables"]:
        assert from_ddl[table] == from_models[table], f"table {table} differs between sql/ and the models"
    if db_url.startswith("mysql"):
        for table in from_ddl["tables"]:
            assert from_ddl[table]["engine"] == "InnoDB"
            assert from_ddl[table]["collation"].startswith("utf8mb4")
    else:
        assert all(from_ddl[t]["autoincrement"] for t in from_ddl["tables"] if from_ddl[t]["primary_key"] == ("id",))


def test_due_job_query_and_log_filters_are_indexed(db_url: str) -> None:
    from_ddl, _ = _ddl_and_model_snapshots(db_url, "admin.sql", Base.metadata)
    job_indexes = {cols for _, cols, _ in from_ddl["sc_job"]["indexes"]}
    assert ("enabled", "next_fire_at_ms") in job_indexes
    run_indexes = {cols for _, cols, _ in from_ddl["sc_run_log"]["indexes"]}
    for cols in [("job_id", "trigger_at_ms"), ("group_id", "trigger_at_ms"), ("status", "trigger_at_ms"), ("trigger_at_ms",)]:
        assert cols in run_indexes
    fire_uniques = {cols for _, cols, unique in from_ddl["sc_fire"]["indexes"] if unique} | {
        cols for _, cols in from_ddl["sc_fire"]["unique"]
    }
    assert ("job_id", "fire_at_ms", "trigger_type", "origin_ref") in fire_uniques


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("name                     VARCHAR(128) NOT NULL", "name                     VARCHAR(100) NOT NULL"),
        ("param                    TEXT         NULL", "param                    TEXT         NOT NULL"),
    ],
    ids=["type", "nullability"],
)
def test_comparison_catches_drift(db_url: str, tmp_path, old: str, new: str) -> None:
    def mutate(path):
        text = path.read_text(encoding="utf-8")
        assert old in text
        changed = tmp_path / path.name
        changed.write_text(text.replace(old, new, 1), encoding="utf-8")
        return changed

    from_ddl, from_models = _ddl_and_model_snapshots(db_url, "admin.sql", Base.metadata, mutate)
    assert from_ddl["sc_job"] != from_models["sc_job"]


def test_comparison_catches_a_missing_index(db_url: str, tmp_path) -> None:
    def mutate(path):
        text = path.read_text(encoding="utf-8")
        if "sqlite" in str(path):
            text = text.replace("CREATE INDEX IF NOT EXISTS ix_run_fire ON sc_run_log (fire_id);", "")
        else:
            text = text.replace("  KEY ix_run_fire (fire_id),\n", "")
        changed = tmp_path / path.name
        changed.write_text(text, encoding="utf-8")
        return changed

    from_ddl, from_models = _ddl_and_model_snapshots(db_url, "admin.sql", Base.metadata, mutate)
    assert from_ddl["sc_run_log"]["indexes"] != from_models["sc_run_log"]["indexes"]
