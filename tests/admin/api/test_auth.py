"""API authentication (bearer tokens only) and the one JSON error shape."""

from __future__ import annotations

from tests.admin.api.conftest import AdminApp, Api


def assert_error(response, status: int, *words: str) -> dict:
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True))
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"message", "fields"}
    for word in words:
        assert word in body["error"]["message"], body
    return body["error"]["fields"]


def test_no_token_bad_token_revoked_token(admin_app: AdminApp, admin: Api) -> None:
    anonymous = admin_app.anonymous()
    response = anonymous.get("/jobs")
    assert_error(response, 401, "Authorization: Bearer")
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert_error(anonymous.get("/jobs", headers={"Authorization": "Bearer sct_not-a-token"}), 401, "invalid or revoked")
    assert_error(anonymous.get("/jobs", headers={"Authorization": "Basic cm9vdDpwdw=="}), 401)
    assert admin.get("/jobs").status_code == 200
    assert admin.delete("/me/token").status_code == 204
    assert_error(admin.get("/jobs"), 401, "invalid or revoked")


def test_cookies_are_not_accepted(admin_app: AdminApp) -> None:
    client = admin_app.app.test_client()
    client.set_cookie("shardcron_session", "anything", domain="localhost")
    assert_error(client.get("/api/v1/jobs"), 401, "does not accept console cookies")


def test_rotating_the_token_voids_the_old_one(admin_app: AdminApp) -> None:
    api = admin_app.user("scripter")
    response = api.post("/me/token")
    assert response.status_code == 201
    new = response.get_json()["token"]
    assert new.startswith("sct_")
    assert api.get("/me").status_code == 401
    api.token = new
    assert api.get("/me").get_json()["username"] == "scripter"


def test_openapi_is_public_and_errors_are_json(admin_app: AdminApp, admin: Api) -> None:
    assert admin_app.anonymous().get("/openapi.json").get_json()["openapi"] == "3.1.0"
    assert_error(admin.get("/no/such/thing"), 404, "no API route /api/v1/no/such/thing")
    assert_error(admin.get("/"), 404, "the routes are listed in /api/v1/openapi.json")
    assert_error(admin.get("/jobs/not-a-number"), 404)
    response = admin.patch("/jobs")
    assert_error(response, 405, "PATCH is not allowed")
    assert set(response.headers["Allow"].split(", ")) == {"GET", "POST"}
    assert_error(admin.post("/groups", data="{nope", headers={"Content-Type": "application/json"}), 400, "JSON object")
    assert_error(admin.post("/groups", json=[1, 2]), 400, "JSON object")
    assert_error(admin.post("/groups", data="app_name=x", headers={"Content-Type": "application/x-www-form-urlencoded"}), 400, "Content-Type: application/json")
    fields = assert_error(admin.get("/jobs?page=0&per_page=500"), 400)
    assert set(fields) == {"page", "per_page"}
