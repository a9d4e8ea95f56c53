"""The console's calendars: list, create and edit with line-numbered errors (admins), the job
form's calendar choice (absent from a posted form: unchanged), and the preview marking skips."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.models import Calendar, CalendarEntry, Job
from tests.admin.web.test_pages import _job_form
from tests.support import admin_data as data
from tests.support.console import Console, post_form

ENTRIES = "# year end\n2026-12-24..2026-12-26 office closed\n2026-01-02 bridge day\n"


def _admin(console: Console):
    console.add_user("root", UserRole.ADMIN)
    return console.login("root")


def _calendar_rows(console: Console) -> list[tuple]:
    with console.db.read_session() as s:
        return [tuple(r) for r in s.execute(sa.select(CalendarEntry.start_date, CalendarEntry.end_date, CalendarEntry.label).order_by(CalendarEntry.start_date))]


def test_calendars_are_listed_created_edited_and_deleted(console: Console) -> None:
    client = _admin(console)
    assert "No calendars yet." in client.get("/calendars").get_data(as_text=True)
    assert 'href="/calendars"' in client.get("/").get_data(as_text=True)  # the nav link
    form = {"name": "holidays", "timezone": "Europe/Berlin", "description": "office", "entries": ENTRIES}
    created = post_form(client, "/calendars/new", form)
    assert created.status_code == 302
    page = client.get("/calendars").get_data(as_text=True)
    assert "holidays" in page and "Europe/Berlin" in page and "2026-12-24..2026-12-26 office closed" in page
    assert [r[2] for r in _calendar_rows(console)] == ["bridge day", "office closed"]
    with console.db.read_session() as s:
        cal_id = s.scalar(sa.select(Calendar.id))
    edit = client.get(f"/calendars/{cal_id}").get_data(as_text=True)
    assert "2026-01-02 bridge day\n2026-12-24..2026-12-26 office closed" in edit
    assert post_form(client, f"/calendars/{cal_id}", {**form, "entries": "2026-05-01 May Day"}).status_code == 302
    assert [r[2] for r in _calendar_rows(console)] == ["May Day"]
    assert post_form(client, f"/calendars/{cal_id}/delete", {}).status_code == 302
    with console.db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Calendar)) == 0


def test_bad_entries_are_shown_by_line_and_nothing_is_saved(console: Console) -> None:
    client = _admin(console)
    form = {"name": "holidays", "timezone": "Europe/Berlin", "description": "", "entries": "2026-12-25 Christmas\n2026-02-30 nope\n2026-12-26..2026-12-01 backwards"}
    page = post_form(client, "/calendars/new", form)
    html = page.get_data(as_text=True)
    assert page.status_code == 400
    assert "line 2: &#39;2026-02-30&#39; is not a date" in html and "line 3: the range ends (2026-12-01) before it starts (2026-12-26)" in html
    assert "2026-12-25 Christmas" in html  # the text is kept for fixing
    bad_zone = post_form(client, "/calendars/new", {**form, "entries": "", "timezone": "Nowhere/City"})
    assert bad_zone.status_code == 400 and "Nowhere/City" in bad_zone.get_data(as_text=True)
    with console.db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Calendar)) == 0


def test_users_see_calendars_but_only_admins_edit_them(console: Console) -> None:
    admin = _admin(console)
    post_form(admin, "/calendars/new", {"name": "holidays", "timezone": "UTC", "description": "", "entries": "2026-12-25"})
    console.add_user("bob", UserRole.USER, [])
    bob = console.login("bob")
    page = bob.get("/calendars").get_data(as_text=True)
    assert "holidays" in page and "/calendars/new" not in page
    assert bob.get("/calendars/new").status_code == 403
    assert post_form(bob, "/calendars/1/delete", {}).status_code == 403


def test_the_job_form_attaches_calendars_and_the_preview_marks_skips(console: Console) -> None:
    client = _admin(console)
    group = data.add_group(console.db, "billing")
    post_form(client, "/calendars/new", {"name": "holidays", "timezone": "UTC", "description": "", "entries": "2026-01-01..2026-01-02"})
    assert post_form(client, "/jobs/new", _job_form(group, calendars_posted="1", calendars="holidays", schedule_conf="0 9 * * *", timezone="UTC")).status_code == 302
    with console.db.read_session() as s:
        job = s.scalars(sa.select(Job)).one()
    assert job.calendar_ids == "1"
    edit = client.get(f"/jobs/{job.id}").get_data(as_text=True)
    assert '<option value="holidays" selected>holidays</option>' in edit
    # A form posted without the calendar field keeps the job's calendars; an empty choice clears them.
    assert post_form(client, f"/jobs/{job.id}", _job_form(group, schedule_conf="0 9 * * *", timezone="UTC")).status_code == 302
    with console.db.read_session() as s:
        assert s.get(Job, job.id).calendar_ids == "1"
    assert post_form(client, f"/jobs/{job.id}", _job_form(group, schedule_conf="0 9 * * *", timezone="UTC", calendars_posted="1")).status_code == 302
    with console.db.read_session() as s:
        assert s.get(Job, job.id).calendar_ids == ""
    preview = client.get("/jobs/preview?schedule_type=CRON&schedule_conf=0+9+*+*+*&timezone=UTC&calendars=holidays").get_json()
    assert [item.get("skipped", False) for item in preview["fire_times"]] == [True, True, False, False, False, False, False]
    assert "skipped (calendar holidays)" in preview["fire_times"][0]["local"]
    assert preview["skipped_note"] == "2 planned times skipped by calendar holidays"
    forever = post_form(client, "/calendars/new", {"name": "forever", "timezone": "UTC", "description": "", "entries": "2026-01-01..2099-12-31"})
    assert forever.status_code == 302
    refused = post_form(client, f"/jobs/{job.id}", _job_form(group, schedule_conf="0 9 * * *", timezone="UTC", calendars_posted="1", calendars="forever"))
    assert refused.status_code == 400 and "exclude every planned time" in refused.get_data(as_text=True)
