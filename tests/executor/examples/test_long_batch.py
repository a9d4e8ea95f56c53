"""The long-batch handler in process: it resumes at its checkpoint, starts over from one it does
not understand, and refuses a bad parameter."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest

from shardcron.core.errors import ShardcronError
from shardcron.core.protocol import TriggerParam
from shardcron.executor.context import JobCancelled, JobContext
from shardcron.executor.examples.long_batch import BatchParam, LongBatch, start_of


def context(log_id: int, param: str, resume_from: Any = None, lines: list[str] | None = None) -> JobContext:
    resume = {"resume_from": resume_from, "resume_from_log_id": 1} if resume_from is not None else {}
    trigger = TriggerParam(job_id=7, log_id=log_id, log_date_time_ms=1_700_000_000_000, executor_handler="longBatch", executor_params=param, **resume)
    return JobContext(trigger=trigger, write_log=(lines if lines is not None else []).append)


@pytest.fixture
def batch(tmp_path: Path):
    b = LongBatch(f"sqlite:///{tmp_path / 'business.db'}")
    b.create_tables()
    yield b
    b.engine.dispose()


def test_a_fresh_run_pauses_and_a_resumed_one_finishes_without_redoing_items(batch: LongBatch) -> None:
    first = context(1, "items=1000 pause_at=450")
    paused = threading.Event()
    first.checkpoint_sink = lambda ctx, seq, state: paused.set() if state == {"next": 450} else None
    ended: list[BaseException] = []

    def run_first() -> None:
        try:
            batch.run(first)
        except JobCancelled as exc:
            ended.append(exc)

    worker = threading.Thread(target=run_first)
    worker.start()
    try:
        # pause_at: after item 449 the run waits, its checkpoint saved; then it is killed
        assert paused.wait(30)
        assert first.last_checkpoint == (5, {"next": 450}) and worker.is_alive()
        assert sorted(batch.processed()) == list(range(450))
    finally:
        first.cancel_event.set()
        worker.join(10)
    assert not worker.is_alive() and len(ended) == 1
    lines: list[str] = []
    second = context(2, "items=1000 pause_at=450", {"next": 450}, lines)
    result = batch.run(second)
    assert result.code == 200 and second.result_data == {"started_at": 450, "processed": 550}
    assert second.last_checkpoint == (6, {"next": 1000})  # 450-500, then five chunks of 100; no pause
    assert any("resuming at item 450 from the checkpoint of run 1" in line for line in lines)
    done = batch.processed()
    assert sorted(done) == list(range(1000)) and set(done.values()) == {1}


def test_a_checkpoint_it_does_not_understand_starts_over(batch: LongBatch) -> None:
    lines: list[str] = []
    result = batch.run(context(3, "items=250", {"offset": 100}, lines))
    assert result.code == 200 and any("is not one of this batch's; starting over" in line for line in lines)
    assert batch.run(context(4, "items=250", {"next": 251})).code == 200  # past the end: over too
    assert set(batch.processed().values()) == {2}  # both runs did all 250: safe, only counted twice


@pytest.mark.parametrize(("checkpoint", "start"), [({"next": 0}, 0), ({"next": 10}, 10), ({"next": True}, None), ({"next": -1}, None), ([10], None), ({"next": 5, "v": 2}, None)])
def test_start_of(checkpoint: Any, start: int | None) -> None:
    assert start_of(checkpoint, 10) == start


def test_pace_waits_after_each_chunk_and_a_kill_ends_the_wait(batch: LongBatch) -> None:
    run = context(5, "items=300 pace_ms=10000")
    first_chunk = threading.Event()
    run.checkpoint_sink = lambda ctx, seq, state: first_chunk.set() if state == {"next": 100} else None
    ended: list[BaseException] = []

    def work() -> None:
        try:
            batch.run(run)
        except JobCancelled as exc:
            ended.append(exc)

    worker = threading.Thread(target=work)
    worker.start()
    try:
        assert first_chunk.wait(30)
        assert worker.is_alive() and sorted(batch.processed()) == list(range(100))  # waiting its 10 s
    finally:
        run.cancel_event.set()
        worker.join(10)
    assert not worker.is_alive() and len(ended) == 1 and sorted(batch.processed()) == list(range(100))


@pytest.mark.parametrize("text", ["items=ten", "batch=5", "items", "items=0", "pause_at=-1", "pace_ms=10001", "pace_ms=0.5"])
def test_bad_parameters_are_refused(text: str) -> None:
    with pytest.raises(ShardcronError):
        BatchParam.parse(text)
    assert BatchParam.parse("") == BatchParam() and BatchParam.parse("items=5 pause_at=2") == BatchParam(5, 2)
    assert BatchParam.parse("pace_ms=200 items=7") == BatchParam(7, None, 200)
