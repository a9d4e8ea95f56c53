"""Stages: a finished stage is recorded at once and never runs again; its value is replayed."""

from __future__ import annotations

from collections import Counter
from datetime import datetime

from shardcron.core.clock import FakeClock
from shardcron.executor.retry_tasks import RetryTasks, TaskStatus


def test_a_retry_skips_finished_stages_and_replays_their_values(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    runs: Counter[str] = Counter()
    search_up = [False]

    def run_stage(name, value):
        runs[name] += 1
        return value

    @tasks.handler("CLASSROOM_COPY")
    def copy(task):
        cache_key = task.stage("redis", run_stage, "redis", f"room:{task.payload['room']}")
        url = task.stage("oss", run_stage, "oss", "https://oss.example/room/7.zip")
        if not search_up[0]:
            raise ConnectionError("search index unreachable")
        task.stage("es", run_stage, "es", None)
        return {"key": cache_key, "url": url, "attempt": task.attempt}

    tasks.enqueue("CLASSROOM_COPY", "R-7", {"room": 7})
    tasks.drain()
    record = tasks.get("CLASSROOM_COPY", "R-7")
    assert record.status == TaskStatus.PENDING
    assert record.stages_done == {"redis": "room:7", "oss": "https://oss.example/room/7.zip"}
    fake_clock.advance(10_000)
    tasks.drain()  # still failing: the finished stages do not run again
    search_up[0] = True
    fake_clock.advance(20_000)
    tasks.drain()
    record = tasks.get("CLASSROOM_COPY", "R-7")
    assert record.status == TaskStatus.SUCCEEDED
    assert record.result == {"key": "room:7", "url": "https://oss.example/room/7.zip", "attempt": 3}
    assert runs == {"redis": 1, "oss": 1, "es": 1}
    assert record.stages_done == {"redis": "room:7", "oss": "https://oss.example/room/7.zip", "es": None}


def test_a_stage_is_on_the_row_before_the_handler_goes_on(tasks: RetryTasks) -> None:
    """Recorded at once, not with the attempt's outcome: a drainer that dies after the stage
    (before writing the outcome) leaves the stage recorded, so the next claim skips it."""
    seen_on_row = []

    @tasks.handler("SYNC")
    def sync(task):
        task.stage("redis", lambda: "ok")
        seen_on_row.append(tasks.get("SYNC", task.request_no).stages_done)

    tasks.enqueue("SYNC", "1", {})
    tasks.drain()
    assert seen_on_row == [{"redis": "ok"}]


def test_enqueue_can_record_stages_already_done(tasks: RetryTasks) -> None:
    ran = []

    @tasks.handler("SYNC")
    def sync(task):
        task.stage("db", ran.append, "db")
        task.stage("redis", ran.append, "redis")
        task.stage("es", ran.append, "es")

    tasks.enqueue("SYNC", "inline-first", {}, stages=["db"])
    tasks.enqueue("SYNC", "with-values", {}, stages={"db": 1, "redis": {"ok": True}})
    tasks.drain()
    assert sorted(ran) == ["es", "es", "redis"]
    assert tasks.get("SYNC", "with-values").stages_done == {"db": 1, "redis": {"ok": True}, "es": None}


def test_a_stage_value_that_is_not_json_fails_the_attempt_clearly(tasks: RetryTasks) -> None:
    @tasks.handler("ODD")
    def odd(task):
        task.stage("clock", lambda: datetime(2026, 1, 1))

    tasks.enqueue("ODD", "1", {})
    tasks.drain()
    record = tasks.get("ODD", "1")
    assert record.status == TaskStatus.PENDING and record.stages_done == {}
    assert record.last_error.startswith("TaskInputError: invalid result of stage 'clock' ")
    assert "not JSON-serialisable" in record.last_error


def test_malformed_stages_column_makes_the_task_dead(tasks: RetryTasks) -> None:
    tasks.handler("X")(lambda task: None)
    task_id = tasks.enqueue("X", "1", {}).id
    with tasks.engine.begin() as conn:
        conn.exec_driver_sql(f"UPDATE shardcron_retry_task SET stages_done = '\"oops\"' WHERE id = {task_id}")
    tasks.drain()
    record = tasks.get("X", "1")
    assert record.status == TaskStatus.DEAD
    assert record.last_error == "malformed stages_done: stages_done is not a JSON object of stage name -> result"
