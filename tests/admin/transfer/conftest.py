"""Import tests: a database with groups and jobs made through the services, as a person would."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from shardcron.admin.db import Database, init_schema
from shardcron.admin.services import groups, jobs
from shardcron.admin.services.actor import Actor, cli_actor
from shardcron.admin.transfer.export import build_export
from shardcron.admin.transfer.importer import import_document
from shardcron.admin.transfer.plan import ImportOptions, ImportPlan

NOW = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def seeded_source(path: Path, seed_with: Callable[[Database], None]) -> Iterator[Database]:
    """A SQLite database at `path` filled by `seed_with`: the exporting side of a round trip."""
    db = Database(f"sqlite:///{path}", pool_size=1)
    init_schema(db.engine)
    seed_with(db)
    try:
        yield db
    finally:
        db.dispose()


@pytest.fixture
def target(db_url: str) -> Iterator[Database]:
    """An empty database on each backend: the importing side."""
    db = Database(db_url, pool_size=2)
    init_schema(db.engine)
    try:
        yield db
    finally:
        db.dispose()


def seed(db: Database) -> None:
    """Two groups (one MANUAL), jobs with children across groups, a script job, an enabled job."""
    actor = cli_actor("seeder")
    with db.session() as s:
        mail = groups.create_group(s, actor, {"app_name": "mail", "title": "Mail"}, now_ms=NOW).id
        orders = groups.create_group(
            s, actor, {"app_name": "orders", "title": "Orders", "address_type": "MANUAL", "manual_addresses": "http://10.0.0.5:9999/"}, now_ms=NOW
        ).id
        send = jobs.create_job(s, actor, {"group_id": mail, "name": "send", "schedule_conf": "0 * * * *", "handler": "send", "alarm_emails": "ops@example.com"}, now_ms=NOW).id
        jobs.start_job(s, actor, send, now_ms=NOW)
        report = jobs.create_job(
            s, actor, {"group_id": orders, "name": "report", "schedule_type": "NONE", "glue_type": "GLUE_SHELL", "glue_source": "echo report", "child_job_ids": [send]},
            now_ms=NOW,
        ).id
        jobs.create_job(
            s, actor,
            {"group_id": orders, "name": "close", "schedule_conf": "30 2 * * *", "timezone": "Asia/Shanghai", "handler": "close", "child_job_ids": [report, send],
             "retry_count": 3, "jitter_s": 5, "overlap_policy": "SKIP", "param": "p=1", "alarm_webhook": "https://hooks.example.com/x"},
            now_ms=NOW,
        )  # fmt: skip


def export_of(db: Database, actor: Actor | None = None) -> dict[str, Any]:
    with db.read_session() as s:
        return build_export(s, None, actor)


def run_import(db: Database, document: dict[str, Any], actor: Actor | None = None, *, dry_run: bool = False, **options: Any) -> ImportPlan:
    session_of = db.read_session if dry_run else db.session
    with session_of() as s:
        return import_document(s, actor or cli_actor("importer"), document, ImportOptions(**options), dry_run=dry_run, now_ms=NOW + 1000, default_timezone="UTC", max_calendar_entries=1000)
