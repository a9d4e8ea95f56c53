"""The export document names groups, child jobs and calendars instead of database ids."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from shardcron.admin.db import Database, init_schema
from shardcron.admin.models import Calendar, CalendarEntry, ExecutorGroup, Job
from shardcron.admin.transfer.export import ExportError, build_export


@pytest.fixture
def database(db_url: str) -> Iterator[Database]:
    db = Database(db_url, pool_size=2)
    init_schema(db.engine)
    try:
        yield db
    finally:
        db.dispose()


def _seed(db: Database) -> None:
    with db.session() as session:
        orders = ExecutorGroup(app_name="orders", title="Orders", created_at_ms=1, updated_at_ms=1)
        mail = ExecutorGroup(app_name="mail", title="Mail", created_at_ms=1, updated_at_ms=1)
        session.add_all([orders, mail])
        session.flush()
        holidays = Calendar(name="holidays", timezone="Europe/Berlin", description="office", version=1, created_at_ms=1, updated_at_ms=1)
        spare = Calendar(name="spare", timezone="UTC", description="", version=1, created_at_ms=1, updated_at_ms=1)
        session.add_all([holidays, spare])
        session.flush()
        session.add_all([
            CalendarEntry(calendar_id=holidays.id, start_date=dt.date(2026, 12, 24), end_date=dt.date(2026, 12, 26), label="office closed"),
            CalendarEntry(calendar_id=holidays.id, start_date=dt.date(2026, 1, 1), end_date=dt.date(2026, 1, 1), label=""),
        ])
        send = Job(group_id=mail.id, name="send", handler="send", calendar_ids=str(holidays.id), created_at_ms=1, updated_at_ms=1)
        session.add(send)
        session.flush()
        session.add(Job(group_id=orders.id, name="close", handler="close", child_job_ids=str(send.id),
                        glue_type="GLUE_SHELL", glue_source="echo hi", created_at_ms=1, updated_at_ms=1))


def test_export_refers_by_name_and_carries_the_script(database: Database) -> None:
    _seed(database)
    with database.read_session() as session:
        document = build_export(session)
    assert document["shardcron_export"] == 1
    assert [group["app_name"] for group in document["groups"]] == ["mail", "orders"]
    close = next(job for job in document["jobs"] if job["name"] == "close")
    assert close["group"] == "orders"
    assert close["children"] == [{"group": "mail", "job": "send"}]
    assert close["glue_source"] == "echo hi"
    assert close["schedule_type"] == "NONE"
    assert "id" not in close and "child_job_ids" not in close and "calendar_ids" not in close
    assert close["calendars"] == []
    send = next(job for job in document["jobs"] if job["name"] == "send")
    assert send["calendars"] == ["holidays"]
    assert document["calendars"] == [
        {"name": "holidays", "timezone": "Europe/Berlin", "description": "office", "entries": ["2026-01-01", "2026-12-24..2026-12-26 office closed"]},
        {"name": "spare", "timezone": "UTC", "description": "", "entries": []},
    ]


def test_export_of_chosen_groups_and_unknown_group(database: Database) -> None:
    _seed(database)
    with database.read_session() as session:
        document = build_export(session, ["orders"])
        assert [job["name"] for job in document["jobs"]] == ["close"]
        assert document["calendars"] == []  # only the calendars the chosen groups' jobs use
        assert [c["name"] for c in build_export(session, ["mail"])["calendars"]] == ["holidays"]
        with pytest.raises(ExportError, match="groups: no executor group with app name nope"):
            build_export(session, ["orders", "nope"])


def test_export_refuses_two_jobs_with_one_name(database: Database) -> None:
    _seed(database)
    with database.session() as session:
        group_id = session.query(ExecutorGroup).filter_by(app_name="mail").one().id
        session.add(Job(group_id=group_id, name="send", created_at_ms=1, updated_at_ms=1))
    with database.read_session() as session, pytest.raises(ExportError, match="two jobs named 'send' in group 'mail'"):
        build_export(session)
