"""A callback that finishes a run records its duration and logs one line with job, log id and shard."""

from __future__ import annotations

import logging

from shardcron.admin.metrics import REGISTRY
from tests.admin.rpc.test_registry_api import post
from tests.support.run_rows import T0, add_group, add_job, add_run


def test_finished_run_is_timed_and_logged_once(client, db, fake_clock, caplog) -> None:
    job = add_job(db, add_group(db))
    run = add_run(db, job, shard_index=2, shard_total=4)
    before = REGISTRY.get_sample_value("shardcron_run_duration_seconds_count", {"status": "FAILED"}) or 0.0
    fake_clock.set(T0 + 7_000)
    caplog.set_level(logging.INFO, logger="shardcron.admin.rpc")
    body = f'[{{"logId":{run},"logDateTim":{T0},"handleCode":500,"handleMsg":"boom"}}]'
    assert post(client, "/api/callback", body)["code"] == 200
    assert post(client, "/api/callback", body)["code"] == 200  # a repeat changes nothing, is not counted again
    assert REGISTRY.get_sample_value("shardcron_run_duration_seconds_count", {"status": "FAILED"}) == before + 1
    (line,) = [r for r in caplog.records if r.getMessage() == "run finished"]
    assert (line.job_id, line.log_id, line.shard, line.status, line.handle_code, line.duration_ms) == (job, run, "2/4", "FAILED", 500, 7_000)
