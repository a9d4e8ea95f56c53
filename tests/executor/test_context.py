"""The job context handlers receive."""

from __future__ import annotations

import threading

import pytest

from shardcron.executor.context import JobCancelled, JobContext, JobResult
from shardcron.core.protocol import TriggerParam


def make_ctx(**kwargs):
    lines: list[str] = []
    trigger = TriggerParam(job_id=3, log_id=41, log_date_time_ms=1_767_225_600_000, executor_handler="h", executor_params="p=1", broadcast_index=1, broadcast_total=4)
    return JobContext(trigger=trigger, write_log=lines.append, **kwargs), lines


def test_context_exposes_the_trigger() -> None:
    ctx, _ = make_ctx()
    assert (ctx.job_id, ctx.log_id, ctx.param, ctx.shard_index, ctx.shard_total) == (3, 41, "p=1", 1, 4)
    assert ctx.trigger_time_ms == 1_767_225_600_000


def test_log_formats_like_logging() -> None:
    ctx, lines = make_ctx()
    ctx.log("shard %s of %s", 1, 4)
    ctx.log("100% literal without args")
    assert lines == ["shard 1 of 4", "100% literal without args"]


def test_progress_goes_to_the_sink() -> None:
    seen = []
    ctx, _ = make_ctx(progress_sink=lambda c, done, total, data: seen.append((c.log_id, done, total, dict(data))))
    ctx.progress(3, 10, claimed=3)
    assert seen == [(41, 3, 10, {"claimed": 3})]
    with pytest.raises(ValueError):
        ctx.progress(-1)


def test_cancellation_is_cooperative() -> None:
    ctx, _ = make_ctx()
    assert not ctx.cancelled
    ctx.check_cancelled()
    ctx.cancel("killed by /kill")
    ctx.cancel("second reason is ignored")
    assert ctx.cancelled and ctx.wait(5) is True
    with pytest.raises(JobCancelled, match="run 41 cancelled: killed by /kill"):
        ctx.check_cancelled()


def test_wait_wakes_on_cancel_from_another_thread() -> None:
    ctx, _ = make_ctx()
    started = threading.Event()

    def cancel_soon():
        started.wait(5)
        ctx.cancel("timeout")

    t = threading.Thread(target=cancel_soon)
    t.start()
    started.set()
    assert ctx.wait(30) is True
    t.join(5)


def test_job_result_helpers() -> None:
    assert JobResult.success("ok").code == 200
    failed = JobResult.fail("nope", {"n": 1})
    assert (failed.code, failed.msg, failed.data) == (500, "nope", {"n": 1})
