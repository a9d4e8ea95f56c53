"""Import of calendars: created through the calendar service, matched by name, named by jobs."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.db import Database
from shardcron.admin.enums import UserRole
from shardcron.admin.models import AuditEntry, Calendar, Job
from shardcron.admin.services import calendars, groups, jobs
from shardcron.admin.services.actor import Actor, cli_actor
from shardcron.admin.transfer.importer import ImportRefused
from shardcron.admin.transfer.plan import Action, OnConflict

from .conftest import NOW, export_of, run_import, seeded_source


def seed(db: Database) -> None:
    """A group, two calendars (one unused), a job using one and a job using both."""
    actor = cli_actor("seeder")
    with db.session() as s:
        mail = groups.create_group(s, actor, {"app_name": "mail", "title": "Mail"}, now_ms=NOW).id
        common = {"now_ms": NOW, "default_timezone": "UTC", "max_entries": 100}
        calendars.create_calendar(
            s, actor, {"name": "holidays", "timezone": "Europe/Berlin", "description": "office", "entries": "2026-12-24..2026-12-26 office closed\n2026-01-01"},
            **common,
        )
        calendars.create_calendar(s, actor, {"name": "freeze", "entries": ["2026-06-01..2026-06-07 release freeze"]}, **common)
        calendars.create_calendar(s, actor, {"name": "unused"}, **common)
        send = jobs.create_job(s, actor, {"group_id": mail, "name": "send", "schedule_conf": "0 * * * *", "handler": "send", "calendars": ["holidays"]}, now_ms=NOW).id
        jobs.start_job(s, actor, send, now_ms=NOW)
        jobs.create_job(s, actor, {"group_id": mail, "name": "digest", "schedule_conf": "0 8 * * *", "handler": "digest", "calendars": ["freeze", "holidays"]}, now_ms=NOW)


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Database]:
    yield from seeded_source(tmp_path / "source.db", seed)


def _refused(db: Database, document: dict, actor: Actor | None = None, **options: object) -> list[str]:
    with pytest.raises(ImportRefused) as refused:
        run_import(db, document, actor, **options)
    return [p.line() for p in refused.value.problems]


def test_round_trip_with_calendars_gives_the_same_document(source: Database, target: Database) -> None:
    document = export_of(source)
    assert [c["name"] for c in document["calendars"]] == ["freeze", "holidays", "unused"]
    plan = run_import(target, document, keep_state=True)
    assert [(step.name, step.action) for step in plan.calendars] == [("freeze", Action.CREATE), ("holidays", Action.CREATE), ("unused", Action.CREATE)]
    assert export_of(target) == document
    with target.read_session() as s:
        by_name = {c.name: c.id for c in s.scalars(sa.select(Calendar))}
        digest = s.scalars(sa.select(Job).where(Job.name == "digest")).one()
        assert digest.calendar_ids == f"{by_name['freeze']},{by_name['holidays']}"
        actions = sorted(e.action for e in s.scalars(sa.select(AuditEntry)))
        assert actions == sorted(["group.create", "calendar.create", "calendar.create", "calendar.create", "job.create", "job.create", "job.start"])
    again = run_import(target, document)  # skip: everything exists
    assert {step.action for step in again.calendars} == {Action.SKIP}


def test_conflicting_calendars_skip_update_or_fail(source: Database, target: Database) -> None:
    document = export_of(source)
    run_import(target, document, keep_state=True)
    changed = copy.deepcopy(document)
    holidays = next(c for c in changed["calendars"] if c["name"] == "holidays")
    holidays["entries"] = ["2026-12-31 new year's eve"]
    holidays["description"] = "changed"
    run_import(target, changed)  # skip leaves it as it is
    assert export_of(target) == document
    plan = run_import(target, changed, on_conflict=OnConflict.UPDATE)
    assert {step.name: (step.action, step.unchanged) for step in plan.calendars}["holidays"] == (Action.UPDATE, False)
    assert {step.name: step.unchanged for step in plan.calendars}["freeze"] is True
    assert export_of(target)["calendars"] == changed["calendars"]
    assert "calendars[0].name: calendar 'freeze' exists already (on_conflict is fail)" in _refused(target, changed, on_conflict=OnConflict.FAIL)


def test_bad_calendars_are_named_with_their_place(target: Database) -> None:
    document = {
        "shardcron_export": 1,
        "groups": [{"app_name": "mail"}],
        "calendars": [
            {"name": "holidays", "colour": "red", "entries": ["2026-12-24", "2026-13-01 not a month"]},
            {"name": "freeze", "timezone": "Mars/Olympus"},
            {"name": "holidays"},
            "x",
        ],
        "jobs": [
            {"group": "mail", "name": "send", "handler": "send", "schedule_conf": "0 * * * *", "calendars": ["holidays", "missing"]},
            {"group": "mail", "name": "other", "handler": "other", "schedule_conf": "0 * * * *", "calendars": "freeze"},
        ],
    }
    assert _refused(target, document) == [
        "calendars[0].colour: unknown field",
        "calendars[0].entries: 1 bad entry: entry 2: '2026-13-01' is not a date (YYYY-MM-DD)",
        "calendars[1].timezone: 'Mars/Olympus' is not an IANA time zone name (e.g. UTC, Europe/Berlin)",
        "calendars[2].name: 'holidays' is also at calendars[0]",
        "calendars[3]: must be an object",
        "jobs[0].calendars: no calendar named 'missing' in the document or the database",
        "jobs[1].calendars: must be a list of calendar names",
    ]
    with target.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Calendar)) == 0


def test_a_job_keeps_a_planned_time_with_the_documents_calendars(target: Database) -> None:
    document = {
        "shardcron_export": 1,
        "groups": [{"app_name": "mail"}],
        "calendars": [{"name": "all-year", "entries": ["2026-01-01..2040-12-31"]}],
        "jobs": [{"group": "mail", "name": "yearly", "handler": "h", "schedule_conf": "0 0 1 1 *", "calendars": ["all-year"]}],
    }
    assert _refused(target, document) == ["jobs[0].calendars: the calendars exclude every planned time of this job in the next 10 years"]


def test_only_an_admin_creates_calendars(source: Database, target: Database) -> None:
    document = export_of(source)
    with target.session() as s:
        mail = groups.create_group(s, cli_actor("admin"), {"app_name": "mail", "title": "Mail"}, now_ms=NOW).id
        calendars.create_calendar(s, cli_actor("admin"), {"name": "holidays"}, now_ms=NOW, default_timezone="UTC", max_entries=100)
    user = Actor(user_id=7, username="ann", role=UserRole.USER, group_ids=frozenset({mail}))
    assert _refused(target, document, user) == [
        "calendars[0]: no calendar named 'freeze'; only an admin may create calendars",
        "calendars[2]: no calendar named 'unused'; only an admin may create calendars",
    ]
    document["calendars"] = [c for c in document["calendars"] if c["name"] == "holidays"]
    document["jobs"] = [j for j in document["jobs"] if j["name"] == "send"]
    plan = run_import(target, document, user, on_conflict=OnConflict.UPDATE)  # the existing calendar is used, left as it is
    assert [(step.name, step.action) for step in plan.calendars] == [("holidays", Action.SKIP)]
    with target.read_session() as s:
        assert s.scalars(sa.select(Calendar)).one().description == ""
        send = s.scalars(sa.select(Job).where(Job.name == "send")).one()
        assert send.calendar_ids == str(s.scalars(sa.select(Calendar)).one().id)


def test_an_update_may_not_leave_a_job_of_the_database_no_planned_time(source: Database, target: Database) -> None:
    run_import(target, export_of(source))
    document = {"shardcron_export": 1, "calendars": [{"name": "holidays", "timezone": "UTC", "entries": ["2026-01-01..2040-12-31"]}]}
    problems = _refused(target, document, on_conflict=OnConflict.UPDATE)
    assert len(problems) == 1 and problems[0].startswith("calendars[0].entries: would leave job ")
    with target.read_session() as s:
        assert s.scalars(sa.select(Calendar).where(Calendar.name == "holidays")).one().version == 1
