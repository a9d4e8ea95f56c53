"""/api/checkpoint and the `checkpoint` key of a callback: each run keeps its highest-numbered
checkpoint; late, replayed and malformed ones change nothing."""

from __future__ import annotations

import json

import pytest

from shardcron.admin.enums import RunStatus
from shardcron.core.protocol import MAX_CHECKPOINT_BYTES
from tests.admin.rpc.test_registry_api import post
from tests.support.run_rows import T0, add_group, add_job, add_run, run_row


@pytest.fixture
def job_id(db) -> int:
    return add_job(db, add_group(db))


def test_the_highest_checkpoint_of_each_run_is_kept(client, db, job_id, fake_clock) -> None:
    run, other = add_run(db, job_id), add_run(db, job_id)
    fake_clock.advance(s=2)
    body = [{"logId": run, "seq": 2, "state": {"next": 200}}, {"logId": run, "seq": 1, "state": {"next": 100}}, {"logId": other, "seq": 1, "state": [1, "ü"]}]
    assert post(client, "/api/checkpoint", json.dumps(body)) == {"code": 200, "msg": None, "content": None, "data": None}
    row = run_row(db, run)
    assert (json.loads(row.checkpoint_json), row.checkpoint_seq, row.checkpoint_at_ms, row.status) == ({"next": 200}, 2, T0 + 2_000, RunStatus.RUNNING)
    assert json.loads(run_row(db, other).checkpoint_json) == [1, "ü"]
    # a replayed older one (a restarted executor's file) does not go back
    post(client, "/api/checkpoint", json.dumps([{"logId": run, "seq": 1, "state": {"next": 100}}]))
    assert json.loads(run_row(db, run).checkpoint_json) == {"next": 200}


def test_the_result_carries_the_last_checkpoint_even_after_the_run_finished(client, db, job_id) -> None:
    run = add_run(db, job_id)
    post(client, "/api/checkpoint", json.dumps([{"logId": run, "seq": 1, "state": {"next": 1}}]))
    result = {"logId": run, "logDateTim": T0, "handleCode": 500, "handleMsg": "db down", "checkpoint": {"logId": run, "seq": 4, "state": {"next": 40}}}
    assert post(client, "/api/callback", json.dumps([result]))["code"] == 200
    row = run_row(db, run)
    assert (row.status, json.loads(row.checkpoint_json), row.checkpoint_seq) == (RunStatus.FAILED, {"next": 40}, 4)
    # a checkpoint that arrives after the result (sent on its own, later) is still kept if newer
    post(client, "/api/checkpoint", json.dumps([{"logId": run, "seq": 5, "state": {"next": 50}}]))
    assert json.loads(run_row(db, run).checkpoint_json) == {"next": 50}


def test_unknown_runs_are_named_and_the_rest_is_kept(client, db, job_id) -> None:
    run = add_run(db, job_id)
    answer = post(client, "/api/checkpoint", json.dumps([{"logId": 999_999, "seq": 1, "state": 1}, {"logId": run, "seq": 1, "state": 2}]))
    assert (answer["code"], answer["msg"]) == (200, "unknown logId 999999")
    assert run_row(db, run).checkpoint_json == "2"


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"logId": 1, "seq": 1, "state": 1}, "checkpoint: expected a JSON array, got an object"),
        ([{"logId": 1, "seq": 0, "state": 1}], "field 'seq' must be between 1 and"),
        ([{"logId": 1, "seq": 1}], "missing required field 'state'"),
        ([{"logId": 1, "seq": 1, "state": "x" * MAX_CHECKPOINT_BYTES}], f"over the limit of {MAX_CHECKPOINT_BYTES}"),
    ],
)
def test_malformed_checkpoints_are_refused_with_the_reason_and_nothing_is_written(client, db, job_id, body, message) -> None:
    run = add_run(db, job_id)
    if isinstance(body, list):
        body[0]["logId"] = run
    answer = post(client, "/api/checkpoint", json.dumps(body))
    assert answer["code"] == 500 and message in answer["msg"]
    assert run_row(db, run).checkpoint_json is None
