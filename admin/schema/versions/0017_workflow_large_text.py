"""workflow documents as MEDIUMTEXT on MySQL/MariaDB

A workflow's definition (up to workflow_max_steps = 1,000 steps), an instance's copy of it and its
parameters, and a step run's upstream data (up to workflow_upstream_max_bytes = 256 KiB) and
result data (a broadcast step's holds every shard's) outgrow MySQL's TEXT, which holds 65,535
bytes. They become MEDIUMTEXT (16 MiB) there. SQLite and PostgreSQL TEXT has no such bound:
nothing changes on them. Widening keeps every row; running it again changes nothing.

Revision ID: 0017
Revises: 0015
Created: 2026-12-06 02:12:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.mysql import MEDIUMTEXT

revision = '0017'
down_revision = '0015'
branch_labels = None
depends_on = None

#: (table, column, nullable)
COLUMNS = (
    ('sc_workflow', 'definition_json', False),
    ('sc_workflow_instance', 'definition_json', False),
    ('sc_workflow_instance', 'params_json', True),
    ('sc_workflow_step_run', 'upstream_json', True),
    ('sc_workflow_step_run', 'result_json', True),
)


def upgrade() -> None:
    if op.get_context().dialect.name not in ("mysql", "mariadb"):
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(table, column, existing_type=sa.Text(), type_=MEDIUMTEXT(), existing_nullable=nullable)


def downgrade() -> None:
    if op.get_context().dialect.name not in ("mysql", "mariadb"):
        return
    for table, column, nullable in COLUMNS:
        op.alter_column(table, column, existing_type=MEDIUMTEXT(), type_=sa.Text(), existing_nullable=nullable)
