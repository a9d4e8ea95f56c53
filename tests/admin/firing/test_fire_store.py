"""The fire store's contract, on SQLite and MariaDB: claims, lease terms, adoption, release, bulk ticks."""

from __future__ import annotations

import threading

import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, RunStatus, ScheduleType, TriggerType
from shardcron.admin.models import Fire, Job, RunLog, SchedulerLease
from shardcron.admin.firing.fire_store import ANYTHING_MAY_BE_SENT
from shardcron.admin.schedules.due_fires import plan_job_fires
from shardcron.admin.enums import MisfireStrategy
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000


def all_fires(db):
    with db.read_session() as s:
        return s.execute(sa.select(Fire).order_by(Fire.job_id, Fire.fire_at_ms)).scalars().all()


def all_runs(db):
    with db.read_session() as s:
        return s.execute(sa.select(RunLog).order_by(RunLog.id)).scalars().all()


def test_a_second_node_finds_nothing_to_claim_for_fires_already_claimed(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    jobs = [add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1") for _ in range(20)]
    a, b = make_scheduler(admin_db, "node-a"), make_scheduler(admin_db, "node-b")
    held_a = a.store.claim(T0 + 100)
    held_b = b.store.claim(T0 + 100)
    assert len(held_a) == 20 * 2 and held_b == []  # fires at +1 s and +2 s for each job, all A's
    assert {f.owner for f in all_fires(admin_db)} == {a.owner}
    with admin_db.read_session() as s:
        assert set(s.execute(sa.select(Job.next_fire_at_ms).where(Job.id.in_(jobs))).scalars()) == {T0 + 3000}


def test_concurrent_ticks_on_several_nodes_create_each_fire_once(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    for _ in range(60):
        add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")
    nodes = [make_scheduler(admin_db, f"node-{i}") for i in range(3)]
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def work(node) -> None:
        try:
            for step in range(10):
                barrier.wait(timeout=30)
                node.store.claim(T0 + step * 500)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in nodes]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert errors == []
    fires = all_fires(admin_db)
    keys = [(f.job_id, f.fire_at_ms) for f in fires]
    assert len(keys) == len(set(keys))
    # every job has every fire from +1 s to the last horizon (+4.5 s + 2 s lookahead)
    assert sorted(set(f.fire_at_ms - T0 for f in fires)) == [1000, 2000, 3000, 4000, 5000, 6000]
    assert len(fires) == 60 * 6


def test_an_orphaned_claim_is_adopted_after_its_lease_and_dispatched_once(admin_db, receivers, make_scheduler):
    """Node A claims a fire and dies before writing its run rows; B adopts it once A's lease
    term has run out, and sends it: A's term could not have sent a fire planned after its horizon."""
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    a = make_scheduler(admin_db, "node-a", lease_ms=5000)
    b = make_scheduler(admin_db, "node-b", lease_ms=5000)
    a.live(T0 + 58_500)
    a.store.claim(T0 + 58_500)  # claimed under a lease until +63.5 s; then A is gone
    b.step(T0 + 60_000)
    assert receiver.runs == []  # A's lease still holds
    b.step(T0 + 63_600)
    assert [(r.job_id, r.log_date_ms) for r in receiver.runs] == [(job, T0 + 60_000)]
    fire = all_fires(admin_db)[0]
    assert (fire.owner, fire.status) == (b.owner, FireStatus.DONE)
    run = all_runs(admin_db)[0]
    assert run.trigger_at_ms == T0 + 63_600 and run.fire_at_ms == T0 + 60_000
    with admin_db.read_session() as s:
        assert s.execute(sa.select(SchedulerLease.owner)).scalars().all() == [b.owner]  # A's term row is gone


def test_an_adopter_settles_a_row_its_sender_may_have_sent_and_does_not_send_it_again(admin_db, receivers, make_scheduler):
    """A wrote the run rows and sent /run, then died before recording the answer: B asks the
    executor about the logId, learns it has it, and records the run RUNNING without a second /run."""
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60", route_strategy="SHARDING_BROADCAST")
    a = make_scheduler(admin_db, "node-a", lease_ms=5000)
    b = make_scheduler(admin_db, "node-b", lease_ms=5000)
    a.live(T0 + 59_000)
    a.loop.tick(T0 + 59_000)  # rows written (PENDING)
    sends = a.dispatcher._timers.queued()  # noqa: SLF001 — reach in to send without recording: A "dies" here
    assert sends
    for send in sends:
        assert a.dispatcher.client.run_encoded(send.address, send.body).ok
    [before] = all_runs(admin_db)
    assert before.status == RunStatus.PENDING
    b.step(T0 + 64_100)
    [after] = all_runs(admin_db)
    assert (after.id, after.status, after.trigger_code) == (before.id, RunStatus.RUNNING, 200)
    assert after.trigger_msg.startswith(f"settled: executor {receiver.address} says it has logId {before.id}")
    assert len(receiver.runs) == 1 and receiver.repeats == 0
    assert all_fires(admin_db)[0].status == FireStatus.DONE


def test_an_adopter_sends_a_row_its_sender_never_got_out(admin_db, receivers, make_scheduler):
    """A wrote the run rows and died before /run: asked, the executor says it never got that
    logId, and B sends it, same logId."""
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    a = make_scheduler(admin_db, "node-a", lease_ms=5000)
    b = make_scheduler(admin_db, "node-b", lease_ms=5000)
    a.live(T0 + 59_000)
    a.loop.tick(T0 + 59_000)
    [before] = all_runs(admin_db)
    b.step(T0 + 64_100)
    [after] = all_runs(admin_db)
    assert (after.id, after.status, after.trigger_msg) == (before.id, RunStatus.RUNNING, None)
    assert [(r.job_id, r.log_id) for r in receiver.runs] == [(job, before.id)]


def test_claims_say_which_fires_may_already_have_run_rows_and_what_an_ended_term_may_have_sent(admin_db, receivers, make_scheduler):
    """Preparing skips the run-row lookup only for fires that cannot have rows: those created
    or taken PENDING by this claim. A node's first claim and adopted fires may have rows; an
    adopted fire carries the ended term's send horizon."""
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")
    a = make_scheduler(admin_db, "node-a", lease_ms=5000)
    b = make_scheduler(admin_db, "node-b", lease_ms=5000)
    first = a.store.claim(T0)
    assert [(f.may_have_runs, f.sent_before_ms) for f in first] == [(True, None), (True, None)]  # first claim: maybe after a failed one
    assert [f.may_have_runs for f in a.store.claim(T0 + 1000)] == [False]  # created this claim
    b.store.claim(T0 + 1000)  # b's first claim (nothing free)
    b.live(T0 + 7000)  # a stopped renewing at T0: its lease ended at +5 s
    adopted = b.store.claim(T0 + 7000)
    from_a = [f for f in adopted if f.fire_at_ms <= T0 + 3000]
    assert len(from_a) == 3 and all(f.may_have_runs and f.sent_before_ms == T0 + 5000 - 1250 for f in from_a)
    assert all(not f.may_have_runs and f.sent_before_ms is None for f in adopted if f.fire_at_ms > T0 + 3000)


def test_a_live_node_renews_its_lease_so_nobody_adopts_its_fires(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    a = make_scheduler(admin_db, "node-a", lease_ms=2000, lookahead_ms=30_000)
    b = make_scheduler(admin_db, "node-b", lease_ms=2000, lookahead_ms=30_000)
    for now in range(T0 + 31_000, T0 + 59_000, 1000):
        a.live(now)
        a.loop.tick(now)
        b.live(now + 500)
        assert b.store.claim(now + 500) == []
    assert {f.owner for f in all_fires(admin_db)} == {a.owner}


def test_fires_of_an_owner_without_a_lease_row_are_adopted_and_all_their_rows_settled(admin_db, receivers, make_scheduler):
    """A scheduler of an older release claimed with its bare node id (no lease row): the first
    claim that looks for such owners adopts its fires; any of their rows may have been sent."""
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.NONE, schedule_conf="")
    with admin_db.session() as s:
        s.add(Fire(job_id=job, fire_at_ms=T0 + 500, trigger_type=TriggerType.MANUAL, origin_ref=7, status=FireStatus.CLAIMED, owner="old-node", created_at_ms=T0))
    node = make_scheduler(admin_db)
    [fire] = node.store.claim(T0 + 1000)
    assert (fire.may_have_runs, fire.sent_before_ms) == (True, ANYTHING_MAY_BE_SENT)
    assert all_fires(admin_db)[0].owner == node.owner


def test_release_hands_unprepared_fires_back_at_once(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    a = make_scheduler(admin_db, "node-a")
    b = make_scheduler(admin_db, "node-b")
    held = a.store.claim(T0 + 58_500)
    assert a.store.release(a.owner, [f.id for f in held]) == 1
    b.step(T0 + 60_000)
    assert len(receiver.runs) == 1
    assert all_fires(admin_db)[0].owner == b.owner


def test_release_keeps_fires_whose_run_rows_exist(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    a = make_scheduler(admin_db, "node-a")
    a.loop.tick(T0 + 58_500)
    assert a.store.release(a.owner, list(a.dispatcher.held)) == 0
    assert all_fires(admin_db)[0].status == FireStatus.CLAIMED


def test_an_existing_fire_is_never_inserted_twice(admin_db, receivers, make_scheduler):
    """Moving a job's next fire back (an edit) cannot re-create a fire that already exists."""
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    node = make_scheduler(admin_db)
    node.step(T0 + 59_000)
    node.step(T0 + 60_000)
    with admin_db.session() as s:
        s.get(Job, job).next_fire_at_ms = T0 + 60_000
    node.step(T0 + 60_100)
    assert len(all_fires(admin_db)) == 1 and len(receiver.runs) == 1


def test_an_unusable_schedule_stops_the_job(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.CRON, schedule_conf="not a cron", first_fire_ms=T0 + 1000)
    make_scheduler(admin_db).step(T0 + 500)
    with admin_db.read_session() as s:
        row = s.get(Job, job)
        assert (row.enabled, row.next_fire_at_ms) == (False, 0)
    assert all_fires(admin_db) == []


def test_plan_caps_a_long_backlog_with_one_misfire():
    plan = plan_job_fires(ScheduleType.FIX_RATE, "1", "UTC", MisfireStrategy.FIRE_ONCE_NOW, T0, T0 + 86_400_000, T0 + 86_402_000, 5000)
    assert plan.misfired
    assert plan.fires[0] == (T0 + 86_400_000, TriggerType.MISFIRE)
    assert [at - T0 for at, _ in plan.fires[1:]] == [86_401_000, 86_402_000]
    assert plan.next_fire_at_ms == T0 + 86_403_000
