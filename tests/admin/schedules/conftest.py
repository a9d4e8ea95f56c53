"""Fixtures for the routing tests, which route real fires to real executors (tests.support.scheduler_fixtures)."""

from tests.support.scheduler_fixtures import executors, fake_admin, make_scheduler, sqlite_admin_db  # noqa: F401  (fixtures)
