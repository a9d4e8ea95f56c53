"""The OpenAPI document matches the implementation: routes and methods both ways, required
fields really required (and nothing else), unknown fields refused, response properties exact."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from shardcron.admin.api.openapi import DOCUMENT
from shardcron.admin.enums import Delivery, RunStatus
from shardcron.admin.services.job_form import JOB_FIELDS
from shardcron.admin.services import dashboard, glue_versions, groups, jobs, runs, triggers, users, workflows
from tests.admin.api.conftest import AdminApp, Api
from tests.support.admin_data import NOW, add_executor, add_run

IGNORED_METHODS = {"HEAD", "OPTIONS"}
CATCH_ALL = "api_v1.not_a_route"


def implemented(admin_app: AdminApp) -> set[tuple[str, str]]:
    found = set()
    for rule in admin_app.app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1/") or rule.endpoint == CATCH_ALL:
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1") :])
        found |= {(path, method) for method in rule.methods - IGNORED_METHODS}
    return found


def documented() -> set[tuple[str, str]]:
    return {(path, method.upper()) for path, item in DOCUMENT["paths"].items() for method in item}


def test_every_route_is_documented_and_every_documented_route_exists(admin_app: AdminApp) -> None:
    assert implemented(admin_app) == documented()


def test_served_document_is_the_document(admin_app: AdminApp) -> None:
    served = admin_app.anonymous().get("/openapi.json").get_json()
    assert served == DOCUMENT
    assert served["openapi"].startswith("3.1")
    assert "cookies are not accepted" in served["info"]["description"].lower()


def test_every_ref_resolves_and_path_parameters_are_declared() -> None:
    schemas = DOCUMENT["components"]["schemas"]

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "$ref" in node:
                assert node["$ref"].removeprefix("#/components/schemas/") in schemas, node["$ref"]
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(DOCUMENT)
    for path, item in DOCUMENT["paths"].items():
        wanted = set(re.findall(r"{(\w+)}", path))
        for operation in item.values():
            declared = {p["name"] for p in operation.get("parameters", []) if p["in"] == "path"}
            assert declared == wanted, (path, declared)
            assert operation["responses"], path


def _schema_of(operation: dict) -> tuple[str, dict] | None:
    body = operation.get("requestBody")
    if not body:
        return None
    name = body["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    return name, DOCUMENT["components"]["schemas"][name]


@pytest.fixture
def world(admin_app: AdminApp, admin: Api) -> dict[str, Any]:
    """One of everything, and the smallest valid body for each documented request schema."""
    group = admin.post("/groups", json={"app_name": "world"}).get_json()
    add_executor(admin_app.db, "world", "http://127.0.0.1:9001")
    job = admin.post("/jobs", json={"group_id": group["id"], "name": "j", "schedule_conf": "0 * * * *", "handler": "h"}).get_json()
    user = admin.post("/users", json={"username": "someone", "password": "long password"}).get_json()
    calendar = admin.post("/calendars", json={"name": "holidays", "entries": ["2026-12-25 Christmas"]}).get_json()
    # Its executor is not registered in the group: a kill marks it failed without calling anyone.
    run = add_run(admin_app.db, job["id"], group["id"], status=RunStatus.RUNNING, executor_address="http://127.0.0.1:9")
    workflow = admin.post("/workflows", json={"group_id": group["id"], "name": "w", "definition": {"steps": [{"key": "a", "job_id": job["id"]}]}}).get_json()
    return {"group": group, "job": job, "user": user, "run": run, "calendar": calendar, "workflow": workflow}


def _path(template: str, world: dict[str, Any]) -> str:
    ids = {
        "group_id": world["group"]["id"], "job_id": world["job"]["id"], "user_id": world["user"]["id"], "run_id": world["run"], "fire_id": 0,
        "token_id": 0, "backfill_id": 0, "calendar_id": world["calendar"]["id"], "workflow_id": world["workflow"]["id"],
    }
    return template.format(**ids)


def minimal_bodies(world: dict[str, Any], counter: list[int]) -> dict[str, dict[str, Any]]:
    counter[0] += 1
    n = counter[0]
    return {
        "GroupCreate": {"app_name": f"app{n}"},
        "CalendarCreate": {"name": f"calendar {n}"},
        "JobCreate": {"group_id": world["group"]["id"], "name": f"job {n}", "schedule_conf": "*/5 * * * *", "handler": "demo"},
        "UserCreate": {"username": f"user{n}", "password": "long enough pw"},
        "PasswordChange": {"current_password": "s3cret-enough", "new_password": f"new password {n}"},
        "ApiTokenCreate": {"name": f"token {n}"},
        "CleanupRequest": {"group_id": world["group"]["id"], "keep_last": 0},
        "ExportDocument": {"shardcron_export": 1},
        "BackfillRequest": {"from_ms": NOW - 3 * 3_600_000, "to_ms": NOW - 1},
        "WorkflowCreate": {"group_id": world["group"]["id"], "name": f"workflow {n}", "definition": {"steps": [{"key": "a", "job_id": world["job"]["id"]}]}},
        "WorkflowPreviewRequest": {"definition": {"steps": [{"key": "a", "job_id": world["job"]["id"]}]}},
    }


def test_documented_required_fields_are_exactly_the_required_ones(admin_app: AdminApp, admin: Api, world: dict[str, Any]) -> None:
    counter = [0]
    checked = set()
    for path, item in DOCUMENT["paths"].items():
        for method, operation in item.items():
            found = _schema_of(operation)
            if found is None:
                continue
            name, schema = found
            required = schema.get("required", [])
            if name == "PasswordChange":
                # A password change revokes the caller's tokens: each request gets a new caller.
                def send(url: str, json: Any, method: str = method) -> Any:
                    counter[0] += 1
                    return getattr(admin_app.user(f"caller{counter[0]}", role="ADMIN"), method)(url, json=json)
            else:
                send = getattr(admin, method)
            url = _path(path, world)
            if "oneOf" in schema or "anyOf" in schema:
                # Required as "one of these fields": an empty body is refused, the minimal one passes.
                empty = send(url, json={})
                assert empty.status_code == 400 and empty.get_json()["error"]["fields"], (path, method)
                response = send(url, json=minimal_bodies(world, counter)[name])
            elif required:
                body = minimal_bodies(world, counter)[name]
                assert set(body) == set(required), name
                for field in required:
                    partial = {k: v for k, v in minimal_bodies(world, counter)[name].items() if k != field}
                    response = send(url, json=partial)
                    assert response.status_code == 400, (path, method, field, response.get_json())
                    assert field in response.get_json()["error"]["fields"], (path, method, field, response.get_json())
                response = send(url, json=minimal_bodies(world, counter)[name])
            else:
                response = send(url, json={})
            assert response.status_code < 300, (path, method, response.get_json())
            unknown = send(url, json={**(minimal_bodies(world, counter).get(name, {})), "no_such_field": 1})
            if schema.get("additionalProperties") is False:
                assert unknown.status_code == 400 and "no_such_field" in unknown.get_json()["error"]["fields"], (path, method)
            checked.add((path, method))
    # Every operation with a body: groups (2), jobs (4), users (2), me/password, me/tokens, import, backfills, calendars (2),
    # workflows (create, preview, change, copy).
    assert len(checked) == 19


SCHEMA_TYPES = {
    "Group": groups.GroupView,
    "LiveExecutor": groups.LiveExecutorView,
    "Job": jobs.JobView,
    "Run": runs.RunView,
    "Fire": triggers.FireView,
    "TriggerResult": triggers.TriggerResult,
    "LogPage": runs.LogPage,
    "KillResult": runs.KillResult,
    "Dashboard": dashboard.Dashboard,
    "DayCounts": dashboard.DayCounts,
    "Counts": dashboard.Counts,
    "RangeCounts": dashboard.RangeCounts,
    "User": users.UserView,
    "GlueVersion": glue_versions.GlueVersionView,
    "GlueVersionDetail": glue_versions.GlueVersionDetail,
    "Workflow": workflows.WorkflowView,
}


@pytest.mark.parametrize("name", sorted(SCHEMA_TYPES))
def test_documented_properties_are_the_service_views_fields(name: str) -> None:
    documented_props = set(DOCUMENT["components"]["schemas"][name]["properties"])
    assert documented_props == {f.name for f in dataclasses.fields(SCHEMA_TYPES[name])}


def test_live_responses_have_the_documented_properties(admin_app: AdminApp, admin: Api, world: dict[str, Any]) -> None:
    schemas = DOCUMENT["components"]["schemas"]

    def keys(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    assert set(admin.get(f"/groups/{world['group']['id']}").get_json()) == keys("Group")
    assert set(admin.get(f"/groups/{world['group']['id']}").get_json()["live_executors"][0]) == keys("LiveExecutor")
    assert set(admin.get(f"/jobs/{world['job']['id']}").get_json()) == keys("Job")
    assert set(admin.get(f"/runs/{world['run']}").get_json()) == keys("Run")
    assert set(admin.get("/me").get_json()) == keys("User")
    calendar = admin.get(f"/calendars/{world['calendar']['id']}").get_json()
    assert set(calendar) == keys("Calendar") and set(calendar["entries"][0]) == keys("CalendarEntry")
    preview = admin.get(f"/schedule-preview?schedule_type=CRON&schedule_conf=0+9+*+*+*&calendars={calendar['name']}").get_json()
    assert set(preview) == keys("FireTimes")
    assert set(admin.get(f"/jobs/{world['job']['id']}/preview").get_json()) == keys("JobFireTimes")
    trigger = admin.post(f"/jobs/{world['job']['id']}/trigger").get_json()
    assert set(trigger) == keys("TriggerResult")
    assert set(admin.get(f"/fires/{trigger['fire_id']}").get_json()) == keys("Fire")
    board = admin.get("/dashboard").get_json()
    assert set(board) == keys("Dashboard") and set(board["runs"]) == keys("RangeCounts") and set(board["runs"]["daily"][0]) == keys("DayCounts")
    assert set(board["runs"]["totals"]) == keys("Counts") and set(board["runs"]["per_group"][0]) == keys("Counts")
    assert set(admin.get(f"/workflows/{world['workflow']['id']}").get_json()) == keys("Workflow")
    preview = admin.post("/workflows/preview", json={"definition": world["workflow"]["definition"]}).get_json()
    assert set(preview) == keys("WorkflowPreview") and set(preview["layout"]) == set(schemas["WorkflowPreview"]["properties"]["layout"]["properties"])
    for path, page in (("/jobs", "JobPage"), ("/runs", "RunPage"), ("/groups", "GroupPage"), ("/users", "UserPage"), ("/calendars", "CalendarPage"),
                       ("/workflows", "WorkflowPage")):
        assert set(admin.get(path).get_json()) == keys(page)
    assert set(admin.get("/jobs/0").get_json()) == keys("Error")
    assert set(admin.post(f"/runs/{world['run']}/kill").get_json()) == keys("KillResult")


def test_documented_job_defaults_and_enums_are_the_codes() -> None:
    props = DOCUMENT["components"]["schemas"]["JobCreate"]["properties"]
    defaults = {name: schema["default"] for name, schema in props.items() if "default" in schema}
    assert "delivery" in defaults
    for name, default in defaults.items():
        code_default = JOB_FIELDS[name][0]
        assert default == getattr(code_default, "value", code_default), name
    assert props["delivery"]["enum"] == [d.value for d in Delivery] == ["AT_MOST_ONCE", "AT_LEAST_ONCE"]
    run_statuses = [s.value for s in RunStatus]
    assert "UNKNOWN" in run_statuses
    assert DOCUMENT["components"]["schemas"]["Run"]["properties"]["status"]["enum"] == run_statuses
    assert "UNKNOWN" in DOCUMENT["components"]["schemas"]["Run"]["properties"]["status"]["description"]
    [status_param] = [p for p in DOCUMENT["paths"]["/runs"]["get"]["parameters"] if p["name"] == "status"]
    assert status_param["schema"]["enum"] == run_statuses
