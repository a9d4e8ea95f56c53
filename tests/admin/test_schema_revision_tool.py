"""The developer's path for a schema change: change the models, generate the revision, upgrade.

Runs the revision tool on a copy of the admin revisions with models changed the way the next
changes will be (a column on sc_job, a new table), then upgrades a released database with it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.models import Base
from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.admin.schema.new_revision import model_changes, new_revision, next_revision_id
from shardcron.core.errors import ShardcronError
from shardcron.core.schema_versions.offline import upgrade_sql
from shardcron.core.schema_versions.spec import NAMING_CONVENTION
from shardcron.core.schema_versions.status import SchemaState, head_revision, read_status
from shardcron.core.schema_versions.upgrade import upgrade_schema
from shardcron.core.sqlengine import create_db_engine
from tests.support.released import RELEASES, assert_rows_kept, read_rows, released_database
from tests.support.schema_copies import schema_copy


def _changed_models() -> sa.MetaData:
    """Today's models plus sc_job.owner and a sc_node_lease table (with an unnamed index)."""
    metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    metadata.tables["sc_job"].append_column(sa.Column("owner", sa.String(64), nullable=False, server_default=""))
    sa.Table(
        "sc_node_lease",
        metadata,
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("until_ms", sa.BigInteger, nullable=False, server_default="0"),
        sa.Index(None, "until_ms"),
        mysql_engine="InnoDB",
    )
    return metadata


def _following(schema) -> str:
    """The number the next revision gets."""
    return f"{int(head_revision(schema)) + 1:04d}"


def test_the_tool_writes_a_rerunnable_revision_that_upgrades_a_released_database(db_url: str, tmp_path: Path) -> None:
    schema = schema_copy(ADMIN_SCHEMA, tmp_path / "schema", metadata=_changed_models())
    head, following = head_revision(ADMIN_SCHEMA), _following(ADMIN_SCHEMA)
    assert next_revision_id(schema) == following
    path = new_revision(schema, "add sc_job.owner and sc_node_lease")
    text = path.read_text(encoding="utf-8")
    assert path.name == f"{following}_add_sc_job_owner_and_sc_node_lease.py"
    assert f"down_revision = '{head}'" in text
    assert "steps.add_column('sc_job', sa.Column('owner'" in text and "steps.create_table('sc_node_lease'" in text
    assert "ix_sc_node_lease_until_ms" in text  # the naming convention named the index
    assert "op.add_column" not in text and "op.create_table" not in text

    released_database(db_url, RELEASES[0], "admin", RELEASES[0].admin_rows)
    engine = create_db_engine(db_url, pool_size=1)
    try:
        with engine.connect() as conn:
            dba_script = upgrade_sql(schema, engine.dialect.name, read_status(schema, conn))
        assert "ALTER TABLE sc_job ADD COLUMN owner VARCHAR(64)" in dba_script
        result = upgrade_schema(schema, engine)
        assert result.after.state is SchemaState.CURRENT and result.after.revision == following
        assert "sc_node_lease" in result.created_tables  # (with the tables revisions since the release add)
        with engine.connect() as conn:
            assert model_changes(schema, conn) == []  # the revision does what the models say
    finally:
        engine.dispose()
    assert_rows_kept(db_url, RELEASES[0].admin_rows)
    plain = sa.create_engine(db_url)
    try:
        assert {row["owner"] for row in read_rows(plain, "sc_job", ["id", "owner"])} == {""}  # old rows got the server default
    finally:
        plain.dispose()


def test_the_tool_refuses_to_write_an_empty_revision_unless_asked(tmp_path: Path) -> None:
    schema = schema_copy(ADMIN_SCHEMA, tmp_path / "schema")
    with pytest.raises(ShardcronError, match="nothing to generate"):
        new_revision(schema, "nothing")
    path = new_revision(schema, "backfill by hand", empty=True)
    assert path.name == f"{_following(ADMIN_SCHEMA)}_backfill_by_hand.py" and "def upgrade() -> None:\n    pass" in path.read_text(encoding="utf-8")
