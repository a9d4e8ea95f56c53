"""Dispatch: bounded per-executor pools, retries of failed preparations, restart recovery."""

from __future__ import annotations

import socket
import time
from contextlib import contextmanager

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, RunStatus, TriggerType
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.dispatch.dispatcher import FireDispatcher
from shardcron.admin.dispatch.keyed_pool import KeyedPool
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.admin.firing.run_store import RunStore
from shardcron.admin.enums import ScheduleType
from tests.support.executor_calls import TOKEN
from tests.support.net import wait_until
from tests.support.scheduler_rows import add_group, add_job
from tests.support.scheduler_node import build_node

T0 = 1_767_225_600_000


def add_fires(db, job_id, count, first_ref=1):
    with db.session() as s:
        for i in range(count):
            s.add(Fire(job_id=job_id, fire_at_ms=T0, trigger_type=TriggerType.API, origin_ref=first_ref + i, status=FireStatus.PENDING, created_at_ms=T0))


def test_keyed_pool_keeps_one_keys_backlog_from_blocking_others():
    pool = KeyedPool(workers=4, per_key=1)
    order: list[str] = []
    import threading

    gate = threading.Event()
    for _ in range(3):
        pool.submit("slow", lambda: gate.wait(5))
    done = threading.Event()
    pool.submit("fast", lambda: (order.append("fast"), done.set()))
    assert done.wait(2), "a task for another key waited behind the slow key's queue"
    gate.set()
    pool.shutdown()
    assert order == ["fast"]


def test_a_hanging_executor_does_not_delay_another_executors_fires(sqlite_admin_db, receivers, fake_clock):
    """8 fires go to an executor that accepts connections but never answers; 8 go to a healthy
    one. With 4 workers, at most 2 per executor, the healthy one gets its fires at once."""
    hang = socket.socket()
    hang.bind(("127.0.0.1", 0))
    hang.listen(64)  # never accepted: requests are sent and never answered
    fast = receivers()
    slow_group = add_group(sqlite_admin_db, "slow", T0, manual=[f"http://127.0.0.1:{hang.getsockname()[1]}"])
    fast_group = add_group(sqlite_admin_db, "fast", T0, manual=[fast.address])
    slow_job = add_job(sqlite_admin_db, slow_group, T0)
    fast_job = add_job(sqlite_admin_db, fast_group, T0)
    add_fires(sqlite_admin_db, slow_job, 8)
    add_fires(sqlite_admin_db, fast_job, 8, first_ref=100)
    client = ExecutorClient(TOKEN, connect_timeout_s=1, read_timeout_s=6)
    node = build_node(sqlite_admin_db, fake_clock, client, "n", workers=4, per_address=2)
    dispatcher = node.dispatcher
    dispatcher.start()  # timer (idle: the fake clock never moves) and answer recorder
    try:
        node.loop.tick(T0)
        started = time.monotonic()
        assert dispatcher.send_due(T0) == 16
        wait_until(lambda: len(fast.runs) == 8, timeout_s=4, what="the healthy executor's 8 fires")
        assert time.monotonic() - started < 4  # the hanging executor holds its calls for 6 s
    finally:
        hang.close()
        dispatcher.stop(timeout_s=15)
        client.close()
    with sqlite_admin_db.read_session() as s:
        rows = s.execute(sa.select(RunLog.job_id, RunLog.status, RunLog.trigger_msg)).all()
    assert sorted(str(st) for j, st, _ in rows if j == fast_job) == ["RUNNING"] * 8
    # A call whose request went out and was never answered may have reached the executor: it is
    # settled, the executor cannot be asked either, and the job delivers at most once (UNKNOWN);
    # calls that never got their request out failed when the socket closed.
    slow = [(st, msg) for j, st, msg in rows if j == slow_job]
    assert len(slow) == 8 and {st for st, _ in slow} <= {RunStatus.FAILED, RunStatus.UNKNOWN}
    assert any(st == RunStatus.UNKNOWN for st, _ in slow)
    assert all(msg.startswith("outcome unknown: executor http://127.0.0.1:") for st, msg in slow if st == RunStatus.UNKNOWN)


def test_a_failed_preparation_rolls_its_claims_back_and_the_next_tick_sends_the_fire_once(sqlite_admin_db, receivers, make_scheduler, monkeypatch):
    receiver = receivers()
    group = add_group(sqlite_admin_db, "app", T0, manual=[receiver.address])
    job = add_job(sqlite_admin_db, group, T0)
    node = make_scheduler(sqlite_admin_db)
    assert node.store.claim(T0) == []  # the first claim after start; the next ones claim fresh fires
    add_fires(sqlite_admin_db, job, 1)
    real_prepare = node.dispatcher.runs.prepare_in
    calls = []

    def flaky(session, fires, now_ms, state, term):
        calls.append([f.may_have_runs for f in fires])
        if len(calls) == 1:
            raise sa.exc.OperationalError("insert", {}, Exception("database is locked"))
        return real_prepare(session, fires, now_ms, state, term)

    monkeypatch.setattr(node.dispatcher.runs, "prepare_in", flaky)
    with pytest.raises(sa.exc.OperationalError):
        node.step(T0 + 100)
    with sqlite_admin_db.read_session() as s:
        assert s.execute(sa.select(Fire.status)).scalars().all() == [FireStatus.PENDING]  # the claim rolled back
        assert s.execute(sa.select(sa.func.count()).select_from(RunLog)).scalar_one() == 0
    node.step(T0 + 200)
    assert calls == [[False], [True]]  # after a failure the next claim takes up all the node holds
    assert [r.job_id for r in receiver.runs] == [job]


class CommitAnswerLost:
    """A Database whose next transaction commits and then raises, as when the connection drops
    while the answer to COMMIT is on its way."""

    def __init__(self, real) -> None:
        self.real = real
        self.dialect = real.dialect
        self.armed = True

    @contextmanager
    def session(self):
        with self.real.session() as session:
            yield session
        if self.armed:
            self.armed = False
            raise sa.exc.OperationalError("COMMIT", {}, Exception("Lost connection to server during query"))

    def __getattr__(self, name):
        return getattr(self.real, name)


def test_a_claim_whose_commit_answer_was_lost_is_sent_once_with_the_rows_it_wrote(sqlite_admin_db, receivers, make_scheduler):
    """The claim and its run rows committed, but the scheduler saw an error: the next tick must
    take the fire up again, find its rows and send those (same logId), not write new ones."""
    receiver = receivers()
    group = add_group(sqlite_admin_db, "app", T0, manual=[receiver.address])
    job = add_job(sqlite_admin_db, group, T0)
    node = make_scheduler(sqlite_admin_db)
    assert node.store.claim(T0) == []
    add_fires(sqlite_admin_db, job, 1)
    node.store.db = CommitAnswerLost(sqlite_admin_db)
    with pytest.raises(sa.exc.OperationalError):
        node.step(T0 + 100)
    with sqlite_admin_db.read_session() as s:
        [written] = s.execute(sa.select(RunLog.id, RunLog.status)).all()
    assert written.status == RunStatus.PENDING and receiver.runs == []
    node.step(T0 + 200)
    with sqlite_admin_db.read_session() as s:
        rows = s.execute(sa.select(RunLog.id, RunLog.status)).all()
        fire_status = s.execute(sa.select(Fire.status)).scalar_one()
    assert rows == [(written.id, RunStatus.RUNNING)] and fire_status == FireStatus.DONE
    assert [(r.job_id, r.log_id) for r in receiver.runs] == [(job, written.id)]


def test_run_ids_continue_after_the_highest_ever_used_and_rows_get_their_defaults(admin_db, receivers, make_scheduler):
    """logIds must never repeat (executors refuse a logId they saw): deleting the newest rows
    does not hand their ids out again."""
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0)
    add_fires(admin_db, job, 3)
    node = make_scheduler(admin_db)
    node.step(T0)
    with admin_db.session() as s:
        first = list(s.execute(sa.select(RunLog.id).order_by(RunLog.id)).scalars())
        s.execute(sa.delete(RunLog).where(RunLog.id == first[-1]))
    add_fires(admin_db, job, 2, first_ref=10)
    node.step(T0 + 200)
    with admin_db.read_session() as s:
        later = s.execute(sa.select(RunLog).where(RunLog.id.notin_(first[:-1])).order_by(RunLog.id)).scalars().all()
    assert len(first) == 3 and len(later) == 2
    assert later[0].id > first[-1] and later[1].id == later[0].id + 1
    assert [(r.handle_code, r.handle_msg, r.result_json, r.status) for r in later] == [(0, None, None, RunStatus.RUNNING)] * 2
    assert sorted(r.log_id for r in receiver.runs)[-2:] == [r.id for r in later]


def test_a_restarted_node_adopts_what_its_previous_process_claimed_once_that_lease_ends(sqlite_admin_db, receivers, make_scheduler):
    """Every process start is a lease term of its own: the claims of the process before it (same
    node id) are adopted like any ended term's, and sent once."""
    receiver = receivers()
    group = add_group(sqlite_admin_db, "app", T0, manual=[receiver.address])
    add_job(sqlite_admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    before = make_scheduler(sqlite_admin_db, "solo")
    before.store.claim(T0 + 58_500)  # claimed; the process dies before preparing
    after = make_scheduler(sqlite_admin_db, "solo")
    assert after.owner != before.owner and after.owner.startswith("solo#")
    after.step(T0 + 60_000)  # the first process's lease (stamped at T0, 10 s) has long ended
    assert len(receiver.runs) == 1
    with sqlite_admin_db.read_session() as s:
        assert s.execute(sa.select(Fire.owner, Fire.status)).all() == [(after.owner, FireStatus.DONE)]


def test_a_backlog_starts_with_a_small_round_then_claims_whole_batches(sqlite_admin_db, receivers, make_scheduler, monkeypatch):
    """The first sends of a backlog go out once a 25th of a batch is prepared; each further
    round is five times larger, up to the batch."""
    receiver = receivers()
    group = add_group(sqlite_admin_db, "app", T0, manual=[receiver.address])
    job = add_job(sqlite_admin_db, group, T0)
    add_fires(sqlite_admin_db, job, 130)
    node = make_scheduler(sqlite_admin_db)
    node.store.batch = 50
    sizes = []
    real_accept = node.dispatcher.accept
    monkeypatch.setattr(node.dispatcher, "accept", lambda prepared: (sizes.append(len(prepared.sends)), real_accept(prepared))[1])
    node.step(T0)
    assert sizes == [2, 10, 50, 50, 18]
    assert len(receiver.runs) == 130


def test_sends_prepared_together_go_out_each_at_its_own_time(sqlite_admin_db, receivers, make_scheduler):
    """One tick prepares fires of two different seconds (the heap holds one entry per fire
    time): nothing goes before its time, and each time's sends go together."""
    receiver = receivers()
    group = add_group(sqlite_admin_db, "app", T0, manual=[receiver.address])
    every_second = [add_job(sqlite_admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1") for _ in range(2)]
    even_seconds = add_job(sqlite_admin_db, group, T0, schedule_type=ScheduleType.CRON, schedule_conf="*/2 * * * * ?")
    node = make_scheduler(sqlite_admin_db, lookahead_ms=2000)
    node.loop.tick(T0 + 1)
    assert node.dispatcher.next_due_ms() == T0 + 1000
    sent = []
    for now in (T0 + 999, T0 + 1000, T0 + 1999, T0 + 2000):
        sent.append(node.dispatcher.send_due(now))
    assert sent == [0, 2, 0, 3]
    assert sorted((r.log_date_ms - T0, r.job_id) for r in receiver.runs) == sorted(
        [(1000, j) for j in every_second] + [(2000, j) for j in every_second] + [(2000, even_seconds)]
    )
    assert node.dispatcher.next_due_ms() is None


class _RecordingRuns:
    def __init__(self) -> None:
        self.batches: list[tuple[list, list]] = []

    def record(self, answers, finished, now_ms) -> None:
        self.batches.append((list(answers), list(finished)))


def test_answers_arriving_while_the_recorder_lingers_share_one_batch_and_a_stop_ends_the_linger():
    import threading

    from shardcron.admin.firing.run_store import Answer
    from shardcron.core.clock import SYSTEM_CLOCK

    runs = _RecordingRuns()
    d = FireDispatcher(runs, ExecutorClient(TOKEN), SYSTEM_CLOCK, workers=0)
    d._ledger.outstanding.update({1: 1, 2: 2, 3: 1})
    d._ledger.fires_of["t#1"] = {1, 2, 3}
    d._recorder.put(Answer(1, 11, True, "", owner="t#1"))
    recorded: list[int] = []
    recorder = threading.Thread(target=lambda: recorded.append(d.record_answers(block_s=5, linger_s=60)))
    started = time.monotonic()
    recorder.start()
    wait_until(d._recorder.queue.empty, timeout_s=10, what="the recorder to take the first answer")
    for answer in (Answer(2, 21, True, "", owner="t#1"), Answer(2, 22, False, "busy", owner="t#1"), Answer(3, 31, True, "", owner="t#1")):
        d._recorder.put(answer)
    d._stop.set()  # a stop cuts the linger short
    recorder.join(timeout=10)
    assert not recorder.is_alive() and time.monotonic() - started < 30
    assert recorded == [4]
    [(answers, finished)] = runs.batches
    assert [a.run_id for a in answers] == [11, 21, 22, 31]
    assert sorted(finished) == [(1, "t#1"), (2, "t#1"), (3, "t#1")]


def test_a_batch_takes_at_most_record_batch_answers_and_leaves_the_rest(monkeypatch):
    from shardcron.admin.dispatch import answers
    from shardcron.admin.firing.run_store import Answer
    from shardcron.core.clock import SYSTEM_CLOCK

    monkeypatch.setattr(answers, "RECORD_BATCH", 3)
    runs = _RecordingRuns()
    d = FireDispatcher(runs, ExecutorClient(TOKEN), SYSTEM_CLOCK, workers=0)
    d._ledger.fires_of["t#1"] = set(range(5))
    for n in range(5):
        d._ledger.outstanding[n] = 1
        d._recorder.put(Answer(n, 100 + n, True, "", owner="t#1"))
    assert d.record_answers() == 3
    assert d.record_answers() == 2
    assert [[a.run_id for a in answers] for answers, _ in runs.batches] == [[100, 101, 102], [103, 104]]


def test_the_dispatcher_is_alive_only_while_its_sending_thread_runs(sqlite_admin_db, fake_clock):
    client = ExecutorClient(TOKEN)
    dispatcher = FireDispatcher(RunStore(sqlite_admin_db), client, fake_clock, workers=4)
    assert not dispatcher.alive()  # not started
    dispatcher.start()
    try:
        assert dispatcher.alive()
        dispatcher._sender.stop(5)  # as if the sending thread had ended
        assert not dispatcher.alive()
    finally:
        dispatcher.stop(timeout_s=5)
        client.close()
