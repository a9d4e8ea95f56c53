"""PostgreSQL's held claims (held_claim.py): a batch's rows stay locked by the claim's open
transaction and each row is written once; a claim record stands in for the lease's attempt
count when the drainer dies; the server ends a stalled one's transaction after the lease."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
import sqlalchemy as sa

from shardcron.core.clock import FakeClock, SystemClock
from shardcron.executor.retry_tasks import DrainerParams, RetryTasks, TasksDatabaseError, TaskStatus, retry_task
from shardcron.executor.retry_tasks.schema import retry_claim
from shardcron.executor.retry_tasks.held_claim import HeldClaims
from shardcron.executor.retry_tasks.store import Outcome, OutcomeKind, TaskStore
from tests.support.net import wait_until
from tests.support.retry_tasks import executions_per_task, insert_due, row, side_metadata, status_counts

pytestmark = pytest.mark.postgres

ROOT = Path(__file__).resolve().parents[3]

#: Counts every UPDATE of every task row, by id (a trigger: the table's own writes, nothing sampled).
_COUNT_UPDATES = """
CREATE TABLE test_row_updates (task_id BIGINT NOT NULL);
CREATE FUNCTION test_count_update() RETURNS trigger AS $$
BEGIN INSERT INTO test_row_updates VALUES (NEW.id); RETURN NEW; END $$ LANGUAGE plpgsql;
CREATE TRIGGER test_count_update BEFORE UPDATE ON shardcron_retry_task FOR EACH ROW EXECUTE FUNCTION test_count_update();
"""


@pytest.fixture
def db_url(postgres_url: str) -> str:
    """The package's `tasks` fixture, on PostgreSQL only."""
    return postgres_url


def _updates_per_row(engine: sa.Engine) -> dict[int, int]:
    with engine.connect() as conn:
        return dict(conn.execute(sa.text("SELECT task_id, count(*) FROM test_row_updates GROUP BY task_id")).all())


def _records(engine: sa.Engine) -> list[tuple[str, list[int]]]:
    with engine.connect() as conn:
        return [(owner, json.loads(ids)) for owner, ids in conn.execute(sa.select(retry_claim.c.owner, retry_claim.c.task_ids).order_by(retry_claim.c.id))]


def test_a_drain_writes_each_row_once_and_leaves_no_claim_record(tasks: RetryTasks) -> None:
    with tasks.engine.begin() as conn:
        conn.exec_driver_sql(_COUNT_UPDATES)
    ids = [tasks.enqueue("T", f"R{i}", {"i": i}).id for i in range(40)]
    fail_once = {ids[3]}

    @tasks.handler("T")
    def handler(task):
        if task.id in fail_once and task.attempt == 1:
            raise RuntimeError("flaky")
        return task.payload["i"]

    report = tasks.drain(params=DrainerParams(batch=15))
    assert (report.claimed, report.succeeded, report.retried, report.batches) == (40, 39, 1, 3)
    # One write per row: its outcome, the attempt counted with it. No lease, no second write.
    assert _updates_per_row(tasks.engine) == {task_id: 1 for task_id in ids}
    assert _records(tasks.engine) == []
    done = row(tasks.engine, ids[0])
    assert (done.status, done.attempts, done.lease_owner, done.result) == (TaskStatus.SUCCEEDED.value, 1, None, "0")
    retried = row(tasks.engine, ids[3])
    assert (retried.status, retried.attempts, retried.lease_owner, retried.last_error) == (TaskStatus.PENDING.value, 1, None, "RuntimeError: flaky")
    # The claims' lease timeout and plan settings were their transactions' own: the connections
    # the run gave back to the application's pool carry none of them.
    conns = [tasks.engine.connect() for _ in range(4)]
    try:
        settings = {(conn.exec_driver_sql("SHOW idle_in_transaction_session_timeout").scalar_one(), conn.exec_driver_sql("SHOW enable_seqscan").scalar_one()) for conn in conns}
        assert settings == {("0", "on")}
    finally:
        for conn in conns:
            conn.close()


def test_a_cancelled_held_batch_writes_nothing_for_rows_never_started(tasks: RetryTasks) -> None:
    cancel = threading.Event()
    seen: list[int] = []

    @tasks.handler("T")
    def handler(task):
        seen.append(task.id)
        cancel.set()  # the run stops starting rows after this one

    ids = [tasks.enqueue("T", f"R{i}", {}).id for i in range(5)]
    with tasks.engine.begin() as conn:
        conn.exec_driver_sql(_COUNT_UPDATES)
    report = tasks.drain(params=DrainerParams(concurrency=1), cancel_event=cancel)
    assert (report.succeeded, report.released, report.stopped) == (1, 4, "cancelled")
    assert seen == ids[:1]
    # Only the row that ran was written: the others' attempts were never counted.
    assert _updates_per_row(tasks.engine) == {ids[0]: 1}
    for task_id in ids[1:]:
        untouched = row(tasks.engine, task_id)
        assert (untouched.status, untouched.attempts, untouched.lease_owner) == (TaskStatus.PENDING.value, 0, None)
    assert _records(tasks.engine) == []


def test_a_held_batch_stalled_past_its_lease_loses_its_rows_and_its_late_outcomes(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    """The server ends the claim's transaction once it idles for the lease: the rows are due at
    once, the claim record makes the next claim count the stalled attempt, and the stalled
    batch's outcome, written late, lands nowhere."""
    task_id = tasks.enqueue("T", "1", {}, max_attempts=3).id
    now = fake_clock.now_ms()
    due = {"shard_index": 0, "shard_total": 1, "task_codes": None}
    stalled_claims, other_claims = HeldClaims(tasks.db), HeldClaims(tasks.db)
    try:
        stalled = stalled_claims.claim(token="stalled/1", **due, limit=10, now_ms=now, lease_until_ms=now + 300)
        assert stalled.held is not None and [r.attempt for r in stalled.rows] == [1]
        assert _records(tasks.engine) == [("stalled/1", [task_id])]
        # Held, not leased: another claim skips the row and says so.
        assert other_claims.claim(token="other/1", **due, limit=10, now_ms=now, lease_until_ms=now + 60_000).contended
    finally:
        other_claims.close()
    wait_until(lambda: _lockable(tasks.engine, task_id), timeout_s=30, what="the server to end the stalled transaction")
    tasks.handler("T")(lambda task: f"taken over as attempt {task.attempt}")
    report = tasks.drain()
    assert (report.claimed, report.succeeded, report.lease_expired) == (1, 1, 1)
    late = stalled.held.commit([Outcome(task_id, OutcomeKind.RETRY, error="late", next_attempt_at_ms=now)], [], now, now)
    assert (late.retried, late.lost) == (0, 1)
    # The run's connection the server ended is given up; its next claim starts on a fresh one.
    assert stalled_claims.claim(token="stalled/2", **due, limit=10, now_ms=now, lease_until_ms=now + 60_000).empty
    stalled_claims.close()
    record = row(tasks.engine, task_id)
    assert (record.status, record.result, record.attempts) == (TaskStatus.SUCCEEDED.value, '"taken over as attempt 2"', 2)
    assert record.last_error == "attempt 1 of 3 crashed or stalled: its lease (held by stalled/1) expired before an outcome was written"
    assert _records(tasks.engine) == []


def _lockable(engine: sa.Engine, task_id: int) -> bool:
    with engine.begin() as conn:
        locked = conn.execute(sa.select(retry_task.c.id).where(retry_task.c.id == task_id).with_for_update(skip_locked=True)).first()
    return locked is not None


def _aborted_xid(engine: sa.Engine) -> int:
    """The id of a transaction that rolled back (as a claim's does when its drainer dies)."""
    with engine.connect() as conn:
        xid = int(conn.exec_driver_sql("SELECT pg_current_xact_id()::text::bigint").scalar_one())
        conn.rollback()
    return xid


def _note(engine: sa.Engine, owner: str, ids: list[int], xid: int) -> None:
    with engine.begin() as conn:
        conn.execute(retry_claim.insert().values(owner=owner, task_ids=json.dumps(ids), claim_xid=xid, created_at_ms=0))


def test_records_of_dead_claims_are_counted_once_across_shards_and_then_removed(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    """A dead claim's record lists rows of two shards: each shard's claim counts and removes its
    own ids, and the record is gone once both have."""
    ids = [tasks.enqueue("T", f"R{i}", {}).id for i in range(4)]
    assert ids[0] % 2 == 1  # ids 1-4 in a fresh table: ids[0] is in shard 1 of 2
    _note(tasks.engine, "gone/1", ids, _aborted_xid(tasks.engine))
    _note(tasks.engine, "gone/2", ids[:1], _aborted_xid(tasks.engine))
    tasks.handler("T")(lambda task: task.attempt)
    even = tasks.drain(shard_index=0, shard_total=2)
    assert (even.succeeded, even.lease_expired) == (2, 2)
    odd_ids = [i for i in ids if i % 2 == 1]
    assert _records(tasks.engine) == [("gone/1", odd_ids), ("gone/2", ids[:1])]
    odd = tasks.drain(shard_index=1, shard_total=2)
    assert (odd.succeeded, odd.lease_expired) == (2, 2)
    assert _records(tasks.engine) == []
    attempts = {task_id: row(tasks.engine, task_id).attempts for task_id in ids}
    # ids[0] is listed by two dead claims: two attempts lost, this one the third.
    assert attempts == {task_id: (3 if task_id == ids[0] else 2) for task_id in ids}
    assert "(held by gone/2)" in row(tasks.engine, ids[0]).last_error


def test_records_whose_tasks_left_pending_otherwise_are_collected(tasks: RetryTasks) -> None:
    finished = tasks.enqueue("T", "finished", {}).id
    waiting = tasks.enqueue("T", "waiting", {}, run_at=tasks.clock.now_ms() + 3_600_000).id
    _note(tasks.engine, "gone/1", [finished], _aborted_xid(tasks.engine))
    _note(tasks.engine, "gone/2", [finished, waiting], _aborted_xid(tasks.engine))
    tasks.complete("T", "finished", "by callback")
    tasks.drain()  # nothing due; the run starts by collecting records nobody will count
    assert _records(tasks.engine) == [("gone/2", [finished, waiting])]


def test_the_record_of_a_claim_whose_transaction_is_in_progress_is_not_counted(tasks: RetryTasks) -> None:
    """Whether a claim is alive is read from its transaction, not its ids: a record whose
    transaction is still in progress counts nothing (a live claim's rows are locked anyway, so
    this one is made by hand)."""
    task_id = tasks.enqueue("T", "1", {}).id
    tasks.handler("T")(lambda task: task.attempt)
    with tasks.engine.connect() as alive:
        xid = int(alive.exec_driver_sql("SELECT pg_current_xact_id()::text::bigint").scalar_one())
        _note(tasks.engine, "alive/1", [task_id], xid)
        assert (tasks.drain().succeeded, row(tasks.engine, task_id).result) == (1, "1")
        alive.rollback()
    assert _records(tasks.engine) == [("alive/1", [task_id])]
    assert tasks.drain().claimed == 0
    assert _records(tasks.engine) == []  # its task is no longer PENDING: collected at the run's start


def _spawn(url: str, worker: str, mode: str, **extra: object) -> subprocess.Popen:
    argv = [sys.executable, "-m", "tests.support.retry_drainer_process", "--url", url, "--worker", worker, "--mode", mode]
    for key, value in extra.items():
        argv += [f"--{key.replace('_', '-')}", str(value)]
    return subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.parametrize("fault", ["SIGKILL", "SIGSTOP"])
def test_a_held_batch_of_a_drainer_killed_or_stopped_is_run_again_with_its_attempts_counted(postgres_url: str, fault: str) -> None:
    """A drainer holding a batch (its flush interval long, so it never goes over to leases) is
    killed (the server rolls back at once) or stopped (the server ends its session after the
    2 s lease): its rows are claimed again without waiting for any lease, each counting the
    attempt the victim's claim began."""
    tasks = RetryTasks(postgres_url)
    tasks.create_table()
    side_metadata.create_all(tasks.engine)
    insert_due(tasks.engine, 30)
    victim = _spawn(postgres_url, "victim", "block", lease_s=2, flush_s=600)
    try:
        wait_until(lambda: executions_per_task(tasks.engine) != {}, timeout_s=120, what="the victim to start its batch")
        ((owner, held_ids),) = _records(tasks.engine)
        assert owner.startswith("victim/") and len(held_ids) == 10
        os.kill(victim.pid, getattr(signal, fault))
        survivor = RetryTasks(postgres_url, clock=FakeClock(start_ms=SystemClock().now_ms()), owner="survivor")
        try:
            survivor.handler("WORK")(lambda task: "picked up")
            wait_until(lambda: all(_lockable(tasks.engine, i) for i in held_ids), timeout_s=60, what="the victim's transaction to end")
            report = survivor.drain()
            assert (report.claimed, report.succeeded, report.lease_expired) == (30, 30, 10)
        finally:
            survivor.close()
        assert status_counts(tasks.engine) == {TaskStatus.SUCCEEDED.value: 30}
        for task_id in held_ids:
            record = row(tasks.engine, task_id)
            # The victim's claim began an attempt on each row of its batch, started or not.
            assert (record.result, record.attempts, record.lease_owner) == ('"picked up"', 2, None)
            assert record.last_error.startswith(f"attempt 1 of 5 crashed or stalled: its lease (held by {owner})"), record.last_error
        assert _records(tasks.engine) == []
    finally:
        if fault == "SIGSTOP" and victim.poll() is None:
            os.kill(victim.pid, signal.SIGCONT)
        if victim.poll() is None:
            victim.kill()
        victim.wait(60)
        tasks.close()


def test_a_batch_whose_commit_fails_fails_the_run_and_its_rows_run_again_with_the_attempt_counted(tasks: RetryTasks) -> None:
    """A batch commits beside the next claim; the database refusing that commit (a trigger here)
    fails the run with the database's message before the next batch runs anything (the next
    claim, which found the same rows again, is given back uncounted), and the batch's rows are
    due again with the one attempt its claim began counted."""
    ids = [tasks.enqueue("T", f"R{i}", {}).id for i in range(3)]
    with tasks.engine.begin() as conn:
        conn.exec_driver_sql(
            "CREATE FUNCTION test_refuse() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'refused by test'; END $$ LANGUAGE plpgsql;"
            f"CREATE TRIGGER test_refuse BEFORE UPDATE ON shardcron_retry_task FOR EACH ROW WHEN (NEW.id = {ids[1]} AND NEW.status = 'SUCCEEDED') EXECUTE FUNCTION test_refuse();"
        )
    tasks.handler("T")(lambda task: task.attempt)
    with pytest.raises(TasksDatabaseError, match="refused by test"):
        tasks.drain()
    assert status_counts(tasks.engine) == {TaskStatus.PENDING.value: 3}
    with tasks.engine.begin() as conn:
        conn.exec_driver_sql("DROP TRIGGER test_refuse ON shardcron_retry_task")
    report = tasks.drain()
    assert (report.succeeded, report.lease_expired) == (3, 3)
    assert {row(tasks.engine, task_id).result for task_id in ids} == {"2"}
    assert _records(tasks.engine) == []


def test_a_table_not_upgraded_to_the_claim_table_is_drained_with_leases(tasks: RetryTasks, caplog: pytest.LogCaptureFixture) -> None:
    """New executors on a table still at revision 0001 (nobody ran `shardcron tasks upgrade`
    yet): the drainer leases its rows as before, and says once what to run."""
    with tasks.engine.begin() as conn:
        conn.exec_driver_sql("DROP TABLE shardcron_retry_claim")
        conn.exec_driver_sql(_COUNT_UPDATES)
    task_id = tasks.enqueue("T", "1", {}).id
    tasks.handler("T")(lambda task: "leased")
    with caplog.at_level("WARNING", logger="shardcron.retry_tasks"):
        assert tasks.drain().succeeded == 1
        tasks.enqueue("T", "2", {})
        assert tasks.drain().succeeded == 1
    assert [r.getMessage() for r in caplog.records if "claim table" in r.getMessage()] == [
        "retry-task table without its claim table (revision 0001): draining with leases; run `shardcron tasks upgrade` to claim PostgreSQL rows faster"
    ]
    assert _updates_per_row(tasks.engine)[task_id] == 2  # the lease, then the outcome
    assert row(tasks.engine, task_id).result == '"leased"'


def _plan(engine: sa.Engine, statements: list[tuple[str, object]], *, settings: bool) -> str:
    """The plan PostgreSQL makes for the claim's locking statement, with or without the
    settings statement the claim ran before it in its transaction."""
    (settings_sql, _), (locking_sql, params) = statements
    with engine.connect() as conn, conn.begin():
        if settings:
            conn.exec_driver_sql(settings_sql)
        return "\n".join(conn.exec_driver_sql("EXPLAIN " + locking_sql, params).scalars())  # type: ignore[arg-type]


def test_a_sharded_claim_walks_the_due_index_rather_than_reading_the_whole_table(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    # The planner guesses `id % n = i` keeps 0.5 % of the rows: with 20,000 due, it would read
    # the whole table and sort it for a batch of 500. Both claims (held, and leased on a table
    # without the claim table) run what they run here, and PostgreSQL plans it with their settings.
    now = fake_clock.now_ms()
    insert_due(tasks.engine, 20_000, task_code="T")
    with tasks.engine.begin() as conn:
        conn.exec_driver_sql(f"ANALYZE {retry_task.name}")
    seen: list[tuple[str, object]] = []

    def capture(conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if "set_config('enable_seqscan'" in statement or "FOR UPDATE SKIP LOCKED" in statement:
            seen.append((statement, parameters))

    sa.event.listen(tasks.engine, "before_cursor_execute", capture)
    claims = HeldClaims(tasks.db)
    try:
        held = claims.claim(token="plan/1", shard_index=1, shard_total=2, task_codes=None, limit=500, now_ms=now, lease_until_ms=now + 60_000)
        assert held.held is not None and len(held.rows) == 500 and {r.id % 2 for r in held.rows} == {1}
        held.held.abandon(started=False)
        leased = TaskStore(tasks.db).claim(token="plan/2", shard_index=0, shard_total=2, limit=500, now_ms=now, lease_until_ms=now + 60_000)
        assert len(leased.rows) == 500 and {r.id % 2 for r in leased.rows} == {0}
    finally:
        sa.event.remove(tasks.engine, "before_cursor_execute", capture)
        claims.close()
    assert len(seen) == 4, seen
    assert "idle_in_transaction_session_timeout" in seen[0][0] and "idle_in_transaction_session_timeout" not in seen[2][0]
    for statements in (seen[:2], seen[2:]):
        plan = _plan(tasks.engine, statements, settings=True)
        assert "Index Scan using ix_retry_task_due" in plan and "Seq Scan" not in plan and "Sort" not in plan, plan
        # The same statement without the settings: the plan the claim avoids.
        assert "Seq Scan" in _plan(tasks.engine, statements, settings=False)


def test_one_run_claims_each_shard_and_set_of_task_codes_with_its_own_statements(tasks: RetryTasks, fake_clock: FakeClock) -> None:
    # The claim's statements are compiled once per run and kept by shard, task codes and batch
    # size: a claim of another shape must not reuse them.
    now = fake_clock.now_ms()
    ids = {code: [tasks.enqueue(code, f"R{i}", {}).id for i in range(6)] for code in ("A", "B", "C")}
    claims = HeldClaims(tasks.db)

    def claim(shard_index: int, shard_total: int, task_codes: tuple[str, ...] | None, limit: int) -> set[int]:
        got = claims.claim(token="shapes/1", shard_index=shard_index, shard_total=shard_total, task_codes=task_codes, limit=limit, now_ms=now, lease_until_ms=now + 60_000)
        assert got.held is not None
        got.held.abandon(started=False)
        return {r.id for r in got.rows}

    try:
        assert claim(0, 1, ("A",), 100) == set(ids["A"])
        assert claim(0, 1, ("B", "C"), 100) == set(ids["B"] + ids["C"])
        assert claim(1, 2, ("B", "C"), 100) == {i for i in ids["B"] + ids["C"] if i % 2 == 1}
        assert claim(0, 2, ("B", "C"), 100) == {i for i in ids["B"] + ids["C"] if i % 2 == 0}
        assert claim(0, 1, None, 100) == set(ids["A"] + ids["B"] + ids["C"])
        assert len(claim(0, 1, None, 4)) == 4
        assert claim(0, 1, ("A",), 100) == set(ids["A"])  # the first shape again, from the run's cache
    finally:
        claims.close()
    assert _records(tasks.engine) == []  # abandoned before any handler ran: no record left
