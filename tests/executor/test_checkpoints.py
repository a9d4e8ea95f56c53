"""`ctx.checkpoint(state)`: bounded, written to disk, sent to the admin (throttled, retried while
it is down, replayed after kill -9), carried by the run's result; `ctx.resume_from` from /run."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import pytest

from shardcron.core.clock import FakeClock
from shardcron.core.protocol import MAX_CHECKPOINT_BYTES, CheckpointTooLarge, TriggerParam
from shardcron.executor.admin_client import AdminClient
from shardcron.executor.checkpoints import CheckpointReporter
from shardcron.executor.context import JobContext
from tests.support.executor_calls import TOKEN, run
from tests.support.fake_admin import FakeAdmin
from tests.support.net import wait_until


def _ctx(reporter: CheckpointReporter | None = None, log_id: int = 41, **trigger) -> JobContext:
    ctx = JobContext(trigger=TriggerParam(job_id=7, log_id=log_id, log_date_time_ms=1_700_000_000_000, executor_handler="h", **trigger), write_log=lambda line: None)
    if reporter is not None:
        ctx.checkpoint_sink = reporter.record
    return ctx


def _reporter(tmp_path: Path, admin: FakeAdmin, clock: FakeClock) -> CheckpointReporter:
    return CheckpointReporter(tmp_path / "spool", AdminClient((admin.url,), TOKEN, 2.0), clock, interval_s=1.0, retry_s=5.0)


def test_a_checkpoint_over_the_bound_is_refused_and_the_previous_one_stays() -> None:
    ctx = _ctx()
    ctx.checkpoint({"next": 10})
    with pytest.raises(CheckpointTooLarge, match=f"over the limit of {MAX_CHECKPOINT_BYTES}"):
        ctx.checkpoint({"blob": "x" * MAX_CHECKPOINT_BYTES})
    with pytest.raises(ValueError, match="not JSON-serialisable"):
        ctx.checkpoint({"ids": {1, 2}})
    assert ctx.last_checkpoint == (1, {"next": 10})


def test_the_kept_checkpoint_is_a_copy_numbered_from_one() -> None:
    ctx = _ctx()
    state = {"done": [1]}
    ctx.checkpoint(state)
    state["done"].append(2)  # the handler goes on with its own object
    ctx.checkpoint({"done": [1, 2, 3]})
    assert ctx.last_checkpoint == (2, {"done": [1, 2, 3]})
    ctx2 = _ctx()
    ctx2.checkpoint(state)
    state["done"].append(99)
    assert ctx2.last_checkpoint == (1, {"done": [1, 2]})


def test_resume_from_comes_from_the_trigger_and_is_none_when_starting_fresh() -> None:
    assert _ctx().resume_from is None
    resumed = _ctx(resume_from={"next": 500}, resume_from_log_id=40)
    assert (resumed.resume_from, resumed.resume_from_log_id) == ({"next": 500}, 40)


def test_checkpoints_are_throttled_written_to_disk_and_sent(tmp_path: Path, fake_admin: FakeAdmin) -> None:
    clock = FakeClock()
    reporter = _reporter(tmp_path, fake_admin, clock)
    ctx = _ctx(reporter)
    for i in range(1, 101):
        ctx.checkpoint({"next": i})
    reporter.tick()
    assert [(c.log_id, c.seq, c.state) for c in fake_admin.checkpoints()] == [(41, 100, {"next": 100})]
    ctx.checkpoint({"next": 101})
    assert reporter.tick() == pytest.approx(1.0)  # sent less than interval_s ago: waits
    assert len(fake_admin.checkpoints()) == 1
    clock.advance(s=1.0)
    reporter.tick()
    assert [c.seq for c in fake_admin.checkpoints()] == [100, 101]
    on_disk = json.loads((tmp_path / "spool" / "checkpoints" / "41.json").read_bytes())
    assert on_disk == {"logId": 41, "seq": 101, "state": {"next": 101}}
    reporter.result_spooled(41)  # the result carries it from now on
    assert not (tmp_path / "spool" / "checkpoints" / "41.json").exists()
    assert reporter.pending_log_ids() == []


def test_an_unaccepted_checkpoint_is_retried_and_replayed_after_a_crash(tmp_path: Path, fake_admin: FakeAdmin) -> None:
    clock = FakeClock()
    fake_admin.refuse("/api/checkpoint")
    reporter = _reporter(tmp_path, fake_admin, clock)
    ctx = _ctx(reporter)
    ctx.checkpoint({"next": 7})
    assert reporter.tick() == pytest.approx(5.0)  # retry_s
    assert fake_admin.checkpoints() == [] and reporter.pending_log_ids() == [41]
    clock.advance(s=2.0)
    reporter.tick()  # before retry_s: no attempt
    assert len(fake_admin.received("/api/checkpoint")) == 1
    # kill -9 now: nothing but the file is left; a new process replays it
    restarted = _reporter(tmp_path, fake_admin, FakeClock())
    assert restarted.replay() == 1
    fake_admin.accept("/api/checkpoint")
    restarted.tick()
    assert [(c.log_id, c.seq, c.state) for c in fake_admin.checkpoints()] == [(41, 1, {"next": 7})]
    assert list((tmp_path / "spool" / "checkpoints").glob("*.json")) == []  # accepted: gone


def test_a_real_executor_sends_checkpoints_and_its_result_carries_the_last(make_executor, fake_admin: FakeAdmin) -> None:
    executor = make_executor(progress_interval_s=0.1)
    saved = threading.Event()
    go_on = threading.Event()
    seen: list[object] = []

    @executor.job("batch")
    def batch(ctx):
        seen.append(ctx.resume_from)
        start = ctx.resume_from["next"] if ctx.resume_from else 0
        ctx.checkpoint({"next": start + 5})
        saved.set()
        go_on.wait(10)
        try:
            ctx.checkpoint({"blob": "y" * (MAX_CHECKPOINT_BYTES + 1)})
        except CheckpointTooLarge as exc:
            ctx.log("not saved: %s", exc)
        ctx.checkpoint({"next": start + 10})
        return "done"

    executor.start()
    assert run(executor.port, 7, 501, "batch").ok
    wait_until(lambda: any(c.log_id == 501 for c in fake_admin.checkpoints()), what="the first checkpoint")
    assert [(c.seq, c.state) for c in fake_admin.checkpoints()] == [(1, {"next": 5})]
    go_on.set()
    result = fake_admin.wait_for_result(501)
    assert result.handle_code == 200  # the refused checkpoint did not fail the run
    assert result.checkpoint is not None and (result.checkpoint.seq, result.checkpoint.state) == (2, {"next": 10})
    # a run that resumes gets the checkpoint in its /run body
    go_on.set()
    assert run(executor.port, 7, 502, "batch", resumeFrom={"next": 10}, resumeFromLogId=501).ok
    fake_admin.wait_for_result(502)
    assert seen == [None, {"next": 10}]
