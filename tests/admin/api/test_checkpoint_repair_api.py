"""/api/v1: a run's checkpoint in GET /runs/{id}, a trigger that resumes from one (or starts
fresh), and POST /runs/{id}/repair (202 for a lost run, 409 with the reason otherwise)."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shardcron.admin.enums import RunStatus, TriggerType
from shardcron.admin.models import Fire
from tests.admin.api.conftest import AdminApp, Api
from tests.admin.api.test_auth import assert_error
from tests.support.admin_data import NOW, add_executor, add_job, add_run

GONE = "http://127.0.0.1:9"


def _group(admin: Api) -> int:
    return admin.post("/groups", json={"app_name": "ckpt-app"}).get_json()["id"]


def test_the_run_shows_its_checkpoint_and_a_trigger_resumes_from_it(admin_app: AdminApp, admin: Api) -> None:
    group = _group(admin)
    job = add_job(admin_app.db, group)
    saved = add_run(admin_app.db, job, group, status=RunStatus.FAILED, checkpoint_json=json.dumps({"next": 42}), checkpoint_seq=3, checkpoint_at_ms=NOW)
    bare = add_run(admin_app.db, job, group, status=RunStatus.FAILED)
    other = add_run(admin_app.db, add_job(admin_app.db, group, name="other"), group, checkpoint_json="1", checkpoint_seq=1)
    run = admin.get(f"/runs/{saved}").get_json()
    assert (run["checkpoint"], run["checkpoint_seq"], run["checkpoint_at_ms"], run["resume_from_run_id"]) == ({"next": 42}, 3, NOW, None)
    assert admin.get(f"/runs/{bare}").get_json()["checkpoint"] is None
    resumed = admin.post(f"/jobs/{job}/trigger", json={"resume_from_run_id": saved})
    assert resumed.status_code == 202 and resumed.get_json()["resume_from_run_id"] == saved
    fresh = admin.post(f"/jobs/{job}/trigger", json={"resume_from_run_id": None}).get_json()
    assert fresh["resume_from_run_id"] is None
    with admin_app.db.read_session() as s:
        assert [f.resume_from_run_id for f in s.scalars(sa.select(Fire).order_by(Fire.id))] == [saved, None]
    fields = assert_error(admin.post(f"/jobs/{job}/trigger", json={"resume_from_run_id": bare}), 400, "not triggered")
    assert fields == {"resume_from_run_id": f"run {bare} saved no checkpoint; start fresh instead"}
    fields = assert_error(admin.post(f"/jobs/{job}/trigger", json={"resume_from_run_id": other}), 400)
    assert fields == {"resume_from_run_id": f"run {other} is not a run of job {job}"}
    assert "resume_from_run_id" in assert_error(admin.post(f"/jobs/{job}/trigger", json={"resume_from_run_id": "ten"}), 400)
    assert "resume_from_run_id" in assert_error(admin.post(f"/jobs/{job}/trigger", json={"resume_from_run_id": 2**70}), 400)


def test_repair_of_a_lost_run_and_refusals(admin_app: AdminApp, admin: Api) -> None:
    group = _group(admin)
    add_executor(admin_app.db, "ckpt-app", GONE, heartbeat_at_ms=NOW - 600_000)  # not live any more
    job = add_job(admin_app.db, group)
    lost = add_run(admin_app.db, job, group, status=RunStatus.RUNNING, executor_address=GONE, checkpoint_json='{"next":7}', checkpoint_seq=2)
    done = add_run(admin_app.db, job, group, status=RunStatus.SUCCESS, executor_address=GONE)
    repaired = admin.post(f"/runs/{lost}/repair")
    assert repaired.status_code == 202, repaired.get_json()
    body = repaired.get_json()
    assert (body["run_id"], body["resumes"]) == (lost, True) and "resuming from its checkpoint #2" in body["message"]
    fire = admin.get(f"/fires/{body['fire_id']}").get_json()
    assert (fire["trigger_type"], fire["resume_from_run_id"]) == (TriggerType.MANUAL.value, lost)
    assert admin.get(f"/runs/{lost}").get_json()["status"] == "FAILED"
    assert_error(admin.post(f"/runs/{lost}/repair"), 409, "is FAILED, not RUNNING")
    assert_error(admin.post(f"/runs/{done}/repair"), 409, "is SUCCESS, not RUNNING")
    assert_error(admin.post("/runs/999999/repair"), 404)
    entry = admin.get(f"/audit?target_type=job&target_id={job}").get_json()["items"][0]
    assert (entry["action"], entry["actor_name"], entry["after"]["repair_of_run_id"]) == ("job.trigger", "root", lost)


def test_repair_of_a_run_whose_result_is_on_its_way_is_refused(admin_app: AdminApp, admin: Api) -> None:
    from tests.support.recording_executor import RecordingExecutor

    stub = RecordingExecutor().start()  # idle for the job, and its /log says the result waits there
    stub.contents["/log"] = {"fromLineNum": 1, "toLineNum": 0, "logContent": "", "isEnd": True, "logIdKnown": True, "resultPending": True}
    try:
        group = _group(admin)
        add_executor(admin_app.db, "ckpt-app", stub.address)
        run = add_run(admin_app.db, add_job(admin_app.db, group), group, status=RunStatus.RUNNING, executor_address=stub.address)
        assert_error(admin.post(f"/runs/{run}/repair"), 409, f"run {run} has ended: its result is on its way from executor {stub.address}; wait for it")
        assert admin.get(f"/runs/{run}").get_json()["status"] == "RUNNING"
    finally:
        stub.stop()
