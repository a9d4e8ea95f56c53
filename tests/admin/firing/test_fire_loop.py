"""The fire loop on a fake clock: every schedule type, zones and DST, misfire, on SQLite and MariaDB."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, MisfireStrategy, RunStatus, ScheduleType, TriggerType
from shardcron.admin.models import Fire, Job, RunLog
from shardcron.core.clock import datetime_to_ms
from tests.support.scheduler_rows import add_group, add_job

from datetime import datetime, UTC
from zoneinfo import ZoneInfo

T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z (the fake clock's start)


def fires(db, job_id):
    with db.read_session() as s:
        return s.execute(sa.select(Fire).where(Fire.job_id == job_id).order_by(Fire.fire_at_ms)).scalars().all()


def runs(db, job_id):
    with db.read_session() as s:
        return s.execute(sa.select(RunLog).where(RunLog.job_id == job_id).order_by(RunLog.fire_at_ms, RunLog.id)).scalars().all()


def setup_job(admin_db, receivers, **fields):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    return receiver, add_job(admin_db, group, T0, **fields)


def test_cron_5_field_fires_each_minute_at_its_millisecond(admin_db, receivers, make_scheduler):
    receiver, job = setup_job(admin_db, receivers, schedule_type=ScheduleType.CRON, schedule_conf="* * * * *")
    node = make_scheduler(admin_db)
    node.step(T0 + 58_500)  # fire at T0+60 s is within the 2 s lookahead: claimed and prepared
    assert [(f.fire_at_ms, f.status) for f in fires(admin_db, job)] == [(T0 + 60_000, FireStatus.CLAIMED)]
    assert [r.status for r in runs(admin_db, job)] == [RunStatus.PENDING]
    assert receiver.runs == []  # not yet due: nothing sent
    node.step(T0 + 59_999)
    assert receiver.runs == []
    node.step(T0 + 60_000)
    assert [(r.job_id, r.log_date_ms) for r in receiver.runs] == [(job, T0 + 60_000)]
    run = runs(admin_db, job)[0]
    assert (run.status, run.trigger_code, run.trigger_type, run.id) == (RunStatus.RUNNING, 200, TriggerType.CRON, receiver.runs[0].log_id)
    assert fires(admin_db, job)[0].status == FireStatus.DONE
    with admin_db.read_session() as s:
        assert s.get(Job, job).next_fire_at_ms == T0 + 120_000


def test_quartz_seconds_and_fix_rate_fire_on_their_grid(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    quartz = add_job(admin_db, group, T0, schedule_type=ScheduleType.CRON, schedule_conf="*/5 * * * * ?")
    rate = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="3")
    node = make_scheduler(admin_db)
    for now in range(T0, T0 + 12_001, 250):
        node.step(now)
    got = sorted((r.job_id, r.log_date_ms - T0) for r in receiver.runs)
    assert got == sorted([(quartz, 5000), (quartz, 10_000)] + [(rate, ms) for ms in (3000, 6000, 9000, 12_000)])


def test_none_schedule_never_fires_by_itself_but_a_manual_fire_runs(admin_db, receivers, make_scheduler):
    receiver, job = setup_job(admin_db, receivers, schedule_type=ScheduleType.NONE)
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    assert fires(admin_db, job) == [] and receiver.runs == []
    with admin_db.session() as s:
        s.add(Fire(job_id=job, fire_at_ms=T0 + 10_000, trigger_type=TriggerType.MANUAL, origin_ref=77, param="by hand", status=FireStatus.PENDING, created_at_ms=T0 + 10_000))
    node.step(T0 + 10_100)
    assert [(r.job_id, r.params) for r in receiver.runs] == [(job, "by hand")]
    assert runs(admin_db, job)[0].trigger_type == TriggerType.MANUAL


def test_cron_in_a_zone_across_the_spring_gap(admin_db, receivers, make_scheduler):
    """Europe/Berlin 2026-03-29: 02:00-03:00 does not exist. A daily 02:30 job fires once that
    day, at 03:00 CEST (= 01:00Z), the rule in zones.py, and 02:30 CEST on the next day."""
    zone = ZoneInfo("Europe/Berlin")
    start = datetime_to_ms(datetime(2026, 3, 28, 12, 0, tzinfo=UTC))
    receiver = receivers()
    group = add_group(admin_db, "app", start, manual=[receiver.address])
    add_job(admin_db, group, start, schedule_type=ScheduleType.CRON, schedule_conf="30 2 * * *", timezone="Europe/Berlin")
    node = make_scheduler(admin_db)
    node.clock.set(start)
    from shardcron.admin.schedules.schedule import preview_fire_times

    expected = preview_fire_times(ScheduleType.CRON, "30 2 * * *", "Europe/Berlin", start, 2)
    for at in expected:
        node.step(at - 1500)
        node.step(at)
    got = [r.log_date_ms for r in receiver.runs]
    assert got == expected
    local = [datetime.fromtimestamp(ms / 1000, zone).strftime("%m-%d %H:%M %Z") for ms in got]
    assert local == ["03-29 03:00 CEST", "03-30 02:30 CEST"]


def test_misfire_do_nothing_skips_the_backlog_and_resumes(admin_db, receivers, make_scheduler):
    receiver, job = setup_job(admin_db, receivers, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10", misfire_strategy=MisfireStrategy.DO_NOTHING)
    node = make_scheduler(admin_db, grace_ms=5000)
    node.step(T0 + 95_000)  # first fire was T0+10 s; 85 s late: far past the grace
    node.step(T0 + 100_000)
    assert [(r.log_date_ms - T0) for r in receiver.runs] == [100_000]  # back on the 10 s grid, nothing replayed
    assert all(f.trigger_type == TriggerType.CRON for f in fires(admin_db, job))


def test_misfire_fire_once_now_fires_once_then_resumes(admin_db, receivers, make_scheduler):
    receiver, job = setup_job(admin_db, receivers, schedule_type=ScheduleType.CRON, schedule_conf="0 * * * * ?", misfire_strategy=MisfireStrategy.FIRE_ONCE_NOW)
    node = make_scheduler(admin_db, grace_ms=5000)
    node.step(T0 + 300_500)  # four planned fires missed
    node.step(T0 + 360_000)
    got = [(r.log_date_ms - T0) for r in receiver.runs]
    assert got == [300_500, 360_000]
    assert [f.trigger_type for f in fires(admin_db, job)] == [TriggerType.MISFIRE, TriggerType.CRON]


def test_a_late_fire_within_the_grace_still_fires_at_its_planned_time(admin_db, receivers, make_scheduler):
    receiver, job = setup_job(admin_db, receivers, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10", misfire_strategy=MisfireStrategy.DO_NOTHING)
    node = make_scheduler(admin_db, grace_ms=5000)
    node.step(T0 + 14_000)  # 4 s late: within the grace
    assert [(r.log_date_ms - T0) for r in receiver.runs] == [10_000]
    assert fires(admin_db, job)[0].trigger_type == TriggerType.CRON


def test_a_stopped_job_loses_its_claimed_scheduled_fire_but_manual_fires_run(admin_db, receivers, make_scheduler):
    receiver, job = setup_job(admin_db, receivers, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    node = make_scheduler(admin_db)
    with admin_db.session() as s:
        s.get(Job, job).enabled = False
        s.add(Fire(job_id=job, fire_at_ms=T0 + 1000, trigger_type=TriggerType.API, origin_ref=5, status=FireStatus.PENDING, created_at_ms=T0))
    node.step(T0 + 60_000)
    assert [r.job_id for r in receiver.runs] == [job]
    assert [f.trigger_type for f in fires(admin_db, job)] == [TriggerType.API]


def test_ticks_are_idempotent_nothing_fires_twice(admin_db, receivers, make_scheduler):
    receiver, job = setup_job(admin_db, receivers, schedule_type=ScheduleType.FIX_RATE, schedule_conf="1")
    node = make_scheduler(admin_db)
    for now in range(T0, T0 + 5001, 100):
        node.step(now)
        node.step()  # the same instant again
    assert [(r.log_date_ms - T0) for r in receiver.runs] == [1000, 2000, 3000, 4000, 5000]
    assert receiver.repeats == 0
