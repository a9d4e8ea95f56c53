"""Baseline: the retry-task table of shardcron 0.1.0, the last release before versioned upgrades.

A table created by 0.1.0 (no version table beside it) is recognised by `shardcron tasks
upgrade` and recorded at this revision: every step below skips what exists. Frozen: this file
describes 0.1.0 and never changes; later changes are later revisions.

Revision ID: 0001
Revises:
"""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.core.schema_versions import steps

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

#: BIGINT ids, but INTEGER on SQLite, where only INTEGER PRIMARY KEY is the auto-incrementing rowid.
ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
#: AUTOINCREMENT on SQLite, so no id is ever handed out twice.
ID_TABLE_OPTIONS = {**TABLE_OPTIONS, "sqlite_autoincrement": True}


def upgrade() -> None:
    steps.create_table(
        "shardcron_retry_task",
        sa.Column("id", ID, autoincrement=True, nullable=False),
        sa.Column("task_code", sa.String(length=64), nullable=False),
        sa.Column("request_no", sa.String(length=128), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("max_attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("lease_owner", sa.String(length=128), nullable=True),
        sa.Column("lease_until_ms", sa.BigInteger(), nullable=False),
        sa.Column("stages_done", sa.Text(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("result", sa.Text(), nullable=True),
        sa.Column("created_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("updated_at_ms", sa.BigInteger(), nullable=False),
        sa.Column("finished_at_ms", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("task_code", "request_no", name="uq_retry_task_request"),
        **ID_TABLE_OPTIONS,
    )
    steps.create_index("ix_retry_task_due", "shardcron_retry_task", ["status", "next_attempt_at_ms"])
    steps.create_index("ix_retry_task_finished", "shardcron_retry_task", ["status", "finished_at_ms"])
