"""/api/v1 triggers, fires and runs: the fire rows written, run filters, and the log tail and kill
against a real shardcron Executor on loopback (and refusal for an address not in the group)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, RunStatus, TriggerType
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.executor import Executor
from shardcron.core.protocol import TriggerParam
from tests.admin.api.conftest import EXECUTOR_TOKEN, AdminApp, Api
from tests.admin.api.test_auth import assert_error
from tests.support.admin_data import NOW, add_executor, add_job, add_run
from tests.support.fake_admin import FakeAdmin
from tests.support.loopback_executor import hello_executor
from tests.support.net import wait_until



@pytest.fixture
def fake_admin() -> Iterator[FakeAdmin]:
    """Where the executor registers and reports results (the app under test is not served)."""
    admin = FakeAdmin(token=EXECUTOR_TOKEN).start()
    yield admin
    admin.stop()


@pytest.fixture
def executor(tmp_path: Path, fake_admin: FakeAdmin) -> Iterator[Executor]:
    with hello_executor(tmp_path / "executor", fake_admin.url, EXECUTOR_TOKEN, "api-test") as ex:
        yield ex


def fires(admin_app: AdminApp) -> list[Fire]:
    with admin_app.db.session() as s:
        return list(s.scalars(sa.select(Fire).order_by(Fire.id)))


@pytest.fixture
def group_id(admin: Api) -> int:
    return admin.post("/groups", json={"app_name": "api-test"}).get_json()["id"]


def test_trigger_whole_job_and_one_shard(admin_app: AdminApp, admin: Api, group_id: int) -> None:
    for port in (9001, 9002):
        add_executor(admin_app.db, "api-test", f"http://127.0.0.1:{port}")
    job = add_job(admin_app.db, group_id, route_strategy="SHARDING_BROADCAST")
    whole = admin.post(f"/jobs/{job}/trigger")
    assert whole.status_code == 202
    shard = admin.post(f"/jobs/{job}/trigger", json={"shard_index": 1, "param": "only me", "address": "http://127.0.0.1:9002/"}).get_json()
    assert (shard["shard_index"], shard["shard_total"], shard["address"], shard["trigger_type"]) == (1, 2, "http://127.0.0.1:9002", "API")
    a, b = fires(admin_app)
    assert (a.id, a.trigger_type, a.status, a.fire_at_ms, a.shard_index, a.shard_total, a.param, a.address) == (
        whole.get_json()["fire_id"], TriggerType.API, FireStatus.PENDING, NOW, None, None, None, None,
    )
    assert (b.id, b.shard_index, b.shard_total, b.param, b.address, b.attempt) == (shard["fire_id"], 1, 2, "only me", "http://127.0.0.1:9002", 0)
    fire = admin.get(f"/fires/{b.id}").get_json()
    assert fire["status"] == "PENDING" and fire["runs"] == []
    # Once the fire loop has dispatched it, the fire shows its run row.
    run_id = add_run(admin_app.db, job, group_id, status=RunStatus.RUNNING, fire_id=b.id, shard_index=1, shard_total=2)
    assert [r["id"] for r in admin.get(f"/fires/{b.id}").get_json()["runs"]] == [run_id]


def test_trigger_refusals_save_nothing(admin_app: AdminApp, admin: Api, group_id: int) -> None:
    add_executor(admin_app.db, "api-test", "http://127.0.0.1:9001")
    job = add_job(admin_app.db, group_id)
    fields = assert_error(admin.post(f"/jobs/{job}/trigger", json={"shard_index": 1}), 400, f"job {job} not triggered")
    assert fields == {"shard_index": "must be between 0 and 0 (shard_total is 1)"}
    fields = assert_error(admin.post(f"/jobs/{job}/trigger", json={"address": "http://169.254.169.254"}), 400)
    assert "not a live executor of group api-test" in fields["address"]
    assert "unknown field" in assert_error(admin.post(f"/jobs/{job}/trigger", json={"shard": 1}), 400)["shard"]
    assert_error(admin.post("/jobs/999/trigger"), 404)
    assert fires(admin_app) == []


def test_run_list_filters_and_permissions(admin_app: AdminApp, admin: Api, group_id: int) -> None:
    other = admin.post("/groups", json={"app_name": "other"}).get_json()["id"]
    job, other_job = add_job(admin_app.db, group_id, "mine"), add_job(admin_app.db, other, "theirs")
    ok = add_run(admin_app.db, job, group_id, status=RunStatus.SUCCESS, trigger_at_ms=NOW - 3000)
    bad = add_run(admin_app.db, job, group_id, status=RunStatus.FAILED, trigger_at_ms=NOW - 2000, result_json=json.dumps({"claimed": 3, "succeeded": 1, "retried": 1, "dead": 1}))
    hidden = add_run(admin_app.db, other_job, other, status=RunStatus.FAILED, trigger_at_ms=NOW - 1000)
    ids = lambda api, q="": [r["id"] for r in api.get("/runs" + q).get_json()["items"]]  # noqa: E731
    assert ids(admin) == [hidden, bad, ok]
    assert ids(admin, f"?group_id={group_id}") == [bad, ok]
    assert ids(admin, f"?job_id={other_job}") == [hidden]
    assert ids(admin, "?status=FAILED") == [hidden, bad]
    assert ids(admin, f"?from_ms={NOW - 2500}&to_ms={NOW - 1500}") == [bad]
    assert ids(admin, "?trigger_type=CRON&order=asc&per_page=2") == [ok, bad]
    assert set(assert_error(admin.get("/runs?status=LOST&to_ms=x"), 400)) == {"status", "to_ms"}
    run = admin.get(f"/runs/{bad}").get_json()
    assert run["drain_counts"] == {"claimed": 3, "succeeded": 1, "retried": 1, "dead": 1} and run["job_name"] == "mine"
    user = admin_app.user("u", groups=[group_id])
    assert ids(user) == [bad, ok]
    assert_error(user.get(f"/runs/{hidden}"), 404, f"run {hidden} not found")
    assert_error(user.get(f"/runs/{hidden}/log"), 404)
    assert_error(user.post(f"/runs/{hidden}/kill"), 404)


def run_on_executor(admin_app: AdminApp, executor: Executor, group_id: int, handler: str) -> int:
    """What the fire loop does: a run row, then /run to the executor with the row id as logId."""
    address = f"http://127.0.0.1:{executor.port}"
    job = add_job(admin_app.db, group_id, handler, handler=handler)
    run_id = add_run(admin_app.db, job, group_id, status=RunStatus.RUNNING, executor_address=address, handler=handler, fire_at_ms=NOW)
    client = ExecutorClient(EXECUTOR_TOKEN)
    try:
        assert client.run(address, TriggerParam(job_id=job, log_id=run_id, log_date_time_ms=NOW, executor_handler=handler)).ok
    finally:
        client.close()
    return run_id


def test_log_tail_and_kill_on_a_real_executor(admin_app: AdminApp, admin: Api, group_id: int, executor: Executor, fake_admin: FakeAdmin) -> None:
    add_executor(admin_app.db, "api-test", f"http://127.0.0.1:{executor.port}")
    run_id = run_on_executor(admin_app, executor, group_id, "hello")

    def log_ended() -> bool:
        return admin.get(f"/runs/{run_id}/log").get_json().get("is_end") is True

    wait_until(log_ended, what="the hello run's log to end")
    page = admin.get(f"/runs/{run_id}/log").get_json()
    assert "line 2 of shard 0" in page["content"] and page["from_line"] == 1 and page["run_status"] == "RUNNING"
    later = admin.get(f"/runs/{run_id}/log?from_line={page['to_line']}").get_json()
    assert later["from_line"] == page["to_line"] and "line 0" not in later["content"]
    assert "from_line" in assert_error(admin.get(f"/runs/{run_id}/log?from_line=0"), 400)

    waiting = run_on_executor(admin_app, executor, group_id, "wait")
    killed = admin.post(f"/runs/{waiting}/kill")
    assert killed.status_code == 202 and killed.get_json()["sent"] is True
    # The executor stopped the run and reports it by callback (which the admin's /api records).
    result = fake_admin.wait_for_result(waiting)
    assert result.handle_code == 500 and "kill" in (result.handle_msg or "").lower()
    # The admin does not write the status of a run its live executor is killing: the callback will.
    assert admin.get(f"/runs/{waiting}").get_json()["status"] == "RUNNING"
    # The kill the executor accepted is in the audit trail, naming the executor asked.
    entry = admin.get(f"/audit?target_type=run&target_id={waiting}").get_json()["items"][0]
    assert (entry["action"], entry["actor_name"], entry["actor_kind"], entry["group_id"]) == ("run.kill", "root", "API_TOKEN", group_id)
    assert entry["after"] == {"kill_sent_to": f"http://127.0.0.1:{executor.port}", "job_id": entry["after"]["job_id"]}


def test_no_call_to_an_address_outside_the_group(admin_app: AdminApp, admin: Api, group_id: int, executor: Executor) -> None:
    # The executor really runs, but it is not registered in the run's group (nor live anywhere).
    run_id = run_on_executor(admin_app, executor, group_id, "wait")
    address = f"http://127.0.0.1:{executor.port}"
    assert_error(admin.get(f"/runs/{run_id}/log"), 409, f"executor {address} is not a live executor of group api-test")
    # Registered once, but its heartbeat is 2 minutes old: gone.
    add_executor(admin_app.db, "api-test", address, heartbeat_at_ms=NOW - 120_000)
    assert_error(admin.get(f"/runs/{run_id}/log"), 409, "not a live executor")
    killed = admin.post(f"/runs/{run_id}/kill")
    assert killed.status_code == 200 and killed.get_json()["sent"] is False
    with admin_app.db.session() as s:
        row = s.get(RunLog, run_id)
        assert (row.status, row.handle_code, row.handle_msg, row.handle_at_ms) == (RunStatus.FAILED, 500, "killed: executor gone", NOW)
    # The executor was never called: its job is still running.
    client = ExecutorClient(EXECUTOR_TOKEN)
    try:
        with admin_app.db.session() as s:
            job_id = s.get(RunLog, run_id).job_id
        assert not client.idle_beat(address, job_id).ok
    finally:
        client.close()
    assert_error(admin.post(f"/runs/{run_id}/kill"), 409, "has finished (FAILED)")
    never_sent = add_run(admin_app.db, 1, group_id, status=RunStatus.FAILED, executor_address=None)
    assert_error(admin.get(f"/runs/{never_sent}/log"), 409, "never sent to an executor")


UNKNOWN_MSG = "outcome unknown: executor http://127.0.0.1:9 could not be asked about logId 3: refused; not sent again (delivery AT_MOST_ONCE)"


def test_unknown_runs_are_listed_filtered_and_shown_plainly(admin_app: AdminApp, admin: Api, group_id: int) -> None:
    job = add_job(admin_app.db, group_id, "mine")
    add_run(admin_app.db, job, group_id, status=RunStatus.FAILED, trigger_at_ms=NOW - 2000)
    unknown = add_run(admin_app.db, job, group_id, status=RunStatus.UNKNOWN, trigger_at_ms=NOW - 1000, trigger_code=0,
                      trigger_msg=UNKNOWN_MSG, executor_address="http://127.0.0.1:9")
    for query in ("?status=UNKNOWN", "?status=unknown"):
        assert [r["id"] for r in admin.get("/runs" + query).get_json()["items"]] == [unknown]
    run = admin.get(f"/runs/{unknown}").get_json()
    assert (run["status"], run["trigger_code"], run["trigger_msg"], run["handle_at_ms"]) == ("UNKNOWN", 0, UNKNOWN_MSG, None)
    # Its executor is not live: a kill cannot reach it, and it is not marked failed here (that
    # would start retries of a run that may have run).
    assert_error(admin.post(f"/runs/{unknown}/kill"), 409, "it stays UNKNOWN")
    nowhere = add_run(admin_app.db, job, group_id, status=RunStatus.UNKNOWN, trigger_code=0, executor_address=None)
    assert_error(admin.post(f"/runs/{nowhere}/kill"), 409, "names no executor")
    with admin_app.db.session() as s:
        assert [(r.status, r.handle_code, r.handle_msg) for r in s.scalars(sa.select(RunLog).where(RunLog.id.in_([unknown, nowhere])))] == [
            (RunStatus.UNKNOWN, 0, None), (RunStatus.UNKNOWN, 0, None)
        ]


def test_unknown_run_is_killed_through_its_live_executor(admin_app: AdminApp, admin: Api, group_id: int, executor: Executor, fake_admin: FakeAdmin) -> None:
    add_executor(admin_app.db, "api-test", f"http://127.0.0.1:{executor.port}")
    run_id = run_on_executor(admin_app, executor, group_id, "wait")
    with admin_app.db.session() as s:  # as if the dispatcher had recorded it UNKNOWN after all
        s.execute(sa.update(RunLog).where(RunLog.id == run_id).values(status=RunStatus.UNKNOWN, trigger_code=0))
    killed = admin.post(f"/runs/{run_id}/kill")
    assert killed.status_code == 202 and killed.get_json()["sent"] is True
    result = fake_admin.wait_for_result(run_id)
    assert result.handle_code == 500 and "kill" in (result.handle_msg or "").lower()
    assert admin.get(f"/runs/{run_id}").get_json()["status"] == "UNKNOWN"  # until the executor's result is recorded


def test_run_cleanup_previews_deletes_and_refuses_bad_input(admin_app: AdminApp, admin: Api) -> None:
    group = admin.post("/groups", json={"app_name": "cleanup"}).get_json()["id"]
    job = admin.post("/jobs", json={"group_id": group, "name": "nightly", "handler": "h", "schedule_conf": "0 0 * * * ?"}).get_json()["id"]
    for days in (9, 8, 1):
        add_run(admin_app.db, job, group, status=RunStatus.SUCCESS, trigger_at_ms=NOW - days * 86_400_000)
    add_run(admin_app.db, job, group, status=RunStatus.RUNNING, trigger_at_ms=NOW - 20 * 86_400_000)
    preview = admin.get(f"/runs/cleanup?job_id={job}&older_than_days=7")
    assert preview.status_code == 200 and preview.get_json()["matching"] == 2
    assert preview.get_json()["scope"] == {"target": "job", "target_id": job, "name": "nightly", "group_id": group}
    done = admin.post("/runs/cleanup", json={"job_id": job, "older_than_days": 7})
    assert done.status_code == 200 and (done.get_json()["deleted"], done.get_json()["batches"]) == (2, 1)
    assert admin.get(f"/runs?job_id={job}").get_json()["total"] == 2  # the newest and the running one
    assert admin.post("/runs/cleanup", json={"group_id": group, "keep_last": 0}).get_json()["deleted"] == 1
    for body, field in (({"job_id": job}, "older_than_days"), ({"keep_last": 1}, "job_id"), ({"job_id": job, "keep_last": -1}, "keep_last"),
                        ({"job_id": job, "keep_last": "1"}, "keep_last"), ({"job_id": job, "keep_last": 1, "extra": 1}, "extra")):
        assert field in assert_error(admin.post("/runs/cleanup", json=body), 400, "bad clean-up request"), body
    assert admin.post("/runs/cleanup", json={"group_id": 999_999, "keep_last": 1}).status_code == 404
    assert admin.get("/runs/cleanup?job_id=999999&keep_last=1").status_code == 404
    assert admin.get(f"/runs/cleanup?job_id={job}&older_than_days=x").status_code == 400
    user = admin_app.user("bob", groups=[group])
    assert user.post("/runs/cleanup", json={"job_id": job, "keep_last": 0}).status_code == 403
    assert user.get(f"/runs/cleanup?job_id={job}&keep_last=0").status_code == 403
