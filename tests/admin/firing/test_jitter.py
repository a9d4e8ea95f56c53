"""Jitter on a fake clock, on SQLite, MariaDB and PostgreSQL: a scheduled fire's `/run` goes out
at its planned time plus the job's delay for that time, the run keeps the planned time as its
trigger time, manual fires are not delayed, and the delay is a function of job and time alone."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, ScheduleType, TriggerType
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.schedules.jitter import MAX_JITTER_S, jitter_ms
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000  # the fake clock's start


def started(receiver, job):
    return [r.log_date_ms - T0 for r in receiver.runs if r.job_id == job]


def test_the_delay_is_fixed_per_planned_time_and_within_the_bound():
    delays = [jitter_ms(7, T0 + i * 60_000, 30) for i in range(500)]
    assert delays == [jitter_ms(7, T0 + i * 60_000, 30) for i in range(500)]  # every node computes the same
    assert min(delays) >= 0 and max(delays) <= 30_000
    assert len(set(delays)) > 400  # spread, not one delay for every fire
    assert max(delays) > 25_000 and min(delays) < 5_000
    assert jitter_ms(8, T0, 30) != jitter_ms(7, T0, 30) or jitter_ms(8, T0 + 1, 30) != jitter_ms(7, T0 + 1, 30)
    assert jitter_ms(7, T0, 0) == 0
    assert all(0 <= jitter_ms(1, T0 + i, MAX_JITTER_S) <= MAX_JITTER_S * 1000 for i in range(200))


def test_a_jittered_fire_is_sent_late_but_keeps_its_planned_time(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10", jitter_s=8)
    plain = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10")
    delay = jitter_ms(job, T0 + 10_000, 8)
    assert 0 < delay <= 8_000
    node = make_scheduler(admin_db)
    node.step(T0 + 10_000)
    assert started(receiver, plain) == [10_000]
    assert started(receiver, job) == []
    node.step(T0 + 10_000 + delay - 1)
    assert started(receiver, job) == []
    node.step(T0 + 10_000 + delay)
    assert started(receiver, job) == [10_000]  # ctx.trigger_time_ms: the planned time
    with admin_db.read_session() as s:
        run = s.execute(sa.select(RunLog).where(RunLog.job_id == job)).scalars().one()
    assert (run.fire_at_ms, run.trigger_at_ms) == (T0 + 10_000, T0 + 10_000 + delay)


def test_a_manual_trigger_is_not_delayed(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="3600", jitter_s=3600)
    node = make_scheduler(admin_db)
    with admin_db.session() as s:
        s.add(Fire(job_id=job, fire_at_ms=T0 + 1_000, trigger_type=TriggerType.MANUAL, origin_ref=0, status=FireStatus.PENDING, created_at_ms=T0))
    node.step(T0 + 1_000)
    assert started(receiver, job) == [1_000]
