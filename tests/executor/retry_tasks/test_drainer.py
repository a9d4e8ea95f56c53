"""The drainer as a job handler: counts in the result and as progress, failures that end DEAD,
bad rows that do not stop the batch, shard filtering, parameters, registration."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.core.clock import FakeClock
from shardcron.executor.context import JobResult
from shardcron.executor.retry_tasks import DRAINER_HANDLER, GiveUp, RetryLater, RetryTasks, TaskStatus, retry_task
from tests.support.retry_tasks import drainer_ctx, status_counts


def _insert_raw(tasks: RetryTasks, fake_clock: FakeClock, task_code: str, request_no: str, payload: str) -> int:
    """A row written by something other than enqueue (another service, a hand-made fix)."""
    now = fake_clock.now_ms()
    with tasks.engine.begin() as conn:
        return conn.execute(
            retry_task.insert().values(
                task_code=task_code, request_no=request_no, payload=payload, status="PENDING", attempts=0, max_attempts=3,
                next_attempt_at_ms=now, lease_until_ms=0, created_at_ms=now, updated_at_ms=now,
            )
        ).inserted_primary_key[0]


def test_counts_in_result_and_progress(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    @tasks.handler("MIXED")
    def mixed(task):
        if task.payload["kind"] == "fail":
            raise ValueError("bad luck")
        if task.payload["kind"] == "last":
            raise ValueError("out of luck")
        return {"echo": task.payload["n"]}

    for n in range(6):
        tasks.enqueue("MIXED", f"ok-{n}", {"kind": "ok", "n": n})
    for n in range(3):
        tasks.enqueue("MIXED", f"fail-{n}", {"kind": "fail", "n": n})
    tasks.enqueue("MIXED", "last", {"kind": "last", "n": 0}, max_attempts=1)
    run = drainer_ctx(param="batch=4 concurrency=2", clock=fake_clock)
    result = tasks.drainer(run.ctx)
    assert isinstance(result, JobResult) and result.code == 200
    expected = {"claimed": 10, "succeeded": 6, "retried": 3, "dead": 1}
    assert {k: result.data[k] for k in expected} == expected
    assert {k: run.ctx.result_data[k] for k in expected} == expected
    assert result.data["batches"] == 3 and result.data["shard"] == "0/1" and result.data["stopped"] == "drained"
    assert "claimed 10, succeeded 6, retried 3, dead 1" in result.msg
    done, total, counts = run.progress[-1]
    assert (done, total) == (10, None) and {k: counts[k] for k in expected} == expected
    assert tasks.get("MIXED", "ok-3").result == {"echo": 3}
    assert any("DEAD after attempt 1/1: ValueError: out of luck" in line for line in run.lines)
    assert run.lines[-1] == result.msg


def test_always_failing_handler_ends_dead_with_its_error(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    @tasks.handler("DISPATCH_ORDER")
    def dispatch(task):
        raise RuntimeError(f"nobody on shift (attempt {task.attempt})")

    tasks.enqueue("DISPATCH_ORDER", "WO-1", {"order": 1}, max_attempts=4)
    dead = 0
    for _ in range(4):
        dead += tasks.drainer(drainer_ctx(clock=fake_clock).ctx).data["dead"]
        fake_clock.advance(3_600_000)
    record = tasks.get("DISPATCH_ORDER", "WO-1")
    assert dead == 1
    assert (record.status, record.attempts, record.finished_at_ms is not None) == (TaskStatus.DEAD, 4, True)
    assert record.last_error == "RuntimeError: nobody on shift (attempt 4)"
    assert tasks.drain().claimed == 0  # DEAD rows are never claimed again


def test_malformed_payloads_and_unknown_codes_do_not_stop_the_batch(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    ran = []
    tasks.handler("GOOD")(lambda task: ran.append(task.request_no))
    tasks.enqueue("GOOD", "g1", {})
    not_json = _insert_raw(tasks, fake_clock, "GOOD", "bad-json", "{not json")
    not_object = _insert_raw(tasks, fake_clock, "GOOD", "bad-shape", "[1, 2]")
    unknown = tasks.enqueue("GHOST", "u1", {"x": 1}, max_attempts=2).id
    tasks.enqueue("GOOD", "g2", {})
    result = tasks.drainer(drainer_ctx(clock=fake_clock).ctx)
    assert sorted(ran) == ["g1", "g2"]
    assert (result.data["succeeded"], result.data["dead"], result.data["retried"]) == (2, 2, 1)
    bad_json = tasks.get("GOOD", "bad-json")
    assert bad_json.status == TaskStatus.DEAD and bad_json.id == not_json
    assert bad_json.last_error.startswith("malformed payload: Expecting property name")
    assert tasks.get("GOOD", "bad-shape").last_error == "malformed payload: expected a JSON object, got list"
    assert tasks.get("GOOD", "bad-shape").id == not_object
    ghost = tasks.get("GHOST", "u1")
    assert ghost.id == unknown and ghost.status == TaskStatus.PENDING
    assert ghost.last_error == "no handler for task_code 'GHOST' on this executor (handlers: GOOD)"
    fake_clock.advance(3_600_000)
    tasks.drain()
    assert tasks.get("GHOST", "u1").status == TaskStatus.DEAD  # after its max attempts


def test_retry_later_and_give_up(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    @tasks.handler("POLL")
    def poll(task):
        if task.payload["answer"] == "wait":
            raise RetryLater("partner still PROCESSING", delay_s=2.5)
        raise GiveUp("partner refused: account closed")

    tasks.enqueue("POLL", "wait", {"answer": "wait"})
    tasks.enqueue("POLL", "refused", {"answer": "no"}, max_attempts=9)
    now = fake_clock.now_ms()
    tasks.drain()
    waiting = tasks.get("POLL", "wait")
    assert (waiting.status, waiting.next_attempt_at_ms, waiting.last_error) == (TaskStatus.PENDING, now + 2_500, "partner still PROCESSING")
    refused = tasks.get("POLL", "refused")
    assert (refused.status, refused.attempts, refused.last_error) == (TaskStatus.DEAD, 1, "GiveUp: partner refused: account closed")


def test_shard_takes_only_its_ids(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    seen = []
    tasks.handler("S")(lambda task: seen.append(task.id))
    ids = [tasks.enqueue("S", f"r{i}", {}).id for i in range(20)]
    result = tasks.drainer(drainer_ctx(shard_index=1, shard_total=3, clock=fake_clock).ctx)
    assert sorted(seen) == [i for i in ids if i % 3 == 1]
    assert result.data["shard"] == "1/3" and result.data["claimed"] == len(seen)
    for index in (0, 2):
        tasks.drainer(drainer_ctx(shard_index=index, shard_total=3, clock=fake_clock).ctx)
    assert sorted(seen) == ids


def test_task_codes_parameter_limits_the_claim(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    tasks.handler("A")(lambda task: None)
    tasks.handler("B")(lambda task: None)
    tasks.enqueue("A", "1", {})
    tasks.enqueue("B", "1", {})
    tasks.enqueue("C", "1", {})
    result = tasks.drainer(drainer_ctx(param="task_codes=A,C", clock=fake_clock).ctx)
    assert result.data["claimed"] == 2
    assert tasks.get("B", "1").attempts == 0


def test_bad_parameter_fails_the_run_naming_the_key(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    tasks.enqueue("A", "1", {})
    run = drainer_ctx(param="batch=10 concurency=3", clock=fake_clock)
    result = tasks.drainer(run.ctx)
    assert result.code == 500
    assert result.msg.startswith("invalid drainer parameter concurency='3': unknown key")
    assert tasks.get("A", "1").attempts == 0 and tasks.get("A", "1").lease_owner is None


def test_database_trouble_fails_the_run_with_one_line(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    tasks.enqueue("A", "1", {})
    with tasks.engine.begin() as conn:
        conn.execute(sa.text(f"DROP TABLE {retry_task.name}"))
    run = drainer_ctx(clock=fake_clock)
    result = tasks.drainer(run.ctx)
    assert result.code == 500
    assert result.msg.startswith("retry-task database ") and "\n" not in result.msg
    assert result.data["claimed"] == 0


def test_register_drainer_uses_the_documented_name(tasks: RetryTasks) -> None:
    registered = {}

    class MinimalExecutor:
        def job(self, name):
            def decorator(fn):
                registered[name] = fn
                return fn

            return decorator

    tasks.register_drainer(MinimalExecutor())
    assert DRAINER_HANDLER == "retryTaskDrainer"
    assert registered[DRAINER_HANDLER] == tasks.drainer
    tasks.register_drainer(MinimalExecutor(), name="billingRetries")
    assert set(registered) == {"retryTaskDrainer", "billingRetries"}


def test_a_result_too_large_to_store_keeps_the_success(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    tasks.handler("BIG")(lambda task: {"blob": "x" * 70_000})
    tasks.enqueue("BIG", "1", {})
    tasks.drain()
    record = tasks.get("BIG", "1")
    assert record.status == TaskStatus.SUCCEEDED
    assert "over the 65535-byte limit" in record.result["result_not_stored"]


def test_handler_registry_refuses_duplicates_and_non_callables(tasks: RetryTasks) -> None:
    from shardcron.executor.retry_tasks import TaskInputError

    tasks.handler("X")(lambda task: None)
    with pytest.raises(TaskInputError, match="already has a handler"):
        tasks.handler("X")(lambda task: None)
    with pytest.raises(TaskInputError, match="is not callable"):
        tasks.handler("Y")("not a function")
    assert status_counts(tasks.engine) == {}
