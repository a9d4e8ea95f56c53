"""Fixtures for the scheduler process tests (tests.support.scheduler_fixtures)."""

from tests.support.scheduler_fixtures import admin_db, make_scheduler, receivers  # noqa: F401  (fixtures)
