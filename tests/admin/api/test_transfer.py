"""/api/v1/export and /api/v1/import: formats, dry runs, refusals as 400 with each place, rights."""

from __future__ import annotations

import json

import yaml

from shardcron.admin.enums import UserRole
from tests.admin.api.conftest import AdminApp, Api
from tests.support.admin_data import add_group, add_job


def _document(admin: Api) -> dict:
    response = admin.get("/export")
    assert response.status_code == 200, response.get_json()
    return json.loads(response.get_data(as_text=True))


def test_export_as_json_and_yaml_and_of_one_group(admin_app: AdminApp, admin: Api) -> None:
    orders = add_group(admin_app.db, "orders")
    add_group(admin_app.db, "mail")
    add_job(admin_app.db, orders, "close")
    document = _document(admin)
    assert [g["app_name"] for g in document["groups"]] == ["mail", "orders"]
    as_yaml = admin.get("/export?format=yaml")
    assert as_yaml.mimetype == "application/yaml"
    assert yaml.safe_load(as_yaml.get_data(as_text=True)) == document
    only = json.loads(admin.get("/export?group=orders").get_data(as_text=True))
    assert [g["app_name"] for g in only["groups"]] == ["orders"]
    unknown = admin.get("/export?group=nope")
    assert unknown.status_code == 400 and unknown.get_json()["error"]["message"] == "groups: no executor group with app name nope"
    assert admin.get("/export?format=xml").get_json()["error"]["fields"] == {"format": "must be json or yaml"}


def test_export_shows_a_user_only_their_groups(admin_app: AdminApp) -> None:
    orders = add_group(admin_app.db, "orders")
    secret = add_group(admin_app.db, "secret")
    hidden = add_job(admin_app.db, secret, "hidden")
    add_job(admin_app.db, orders, "close", child_job_ids=str(hidden))
    user = admin_app.user("ann", UserRole.USER, [orders])
    document = json.loads(user.get("/export").get_data(as_text=True))
    assert [g["app_name"] for g in document["groups"]] == ["orders"]
    assert [(j["name"], j["children"]) for j in document["jobs"]] == [("close", [])]
    assert user.get("/export?group=secret").status_code == 400


def test_import_dry_run_then_apply_then_refusals(admin_app: AdminApp, admin: Api) -> None:
    orders = add_group(admin_app.db, "orders")
    add_job(admin_app.db, orders, "close")
    document = _document(admin)
    document["groups"][0]["app_name"] = "orders2"
    document["jobs"][0]["group"] = "orders2"
    document["workflows"] = [{"group": "orders2", "name": "wf", "definition": {"steps": [{"key": "a", "job": {"group": "orders2", "job": "close"}}], "edges": []}}]
    dry = admin.post("/import?dry_run=1", json=document)
    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["groups"] == [{"app_name": "orders2", "action": "create", "id": None, "unchanged": False}]
    assert dry.get_json()["workflows"] == [{"group": "orders2", "name": "wf", "action": "create", "id": None, "enabled": False}]
    assert admin.get("/export?group=orders2").status_code == 400  # nothing written
    text = yaml.safe_dump(document)
    done = admin.post("/import", data=text, headers={"Content-Type": "application/yaml"})
    assert done.status_code == 201, done.get_json()
    body = done.get_json()
    assert body["jobs"][0]["action"] == "create" and body["jobs"][0]["id"] and body["jobs"][0]["enabled"] is False
    assert body["workflows"][0]["action"] == "create" and body["workflows"][0]["id"]
    audit = admin.get("/audit?action=job.create").get_json()["items"]
    assert [(e["actor_name"], e["actor_kind"], e["target_name"]) for e in audit] == [("root", "API_TOKEN", "close")]

    document["jobs"][0]["schedule_conf"] = "every day"
    document["jobs"][0]["frequency"] = 3
    refused = admin.post("/import?on_conflict=update", json=document)
    assert refused.status_code == 400
    fields = refused.get_json()["error"]["fields"]
    assert fields["jobs[0].frequency"] == "unknown field"
    assert "jobs[0].schedule_conf" in fields
    assert refused.get_json()["error"]["message"].startswith("import refused: 2 problems (")


def test_bad_bodies_and_options(admin_app: AdminApp, admin: Api) -> None:
    assert admin.post("/import", data="{nope", headers={"Content-Type": "application/json"}).get_json()["error"]["message"].startswith("not a JSON document: line 1")
    assert admin.post("/import", data="a: [", headers={"Content-Type": "text/yaml"}).status_code == 400
    assert admin.post("/import", data=b"\xff\xfe", headers={"Content-Type": "application/json"}).get_json()["error"]["message"] == "the document is not UTF-8 text (byte 0)"
    assert admin.post("/import?on_conflict=merge", json={"shardcron_export": 1}).get_json()["error"]["fields"] == {"on_conflict": "must be one of skip, update, fail"}
    assert admin.post("/import?dry_run=maybe", json={"shardcron_export": 1}).status_code == 400
    big = {"shardcron_export": 1, "jobs": [], "pad": "x" * (admin_app.app.extensions["shardcron"].config.import_max_bytes)}
    too_large = admin.post("/import", json=big)
    assert too_large.status_code == 413 and "setting import_max_bytes" in too_large.get_json()["error"]["message"]


def test_a_user_imports_jobs_into_their_groups_only(admin_app: AdminApp) -> None:
    orders = add_group(admin_app.db, "orders")
    add_group(admin_app.db, "secret")
    user = admin_app.user("ann", UserRole.USER, [orders])
    job = {"group": "orders", "name": "new", "handler": "h", "schedule_conf": "0 * * * *"}
    ok = user.post("/import", json={"shardcron_export": 1, "groups": [{"app_name": "orders"}], "jobs": [job]})
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["groups"][0]["action"] == "skip"
    refused = user.post(
        "/import",
        json={"shardcron_export": 1, "groups": [{"app_name": "brand-new"}], "jobs": [{**job, "group": "secret"}, {**job, "name": "s", "glue_type": "GLUE_SHELL", "glue_source": "rm -rf /"}]},
    )
    assert refused.status_code == 400
    fields = refused.get_json()["error"]["fields"]
    assert fields["groups[0].app_name"] == "no executor group 'brand-new' you may use; only an admin may create groups"
    assert fields["jobs[0].group"] == "no executor group 'secret' in the document or the database"
    assert fields["jobs[1].glue_type"] == "you may not write scripts for this group"  # no script right in orders


def test_import_calendars_through_the_api(admin_app: AdminApp, admin: Api) -> None:
    orders = add_group(admin_app.db, "orders")
    add_job(admin_app.db, orders, "close")
    document = _document(admin)
    document["calendars"] = [{"name": "holidays", "timezone": "UTC", "description": "", "entries": ["2026-12-25 Christmas"]}]
    document["jobs"][0]["calendars"] = ["holidays"]
    user = admin_app.user("ann", UserRole.USER, [orders])
    refused = user.post("/import", json=document)
    assert refused.status_code == 400
    assert refused.get_json()["error"]["fields"] == {"calendars[0]": "no calendar named 'holidays'; only an admin may create calendars"}
    done = admin.post("/import?on_conflict=update", json=document)
    assert done.status_code == 201, done.get_json()
    assert [(c["name"], c["action"]) for c in done.get_json()["calendars"]] == [("holidays", "create")]
    assert _document(admin) == document
    assert user.post("/import", json=document).get_json()["calendars"][0]["action"] == "skip"
