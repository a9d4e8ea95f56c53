"""/api/v1 users (admin only), the caller's own account, and the dashboard."""

from __future__ import annotations


from shardcron.admin.enums import RunStatus
from shardcron.admin.services import passwords
from tests.admin.api.conftest import AdminApp, Api
from tests.admin.api.test_auth import assert_error
from tests.support.admin_data import NOW, PASSWORD, add_executor, add_job, add_run


def test_admin_manages_users(admin_app: AdminApp, admin: Api) -> None:
    group = admin.post("/groups", json={"app_name": "billing"}).get_json()["id"]
    created = admin.post("/users", json={"username": "bob", "password": "bobs password", "group_ids": [group]})
    assert created.status_code == 201
    bob = created.get_json()
    assert (bob["role"], bob["group_ids"], bob["has_api_token"]) == ("USER", [group], False)
    assert "password" not in bob and "password_hash" not in bob
    fields = assert_error(admin.post("/users", json={"username": "bob", "password": "short", "role": "ROOT"}), 400, "user not created")
    assert set(fields) == {"username", "password", "role"}
    assert [u["username"] for u in admin.get("/users").get_json()["items"]] == ["bob", "root"]
    changed = admin.patch(f"/users/{bob['id']}", json={"role": "ADMIN", "group_ids": [], "password": "reset password"}).get_json()
    assert (changed["role"], changed["group_ids"]) == ("ADMIN", [])
    with admin_app.db.session() as s:
        from shardcron.admin.models import User

        assert passwords.verify_password("reset password", s.get(User, bob["id"]).password_hash)
    assert admin.delete(f"/users/{bob['id']}").status_code == 204
    assert_error(admin.delete(f"/users/{admin.user_id}"), 409, "last admin")
    assert_error(admin.patch(f"/users/{admin.user_id}", json={"role": "USER"}), 409, "last admin")
    assert "password" in assert_error(admin.patch(f"/users/{admin.user_id}", json={"password": "new own password"}), 400, "/me/password")
    assert_error(admin.get("/users/9999"), 404)


def test_users_are_admin_only_but_me_is_mine(admin_app: AdminApp, admin: Api) -> None:
    user = admin_app.user("carol")
    assert_error(user.get("/users"), 403, "only an admin")
    assert_error(user.post("/users", json={"username": "x", "password": "long password"}), 403)
    assert_error(user.patch(f"/users/{user.user_id}", json={"role": "ADMIN"}), 403)
    assert_error(user.delete(f"/users/{admin.user_id}"), 403)
    assert_error(user.get(f"/users/{admin.user_id}"), 404)
    assert user.get(f"/users/{user.user_id}").get_json()["username"] == "carol"
    me = user.get("/me").get_json()
    assert (me["username"], me["role"], me["has_api_token"]) == ("carol", "USER", True)
    fields = assert_error(user.post("/me/password", json={"current_password": "wrong guess", "new_password": "tiny"}), 400, "password not changed")
    assert set(fields) == {"current_password", "new_password"}
    assert user.post("/me/password", json={"current_password": PASSWORD, "new_password": "a much better one"}).status_code == 204
    with admin_app.db.session() as s:
        from shardcron.admin.services import users

        assert users.authenticate(s, "carol", "a much better one", NOW) is not None
    # A password change revokes every token of the user: a stolen one dies with the old password.
    assert_error(user.get("/me"), 401, "invalid or revoked")


def test_dashboard(admin_app: AdminApp, admin: Api) -> None:
    group = admin.post("/groups", json={"app_name": "g"}).get_json()["id"]
    add_executor(admin_app.db, "g", "http://127.0.0.1:9001")
    job = add_job(admin_app.db, group, enabled=True, next_fire_at_ms=NOW + 1000)
    add_run(admin_app.db, job, group, status=RunStatus.SUCCESS, trigger_at_ms=NOW + 1)
    failed = add_run(admin_app.db, job, group, status=RunStatus.FAILED, trigger_at_ms=NOW + 2)
    add_run(admin_app.db, job, group, status=RunStatus.SUCCESS, trigger_at_ms=NOW - 36 * 3_600_000, executor_address="http://127.0.0.1:9001")
    board = admin.get("/dashboard").get_json()
    assert (board["job_count"], board["enabled_job_count"], board["live_executor_count"]) == (1, 1, 1)
    assert board["success_rate"] == 2 / 3 and board["timezone"] == "UTC"
    runs = board["runs"]
    assert [d["day"] for d in runs["daily"]][-3:] == ["2025-12-30", "2025-12-31", "2026-01-01"]
    assert runs["daily"][-3] == {"day": "2025-12-30", "success": 1, "failed": 0, "running": 0, "unknown": 0}
    assert runs["daily"][-1] == {"day": "2026-01-01", "success": 1, "failed": 1, "running": 0, "unknown": 0}
    assert runs["totals"] == {"key": "", "success": 2, "failed": 1, "running": 0, "unknown": 0}
    assert runs["per_group"] == [{"key": "g", "success": 2, "failed": 1, "running": 0, "unknown": 0}]
    assert [(c["key"], c["success"]) for c in runs["per_executor"]] == [("—", 1), ("http://127.0.0.1:9001", 1)]
    assert [r["id"] for r in board["recent_failures"]] == [failed]
    # A run whose delivery could not be confirmed: counted apart from failures, listed with them.
    unknown = add_run(admin_app.db, job, group, status=RunStatus.UNKNOWN, trigger_code=0, trigger_at_ms=NOW + 3)
    today = admin.get("/dashboard?days=1").get_json()
    assert today["runs"]["totals"] == {"key": "", "success": 1, "failed": 1, "running": 0, "unknown": 1}
    assert today["success_rate"] == 1 / 3  # an UNKNOWN run is not a known success
    assert [(r["id"], r["status"]) for r in today["recent_failures"]] == [(unknown, "UNKNOWN"), (failed, "FAILED")]
    assert len(admin.get("/dashboard?days=30&timezone=Asia/Tokyo").get_json()["runs"]["daily"]) == 30
    custom = admin.get("/dashboard?from=2025-12-30&to=2025-12-31").get_json()["runs"]
    assert (custom["first_day"], custom["last_day"], custom["totals"]["success"]) == ("2025-12-30", "2025-12-31", 1)
    assert set(assert_error(admin.get("/dashboard?days=9"), 400)) == {"days"}
    assert set(assert_error(admin.get("/dashboard?from=2025-01-01"), 400)) == {"from"}  # over 90 days
    assert set(assert_error(admin.get("/dashboard?from=2025-12-31&to=2025-12-30"), 400)) == {"to"}
    assert set(assert_error(admin.get("/dashboard?from=31.12.2025"), 400)) == {"from"}
    outsider = admin_app.user("outsider")
    empty = outsider.get("/dashboard").get_json()
    assert (empty["job_count"], empty["runs"]["totals"]["success"], empty["runs"]["per_group"], empty["recent_failures"]) == (0, 0, [], [])
