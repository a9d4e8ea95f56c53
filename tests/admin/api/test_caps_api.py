"""Concurrency caps through /api/v1: a group's cap, policy and wait and a job's cap are created,
changed, shown and audited; a cap of 0 or below, or anything not a whole number, is refused with
a message naming the field and nothing written; absent fields keep their defaults."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shardcron.admin.models import AuditEntry, ExecutorGroup, Job
from tests.admin.api.conftest import AdminApp, Api
from tests.admin.api.test_auth import assert_error

JOB = {"name": "sync", "schedule_conf": "0 0 * * *", "handler": "syncOrders", "timezone": "UTC"}


def count(admin_app: AdminApp, model) -> int:
    with admin_app.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def last_entry(admin_app: AdminApp) -> AuditEntry:
    with admin_app.db.read_session() as s:
        entry = s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id.desc()).limit(1)).one()
        s.expunge_all()
        return entry


def test_group_cap_is_created_changed_shown_and_audited(admin_app: AdminApp, admin: Api) -> None:
    plain = admin.post("/groups", json={"app_name": "plain"}).get_json()
    assert (plain["cap_runs"], plain["cap_policy"], plain["cap_wait_s"]) == (None, "WAIT", 60)
    created = admin.post("/groups", json={"app_name": "billing", "cap_runs": 4, "cap_policy": "SKIP", "cap_wait_s": 30})
    assert created.status_code == 201, created.get_json()
    group = created.get_json()
    assert (group["cap_runs"], group["cap_policy"], group["cap_wait_s"]) == (4, "SKIP", 30)
    assert json.loads(last_entry(admin_app).after_json or "{}")["cap_runs"] == 4
    changed = admin.patch(f"/groups/{group['id']}", json={"cap_runs": 2, "cap_policy": "WAIT"}).get_json()
    assert (changed["cap_runs"], changed["cap_policy"], changed["cap_wait_s"], changed["app_name"]) == (2, "WAIT", 30, "billing")
    entry = last_entry(admin_app)
    assert json.loads(entry.before_json or "{}") == {"cap_runs": 4, "cap_policy": "SKIP"}
    assert json.loads(entry.after_json or "{}") == {"cap_runs": 2, "cap_policy": "WAIT"}
    cleared = admin.patch(f"/groups/{group['id']}", json={"cap_runs": None}).get_json()
    assert cleared["cap_runs"] is None
    assert admin.get(f"/groups/{group['id']}").get_json()["cap_runs"] is None


def test_bad_group_caps_are_refused_naming_the_field(admin_app: AdminApp, admin: Api) -> None:
    group = admin.post("/groups", json={"app_name": "billing", "cap_runs": 3}).get_json()
    for field, bad in (
        ("cap_runs", 0), ("cap_runs", -2), ("cap_runs", "0"), ("cap_runs", "-1"), ("cap_runs", "ten"), ("cap_runs", 1.5), ("cap_runs", True),
        ("cap_runs", 100_001), ("cap_policy", "QUEUE"), ("cap_policy", None), ("cap_wait_s", 0), ("cap_wait_s", -5), ("cap_wait_s", 86_401),
        ("cap_wait_s", "soon"),
    ):
        fields = assert_error(admin.post("/groups", json={"app_name": "other", field: bad}), 400, "executor group not saved")
        assert set(fields) == {field}, (field, bad)
        fields = assert_error(admin.patch(f"/groups/{group['id']}", json={field: bad}), 400, "not saved")
        assert set(fields) == {field}, (field, bad)
    fields = assert_error(admin.post("/groups", json={"app_name": "other", "cap_runs": 0}), 400)
    assert "at least 1" in fields["cap_runs"] and "empty for no cap" in fields["cap_runs"]
    assert count(admin_app, ExecutorGroup) == 1
    assert admin.get(f"/groups/{group['id']}").get_json()["cap_runs"] == 3


def test_job_cap_is_created_changed_copied_and_checked(admin_app: AdminApp, admin: Api) -> None:
    group = admin.post("/groups", json={"app_name": "orders"}).get_json()
    assert admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()["cap_runs"] is None
    created = admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "capped", "cap_runs": 2})
    assert created.status_code == 201 and created.get_json()["cap_runs"] == 2
    job_id = created.get_json()["id"]
    assert admin.post(f"/jobs/{job_id}/copy").get_json()["cap_runs"] == 2
    assert admin.patch(f"/jobs/{job_id}", json={"cap_runs": 1}).get_json()["cap_runs"] == 1
    assert json.loads(last_entry(admin_app).after_json or "{}") == {"cap_runs": 1}
    for bad in (0, -1, "0", "x", 1.5, True, 100_001):
        fields = assert_error(admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "bad", "cap_runs": bad}), 400, "job not saved")
        assert set(fields) == {"cap_runs"}, bad
        fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"cap_runs": bad}), 400, f"job {job_id} not saved")
        assert set(fields) == {"cap_runs"}, bad
    assert count(admin_app, Job) == 3
    assert admin.patch(f"/jobs/{job_id}", json={"cap_runs": None}).get_json()["cap_runs"] is None


def test_openapi_describes_the_cap_fields(admin: Api) -> None:
    spec = admin.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    for name in ("Group", "GroupCreate", "GroupUpdate"):
        assert {"cap_runs", "cap_policy", "cap_wait_s"} <= set(schemas[name]["properties"]), name
    assert schemas["JobCreate"]["properties"]["cap_runs"]["minimum"] == 1
    assert schemas["GroupCreate"]["properties"]["cap_policy"]["enum"] == ["WAIT", "SKIP"]
