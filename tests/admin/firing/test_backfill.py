"""Backfills on a fake clock, on SQLite, MariaDB and PostgreSQL: every planned time of the range
fires once, in order, at most `pace` at once, each run carrying its planned time; cancel stops
it; two scheduler nodes advancing at the same moment never double a fire; bad ranges are refused
with nothing written."""

from __future__ import annotations


import pytest
import sqlalchemy as sa

from shardcron.admin.enums import AuditAction, BackfillStatus, FireStatus, RunStatus, ScheduleType, TriggerType
import shardcron.admin.firing.backfill_advance as advance_module
from shardcron.admin.firing.backfill_advance import BackfillAdvancer
from shardcron.admin.models import AuditEntry, Backfill, Fire, RunLog
from shardcron.admin.services import backfills
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Conflict, ServiceError
from tests.support.scheduler_rows import add_group, add_job
from tests.support.together import run_together

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC
HOUR = 3_600_000
NOW = T0 + 30 * 24 * HOUR  # the fake clock, well after the range


def create(db, job, **body):
    with db.session() as s:
        return backfills.create_backfill(s, SYSTEM_ACTOR, job, {"from_ms": T0, "to_ms": T0 + 9 * HOUR, **body}, now_ms=NOW, max_runs=1000)


def started(receiver, job):
    return [(r.log_date_ms - T0) // HOUR for r in receiver.runs if r.job_id == job]


def finish(db, job, count):
    """The executor reports the `count` oldest running runs of the job a success."""
    with db.session() as s:
        ids = s.scalars(sa.select(RunLog.id).where(RunLog.job_id == job, RunLog.status == RunStatus.RUNNING).order_by(RunLog.fire_at_ms).limit(count)).all()
        s.execute(sa.update(RunLog).where(RunLog.id.in_(ids)).values(status=RunStatus.SUCCESS, handle_code=200))


def view(db, backfill_id):
    with db.read_session() as s:
        return backfills.get_backfill(s, SYSTEM_ACTOR, backfill_id)


def setup_job(db, receiver, **fields):
    group = add_group(db, "app", T0, manual=[receiver.address])
    return add_job(db, group, NOW, schedule_type=ScheduleType.CRON, schedule_conf="0 * * * *", **fields)


def test_every_planned_time_fires_once_in_order_at_most_pace_at_once(admin_db, receivers, make_scheduler):
    receiver = receivers()
    job = setup_job(admin_db, receiver)
    backfill = create(admin_db, job, pace=3)
    assert (backfill.planned, backfill.created, backfill.status) == (10, 0, BackfillStatus.RUNNING)
    node = make_scheduler(admin_db)
    advancer = BackfillAdvancer(admin_db)
    peak = 0
    for _ in range(12):
        advancer.advance(NOW)
        node.step(NOW)
        progress = view(admin_db, backfill.id)
        peak = max(peak, progress.running)
        finish(admin_db, job, 2)
    assert started(receiver, job) == list(range(10))  # each planned time once, in order
    assert peak == 3
    done = view(admin_db, backfill.id)
    assert (done.status, done.planned, done.created, done.started, done.succeeded, done.failed, done.skipped) == (BackfillStatus.DONE, 10, 10, 10, 10, 0, 0)
    with admin_db.read_session() as s:
        runs = s.execute(sa.select(RunLog.trigger_type, RunLog.fire_at_ms).where(RunLog.job_id == job).order_by(RunLog.fire_at_ms)).all()
    assert runs == [(TriggerType.BACKFILL, T0 + h * HOUR) for h in range(10)]  # ctx.trigger_time_ms: the planned time


def test_cancel_starts_nothing_more_and_closes_waiting_fires(admin_db, receivers, make_scheduler):
    receiver = receivers()
    job = setup_job(admin_db, receiver)
    backfill = create(admin_db, job, pace=2)
    node = make_scheduler(admin_db)
    advancer = BackfillAdvancer(admin_db)
    advancer.advance(NOW)
    node.step(NOW)
    finish(admin_db, job, 1)
    assert advancer.advance(NOW) == 1  # one more, not yet claimed
    with admin_db.session() as s:
        cancelled = backfills.cancel_backfill(s, SYSTEM_ACTOR, backfill.id, now_ms=NOW)
    assert cancelled.status == BackfillStatus.CANCELLED
    for _ in range(3):
        finish(admin_db, job, 5)
        advancer.advance(NOW)
        node.step(NOW)
    assert started(receiver, job) == [0, 1]
    after = view(admin_db, backfill.id)
    assert (after.created, after.started, after.skipped, after.succeeded) == (3, 2, 1, 2)
    with admin_db.session() as s, pytest.raises(Conflict):
        backfills.cancel_backfill(s, SYSTEM_ACTOR, backfill.id, now_ms=NOW)
    with admin_db.read_session() as s:
        actions = s.scalars(sa.select(AuditEntry.action).where(AuditEntry.target_id == backfill.id).order_by(AuditEntry.id)).all()
    assert actions == [AuditAction.BACKFILL_CREATE.value, AuditAction.BACKFILL_CANCEL.value]


def test_two_nodes_advancing_at_once_never_double_a_fire(admin_db, receivers, make_scheduler):
    receiver = receivers()
    job = setup_job(admin_db, receiver)
    backfill = create(admin_db, job, pace=4)
    nodes = [make_scheduler(admin_db, "node-a"), make_scheduler(admin_db, "node-b")]
    advancers = [BackfillAdvancer(admin_db), BackfillAdvancer(admin_db)]
    for _ in range(6):
        run_together([lambda advancer=advancer: advancer.advance(NOW) for advancer in advancers], timeout_s=20)
        with admin_db.read_session() as s:
            active = s.scalar(sa.select(sa.func.count()).select_from(Fire).where(Fire.origin_ref == backfill.id, Fire.status != FireStatus.DONE))
        assert active <= 4
        for node in nodes:
            node.step(NOW)
        finish(admin_db, job, 4)
    assert sorted(started(receiver, job)) == list(range(10))
    with admin_db.read_session() as s:
        fires = s.scalars(sa.select(Fire.fire_at_ms).where(Fire.origin_ref == backfill.id, Fire.trigger_type == TriggerType.BACKFILL)).all()
    assert sorted(fires) == [T0 + h * HOUR for h in range(10)]


def test_buffer_all_waits_for_the_jobs_other_run(admin_db, receivers, make_scheduler):
    receiver = receivers()
    job = setup_job(admin_db, receiver)
    with admin_db.session() as s:
        s.add(Fire(job_id=job, fire_at_ms=NOW, trigger_type=TriggerType.MANUAL, origin_ref=1, status=FireStatus.PENDING, created_at_ms=NOW))
    node = make_scheduler(admin_db)
    node.step(NOW)  # the manual run is active
    backfill = create(admin_db, job, overlap_policy="BUFFER_ALL", to_ms=T0 + HOUR)
    advancer = BackfillAdvancer(admin_db)
    advancer.advance(NOW)
    node.step(NOW)
    assert started(receiver, job) == [(NOW - T0) // HOUR]
    with admin_db.read_session() as s:
        assert s.scalars(sa.select(Fire.status).where(Fire.origin_ref == backfill.id, Fire.trigger_type == TriggerType.BACKFILL)).all() == [FireStatus.BUFFERED]
    finish(admin_db, job, 1)
    node.step(NOW + 1000)
    advancer.advance(NOW + 1000)
    finish(admin_db, job, 1)
    advancer.advance(NOW + 2000)
    node.step(NOW + 2000)
    assert started(receiver, job)[1:] == [0, 1]


def test_bad_ranges_are_refused_naming_the_field_and_nothing_is_written(admin_db, receivers):
    receiver = receivers()
    job = setup_job(admin_db, receiver)
    group = add_group(admin_db, "other", T0, manual=[receiver.address])
    manual_only = add_job(admin_db, group, NOW)

    def refused(job_id, **body):
        with admin_db.session() as s, pytest.raises(ServiceError) as caught:
            backfills.create_backfill(s, SYSTEM_ACTOR, job_id, {"from_ms": T0, "to_ms": T0 + 9 * HOUR, **body}, now_ms=NOW, max_runs=24)
        return {k: str(v) for k, v in caught.value.field_errors.items()}

    too_many = refused(job, to_ms=T0 + 48 * HOUR)
    assert set(too_many) == {"to_ms"} and "holds 49 planned times" in too_many["to_ms"] and "at most 24" in too_many["to_ms"]
    assert "more than 240" in refused(job, to_ms=T0 + 29 * 24 * HOUR)["to_ms"]
    assert set(refused(job, from_ms=T0 + HOUR, to_ms=T0)) == {"to_ms"}
    assert set(refused(job, to_ms=NOW + HOUR)) == {"to_ms"}
    assert set(refused(manual_only)) == {"job_id"}
    assert set(refused(job, from_ms=T0 + 1, to_ms=T0 + 2)) == {"to_ms"}  # no planned time in it
    assert set(refused(job, pace=0)) == {"pace"} and set(refused(job, pace=101)) == {"pace"}
    assert set(refused(job, pace=2, overlap_policy="SKIP")) == {"pace"}
    assert set(refused(job, overlap_policy="TERMINATE_OTHER")) == {"overlap_policy"}
    assert set(refused(job, from_ms="yesterday", hours=3)) == {"from_ms", "hours"}
    with admin_db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Backfill)) == 0
        assert s.scalar(sa.select(sa.func.count()).select_from(AuditEntry)) == 0


def test_an_advance_that_dies_mid_way_leaves_nothing_and_the_next_one_does_it_once(admin_db, receivers, make_scheduler, monkeypatch):
    receiver = receivers()
    job = setup_job(admin_db, receiver)
    first, second = create(admin_db, job, pace=2), create(admin_db, job, pace=2, from_ms=T0 + 20 * HOUR, to_ms=T0 + 21 * HOUR)
    real_insert = advance_module.insert_ignoring_duplicates
    calls = []

    def insert_then_die(session, table, rows):
        real_insert(session, table, rows)
        calls.append(len(rows))
        if len(calls) == 2:  # the first backfill's fires are written, the second's too: then the node dies
            raise ConnectionError("node killed")

    monkeypatch.setattr(advance_module, "insert_ignoring_duplicates", insert_then_die)
    with pytest.raises(ConnectionError):
        BackfillAdvancer(admin_db).advance(NOW)
    with admin_db.read_session() as s:
        assert s.scalar(sa.select(sa.func.count()).select_from(Fire)) == 0
        assert [(b.created, b.next_at_ms) for b in s.scalars(sa.select(Backfill).order_by(Backfill.id))] == [(0, T0), (0, T0 + 20 * HOUR)]
    monkeypatch.setattr(advance_module, "insert_ignoring_duplicates", real_insert)
    assert BackfillAdvancer(admin_db).advance(NOW) == 4
    make_scheduler(admin_db).step(NOW)
    assert sorted(started(receiver, job)) == [0, 1, 20, 21]
    assert (view(admin_db, first.id).created, view(admin_db, second.id).created) == (2, 2)
