"""The claim table: PostgreSQL drainers record here which attempts a held batch began.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.core.schema_versions import steps

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
ID_TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin", "sqlite_autoincrement": True}


def upgrade() -> None:
    steps.create_table(
        "shardcron_retry_claim",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("owner", sa.String(length=128), nullable=False),
        sa.Column("task_ids", sa.Text(), nullable=False),
        sa.Column("claim_xid", sa.BigInteger(), nullable=False),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        **ID_TABLE_OPTIONS,
    )
