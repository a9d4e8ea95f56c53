"""One schema, three descriptions kept equal on both engines: the models, the revisions, and the
DDL in sql/ (generated from the models, never edited; a stale file fails here)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.db import create_db_engine
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.admin.schema.new_revision import model_changes
from shardcron.admin.schema.sql_files import REPOSITORY_SQL_DIR, stale_files
from shardcron.executor.retry_tasks.schema import RETRY_TASK_SCHEMA
from shardcron.core.schema_versions.spec import VersionedSchema
from shardcron.core.schema_versions.status import head_revision, scripts
from shardcron.core.schema_versions.upgrade import upgrade_schema
from tests.support.released import dialect_dir
from tests.support.schema_snapshot import SQL_DIR, apply_ddl, drop_tables, snapshot

SCHEMAS = [
    pytest.param("admin.sql", ADMIN_SCHEMA, id="admin"),
    pytest.param("retry_task.sql", RETRY_TASK_SCHEMA, id="retry_task"),
]


def _dialect_dir(url: str) -> str:
    return dialect_dir(url)


def _names(schema: VersionedSchema) -> list[str]:
    return [t.name for t in schema.metadata.sorted_tables]


def _three_snapshots(url: str, ddl_file: str, schema: VersionedSchema, mutate=None) -> tuple[dict, dict, dict]:
    """The schema from sql/ (applied as a DBA would), from the revisions, and from the models."""
    engine = create_db_engine(url, pool_size=1)
    names = _names(schema)
    everything = [schema.version_table, *reversed(names)]
    try:
        path = SQL_DIR / _dialect_dir(url) / ddl_file
        if mutate is not None:
            path = mutate(path)
        apply_ddl(engine, path)
        from_ddl = snapshot(engine, names + [schema.version_table])
        drop_tables(engine, everything)
        upgrade_schema(schema, engine)
        from_revisions = snapshot(engine, names + [schema.version_table])
        drop_tables(engine, everything)
        schema.metadata.create_all(engine)
        from_models = snapshot(engine, names)
    finally:
        engine.dispose()
    return from_ddl, from_revisions, from_models


def test_sql_files_are_generated_from_the_models() -> None:
    assert stale_files() == [], "sql/ is stale: run `python -m shardcron.admin.schema sql`"


def test_a_hand_edited_sql_file_counts_as_stale(tmp_path: Path) -> None:
    shutil.copytree(REPOSITORY_SQL_DIR, tmp_path / "sql")
    edited = tmp_path / "sql" / "mysql" / "retry_task.sql"
    edited.write_text(edited.read_text(encoding="utf-8").replace("task_code VARCHAR(64)", "task_code VARCHAR(80)"), encoding="utf-8")
    (tmp_path / "sql" / "sqlite" / "admin.sql").unlink()
    assert stale_files(tmp_path / "sql") == ["sqlite/admin.sql", "mysql/retry_task.sql"]


@pytest.mark.parametrize(("ddl_file", "schema"), SCHEMAS)
def test_sql_files_revisions_and_models_give_one_schema(db_url: str, ddl_file: str, schema: VersionedSchema) -> None:
    from_ddl, from_revisions, from_models = _three_snapshots(db_url, ddl_file, schema)
    assert from_ddl["tables"] == sorted(_names(schema) + [schema.version_table])
    assert from_ddl == from_revisions  # the version table too: a database made from sql/ is current
    for table in _names(schema):
        assert from_ddl[table] == from_models[table], f"table {table} differs between sql/ and the models"
    if db_url.startswith("mysql"):
        for table in _names(schema):
            assert from_ddl[table]["engine"] == "InnoDB"
            assert from_ddl[table]["collation"].startswith("utf8mb4")
    elif db_url.startswith("postgresql"):
        assert all(from_ddl[t]["auto_increment_columns"] == ["id"] for t in _names(schema) if from_ddl[t]["primary_key"] == ("id",))
    else:
        assert all(from_ddl[t]["autoincrement"] for t in _names(schema) if from_ddl[t]["primary_key"] == ("id",))


@pytest.mark.parametrize(("ddl_file", "schema"), SCHEMAS)
def test_autogenerate_finds_nothing_between_head_and_the_models(db_url: str, ddl_file: str, schema: VersionedSchema) -> None:
    engine = create_db_engine(db_url, pool_size=1)
    try:
        upgrade_schema(schema, engine)
        with engine.connect() as conn:
            assert model_changes(schema, conn) == []
    finally:
        engine.dispose()


@pytest.mark.parametrize(("ddl_file", "schema"), SCHEMAS)
def test_revision_history_is_one_numbered_line_of_frozen_files(ddl_file: str, schema: VersionedSchema) -> None:
    revisions = list(reversed(list(scripts(schema).walk_revisions())))
    assert [rev.revision for rev in revisions] == [f"{n:04d}" for n in range(1, len(revisions) + 1)]
    assert [rev.down_revision for rev in revisions] == [None, *(rev.revision for rev in revisions[:-1])]
    assert head_revision(schema) == revisions[-1].revision
    for rev in revisions:
        path = Path(rev.path)
        assert path.name.startswith(f"{rev.revision}_"), path.name
        # A revision describes its moment: it must not import models that keep changing.
        assert not re.search(r"^\s*(from|import) shardcron\.(admin|executor\.retry_tasks)", path.read_text(encoding="utf-8"), re.M), path.name


def test_due_job_query_and_log_filters_are_indexed(db_url: str) -> None:
    from_ddl, _, _ = _three_snapshots(db_url, "admin.sql", ADMIN_SCHEMA)
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
    [("  name VARCHAR(128) NOT NULL,", "  name VARCHAR(100) NOT NULL,"), ("  glue_source TEXT,", "  glue_source TEXT NOT NULL,")],
    ids=["type", "nullability"],
)
def test_comparison_catches_drift(db_url: str, tmp_path, old: str, new: str) -> None:
    def mutate(path):
        text = path.read_text(encoding="utf-8")
        # sc_job's line comes first (sc_glue_version has a glue_source column too); the assertion
        # below shows the change landed in sc_job.
        assert old in text
        changed = tmp_path / path.name
        changed.write_text(text.replace(old, new, 1), encoding="utf-8")
        return changed

    from_ddl, _, from_models = _three_snapshots(db_url, "admin.sql", ADMIN_SCHEMA, mutate)
    assert from_ddl["sc_job"] != from_models["sc_job"]


def test_comparison_catches_a_missing_index(db_url: str, tmp_path) -> None:
    def mutate(path):
        text = path.read_text(encoding="utf-8")
        line = "CREATE INDEX ix_run_fire ON sc_run_log (fire_id);\n"
        assert line in text
        changed = tmp_path / path.name
        changed.write_text(text.replace(line, ""), encoding="utf-8")
        return changed

    from_ddl, _, from_models = _three_snapshots(db_url, "admin.sql", ADMIN_SCHEMA, mutate)
    assert from_ddl["sc_run_log"]["indexes"] != from_models["sc_run_log"]["indexes"]


def test_the_sql_folder_is_the_repository_one() -> None:
    assert REPOSITORY_SQL_DIR == SQL_DIR


def test_version_table_rows_match_between_sql_and_revisions(db_url: str) -> None:
    engine = create_db_engine(db_url, pool_size=1)
    try:
        apply_ddl(engine, SQL_DIR / _dialect_dir(db_url) / "admin.sql")
        with engine.connect() as conn:
            assert conn.execute(sa.text(f"SELECT version_num FROM {ADMIN_SCHEMA.version_table}")).scalars().all() == [head_revision(ADMIN_SCHEMA)]
    finally:
        engine.dispose()
