"""schemathesis against the API's own OpenAPI document: no input gives a 5xx, and every answer
matches the documented schema (issue 17, item 4).

The document is the one /api/v1/openapi.json serves (the first test checks that they are the
same). Each operation gets a fresh app on a real SQLite database holding a group, a job, a run
and a fire (so id 1 exists and other ids do not), called in-process through the WSGI app with an
admin's API token. Examples are few and derandomized, so the module stays fast and a failure
replays.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from flask import Flask
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance

from shardcron.admin import create_app
from shardcron.admin.api.openapi import DOCUMENT
from shardcron.admin.config import load_config
from shardcron.admin.db import Database, init_schema
from shardcron.admin.enums import TriggerType, UserRole
from shardcron.admin.services import triggers, users
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.core.clock import FakeClock
from tests.support.admin_data import NOW, PASSWORD, add_executor, add_group, add_job, add_run

CHECKS = [not_a_server_error, response_schema_conformance]
# A JSON round trip, as a client reads it (tuples become lists).
schema = schemathesis.openapi.from_dict(json.loads(json.dumps(DOCUMENT)))


def build_seeded(tmp_path: Path) -> tuple[Flask, Database, str]:
    """An admin app on a new SQLite database with an admin's API token and one of everything: a
    group with a live executor (an address where nothing listens, so log and kill calls fail
    fast), a job, a run and a fire."""
    url = f"sqlite:///{tmp_path / 'admin.db'}"
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path / "instance"), "database_url": url, "access_token": "executor-token-for-schemathesis"})
    db = Database(url)
    init_schema(db.engine)
    app = create_app(config, db=db, clock=FakeClock(NOW))
    group = add_group(db, "orders")
    add_executor(db, "orders", "http://127.0.0.1:9")
    job = add_job(db, group)
    add_run(db, job, group)
    with db.session() as s:
        triggers.trigger_job(s, SYSTEM_ACTOR, job, now_ms=NOW, trigger_type=TriggerType.API)
        admin = users.create_user(s, SYSTEM_ACTOR, "root", PASSWORD, UserRole.ADMIN, [], now_ms=NOW)
        token = users.issue_api_token(s, SYSTEM_ACTOR, admin.id, now_ms=NOW)
    return app, db, token


@pytest.fixture
def seeded(tmp_path: Path) -> Iterator[tuple[Flask, str]]:
    app, db, token = build_seeded(tmp_path)
    yield app, token
    db.dispose()


def test_the_fuzzed_document_is_the_served_one(seeded) -> None:
    app, _ = seeded
    assert app.test_client().get("/api/v1/openapi.json").get_json() == json.loads(json.dumps(DOCUMENT))


@schema.parametrize()
@settings(max_examples=12, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
def test_no_input_breaks_the_api_or_its_schema(case, seeded) -> None:
    app, token = seeded
    case.call_and_validate(app=app, headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)


def test_chained_calls_never_break_the_api_or_its_schema(tmp_path: Path) -> None:
    """Stateful: schemathesis chains calls along the links it infers from the document (create a
    job, then read, change, trigger, copy or delete that job; follow a fire to its runs), so ids
    that exist are exercised, not only random ones. Each scenario starts from a new database, so
    a scenario replays the same way (Hypothesis shrinks by replaying)."""
    scenarios = itertools.count()
    apps: list[Database] = []

    class Workflow(schema.as_state_machine()):  # type: ignore[misc, valid-type]
        def setup(self) -> None:
            folder = tmp_path / f"scenario{next(scenarios)}"
            folder.mkdir()
            self.app, db, self.token = build_seeded(folder)
            apps.append(db)

        def get_call_kwargs(self, case):
            return {"app": self.app, "headers": {"Authorization": f"Bearer {self.token}"}}

        def validate_response(self, response, case, additional_checks=None, **kwargs) -> None:
            case.validate_response(response, checks=CHECKS)

    try:
        Workflow.run(settings=settings(max_examples=15, stateful_step_count=6, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck)))
    finally:
        for db in apps:
            db.dispose()
