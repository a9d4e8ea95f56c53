"""The console's Import / export page: download, upload -> dry-run plan -> confirm, problems listed."""

from __future__ import annotations

import html
import io
import json
import re

import sqlalchemy as sa
import yaml

from shardcron.admin.enums import UserRole
from shardcron.admin.models import AuditEntry, Calendar, Job, Workflow
from tests.support import admin_data as data
from tests.support.console import Console, page_csrf


def _document() -> dict:
    return {
        "shardcron_export": 1,
        "groups": [{"app_name": "orders", "title": "Orders"}],
        "calendars": [{"name": "holidays", "entries": ["2026-12-25 Christmas"]}],
        "jobs": [
            {"group": "orders", "name": "close", "handler": "close", "schedule_conf": "0 2 * * *", "enabled": True, "children": [{"group": "orders", "job": "mail"}],
             "calendars": ["holidays"]},
            {"group": "orders", "name": "mail", "handler": "mail", "schedule_conf": "0 3 * * *"},
        ],
        "workflows": [
            {"group": "orders", "name": "nightly", "schedule_type": "CRON", "schedule_conf": "0 0 4 * * ?", "enabled": True,
             "definition": {"steps": [{"key": "close", "job": {"group": "orders", "job": "close"}}, {"key": "mail", "job": {"group": "orders", "job": "mail"}}],
                            "edges": [{"from": "close", "to": "mail"}]}},
        ],
    }


def _upload(client, csrf: str, content: str, filename: str, **form: str):
    return client.post(
        "/transfer/check",
        data={"csrf_token": csrf, "document": (io.BytesIO(content.encode("utf-8")), filename), **form},
        content_type="multipart/form-data",
    )


def test_upload_shows_the_plan_and_confirming_imports(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root")
    page = client.get("/transfer")
    assert page.status_code == 200 and "Import / export" in page.get_data(as_text=True)
    csrf = page_csrf(client, "/transfer")
    checked = _upload(client, csrf, yaml.safe_dump(_document()), "jobs.yaml", keep_state="1")
    text = checked.get_data(as_text=True)
    assert checked.status_code == 200, text
    assert "What the import would do" in text and "orders/close" in text and "Nothing has been written yet." in text
    assert re.search(r"<td>Calendar</td><td class=\"mono\">holidays</td>\s*<td>create</td>", text)
    assert re.search(r"<td>Workflow</td><td class=\"mono\">orders/nightly</td>\s*<td>create</td>\s*<td>enabled</td>", text), text
    with console.db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Job)) == 0
    hidden = html.unescape(re.search(r'name="document" value="([^"]*)"', text, re.S).group(1))  # type: ignore[union-attr]
    done = client.post("/transfer/import", data={"csrf_token": csrf, "document": hidden, "on_conflict": "skip", "keep_state": "1"})
    body = done.get_data(as_text=True)
    assert done.status_code == 200, body
    assert "What the import did" in body and "Imported in one transaction." in body
    with console.db.read_session() as s:
        jobs = {job.name: job for job in s.scalars(sa.select(Job))}
        assert jobs["close"].enabled and not jobs["mail"].enabled
        assert jobs["close"].child_job_ids == str(jobs["mail"].id)
        assert jobs["close"].calendar_ids == str(s.scalars(sa.select(Calendar.id)).one())
        nightly = s.scalars(sa.select(Workflow)).one()
        assert nightly.enabled and [step["job_id"] for step in json.loads(nightly.definition_json)["steps"]] == [jobs["close"].id, jobs["mail"].id]
        assert {e.actor_name for e in s.scalars(sa.select(AuditEntry).where(AuditEntry.target_type.in_(["group", "job"])))} == {"root"}


def test_problems_are_listed_and_nothing_is_written(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root")
    csrf = page_csrf(client, "/transfer")
    bad = _document()
    bad["jobs"][1]["children"] = [{"group": "orders", "job": "close"}]
    bad["jobs"][0]["retries"] = 2
    response = _upload(client, csrf, json.dumps(bad), "bad.json")
    text = html.unescape(response.get_data(as_text=True))
    assert response.status_code == 400
    assert "jobs[0].retries: unknown field" in text
    assert "a cycle of child jobs: orders/close -> orders/mail -> orders/close" in text
    broken = _upload(client, csrf, "{", "broken.json")
    assert broken.status_code == 400 and "not a JSON document" in broken.get_data(as_text=True)
    assert client.post("/transfer/check", data={"csrf_token": csrf}).status_code == 400


def test_download_and_a_users_view(console: Console) -> None:
    orders = data.add_group(console.db, "orders")
    secret = data.add_group(console.db, "secret")
    data.add_job(console.db, orders, "close")
    data.add_job(console.db, secret, "hidden")
    console.add_user("ann", UserRole.USER, [orders])
    client = console.login("ann")
    download = client.get("/transfer/export?format=yaml")
    assert download.status_code == 200
    assert download.headers["Content-Disposition"] == 'attachment; filename="shardcron-export.yaml"'
    document = yaml.safe_load(download.get_data(as_text=True))
    assert [g["app_name"] for g in document["groups"]] == ["orders"] and [j["name"] for j in document["jobs"]] == ["close"]
    page = client.get("/transfer").get_data(as_text=True)
    assert "Only an admin may create or change executor groups" in page
    assert client.get("/transfer/export?group=secret").status_code == 400


def test_the_page_in_chinese(console: Console) -> None:
    console.add_user("root", UserRole.ADMIN)
    client = console.login("root")
    csrf = page_csrf(client, "/transfer")
    client.post("/account/language", data={"csrf_token": csrf, "locale": "zh"})
    page = client.get("/transfer").get_data(as_text=True)
    assert "导入 / 导出" in page
    bad = {"shardcron_export": 1, "jobs": [{"group": "nope", "name": "x"}]}
    response = _upload(client, csrf, json.dumps(bad), "bad.json")
    text = html.unescape(response.get_data(as_text=True))
    assert "jobs[0].group：文档和数据库中都没有执行器 'nope'" in text
