"""Alembic's entry point for the admin schema; everything it does is in `run_environment`."""

from shardcron.admin.schema import ADMIN_SCHEMA
from shardcron.core.schema_versions.environment import run_environment

run_environment(ADMIN_SCHEMA)
