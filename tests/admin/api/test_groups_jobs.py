"""/api/v1 groups and jobs: CRUD, permissions per group, validation errors with nothing saved."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import UserRole
from shardcron.admin.models import ExecutorGroup, Job
from shardcron.admin.schedules.jitter import jitter_ms
from tests.admin.api.conftest import AdminApp, Api
from tests.admin.api.test_auth import assert_error
from tests.support.admin_data import NOW, add_executor

JOB = {"name": "sync", "schedule_conf": "0 0 * * *", "handler": "syncOrders", "timezone": "Asia/Tokyo"}


def count(admin_app: AdminApp, model) -> int:
    with admin_app.db.session() as s:
        return s.scalar(sa.select(sa.func.count()).select_from(model))


def make_group(api: Api, app_name: str, **extra) -> dict:
    response = api.post("/groups", json={"app_name": app_name, **extra})
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def test_group_crud_and_live_executors(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "billing", title="Billing")
    add_executor(admin_app.db, "billing", "http://127.0.0.1:9100", heartbeat_at_ms=NOW - 5000)
    got = admin.get(f"/groups/{group['id']}").get_json()
    assert got["live_executors"] == [{"address": "http://127.0.0.1:9100", "registered_at_ms": NOW - 5000, "heartbeat_at_ms": NOW - 5000}]
    changed = admin.patch(f"/groups/{group['id']}", json={"address_type": "MANUAL", "manual_addresses": ["http://10.1.1.1:9999"]}).get_json()
    assert changed["manual_addresses"] == ["http://10.1.1.1:9999"] and changed["title"] == "Billing"
    make_group(admin, "orders")
    page = admin.get("/groups?per_page=1&page=2").get_json()
    assert [g["app_name"] for g in page["items"]] == ["orders"] and page["total"] == 2 and page["pages"] == 2
    assert admin.delete(f"/groups/{group['id']}").status_code == 204
    assert_error(admin.get(f"/groups/{group['id']}"), 404, f"executor group {group['id']} not found")


def test_group_validation_and_conflicts(admin_app: AdminApp, admin: Api) -> None:
    fields = assert_error(admin.post("/groups", json={"app_name": "bad name", "address_type": "MANUAL", "manual_addresses": ["gopher://x"]}), 400, "not saved")
    assert set(fields) == {"app_name", "manual_addresses"}
    assert count(admin_app, ExecutorGroup) == 0
    group = make_group(admin, "billing")
    assert "exists already" in assert_error(admin.post("/groups", json={"app_name": "billing"}), 400)["app_name"]
    admin.post("/jobs", json={**JOB, "group_id": group["id"]})
    assert_error(admin.delete(f"/groups/{group['id']}"), 409, "still has 1 job")


def test_groups_are_admin_business(admin_app: AdminApp, admin: Api) -> None:
    mine = make_group(admin, "mine")
    theirs = make_group(admin, "theirs")
    user = admin_app.user("u", groups=[mine["id"]])
    assert [g["app_name"] for g in user.get("/groups").get_json()["items"]] == ["mine"]
    assert_error(user.get(f"/groups/{theirs['id']}"), 404)
    assert_error(user.post("/groups", json={"app_name": "x"}), 403, "only an admin")
    assert_error(user.patch(f"/groups/{mine['id']}", json={"title": "x"}), 403)
    assert_error(user.delete(f"/groups/{mine['id']}"), 403)


def test_job_lifecycle(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    created = admin.post("/jobs", json={**JOB, "group_id": group["id"], "child_job_ids": [], "alarm_emails": ["ops@example.com"]})
    assert created.status_code == 201
    job = created.get_json()
    assert job["enabled"] is False and job["group_app_name"] == "orders" and job["alarm_emails"] == ["ops@example.com"]
    started = admin.post(f"/jobs/{job['id']}/start").get_json()
    # 09:00 in Tokyo now; the next local midnight is 15 hours away.
    assert started["enabled"] and started["next_fire_at_ms"] == NOW + 15 * 3_600_000
    assert admin.get(f"/jobs/{job['id']}/preview?count=3").get_json()["fire_times_ms"] == [NOW + (15 + 24 * k) * 3_600_000 for k in range(3)]
    patched = admin.patch(f"/jobs/{job['id']}", json={"schedule_type": "FIX_RATE", "schedule_conf": "30"}).get_json()
    assert patched["next_fire_at_ms"] == NOW + 30_000 and patched["name"] == "sync"
    stopped = admin.post(f"/jobs/{job['id']}/stop").get_json()
    assert (stopped["enabled"], stopped["next_fire_at_ms"]) == (False, 0)
    copy = admin.post(f"/jobs/{job['id']}/copy", json={"name": "sync 2"})
    assert copy.status_code == 201 and copy.get_json()["name"] == "sync 2"
    assert admin.post(f"/jobs/{job['id']}/copy").get_json()["name"] == "sync (copy)"
    listed = admin.get("/jobs?sort=name&order=desc&search=sync").get_json()
    assert [j["name"] for j in listed["items"]] == ["sync 2", "sync (copy)", "sync"] and listed["total"] == 3
    assert admin.get(f"/jobs?group_id={group['id']}&enabled=true").get_json()["total"] == 0
    assert admin.delete(f"/jobs/{job['id']}").status_code == 204
    assert_error(admin.get(f"/jobs/{job['id']}"), 404, f"job {job['id']} not found")


def test_job_validation_errors_name_fields_and_save_nothing(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    bad = {**JOB, "group_id": group["id"], "schedule_conf": "0 0 31 2 *", "timezone": "Moon/Base", "route_strategy": "NEAREST", "retry_count": -1, "name": "x" * 300}
    fields = assert_error(admin.post("/jobs", json=bad), 400, "job not saved")
    # Every bad field at once: the cron is checked (in UTC) even while the zone is wrong; 31
    # February never comes.
    assert set(fields) == {"schedule_conf", "timezone", "route_strategy", "retry_count", "name"}
    fields = assert_error(admin.post("/jobs", json={**bad, "timezone": "UTC", "route_strategy": "FIRST", "retry_count": 0, "name": "ok"}), 400)
    assert set(fields) == {"schedule_conf"}
    job = admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()
    fields = assert_error(admin.patch(f"/jobs/{job['id']}", json={"child_job_ids": [job["id"]]}), 400)
    assert "cycle" in fields["child_job_ids"]
    assert_error(admin.patch(f"/jobs/{job['id']}", json=["name"]), 400, "JSON object")
    assert count(admin_app, Job) == 1
    assert admin.get(f"/jobs/{job['id']}").get_json()["child_job_ids"] == []
    fields = assert_error(admin.get("/schedule-preview?schedule_type=CRON&schedule_conf=*+*&timezone=UTC"), 400)
    assert "schedule_conf" in fields
    times = admin.get("/schedule-preview?schedule_type=FIX_RATE&schedule_conf=10").get_json()["fire_times_ms"]
    assert times == [NOW + 10_000 * k for k in range(1, 6)]
    assert "count" in assert_error(admin.get(f"/jobs/{job['id']}/preview?count=500"), 400)
    assert_error(admin.post(f"/jobs/{job['id']}/copy", json={"name": "x", "group": 1}), 400)


def test_jobs_per_group_permissions(admin_app: AdminApp, admin: Api) -> None:
    mine, theirs = make_group(admin, "mine"), make_group(admin, "theirs")
    their_job = admin.post("/jobs", json={**JOB, "group_id": theirs["id"]}).get_json()
    user = admin_app.user("u", UserRole.USER, [mine["id"]])
    created = user.post("/jobs", json={**JOB, "group_id": mine["id"], "name": "mine"})
    assert created.status_code == 201
    assert [j["name"] for j in user.get("/jobs").get_json()["items"]] == ["mine"]
    for call in (
        lambda: user.get(f"/jobs/{their_job['id']}"),
        lambda: user.patch(f"/jobs/{their_job['id']}", json={"name": "x"}),
        lambda: user.delete(f"/jobs/{their_job['id']}"),
        lambda: user.post(f"/jobs/{their_job['id']}/start"),
        lambda: user.post(f"/jobs/{their_job['id']}/stop"),
        lambda: user.post(f"/jobs/{their_job['id']}/copy"),
        lambda: user.post(f"/jobs/{their_job['id']}/trigger"),
        lambda: user.get(f"/jobs/{their_job['id']}/preview"),
    ):
        assert_error(call(), 404, f"job {their_job['id']} not found")
    assert "group_id" in assert_error(user.post("/jobs", json={**JOB, "group_id": theirs["id"]}), 400)
    assert "group_id" in assert_error(user.patch(f"/jobs/{created.get_json()['id']}", json={"group_id": theirs["id"]}), 400)
    assert admin.get(f"/jobs/{their_job['id']}").get_json()["name"] == "sync"


def test_job_delivery_is_created_changed_copied_and_checked(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    default = admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()
    assert default["delivery"] == "AT_MOST_ONCE"
    created = admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "drain", "delivery": "AT_LEAST_ONCE"})
    assert created.status_code == 201 and created.get_json()["delivery"] == "AT_LEAST_ONCE"
    job_id = created.get_json()["id"]
    copy = admin.post(f"/jobs/{job_id}/copy").get_json()
    assert copy["delivery"] == "AT_LEAST_ONCE"
    assert admin.patch(f"/jobs/{job_id}", json={"delivery": "AT_MOST_ONCE"}).get_json()["delivery"] == "AT_MOST_ONCE"
    assert admin.get(f"/jobs/{job_id}").get_json()["delivery"] == "AT_MOST_ONCE"
    assert [j["delivery"] for j in admin.get("/jobs?sort=id").get_json()["items"]] == ["AT_MOST_ONCE", "AT_MOST_ONCE", "AT_LEAST_ONCE"]
    for bad in ("EXACTLY_ONCE", "at_least_once", 2, True, None, ["AT_LEAST_ONCE"], {"mode": "AT_LEAST_ONCE"}):
        fields = assert_error(admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "bad", "delivery": bad}), 400, "job not saved")
        assert set(fields) == {"delivery"} and "is not one of AT_MOST_ONCE, AT_LEAST_ONCE" in fields["delivery"], bad
        fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"delivery": bad}), 400, f"job {job_id} not saved")
        assert set(fields) == {"delivery"}, bad
    assert count(admin_app, Job) == 3
    assert admin.get(f"/jobs/{job_id}").get_json()["delivery"] == "AT_MOST_ONCE"


def test_job_overlap_policy_is_created_changed_copied_and_checked(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    assert admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()["overlap_policy"] == "ALLOW_ALL"
    created = admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "nightly", "overlap_policy": "BUFFER_ONE"})
    assert created.status_code == 201 and created.get_json()["overlap_policy"] == "BUFFER_ONE"
    job_id = created.get_json()["id"]
    assert admin.post(f"/jobs/{job_id}/copy").get_json()["overlap_policy"] == "BUFFER_ONE"
    assert admin.patch(f"/jobs/{job_id}", json={"overlap_policy": "TERMINATE_OTHER"}).get_json()["overlap_policy"] == "TERMINATE_OTHER"
    assert admin.get(f"/jobs/{job_id}").get_json()["overlap_policy"] == "TERMINATE_OTHER"
    for bad in ("NEVER", "skip", "", 1, None, ["SKIP"]):
        fields = assert_error(admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "bad", "overlap_policy": bad}), 400, "job not saved")
        assert set(fields) == {"overlap_policy"} and "is not one of ALLOW_ALL, SKIP, BUFFER_ONE" in fields["overlap_policy"], bad
        fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"overlap_policy": bad}), 400, f"job {job_id} not saved")
        assert set(fields) == {"overlap_policy"}, bad
    assert count(admin_app, Job) == 3
    assert admin.get(f"/jobs/{job_id}").get_json()["overlap_policy"] == "TERMINATE_OTHER"


def test_job_jitter_is_created_changed_checked_and_previewed(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    assert admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()["jitter_s"] == 0
    created = admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "spread", "jitter_s": 120})
    assert created.status_code == 201 and created.get_json()["jitter_s"] == 120
    job_id = created.get_json()["id"]
    assert admin.post(f"/jobs/{job_id}/copy").get_json()["jitter_s"] == 120
    assert admin.patch(f"/jobs/{job_id}", json={"jitter_s": 30}).get_json()["jitter_s"] == 30
    preview = admin.get(f"/jobs/{job_id}/preview?count=4").get_json()
    assert preview["jitter_ms"] == [jitter_ms(job_id, at, 30) for at in preview["fire_times_ms"]]
    assert all(0 <= d <= 30_000 for d in preview["jitter_ms"]) and len(preview["jitter_ms"]) == 4
    for bad in (-1, 3601, "ten", 1.5, None, True):
        fields = assert_error(admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "bad", "jitter_s": bad}), 400, "job not saved")
        assert set(fields) == {"jitter_s"}, bad
        fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"jitter_s": bad}), 400, f"job {job_id} not saved")
        assert set(fields) == {"jitter_s"}, bad
    rate = {**JOB, "group_id": group["id"], "name": "rate", "schedule_type": "FIX_RATE", "schedule_conf": "60"}
    fields = assert_error(admin.post("/jobs", json={**rate, "jitter_s": 61}), 400, "job not saved")
    assert set(fields) == {"jitter_s"} and "60 s" in fields["jitter_s"]
    assert admin.post("/jobs", json={**rate, "jitter_s": 60}).status_code == 201
    fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"schedule_type": "FIX_RATE", "schedule_conf": "10"}), 400, f"job {job_id} not saved")
    assert set(fields) == {"jitter_s"}
    assert count(admin_app, Job) == 4
    assert admin.get(f"/jobs/{job_id}").get_json()["jitter_s"] == 30


def test_job_pause_after_failures_is_created_changed_checked_and_started_away(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    plain = admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()
    assert (plain["pause_after_failures"], plain["consecutive_failures"], plain["paused_at_ms"], plain["paused_reason"]) == (0, 0, 0, None)
    created = admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "careful", "pause_after_failures": 5})
    assert created.status_code == 201 and created.get_json()["pause_after_failures"] == 5
    job_id = created.get_json()["id"]
    assert admin.post(f"/jobs/{job_id}/copy").get_json()["pause_after_failures"] == 5
    assert admin.patch(f"/jobs/{job_id}", json={"pause_after_failures": 1000}).get_json()["pause_after_failures"] == 1000
    for bad in (-1, 1001, "five", 2.5, None, True):
        fields = assert_error(admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "bad", "pause_after_failures": bad}), 400, "job not saved")
        assert set(fields) == {"pause_after_failures"}, bad
        fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"pause_after_failures": bad}), 400, f"job {job_id} not saved")
        assert set(fields) == {"pause_after_failures"}, bad
    assert count(admin_app, Job) == 3
    assert admin.get(f"/jobs/{job_id}").get_json()["pause_after_failures"] == 1000
    # The job paused itself (as the follow-up monitor leaves it): the API shows why; a start clears it.
    reason = "paused after 1000 consecutive failed runs; last: run 7 at 2026-01-01T00:00:00Z: 500 boom"
    with admin_app.db.session() as s:
        s.execute(sa.update(Job).where(Job.id == job_id).values(consecutive_failures=1000, paused_at_ms=NOW - 1000, paused_reason=reason))
    got = admin.get(f"/jobs/{job_id}").get_json()
    assert (got["enabled"], got["consecutive_failures"], got["paused_at_ms"], got["paused_reason"]) == (False, 1000, NOW - 1000, reason)
    assert [j["id"] for j in admin.get("/jobs?paused=true").get_json()["items"]] == [job_id]
    assert job_id not in [j["id"] for j in admin.get("/jobs?paused=false").get_json()["items"]]
    assert set(assert_error(admin.get("/jobs?paused=maybe"), 400, "bad query parameter paused")) == {"paused"}
    started = admin.post(f"/jobs/{job_id}/start").get_json()
    assert (started["enabled"], started["consecutive_failures"], started["paused_at_ms"], started["paused_reason"]) == (True, 0, 0, None)
    # A stop does not pause: nothing to show.
    stopped = admin.post(f"/jobs/{job_id}/stop").get_json()
    assert (stopped["enabled"], stopped["paused_at_ms"], stopped["paused_reason"]) == (False, 0, None)


def test_job_catchup_window_is_created_changed_and_checked(admin_app: AdminApp, admin: Api) -> None:
    group = make_group(admin, "orders")
    plain = admin.post("/jobs", json={**JOB, "group_id": group["id"]}).get_json()
    assert (plain["misfire_strategy"], plain["catchup_window_s"]) == ("DO_NOTHING", 0)
    created = admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "daily", "misfire_strategy": "CATCH_UP_ALL", "catchup_window_s": 86_400})
    assert created.status_code == 201 and created.get_json()["catchup_window_s"] == 86_400
    job_id = created.get_json()["id"]
    assert admin.post(f"/jobs/{job_id}/copy").get_json()["misfire_strategy"] == "CATCH_UP_ALL"
    changed = admin.patch(f"/jobs/{job_id}", json={"misfire_strategy": "CATCH_UP_LATEST", "catchup_window_s": 600}).get_json()
    assert (changed["misfire_strategy"], changed["catchup_window_s"]) == ("CATCH_UP_LATEST", 600)
    for bad in (-1, 604_801, "soon", 1.5, None, True):
        fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"catchup_window_s": bad}), 400, f"job {job_id} not saved")
        assert set(fields) == {"catchup_window_s"}, bad
    fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"catchup_window_s": 0}), 400, f"job {job_id} not saved")
    assert set(fields) == {"catchup_window_s"} and "CATCH_UP_LATEST needs a catch-up window" in fields["catchup_window_s"]
    fields = assert_error(admin.patch(f"/jobs/{job_id}", json={"misfire_strategy": "DO_NOTHING"}), 400, f"job {job_id} not saved")
    assert set(fields) == {"catchup_window_s"} and "must be 0 unless" in fields["catchup_window_s"]
    fields = assert_error(admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "w", "catchup_window_s": 60}), 400, "job not saved")
    assert set(fields) == {"catchup_window_s"}
    fields = assert_error(admin.post("/jobs", json={**JOB, "group_id": group["id"], "name": "w", "misfire_strategy": "CATCH_UP_SOME"}), 400, "job not saved")
    assert set(fields) == {"misfire_strategy"}
    assert admin.patch(f"/jobs/{job_id}", json={"misfire_strategy": "FIRE_ONCE_NOW", "catchup_window_s": 0}).status_code == 200
    assert count(admin_app, Job) == 3
