"""Fixtures for the dispatcher tests (tests.support.scheduler_fixtures)."""

from tests.support.scheduler_fixtures import admin_db, make_scheduler, receivers, sqlite_admin_db  # noqa: F401  (fixtures)
