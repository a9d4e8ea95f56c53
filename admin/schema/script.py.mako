"""${message}

Revision ID: ${up_revision}
Revises: ${down_revision | comma,n}
Created: ${create_date}
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op  # noqa: F401  (for what has no re-runnable step: op.execute, op.alter_column, ...)

from shardcron.core.schema_versions import steps  # noqa: F401
${imports if imports else ""}
revision = ${repr(up_revision)}
down_revision = ${repr(down_revision)}
branch_labels = ${repr(branch_labels)}
depends_on = ${repr(depends_on)}


def upgrade() -> None:
    ${upgrades if upgrades else "pass"}

# Upgrades go forward only; to go back, restore the backup taken before the upgrade.
