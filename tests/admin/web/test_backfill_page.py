"""Console: a job's backfill page — preview, start, progress, cancel, bad input, Chinese."""

from __future__ import annotations

import re

import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.models import Backfill
from tests.admin.web.test_pages import _job_form
from tests.support import admin_data as data
from tests.support.console import Console, post_form

RANGE = {"from": "2025-12-01T00:00", "to": "2025-12-10T23:59:59", "overlap_policy": "ALLOW_ALL", "pace": "2"}


def _backfills(console: Console) -> list[Backfill]:
    with console.db.read_session() as s:
        return list(s.scalars(sa.select(Backfill).order_by(Backfill.id)))


def test_backfill_page_previews_starts_lists_and_cancels(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root")
    group_id = data.add_group(console.db, "billing")
    assert post_form(client, "/jobs/new", _job_form(group_id)).status_code == 302
    job_page = client.get("/jobs/1").get_data(as_text=True)
    assert 'href="/jobs/1/backfills"' in job_page  # the "Backfill…" button
    assert 'id="backfill-form"' in job_page and 'action="/jobs/1/backfills"' in job_page and "No backfill yet." in job_page
    ids = re.findall(r'\sid="([^"]+)"', job_page)
    assert len(ids) == len(set(ids)), sorted(i for i in set(ids) if ids.count(i) > 1)  # the job form and the backfill form share a page
    empty = client.get("/jobs/1/backfills").get_data(as_text=True)
    assert "No backfill yet." in empty and "Europe/Berlin" in empty
    preview = post_form(client, "/jobs/1/backfills", {**RANGE, "action": "preview"})
    page = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "10 runs, the first at:" in page and "2025-12-01 01:00:00 UTC" in page  # 02:00 in Berlin
    assert _backfills(console) == []
    started = post_form(client, "/jobs/1/backfills", {**RANGE, "action": "create"})
    assert started.status_code == 302
    [row] = _backfills(console)
    assert (row.planned, row.pace, row.from_ms) == (10, 2, 1_764_543_600_000)  # 2025-12-01 00:00 in Berlin (CET)
    listed = client.get("/jobs/1/backfills").get_data(as_text=True)
    assert "0 of 10 started" in listed and f'action="/backfills/{row.id}/cancel"' in listed
    on_job_page = client.get("/jobs/1").get_data(as_text=True)
    assert "0 of 10 started" in on_job_page and f'action="/backfills/{row.id}/cancel"' in on_job_page
    assert post_form(client, f"/backfills/{row.id}/cancel", {}).status_code == 302
    assert [b.status for b in _backfills(console)] == ["CANCELLED"]
    assert f'action="/backfills/{row.id}/cancel"' not in client.get("/jobs/1/backfills").get_data(as_text=True)
    zh = client.get("/jobs/1/backfills", headers={"Accept-Language": "zh-CN"}).get_data(as_text=True)
    assert "补跑" in zh and "已取消" in zh


def test_backfill_page_refuses_bad_input_naming_the_field(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root")
    group_id = data.add_group(console.db, "billing")
    assert post_form(client, "/jobs/new", _job_form(group_id)).status_code == 302
    for bad, field in (({"from": "soon"}, "from"), ({"to": "2025-11-01T00:00"}, "to"), ({"pace": "0"}, "pace"), ({"to": "2099-01-01T00:00"}, "to"), ({"from": "0001-01-01T00:00"}, "from")):
        page = post_form(client, "/jobs/1/backfills", {**RANGE, "action": "create", **bad})
        assert page.status_code == 400 and f'id="err-{field}"' in page.get_data(as_text=True), bad
    many = post_form(client, "/jobs/1/backfills", {**RANGE, "from": "2020-01-01T00:00", "action": "preview"}).get_data(as_text=True)
    assert "holds 2171 planned times; a backfill runs at most 1000" in many
    assert _backfills(console) == []
    assert client.get("/jobs/99/backfills").status_code == 404
