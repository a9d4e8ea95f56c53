"""A copy of a schema's revisions in a temporary folder, with revisions of a test's own added:
for testing what upgrades do with a revision that fails, or with a change to the models."""

from __future__ import annotations

import dataclasses
import shutil
import textwrap
from pathlib import Path

import sqlalchemy as sa

from shardcron.core.schema_versions.spec import VersionedSchema


def schema_copy(schema: VersionedSchema, folder: Path, *, revisions: dict[str, str] | None = None, metadata: sa.MetaData | None = None) -> VersionedSchema:
    """`schema` with its revision scripts copied to `folder` plus `revisions` (file name -> text)."""
    shutil.copytree(schema.script_location, folder, ignore=shutil.ignore_patterns("__pycache__", "__init__.py", "__main__.py", "sql_files.py", "new_revision.py"))
    for name, text in (revisions or {}).items():
        (folder / "versions" / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return dataclasses.replace(schema, script_location=folder, metadata=metadata if metadata is not None else schema.metadata)


def failing_revision(revision: str, down_revision: str, marker: Path) -> str:
    """A revision that adds sc_job.owner and its index, then fails while `marker` exists, then
    creates sc_node_lease: half-way through, as a real failure would be."""
    return f'''
        """test: add sc_job.owner, fail half-way while {marker.name} exists"""
        import os

        import sqlalchemy as sa

        from shardcron.core.schema_versions import steps

        revision = "{revision}"
        down_revision = "{down_revision}"
        branch_labels = None
        depends_on = None


        def upgrade() -> None:
            steps.add_column("sc_job", sa.Column("owner", sa.String(64), nullable=False, server_default=""))
            steps.create_index("ix_sc_job_owner", "sc_job", ["owner"])
            if os.path.exists({str(marker)!r}):
                raise RuntimeError("the disk is full")
            steps.create_table("sc_node_lease", sa.Column("name", sa.String(64), primary_key=True), mysql_engine="InnoDB")
        '''
