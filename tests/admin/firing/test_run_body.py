"""RunBody writes the very bytes that encoding the TriggerParam's wire dict gives."""

from __future__ import annotations

import pytest

from shardcron.admin.firing.run_body import RunBody
from shardcron.core.protocol import BlockStrategy, TriggerParam, decode_json, encode_json

JOBS = {
    "plain bean": dict(job_id=7, handler="demoJob", block_strategy="DISCARD_LATER", timeout_s=0, glue_type="BEAN", glue_source=None, glue_updated_at_ms=0),
    "quotes, unicode and control characters": dict(
        job_id=2**40, handler='say "hi" \\ 日本', block_strategy="COVER_EARLY", timeout_s=3600,
        glue_type="GLUE_SHELL", glue_source='#!/bin/sh\necho "$1"\t\\done\x00', glue_updated_at_ms=1_700_000_000_123,
    ),
    "unknown block strategy": dict(job_id=1, handler="h", block_strategy="NO_SUCH", timeout_s=5, glue_type="BEAN", glue_source="", glue_updated_at_ms=1),
    "no block strategy": dict(job_id=1, handler="h", block_strategy=None, timeout_s=5, glue_type="BEAN", glue_source="", glue_updated_at_ms=1),
}

#: (log id, log date, params, index, total) in a row for one job: the parameter changes and
#: comes back, so the kept encoding of the last one must follow.
TRIGGERS = [
    (1, 1_700_000_000_000, None, 0, 1),
    (2, 1_700_000_000_000, "a=1", 0, 3),
    (3, 1_700_000_001_000, "a=1", 2, 3),
    (4, 1_700_000_001_000, "", 0, 1),
    (5, 1_700_000_002_000, '{"k": "ü\\n"}\n', 1, 2),
    (9_007_199_254_740_993, 0, None, 0, 1),
]


def expected(job: dict, log_id: int, log_date: int, params: str | None, index: int, total: int) -> bytes:
    return encode_json(TriggerParam(
        job_id=job["job_id"],
        log_id=log_id,
        log_date_time_ms=log_date,
        executor_handler=job["handler"],
        executor_params=params or "",
        executor_block_strategy=BlockStrategy.from_wire(job["block_strategy"]),
        executor_timeout_s=job["timeout_s"],
        glue_type=job["glue_type"],
        glue_source=job["glue_source"] or "",
        glue_updatetime_ms=job["glue_updated_at_ms"],
        broadcast_index=index,
        broadcast_total=total,
    ).to_wire())


@pytest.mark.parametrize("job", JOBS.values(), ids=JOBS.keys())
def test_bodies_are_the_encoded_trigger_params(job):
    body = RunBody(**job)
    for trigger in TRIGGERS:
        encoded = body.encode(*trigger)
        assert encoded == expected(job, *trigger)
        # and an executor reads it back as that trigger
        decoded = TriggerParam.from_wire(decode_json(encoded))
        assert (decoded.log_id, decoded.executor_params, decoded.broadcast_index, decoded.broadcast_total) == (trigger[0], trigger[2] or "", trigger[3], trigger[4])


def test_a_resuming_body_carries_the_checkpoint_as_the_trigger_param_does():
    from shardcron.admin.firing.run_body import resume_suffix

    job = JOBS["plain bean"]
    encoded = RunBody(**job).encode(5, 1_700_000_000_000, "p", 0, 1, resume_suffix(4, '{"next":10,"k":"ü"}'))
    param = TriggerParam.from_wire(decode_json(encoded))
    assert (param.resume_from, param.resume_from_log_id) == ({"next": 10, "k": "ü"}, 4)
    assert decode_json(encoded) == param.to_wire()
    assert TriggerParam.from_wire(decode_json(expected(job, 5, 1_700_000_000_000, "p", 0, 1))).resume_from_log_id is None
