"""Alembic's entry point for the retry-task table; everything it does is in `run_environment`."""

from shardcron.executor.retry_tasks.schema import RETRY_TASK_SCHEMA
from shardcron.core.schema_versions.environment import run_environment

run_environment(RETRY_TASK_SCHEMA)
