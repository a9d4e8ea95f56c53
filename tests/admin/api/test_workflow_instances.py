"""/api/v1/workflow-instances and /api/v1/workflows/{id}/instances: the list, one instance with
its steps and the links to their runs and logs; unknown ids 404, bad filters 400 naming the field."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.api.openapi import DOCUMENT
from shardcron.admin.enums import AuditTarget, RunStatus, StepStatus, WorkflowStatus
from shardcron.admin.models import AuditEntry, Job, WorkflowInstance

from tests.admin.api.conftest import AdminApp, Api
from tests.support.admin_data import NOW, add_group, add_job
from tests.support.workflow_view_rows import add_instance, add_step_run, add_step_run_log, add_workflow, chain


def _failed_instance(admin_app: AdminApp) -> dict[str, int]:
    db = admin_app.db
    g = add_group(db, "etl")
    extract, load = add_job(db, g, "extract"), add_job(db, g, "load")
    definition = chain(("extract", extract), ("load", load))
    w = add_workflow(db, g, "etl", definition)
    inst = add_instance(db, w, definition, status=WorkflowStatus.FAILED, finished_at_ms=NOW + 5000, message="step load failed")
    done = add_step_run(db, inst, "extract", extract, StepStatus.SUCCEEDED, result={"rows": 3}, started_at_ms=NOW, finished_at_ms=NOW + 1000)
    failed = add_step_run(db, inst, "load", load, StepStatus.FAILED, started_at_ms=NOW + 1000, finished_at_ms=NOW + 5000, message="boom")
    run_ok = add_step_run_log(db, done, extract, g)
    run_bad = add_step_run_log(db, failed, load, g, status=RunStatus.FAILED, handle_msg="boom")
    return {"group": g, "workflow": w, "instance": inst, "failed_step_run": failed, "run_ok": run_ok, "run_bad": run_bad}


def test_one_instance_carries_its_steps_results_and_links_to_runs_and_logs(admin_app: AdminApp, admin: Api) -> None:
    ids = _failed_instance(admin_app)
    response = admin.get(f"/workflow-instances/{ids['instance']}")
    assert response.status_code == 200, response.json
    body = response.json
    assert body["status"] == "FAILED" and body["workflow_name"] == "etl" and body["duration_ms"] == 5000 and body["message"] == "step load failed"
    assert [s["key"] for s in body["definition"]["steps"]] == ["extract", "load"]
    extract, load = body["steps"]
    assert extract["status"] == "SUCCEEDED" and extract["result"] == {"rows": 3} and extract["duration_ms"] == 1000
    assert extract["runs"][0]["links"] == {"run": f"/api/v1/runs/{ids['run_ok']}", "log": f"/api/v1/runs/{ids['run_ok']}/log"}
    assert load["status"] == "FAILED" and load["message"] == "boom" and load["generation"] == 0
    assert load["runs_link"] == f"/api/v1/runs?step_run_id={ids['failed_step_run']}"
    runs = admin.get(load["runs_link"][len("/api/v1"):]).json["items"]
    assert [r["id"] for r in runs] == [ids["run_bad"]] and runs[0]["step_run_id"] == ids["failed_step_run"]


def test_lists_filter_and_page_and_a_workflows_own_list(admin_app: AdminApp, admin: Api) -> None:
    ids = _failed_instance(admin_app)
    g = ids["group"]
    j = add_job(admin_app.db, g, "solo")
    other_def = chain(("solo", j))
    other_w = add_workflow(admin_app.db, g, "solo", other_def)
    running = add_instance(admin_app.db, other_w, other_def, created_at_ms=NOW + 10)

    listed = admin.get("/workflow-instances?per_page=1")
    assert listed.status_code == 200
    assert [i["id"] for i in listed.json["items"]] == [running] and listed.json["total"] == 2 and listed.json["pages"] == 2
    assert [i["id"] for i in admin.get("/workflow-instances?status=FAILED").json["items"]] == [ids["instance"]]
    assert [i["id"] for i in admin.get(f"/workflow-instances?from_ms={NOW + 5}").json["items"]] == [running]
    assert [i["id"] for i in admin.get(f"/workflows/{ids['workflow']}/instances").json["items"]] == [ids["instance"]]


def test_a_user_sees_only_instances_of_workflows_of_their_groups(admin_app: AdminApp) -> None:
    ids = _failed_instance(admin_app)
    stranger = admin_app.user("stranger", groups=[add_group(admin_app.db, "other")])
    member = admin_app.user("member", groups=[ids["group"]])
    assert stranger.get(f"/workflow-instances/{ids['instance']}").status_code == 404
    assert stranger.get(f"/workflows/{ids['workflow']}/instances").status_code == 404
    assert stranger.get("/workflow-instances").json["items"] == []
    assert member.get(f"/workflow-instances/{ids['instance']}").status_code == 200
    assert [i["id"] for i in member.get("/workflow-instances").json["items"]] == [ids["instance"]]


def test_unknown_ids_are_404_and_bad_filters_400_naming_the_field(admin_app: AdminApp, admin: Api) -> None:
    _failed_instance(admin_app)
    missing = admin.get("/workflow-instances/999999")
    assert missing.status_code == 404 and "workflow instance 999999" in missing.json["error"]["message"]
    assert admin.get("/workflows/999999/instances").status_code == 404
    assert admin.get("/workflow-instances/abc").status_code == 404
    bad = admin.get("/workflow-instances?status=DONE&workflow_id=-1&page=0")
    assert bad.status_code == 400
    assert set(bad.json["error"]["fields"]) >= {"status", "workflow_id"}
    assert admin.get("/workflow-instances?per_page=0").json["error"]["fields"].keys() == {"per_page"}
    assert admin_app.anonymous().get("/workflow-instances").status_code == 401


def test_responses_have_the_documented_properties(admin_app: AdminApp, admin: Api) -> None:
    ids = _failed_instance(admin_app)
    schemas = DOCUMENT["components"]["schemas"]

    def keys(name: str) -> set[str]:
        return set(schemas[name]["properties"])

    detail = admin.get(f"/workflow-instances/{ids['instance']}").json
    assert set(detail) == keys("WorkflowInstanceDetail")
    assert set(detail["steps"][0]) == keys("WorkflowInstanceStep")
    assert set(detail["steps"][0]["runs"][0]) == keys("WorkflowInstanceStepRun")
    listed = admin.get("/workflow-instances").json
    assert set(listed) == keys("WorkflowInstancePage") and set(listed["items"][0]) == keys("WorkflowInstance")


def _running_instance(admin_app: AdminApp, ids: dict[str, int]) -> tuple[int, int]:
    """A RUNNING instance of the etl workflow whose step `extract` is FIRED with a running run."""
    db = admin_app.db
    g = ids["group"]
    with db.read_session() as s:
        jobs = dict(s.execute(sa.select(Job.name, Job.id)).all())
    definition = chain(("extract", jobs["extract"]), ("load", jobs["load"]))
    inst = add_instance(db, ids["workflow"], definition)
    step = add_step_run(db, inst, "extract", jobs["extract"], StepStatus.FIRED, started_at_ms=NOW)
    add_step_run(db, inst, "load", jobs["load"], StepStatus.WAITING)
    # Its executor is no live executor of the group: a cancel fails the run here, calling no one.
    add_step_run_log(db, step, jobs["extract"], g, status=RunStatus.RUNNING, executor_address="http://127.0.0.1:9")
    return inst, step


def test_rerun_from_failed_puts_the_instance_back_to_running_and_refuses_a_wrong_state(admin_app: AdminApp, admin: Api) -> None:
    ids = _failed_instance(admin_app)
    response = admin.post(f"/workflow-instances/{ids['instance']}/rerun", json={"from_step": None})
    assert response.status_code == 200, response.json
    assert response.json["status"] == "RUNNING" and response.json["finished_at_ms"] is None
    steps = {s["key"]: s for s in response.json["steps"]}
    assert steps["load"]["generation"] == 1 and steps["load"]["status"] in ("WAITING", "FIRED")
    assert steps["extract"]["generation"] == 0 and steps["extract"]["status"] == "SUCCEEDED"  # kept with its result
    again = admin.post(f"/workflow-instances/{ids['instance']}/rerun")
    assert again.status_code == 409 and "RUNNING" in again.json["error"]["message"]
    with admin_app.db.read_session() as s:
        actions = list(s.scalars(sa.select(AuditEntry.action).where(AuditEntry.target_type == AuditTarget.WORKFLOW_INSTANCE, AuditEntry.target_id == ids["instance"])))
    assert actions == ["workflow.rerun"]


def test_rerun_from_a_step_and_bad_bodies(admin_app: AdminApp, admin: Api) -> None:
    ids = _failed_instance(admin_app)
    path = f"/workflow-instances/{ids['instance']}/rerun"
    for body, field in (({"from_step": 3}, "from_step"), ({"from": "load"}, "from"), ({"from_step": "nope"}, "from_step")):
        bad = admin.post(path, json=body)
        assert bad.status_code in (400, 404) and field in bad.json["error"]["fields"], (body, bad.json)
    assert admin.post(path, data="[1]", headers={"Content-Type": "application/json"}).status_code == 400
    response = admin.post(path, json={"from_step": "extract"})
    assert response.status_code == 200, response.json
    assert {s["key"]: s["generation"] for s in response.json["steps"]} == {"extract": 1, "load": 1}
    assert admin.post("/workflow-instances/999999/rerun").status_code == 404


def test_cancel_a_running_instance_kills_its_runs_and_a_second_cancel_is_409(admin_app: AdminApp, admin: Api) -> None:
    ids = _failed_instance(admin_app)
    inst, _step = _running_instance(admin_app, ids)
    response = admin.post(f"/workflow-instances/{inst}/cancel")
    assert response.status_code == 200, response.json
    assert response.json["status"] == "CANCELLED"
    assert {s["key"]: s["status"] for s in response.json["steps"]} == {"extract": "CANCELLED", "load": "CANCELLED"}
    again = admin.post(f"/workflow-instances/{inst}/cancel")
    assert again.status_code == 409 and "CANCELLED" in again.json["error"]["message"]
    assert admin.post(f"/workflow-instances/{inst}/cancel", json={"why": 1}).status_code == 400


def test_skip_a_failed_step_but_not_a_running_one(admin_app: AdminApp, admin: Api) -> None:
    ids = _failed_instance(admin_app)
    inst, _step = _running_instance(admin_app, ids)
    running = admin.post(f"/workflow-instances/{inst}/steps/extract/skip")
    assert running.status_code == 409 and "cancel or wait" in running.json["error"]["message"]
    assert admin.post(f"/workflow-instances/{ids['instance']}/steps/nope/skip").status_code in (400, 404)
    assert admin.post(f"/workflow-instances/{ids['instance']}/steps/{'x' * 300}/skip").status_code in (400, 404)
    response = admin.post(f"/workflow-instances/{ids['instance']}/steps/load/skip")
    assert response.status_code == 200, response.json
    load = next(s for s in response.json["steps"] if s["key"] == "load")
    assert load["status"] == "SKIPPED" and load["generation"] == 1
    assert response.json["status"] == "SUCCEEDED"  # nothing left to run: skipped counts as success


def test_trigger_a_workflow_with_params_and_refuse_bad_params(admin_app: AdminApp, admin: Api) -> None:
    ids = _failed_instance(admin_app)
    path = f"/workflows/{ids['workflow']}/trigger"
    for body, field in (({"params": [1]}, "params"), ({"params": "day=1"}, "params"), ({"param": {}}, "param")):
        bad = admin.post(path, json=body)
        assert bad.status_code == 400 and field in bad.json["error"]["fields"], (body, bad.json)
    with admin_app.db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(WorkflowInstance)) == 1  # nothing written
    response = admin.post(path, json={"params": {"day": "2026-01-01"}})
    assert response.status_code == 201, response.json
    assert response.json["params"] == {"day": "2026-01-01"} and response.json["workflow_id"] == ids["workflow"]
    assert admin.post("/workflows/999999/trigger").status_code == 404
    stranger = admin_app.user("stranger2", groups=[add_group(admin_app.db, "elsewhere")])
    assert stranger.post(path, json={}).status_code == 404
