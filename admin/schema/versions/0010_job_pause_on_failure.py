"""job pause on failure

Revision ID: 0010
Revises: 0009
Created: 2026-12-05 21:11:28.236047
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op  # noqa: F401  (for what has no re-runnable step: op.execute, op.alter_column, ...)

from shardcron.core.schema_versions import steps  # noqa: F401

revision = '0010'
down_revision = '0009'
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Off for every job already there; the alarm rows already there announce no pause.
    steps.add_column('sc_alarm', sa.Column('job_paused', sa.Boolean(), server_default='0', nullable=False))
    steps.add_column('sc_job', sa.Column('pause_after_failures', sa.Integer(), server_default='0', nullable=False))
    steps.add_column('sc_job', sa.Column('consecutive_failures', sa.Integer(), server_default='0', nullable=False))
    steps.add_column('sc_job', sa.Column('paused_at_ms', sa.BigInteger(), server_default='0', nullable=False))
    steps.add_column('sc_job', sa.Column('paused_reason', sa.String(length=512), nullable=True))

# Upgrades go forward only; to go back, restore the backup taken before the upgrade.
