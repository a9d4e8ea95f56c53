"""workflow instance alarms

sc_alarm also holds the alarms of workflow instances that ended FAILED or TIMED_OUT: a nullable
`workflow_instance_id`, unique with the channel (uq_alarm_instance_channel), and `run_log_id` /
`job_id` made nullable (an instance's alarm has no run). Every unique key of the three backends
lets NULLs repeat, so run alarms (instance NULL) and instance alarms (run NULL) never collide.

SQLite cannot drop a NOT NULL in place: the table is copied into a new one (Alembic's batch
mode) from its definition at 0017, inside the upgrade's one transaction, with its AUTOINCREMENT
high-water mark carried over so no alarm id is handed out twice. MySQL/MariaDB and PostgreSQL
alter the columns in place; each step may run again after a stop half-way (MySQL commits DDL
statement by statement). Every row is kept; the rows already there are run alarms.

Revision ID: 0018
Revises: 0017
Created: 2026-12-06 05:15:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from shardcron.core.schema_versions import steps

revision = '0018'
down_revision = '0017'
branch_labels = None
depends_on = None

UNIQUE = 'uq_alarm_instance_channel'


def _alarm_at_0017() -> sa.Table:
    """sc_alarm as revisions 0001 and 0010 left it (the copy's source on SQLite)."""
    return sa.Table(
        'sc_alarm', sa.MetaData(),
        sa.Column('id', sa.Integer(), autoincrement=True, nullable=False),
        sa.Column('run_log_id', sa.BigInteger(), nullable=False),
        sa.Column('job_id', sa.BigInteger(), nullable=False),
        sa.Column('channel', sa.String(length=16), nullable=False),
        sa.Column('target', sa.String(length=512), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at_ms', sa.BigInteger(), nullable=False),
        sa.Column('last_error', sa.Text(), nullable=True),
        sa.Column('created_at_ms', sa.BigInteger(), nullable=False),
        sa.Column('sent_at_ms', sa.BigInteger(), nullable=True),
        sa.Column('job_paused', sa.Boolean(), server_default='0', nullable=False),
        sa.PrimaryKeyConstraint('id'),
        sa.UniqueConstraint('run_log_id', 'channel', name='uq_alarm_run_channel'),
        sa.Index('ix_alarm_due', 'status', 'next_attempt_at_ms'),
        sqlite_autoincrement=True,
    )


def upgrade() -> None:
    if op.get_context().dialect.name == 'sqlite':
        _upgrade_sqlite()
        return
    steps.add_column('sc_alarm', sa.Column('workflow_instance_id', sa.BigInteger(), nullable=True))
    # Dropping NOT NULL again changes nothing: re-runnable as it is.
    op.alter_column('sc_alarm', 'run_log_id', existing_type=sa.BigInteger(), nullable=True)
    op.alter_column('sc_alarm', 'job_id', existing_type=sa.BigInteger(), nullable=True)
    if not _has_unique(UNIQUE):
        op.create_unique_constraint(UNIQUE, 'sc_alarm', ['workflow_instance_id', 'channel'])


def _has_unique(name: str) -> bool:
    if op.get_context().as_sql:
        return False
    inspector = sa.inspect(op.get_bind())
    names = {uq['name'] for uq in inspector.get_unique_constraints('sc_alarm')} | {ix['name'] for ix in inspector.get_indexes('sc_alarm')}
    return name in names


def _upgrade_sqlite() -> None:
    # The copy starts its AUTOINCREMENT from the highest id it holds; the old table's mark (an
    # alarm with a higher id may have been deleted) is kept aside and put back.
    op.execute("CREATE TEMP TABLE sc_alarm_seq_0018 AS SELECT seq FROM sqlite_sequence WHERE name = 'sc_alarm'")
    with op.batch_alter_table('sc_alarm', recreate='always', copy_from=_alarm_at_0017(), table_kwargs={'sqlite_autoincrement': True}) as batch:
        batch.alter_column('run_log_id', existing_type=sa.BigInteger(), nullable=True)
        batch.alter_column('job_id', existing_type=sa.BigInteger(), nullable=True)
        batch.add_column(sa.Column('workflow_instance_id', sa.BigInteger(), nullable=True))
        batch.create_unique_constraint(UNIQUE, ['workflow_instance_id', 'channel'])
    op.execute(
        "UPDATE sqlite_sequence SET seq = (SELECT MAX(seq) FROM sc_alarm_seq_0018) "
        "WHERE name = 'sc_alarm' AND seq < (SELECT MAX(seq) FROM sc_alarm_seq_0018)"
    )
    op.execute(
        "INSERT INTO sqlite_sequence (name, seq) SELECT 'sc_alarm', MAX(seq) FROM sc_alarm_seq_0018 "
        "WHERE EXISTS (SELECT 1 FROM sc_alarm_seq_0018) AND NOT EXISTS (SELECT 1 FROM sqlite_sequence WHERE name = 'sc_alarm')"
    )
    op.execute("DROP TABLE sc_alarm_seq_0018")

# Upgrades go forward only; to go back, restore the backup taken before the upgrade.
