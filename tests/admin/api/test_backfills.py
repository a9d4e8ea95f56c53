"""/api/v1 backfills: preview, create, list with progress, get, cancel, audit; bad input answers
400 naming the field, with nothing written."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.models import AuditEntry, Backfill
from tests.admin.api.conftest import AdminApp, Api
from tests.admin.api.test_auth import assert_error
from tests.admin.api.test_groups_jobs import JOB, count, make_group
from tests.support.admin_data import NOW

DAY = 86_400_000
RANGE = {"from_ms": NOW - 10 * DAY, "to_ms": NOW - DAY}  # the daily 00:00 Tokyo job: 9 planned times


def test_backfill_preview_create_list_get_cancel(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    job_id = admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()["id"]
    preview = admin.get(f"/jobs/{job_id}/backfills/preview?from_ms={RANGE['from_ms']}&to_ms={RANGE['to_ms']}&pace=2")
    assert preview.status_code == 200, preview.get_json()
    body = preview.get_json()
    assert body["planned"] == 9 and len(body["first_times_ms"]) == 5 and body["pace"] == 2 and body["overlap_policy"] == "ALLOW_ALL"
    assert body["first_times_ms"][0] == NOW - 10 * DAY + 15 * 3_600_000  # 00:00 in Tokyo is 15:00 UTC the day before
    assert count(admin_app, Backfill) == 0
    created = admin.post(f"/jobs/{job_id}/backfills", json={**RANGE, "pace": 2})
    assert created.status_code == 201, created.get_json()
    backfill = created.get_json()
    assert (backfill["status"], backfill["planned"], backfill["created"], backfill["pace"], backfill["created_by"]) == ("RUNNING", 9, 0, 2, "root")
    assert [b["id"] for b in admin.get(f"/jobs/{job_id}/backfills").get_json()["items"]] == [backfill["id"]]
    assert admin.get(f"/backfills/{backfill['id']}").get_json()["running"] == 0
    cancelled = admin.post(f"/backfills/{backfill['id']}/cancel")
    assert cancelled.status_code == 200 and cancelled.get_json()["status"] == "CANCELLED"
    assert_error(admin.post(f"/backfills/{backfill['id']}/cancel"), 409, "CANCELLED")
    assert_error(admin.get("/backfills/999"), 404)
    outsider = admin_app.user("eve", UserRole.USER)
    assert_error(outsider.get(f"/backfills/{backfill['id']}"), 404)
    assert_error(outsider.post(f"/jobs/{job_id}/backfills", json=RANGE), 404)
    with admin_app.db.read_session() as s:
        actions = s.scalars(sa.select(AuditEntry.action).where(AuditEntry.target_type == "backfill").order_by(AuditEntry.id)).all()
    assert actions == ["backfill.create", "backfill.cancel"]


def test_backfill_bad_input_names_the_field_and_writes_nothing(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    job_id = admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()["id"]
    manual = admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "by hand", "schedule_type": "NONE", "schedule_conf": ""}).get_json()["id"]
    cases = [
        ({"from_ms": NOW - 3000 * DAY, "to_ms": NOW - DAY}, {"to_ms"}, "holds 2999 planned times"),
        ({"from_ms": NOW - DAY, "to_ms": NOW - 2 * DAY}, {"to_ms"}, "before from_ms"),
        ({"from_ms": "monday", "to_ms": -1}, {"from_ms", "to_ms"}, ""),
        ({**RANGE, "pace": 0}, {"pace"}, ""),
        ({**RANGE, "overlap_policy": "CANCEL_OTHER"}, {"overlap_policy"}, ""),
        ({**RANGE, "colour": "red"}, {"colour"}, ""),
        ({"to_ms": NOW - DAY}, {"from_ms"}, ""),
    ]
    for body, fields, words in cases:
        got = assert_error(admin.post(f"/jobs/{job_id}/backfills", json=body), 400, "not created")
        assert set(got) == fields, body
        assert words in " ".join(got.values()), got
    assert set(assert_error(admin.post(f"/jobs/{manual}/backfills", json=RANGE), 400)) == {"job_id"}
    assert set(assert_error(admin.get(f"/jobs/{job_id}/backfills/preview?from_ms=1&to_ms=0"), 400)) == {"to_ms"}
    assert count(admin_app, Backfill) == 0
