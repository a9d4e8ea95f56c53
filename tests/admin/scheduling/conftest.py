"""Fixtures for the scheduler process tests (tests.support.scheduler_fixtures)."""

from tests.support.scheduler_fixtures import admin_db, executors, fake_admin, make_scheduler, receivers, sqlite_admin_db  # noqa: F401  (fixtures)
