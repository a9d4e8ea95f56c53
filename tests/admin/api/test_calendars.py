"""/api/v1/calendars and a job's `calendars`: CRUD by admins, use by anyone, every bad input a
4xx naming its field with nothing written, every change audited, previews showing the skips."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.models import AuditEntry, Calendar, CalendarEntry, Job
from tests.admin.api.conftest import AdminApp, Api
from tests.admin.api.test_auth import assert_error
from tests.support.admin_data import NOW

H = 3_600_000
DAY = 24 * H
JOB = {"name": "report", "schedule_conf": "0 9 * * *", "handler": "report", "timezone": "UTC"}


def count(admin_app: AdminApp, model) -> int:
    with admin_app.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def audit_actions(admin_app: AdminApp) -> list[str]:
    with admin_app.db.session() as s:
        return list(s.scalars(sa.select(AuditEntry.action).where(AuditEntry.target_type == "calendar").order_by(AuditEntry.id)))


def make_calendar(api: Api, name: str = "holidays", **extra) -> dict:
    response = api.post("/calendars", json={"name": name, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def make_job(api: Api, **extra) -> dict:
    group = api.post("/groups", json={"app_name": f"app{extra.pop('n', 0)}"}).get_json()
    response = api.post("/jobs", json={**JOB, "group_id": group["id"], **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_calendar_crud_with_entries_as_lines_or_objects(admin_app: AdminApp, admin: Api) -> None:
    cal = make_calendar(admin, timezone="Europe/Berlin", description="office", entries=[
        "2026-12-24..2026-12-26 office closed", {"start": "2026-01-01", "label": "New Year"}, "2026-05-01",
    ])
    assert cal["timezone"] == "Europe/Berlin" and cal["job_count"] == 0 and cal["version"] == 1
    assert cal["entries"] == [
        {"start": "2026-01-01", "end": "2026-01-01", "label": "New Year"},
        {"start": "2026-05-01", "end": "2026-05-01", "label": ""},
        {"start": "2026-12-24", "end": "2026-12-26", "label": "office closed"},
    ]
    assert admin.get("/calendars").get_json()["items"][0]["name"] == "holidays"
    changed = admin.patch(f"/calendars/{cal['id']}", json={"entries": "# freeze\n2026-03-01..2026-03-07 freeze\n\n", "name": "freezes"}).get_json()
    assert changed["name"] == "freezes" and changed["version"] == 2
    assert changed["entries"] == [{"start": "2026-03-01", "end": "2026-03-07", "label": "freeze"}]
    assert admin.patch(f"/calendars/{cal['id']}", json={"description": "office"}).get_json()["version"] == 2  # nothing changed
    assert count(admin_app, CalendarEntry) == 1
    assert admin.delete(f"/calendars/{cal['id']}").status_code == 204
    assert count(admin_app, Calendar) == 0 and count(admin_app, CalendarEntry) == 0
    assert admin.get(f"/calendars/{cal['id']}").status_code == 404
    assert audit_actions(admin_app) == ["calendar.create", "calendar.update", "calendar.delete"]


def test_bad_calendars_are_refused_naming_the_field_and_nothing_is_written(admin_app: AdminApp, admin: Api) -> None:
    make_calendar(admin)
    cases = [
        ({"name": "holidays"}, "name", "exists already"),
        ({"name": ""}, "name", "required"),
        ({"name": "a,b"}, "name", "commas"),
        ({"name": "x", "timezone": "Mars/Olympus"}, "timezone", "Mars/Olympus"),
        ({"name": "x", "entries": ["2026-02-30"]}, "entries", "entry 1: '2026-02-30' is not a date"),
        ({"name": "x", "entries": "2026-01-01\n2026-12-26..2026-12-24 backwards"}, "entries", "line 2: the range ends (2026-12-24) before it starts (2026-12-26)"),
        ({"name": "x", "entries": "tomorrow"}, "entries", "line 1"),
        ({"name": "x", "entries": ["0001-01-01..9999-12-31"]}, "entries", "0001-01-01 is before 1970-01-01"),
        ({"name": "x", "entries": [{"start": 20261225}]}, "entries", "entry 1: 20261225 is not a date"),
        ({"name": "x", "entries": [{"start": "2026-01-01", "until": "2026-01-02"}]}, "entries", "entry 1"),
        ({"name": "x", "entries": 5}, "entries", "one entry per line"),
        ({"name": "x", "colour": "red"}, "colour", "unknown field"),
    ]
    for body, field, words in cases:
        fields = assert_error(admin.post("/calendars", json=body), 400)
        assert words in fields[field], (body, fields)
    too_many = "\n".join([f"2026-01-{day:02d}" for day in range(1, 32)] * 40)  # 1,240 lines
    fields = assert_error(admin.post("/calendars", json={"name": "x", "entries": too_many}), 400)
    assert "at most 1000" in fields["entries"]
    assert count(admin_app, Calendar) == 1 and count(admin_app, CalendarEntry) == 0
    assert audit_actions(admin_app) == ["calendar.create"]


def test_only_admins_change_calendars_and_anyone_attaches_them(admin_app: AdminApp, admin: Api) -> None:
    cal = make_calendar(admin, entries=["2026-01-02"])
    job = make_job(admin)
    user = admin_app.user("alice", UserRole.USER, groups=[job["group_id"]])
    assert_error(user.post("/calendars", json={"name": "mine"}), 403, "only an admin")
    assert_error(user.patch(f"/calendars/{cal['id']}", json={"entries": []}), 403)
    assert_error(user.delete(f"/calendars/{cal['id']}"), 403)
    assert [c["name"] for c in user.get("/calendars").get_json()["items"]] == ["holidays"]
    attached = user.patch(f"/jobs/{job['id']}", json={"calendars": ["holidays"]})
    assert attached.status_code == 200 and attached.get_json()["calendars"] == ["holidays"]
    fields = assert_error(user.patch(f"/jobs/{job['id']}", json={"calendars": ["nope"]}), 400)
    assert "nope" in fields["calendars"]
    assert user.get(f"/jobs/{job['id']}").get_json()["calendars"] == ["holidays"]


def test_a_calendar_in_use_is_not_deleted_and_its_jobs_are_named(admin_app: AdminApp, admin: Api) -> None:
    cal = make_calendar(admin, entries=["2026-01-02"])
    job = make_job(admin, calendars=["holidays"])
    fields = assert_error(admin.delete(f"/calendars/{cal['id']}"), 409, "used by 1 job", f"{job['id']} (report)")
    assert fields == {}
    assert count(admin_app, Calendar) == 1 and count(admin_app, CalendarEntry) == 1
    admin.patch(f"/jobs/{job['id']}", json={"calendars": []})
    assert admin.delete(f"/calendars/{cal['id']}").status_code == 204


def test_a_calendar_that_excludes_every_future_time_is_refused(admin_app: AdminApp, admin: Api) -> None:
    make_calendar(admin, "forever", entries=["2026-01-01..2099-12-31 closed for good"])
    fields = assert_error(admin.post("/jobs", json={**JOB, "group_id": admin.post("/groups", json={"app_name": "a"}).get_json()["id"], "calendars": ["forever"]}), 400)
    assert "exclude every planned time" in fields["calendars"]
    assert count(admin_app, Job) == 0
    cal = make_calendar(admin, "holidays", entries=["2026-01-02"])
    job = make_job(admin, n=1, calendars=["holidays"])
    fields = assert_error(admin.patch(f"/calendars/{cal['id']}", json={"entries": ["2026-01-01..2040-12-31"]}), 400)
    assert f"job {job['id']} (report) no planned time" in fields["entries"]
    assert admin.get(f"/calendars/{cal['id']}").get_json()["entries"][0]["end"] == "2026-01-02"
    assert audit_actions(admin_app) == ["calendar.create", "calendar.create"]


def test_a_started_job_with_a_calendar_and_the_previews_skip_excluded_days(admin_app: AdminApp, admin: Api) -> None:
    make_calendar(admin, entries=["2026-01-01..2026-01-02 holidays"])
    job = make_job(admin, calendars=["holidays"])
    started = admin.post(f"/jobs/{job['id']}/start").get_json()
    assert started["next_fire_at_ms"] == NOW + 2 * DAY + 9 * H  # the 3rd: the 1st and 2nd are excluded
    preview = admin.get(f"/jobs/{job['id']}/preview?count=2").get_json()
    assert preview["fire_times_ms"] == [NOW + 2 * DAY + 9 * H, NOW + 3 * DAY + 9 * H]
    assert preview["skipped"] == [{"at_ms": NOW + 9 * H, "calendar": "holidays"}, {"at_ms": NOW + DAY + 9 * H, "calendar": "holidays"}]
    assert len(preview["jitter_ms"]) == 2
    edited = admin.get("/schedule-preview?schedule_type=CRON&schedule_conf=0+9+*+*+*&timezone=UTC&count=1&calendars=holidays").get_json()
    assert edited == {"fire_times_ms": [NOW + 2 * DAY + 9 * H], "skipped": [{"at_ms": NOW + 9 * H, "calendar": "holidays"}]}
    plain = admin.get("/schedule-preview?schedule_type=CRON&schedule_conf=0+9+*+*+*&timezone=UTC&count=1").get_json()
    assert plain == {"fire_times_ms": [NOW + 9 * H], "skipped": []}
    fields = assert_error(admin.get("/schedule-preview?schedule_type=CRON&schedule_conf=0+9+*+*+*&calendars=nope"), 400)
    assert "nope" in fields["calendars"]
    copy = admin.post(f"/jobs/{job['id']}/copy").get_json()
    assert copy["calendars"] == ["holidays"]
