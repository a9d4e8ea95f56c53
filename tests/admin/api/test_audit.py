"""/api/v1/audit, and the walk over every state-changing REST route: each one that succeeds
leaves an audit entry naming the caller and its token. A new route fails the walk until it is
added here (and records its entries)."""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, UserRole
from shardcron.admin.models import AuditEntry
from shardcron.admin.services import users
from tests.admin.api.conftest import AdminApp, Api
from tests.admin.api.test_auth import assert_error
from tests.support.admin_data import NOW, add_run

MUTATING = {"POST", "PATCH", "PUT", "DELETE"}
#: Routes that change nothing a person made: the catch-all that answers 404/405.
NOT_CHANGES = {"api_v1.not_a_route", "api_v1.preview_workflow_definition"}


DAY_MS = 24 * 3600 * 1000


def _entries(admin_app: AdminApp) -> list[AuditEntry]:
    with admin_app.db.read_session() as s:
        rows = list(s.scalars(sa.select(AuditEntry).order_by(AuditEntry.id)))
        s.expunge_all()
        return rows


def test_every_state_changing_route_leaves_an_entry(admin_app: AdminApp, admin: Api) -> None:
    bob = admin_app.user("bob", UserRole.USER)
    state: dict[str, int] = {}
    job_body = {"name": "nightly", "handler": "sync", "schedule_type": "CRON", "schedule_conf": "0 0 2 * * ?", "timezone": "UTC"}

    def remember(key: str, response, field: str = "id"):
        state[key] = response.get_json()[field]
        return response

    def issue_bob_token():
        response = bob.post("/me/token")
        bob.token = response.get_json()["token"]  # the token this request used stops working
        return response

    def kill():
        run_id = add_run(admin_app.db, state["job"], state["group"], status=RunStatus.RUNNING, executor_address="http://10.9.9.9:9999")
        return admin.post(f"/runs/{run_id}/kill")

    def repair():  # its executor is no live executor of the group: lost, so repaired at once
        run_id = add_run(admin_app.db, state["job"], state["group"], status=RunStatus.RUNNING, executor_address="http://10.9.9.9:9999")
        return admin.post(f"/runs/{run_id}/repair")

    def rollback():
        job = state["job"]
        version = admin.get(f"/jobs/{job}/glue-versions").get_json()["items"][0]["id"]
        return admin.post(f"/jobs/{job}/glue-versions/{version}/rollback")

    def named_token(api: Api, name: str, key: str):
        return remember(key, api.post("/me/tokens", json={"name": name}))

    # (endpoint, request) in an order where each one succeeds.
    walk: list[tuple[str, Callable[[], object]]] = [
        ("api_v1.create_calendar", lambda: remember("calendar", admin.post("/calendars", json={"name": "holidays", "entries": ["2026-12-25"]}))),
        ("api_v1.update_calendar", lambda: admin.patch(f"/calendars/{state['calendar']}", json={"entries": ["2026-12-24..2026-12-26"]})),
        ("api_v1.delete_calendar", lambda: admin.delete(f"/calendars/{state['calendar']}")),
        ("api_v1.create_group", lambda: remember("group", admin.post("/groups", json={"app_name": "billing"}))),
        ("api_v1.update_group", lambda: admin.patch(f"/groups/{state['group']}", json={"title": "Billing team"})),
        ("api_v1.create_job", lambda: remember("job", admin.post("/jobs", json={**job_body, "group_id": state["group"]}))),
        ("api_v1.update_job", lambda: admin.patch(f"/jobs/{state['job']}", json={"glue_type": "GLUE_SHELL", "glue_source": "echo hi"})),
        ("api_v1.start_job", lambda: admin.post(f"/jobs/{state['job']}/start")),
        ("api_v1.stop_job", lambda: admin.post(f"/jobs/{state['job']}/stop")),
        ("api_v1.trigger_job", lambda: admin.post(f"/jobs/{state['job']}/trigger", json={"param": "once"})),
        ("api_v1.rollback_glue_version", rollback),
        ("api_v1.create_backfill", lambda: remember("backfill", admin.post(f"/jobs/{state['job']}/backfills", json={"from_ms": NOW - 3 * DAY_MS, "to_ms": NOW - 1}))),
        ("api_v1.cancel_backfill", lambda: admin.post(f"/backfills/{state['backfill']}/cancel")),
        ("api_v1.import_document_route", lambda: admin.post("/import", json={"shardcron_export": 1, "groups": [{"app_name": "imported"}], "jobs": []})),
        ("api_v1.create_workflow", lambda: remember("workflow", admin.post("/workflows", json={
            "group_id": state["group"], "name": "nightly flow", "definition": {"steps": [{"key": "a", "job_id": state["job"]}]},
            "schedule_type": "CRON", "schedule_conf": "0 0 3 * * ?"}))),
        ("api_v1.update_workflow", lambda: admin.put(f"/workflows/{state['workflow']}", json={"description": "every night"})),
        ("api_v1.start_workflow", lambda: admin.post(f"/workflows/{state['workflow']}/start")),
        ("api_v1.stop_workflow", lambda: admin.post(f"/workflows/{state['workflow']}/stop")),
        ("api_v1.copy_workflow", lambda: remember("workflow_copy", admin.post(f"/workflows/{state['workflow']}/copy"))),
        ("api_v1.delete_workflow", lambda: (admin.delete(f"/workflows/{state['workflow_copy']}"), admin.delete(f"/workflows/{state['workflow']}"))[1]),
        ("api_v1.copy_job", lambda: remember("copy", admin.post(f"/jobs/{state['job']}/copy", json={"name": "nightly 2"}))),
        ("api_v1.delete_job", lambda: admin.delete(f"/jobs/{state['copy']}")),
        ("api_v1.kill_run", kill),
        ("api_v1.repair_run", repair),
        ("api_v1.clean_up_runs", lambda: admin.post("/runs/cleanup", json={"job_id": state["job"], "keep_last": 0})),
        ("api_v1.create_user", lambda: remember("user", admin.post("/users", json={"username": "carol", "password": "a long password", "group_ids": [state["group"]]}))),
        ("api_v1.update_user", lambda: admin.patch(f"/users/{state['user']}", json={"role": "ADMIN"})),
        ("api_v1.issue_my_token", issue_bob_token),
        ("api_v1.revoke_my_token", lambda: bob.delete("/me/token")),
        ("api_v1.issue_my_named_token", lambda: named_token(admin, "ci", "admin_token")),
        ("api_v1.revoke_my_named_token", lambda: admin.delete(f"/me/tokens/{state['admin_token']}")),
        ("api_v1.revoke_user_token", lambda: (named_token(carol_api(), "deploy", "carol_token"), admin.delete(f"/users/{state['user']}/tokens/{state['carol_token']}"))[1]),
        ("api_v1.change_my_password", lambda: carol_api().post("/me/password", json={"current_password": "a long password", "new_password": "another long password"})),
        ("api_v1.delete_user", lambda: admin.delete(f"/users/{state['user']}")),
        ("api_v1.delete_group", lambda: (admin.delete(f"/jobs/{state['job']}"), admin.delete(f"/groups/{state['group']}"))[1]),
    ]

    carol: dict[str, Api] = {}

    def carol_api() -> Api:
        if "api" not in carol:
            with admin_app.db.session() as s:
                carol["api"] = Api(admin_app.app.test_client(), users.issue_api_token(s, users.actor_for_user(s, state["user"]), state["user"], now_ms=NOW), state["user"])
        return carol["api"]

    routes = {rule.endpoint for rule in admin_app.app.url_map.iter_rules() if rule.endpoint.startswith("api_v1.") and rule.methods & MUTATING}
    assert routes - NOT_CHANGES == {endpoint for endpoint, _ in walk}, "a state-changing route is missing from the walk (or gone)"
    silent = []
    for endpoint, call in walk:
        before = len(_entries(admin_app))
        response = call()
        assert response.status_code < 300, (endpoint, response.status_code, response.get_data(as_text=True))
        if len(_entries(admin_app)) <= before:
            silent.append(endpoint)
    assert silent == [], f"these routes changed something and left no audit entry: {silent}"
    entries = _entries(admin_app)
    via_api = [e for e in entries if e.actor_kind == "API_TOKEN"]
    assert via_api and all(e.token_name and e.client_address for e in via_api)
    assert {e.actor_name for e in via_api} == {"root", "bob", "carol"}


def test_the_audit_list_is_scoped_filtered_and_refuses_bad_values(admin_app: AdminApp, admin: Api) -> None:
    mine = admin.post("/groups", json={"app_name": "mine"}).get_json()["id"]
    theirs = admin.post("/groups", json={"app_name": "theirs"}).get_json()["id"]
    bob = admin_app.user("bob", UserRole.USER, [mine])
    body = {"handler": "h", "schedule_type": "NONE", "schedule_conf": "", "timezone": "UTC"}
    admin.post("/jobs", json={**body, "name": "a", "group_id": mine})
    admin.post("/jobs", json={**body, "name": "b", "group_id": theirs})
    seen = bob.get("/audit").get_json()
    assert [(e["action"], e["group_id"]) for e in seen["items"]] == [("job.create", mine), ("group.create", mine)]
    # The fixture made root and bob (and their tokens) as the system: 4 entries more than root's.
    assert admin.get("/audit").get_json()["total"] == 8
    everything = admin.get("/audit?actor=root&per_page=3").get_json()
    assert (everything["total"], everything["pages"], len(everything["items"])) == (4, 2, 3)
    assert everything["items"][0]["target_name"] == "b" and everything["items"][0]["token_name"] == "default"
    assert [e["target_name"] for e in admin.get("/audit?action=group").get_json()["items"]] == ["theirs", "mine"]
    for query, field in (("group_id=abc", "group_id"), ("from_ms=-5", "from_ms"), ("action=nope", "action"), ("target_id=3", "target_type"), ("per_page=999", "per_page")):
        assert field in assert_error(admin.get(f"/audit?{query}"), 400), query
