"""/api/callback and /api/progress: literal bodies of XXL-JOB 2.x/3.x executors, idempotence."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FollowupStatus, RunStatus
from tests.admin.rpc.test_registry_api import post
from tests.support.run_rows import T0, add_group, add_job, add_run, run_row


@pytest.fixture
def job_id(db) -> int:
    return add_job(db, add_group(db))


def test_array_form_with_log_date_tim_marks_success(client, db, job_id, fake_clock) -> None:
    run = add_run(db, job_id)
    fake_clock.advance(s=3)
    body = f'[{{"logId":{run},"logDateTim":{T0},"handleCode":200,"handleMsg":"done"}}]'
    assert post(client, "/api/callback", body) == {"code": 200, "msg": None, "content": None, "data": None}
    row = run_row(db, run)
    assert (row.status, row.handle_code, row.handle_msg, row.handle_at_ms) == (RunStatus.SUCCESS, 200, "done", T0 + 3_000)
    assert row.followup_status == FollowupStatus.NONE  # no children, nothing to follow up


def test_callback_list_form_with_log_date_time_marks_failure_for_follow_up(client, db, job_id) -> None:
    run = add_run(db, job_id)
    body = {"callbackList": [{"logId": run, "logDateTime": T0, "handleCode": 500, "handleMsg": "boom", "traceId": "x"}]}
    assert post(client, "/api/callback/", json.dumps(body))["code"] == 200
    row = run_row(db, run)
    assert (row.status, row.handle_code, row.handle_msg) == (RunStatus.FAILED, 500, "boom")
    assert row.followup_status == FollowupStatus.PENDING


def test_execute_result_form_of_xxljob_2_1(client, db, job_id) -> None:
    run = add_run(db, job_id)
    body = f'[{{"logId":{run},"logDateTim":{T0},"executeResult":{{"code":502,"msg":"job execute timeout "}}}}]'
    assert post(client, "/api/callback", body)["code"] == 200
    row = run_row(db, run)
    assert (row.status, row.handle_code, row.handle_msg) == (RunStatus.FAILED, 502, "job execute timeout ")


def test_success_of_a_job_with_children_is_marked_for_follow_up(client, db) -> None:
    group = add_group(db)
    child = add_job(db, group, name="child")
    parent = add_job(db, group, name="parent", child_job_ids=str(child))
    run = add_run(db, parent)
    post(client, "/api/callback", json.dumps([{"logId": run, "handleCode": 200}]))
    assert run_row(db, run).followup_status == FollowupStatus.PENDING


def test_result_of_an_unknown_run_finishes_it(client, db, fake_clock) -> None:
    """The scheduler could not confirm the executor got these runs; the executor did, and its
    results are what happened: SUCCESS (children fired) and FAILED (followed up as failures)."""
    group = add_group(db)
    child = add_job(db, group, name="child")
    parent = add_job(db, group, name="parent", child_job_ids=str(child))
    plain = add_job(db, group, name="plain")
    succeeded = add_run(db, parent, status=RunStatus.UNKNOWN, trigger_code=0, trigger_msg="outcome unknown: ...")
    alone = add_run(db, plain, status=RunStatus.UNKNOWN, trigger_code=0, followup_status=FollowupStatus.DONE)
    failed = add_run(db, plain, status=RunStatus.UNKNOWN, trigger_code=0, followup_status=FollowupStatus.DONE)
    fake_clock.advance(s=4)
    body = [{"logId": succeeded, "handleCode": 200, "handleMsg": "ran after all"}, {"logId": alone, "handleCode": 200},
            {"logId": failed, "handleCode": 500, "handleMsg": "boom"}]
    answer = post(client, "/api/callback", json.dumps(body))
    assert (answer["code"], answer["msg"]) == (200, None)
    row = run_row(db, succeeded)
    assert (row.status, row.handle_code, row.handle_msg, row.handle_at_ms) == (RunStatus.SUCCESS, 200, "ran after all", T0 + 4_000)
    assert row.trigger_msg == "outcome unknown: ..."  # how it was dispatched stays on record
    assert row.followup_status == FollowupStatus.PENDING  # its child job fires
    assert (run_row(db, alone).status, run_row(db, alone).followup_status) == (RunStatus.SUCCESS, FollowupStatus.NONE)
    assert (run_row(db, failed).status, run_row(db, failed).followup_status) == (RunStatus.FAILED, FollowupStatus.PENDING)
    again = post(client, "/api/callback", json.dumps([{"logId": succeeded, "handleCode": 500}]))
    assert again["msg"] == "1 results for finished runs ignored" and run_row(db, succeeded).status == RunStatus.SUCCESS


def test_progress_of_an_unknown_run_is_kept(client, db, job_id) -> None:
    run = add_run(db, job_id, status=RunStatus.UNKNOWN, trigger_code=0)
    answer = post(client, "/api/progress", json.dumps([{"logId": run, "done": 3, "total": 9}]))
    assert (answer["code"], answer["msg"]) == (200, None)
    row = run_row(db, run)
    assert (row.status, row.progress_done, row.progress_total) == (RunStatus.UNKNOWN, 3, 9)  # only a result finishes it


def test_second_callback_for_a_finished_run_changes_nothing(client, db, job_id, fake_clock) -> None:
    run = add_run(db, job_id)
    post(client, "/api/callback", json.dumps([{"logId": run, "logDateTim": T0, "handleCode": 200, "handleMsg": "first"}]))
    fake_clock.advance(s=10)
    answer = post(client, "/api/callback", json.dumps([{"logId": run, "logDateTim": T0, "handleCode": 500, "handleMsg": "second"}]))
    assert answer["code"] == 200 and answer["msg"] == "1 results for finished runs ignored"
    row = run_row(db, run)
    assert (row.status, row.handle_code, row.handle_msg, row.handle_at_ms) == (RunStatus.SUCCESS, 200, "first", T0)
    assert row.followup_status == FollowupStatus.NONE


def test_repeated_log_id_within_one_batch_first_wins(client, db, job_id) -> None:
    run = add_run(db, job_id)
    body = [{"logId": run, "handleCode": 500, "handleMsg": "a"}, {"logId": run, "handleCode": 200, "handleMsg": "b"}]
    post(client, "/api/callback", json.dumps(body))
    row = run_row(db, run)
    assert (row.status, row.handle_msg) == (RunStatus.FAILED, "a")


def test_result_before_the_run_answer_is_applied(client, db, job_id) -> None:
    run = add_run(db, job_id, status=RunStatus.PENDING)  # a fast handler can report before /run's answer is recorded
    post(client, "/api/callback", json.dumps([{"logId": run, "handleCode": 200}]))
    assert run_row(db, run).status == RunStatus.SUCCESS


def test_unknown_log_ids_are_reported_but_do_not_fail_the_batch(client, db, job_id) -> None:
    run = add_run(db, job_id)
    body = [{"logId": 987654, "handleCode": 200}, {"logId": run, "handleCode": 200}, {"logId": 987655, "handleCode": 500}]
    answer = post(client, "/api/callback", json.dumps(body))
    assert answer["code"] == 200
    assert answer["msg"] == "unknown logId 987654, 987655"
    assert run_row(db, run).status == RunStatus.SUCCESS


def test_result_data_is_stored_and_a_result_without_it_keeps_the_progress_data(client, db, job_id) -> None:
    first, second = add_run(db, job_id), add_run(db, job_id)
    counts = {"claimed": 10, "succeeded": 8, "retried": 1, "dead": 1}
    post(client, "/api/progress", json.dumps([{"logId": second, "done": 3, "total": 10, "data": {"claimed": 3}}]))
    post(client, "/api/callback", json.dumps([{"logId": first, "handleCode": 200, "resultData": counts}, {"logId": second, "handleCode": 200}]))
    assert json.loads(run_row(db, first).result_json) == counts
    assert json.loads(run_row(db, second).result_json) == {"claimed": 3}


def test_one_malformed_result_refuses_the_whole_batch(client, db, job_id) -> None:
    run = add_run(db, job_id)
    body = [{"logId": run, "handleCode": 200}, {"logId": "x", "handleCode": 200}]
    answer = post(client, "/api/callback", json.dumps(body))
    assert answer["code"] == 500
    assert answer["msg"] == "callback[1]: field 'logId' must be an integer, got a string"
    assert run_row(db, run).status == RunStatus.RUNNING


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"logId":1,"handleCode":200}', "expected a JSON array or an object with 'callbackList'"),
        (b'[{"logId":1}]', "missing required field 'handleCode'"),
        (b'[{"logId":1,"handleCode":200,"handleMsg":7}]', "'handleMsg' must be a string"),
        (b"[", "not valid JSON"),
    ],
)
def test_malformed_callbacks_are_refused_with_a_clear_message(client, body, words) -> None:
    answer = post(client, "/api/callback", body)
    assert answer["code"] == 500 and words in answer["msg"]


def test_callback_needs_the_token(client, db, job_id) -> None:
    run = add_run(db, job_id)
    answer = post(client, "/api/callback", json.dumps([{"logId": run, "handleCode": 200}]), token="not-the-token-at-all")
    assert answer["msg"] == "The access token is wrong."
    assert run_row(db, run).status == RunStatus.RUNNING


def test_progress_updates_running_runs_and_ignores_finished_ones(client, db, job_id) -> None:
    running, finished = add_run(db, job_id), add_run(db, job_id, status=RunStatus.SUCCESS, handle_code=200)
    body = [
        {"logId": running, "logDateTime": T0, "done": 1, "total": 10},
        {"logId": running, "logDateTime": T0, "done": 4, "total": 10, "data": {"claimed": 4}},
        {"logId": finished, "logDateTime": T0, "done": 9, "total": 10},
        {"logId": 424242, "done": 1},
    ]
    answer = post(client, "/api/progress", json.dumps(body))
    assert answer["code"] == 200
    assert answer["msg"] == "1 reports for finished runs ignored; unknown logId 424242"
    row = run_row(db, running)
    assert (row.progress_done, row.progress_total, json.loads(row.result_json)) == (4, 10, {"claimed": 4})
    assert (run_row(db, finished).progress_done, run_row(db, finished).status) == (None, RunStatus.SUCCESS)


def test_malformed_progress_is_refused(client, db, job_id) -> None:
    run = add_run(db, job_id)
    answer = post(client, "/api/progress", json.dumps([{"logId": run, "done": -1}]))
    assert answer["code"] == 500 and "cannot be negative" in answer["msg"]
    assert run_row(db, run).progress_done is None


def test_database_failure_is_answered_so_the_executor_sends_again(client, db, job_id) -> None:
    run = add_run(db, job_id)
    with db.session() as s:
        s.execute(sa.text("DROP TABLE sc_run_log"))
    answer = post(client, "/api/callback", json.dumps([{"logId": run, "handleCode": 200}]))
    assert answer["code"] == 500
    assert answer["msg"].startswith("admin database unavailable, try again:")
