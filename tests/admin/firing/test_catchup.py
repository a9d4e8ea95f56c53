"""Catch-up after downtime (misfire strategies CATCH_UP_ALL / CATCH_UP_LATEST): the planning, pure,
and on a fake clock on SQLite, MariaDB and PostgreSQL: the missed planned times within the window
are fired once each, in order, each run carrying its planned time (`logDateTime`)."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import MisfireStrategy, ScheduleType, TriggerType
from shardcron.admin.firing.fire_store import plan_job_fires
from shardcron.admin.models import Fire, Job
from shardcron.admin.schedules.catchup import catch_up_times
from shardcron.admin.schedules.schedule import next_fire_at_ms
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC, the fake clock's start
MIN = 60_000
HOUR = 60 * MIN
ALL, LATEST = MisfireStrategy.CATCH_UP_ALL, MisfireStrategy.CATCH_UP_LATEST
CRON, RATE = ScheduleType.CRON, ScheduleType.FIX_RATE


def plan(kind, conf, misfire, next_at, now, window_ms, max_fires=100):
    return plan_job_fires(kind, conf, "UTC", misfire, next_at, now, now + 2000, 5000, catchup_window_ms=window_ms, catchup_max_fires=max_fires)


def brute_force(kind, conf, zone, start, now):
    times, at = [], next_fire_at_ms(kind, conf, zone, start - 1)
    while at is not None and at <= now:
        times.append(at)
        at = next_fire_at_ms(kind, conf, zone, at)
    return times


# ---------------------------------------------------------------- planning (pure)

def test_catch_up_all_fires_every_missed_time_within_the_window_at_its_planned_time():
    p = plan(CRON, "* * * * *", ALL, T0 + 2 * MIN, T0 + 10 * MIN + 30_000, 5 * MIN)
    assert p.misfired and not p.beyond_catchup_limit
    assert p.fires == [(T0 + m * MIN, TriggerType.MISFIRE) for m in (6, 7, 8, 9, 10)]
    assert p.next_fire_at_ms == T0 + 11 * MIN  # the schedule resumes after now


def test_catch_up_latest_fires_only_the_latest_missed_time():
    p = plan(CRON, "* * * * *", LATEST, T0 + 2 * MIN, T0 + 10 * MIN + 30_000, 5 * MIN)
    assert p.fires == [(T0 + 10 * MIN, TriggerType.MISFIRE)]
    assert p.next_fire_at_ms == T0 + 11 * MIN


def test_a_window_older_than_every_missed_time_fires_nothing():
    # Missed 00:02 and 00:03 only (next_at 00:02, an hourly job); now 00:50, window 10 min.
    p = plan(CRON, "2,3 * * * *", ALL, T0 + 2 * MIN, T0 + 50 * MIN, 10 * MIN)
    assert p.misfired and p.fires == [] and p.next_fire_at_ms == T0 + HOUR + 2 * MIN
    assert plan(CRON, "2,3 * * * *", LATEST, T0 + 2 * MIN, T0 + 50 * MIN, 10 * MIN).fires == []


def test_the_window_never_reaches_before_the_first_missed_time():
    p = plan(CRON, "* * * * *", ALL, T0 + 8 * MIN, T0 + 10 * MIN, HOUR)
    assert [at for at, _ in p.fires if at <= T0 + 10 * MIN] == [T0 + 8 * MIN, T0 + 9 * MIN, T0 + 10 * MIN]


def test_catch_up_all_stops_at_the_limit_oldest_first_and_says_so():
    p = plan(CRON, "* * * * *", ALL, T0 + MIN, T0 + 10 * MIN, HOUR, max_fires=3)
    assert p.beyond_catchup_limit
    assert p.fires == [(T0 + m * MIN, TriggerType.MISFIRE) for m in (1, 2, 3)]
    assert p.next_fire_at_ms == T0 + 11 * MIN  # the rest of the window is skipped
    exact = plan(CRON, "* * * * *", ALL, T0 + 8 * MIN, T0 + 10 * MIN, HOUR, max_fires=3)
    assert not exact.beyond_catchup_limit and len(exact.fires) == 3


def test_fix_rate_catches_up_on_its_own_grid():
    # A 7 s grid from T0 + 3 s; missed from T0 + 10 s, now T0 + 100 s, window 30 s: [70 s, 100 s].
    p = plan(RATE, "7", ALL, T0 + 10_000, T0 + 100_000, 30_000)
    assert [at - T0 for at, t in p.fires if t == TriggerType.MISFIRE] == [73_000, 80_000, 87_000, 94_000]
    assert [at - T0 for at, t in p.fires if t == TriggerType.CRON] == [101_000]
    latest = plan(RATE, "7", LATEST, T0 + 10_000, T0 + 100_000, 30_000)
    assert [at - T0 for at, t in latest.fires if t == TriggerType.MISFIRE] == [94_000]
    capped = catch_up_times(RATE, "1", "UTC", ALL, T0, T0 + 86_400_000, 86_400_000, 100)
    assert capped.beyond_limit and capped.times_ms == [T0 + i * 1000 for i in range(100)]


def test_catch_up_latest_on_cron_matches_a_full_scan():
    cases = [
        ("0 9 * * *", T0 + 9 * HOUR, T0 + 3 * 24 * HOUR + 12 * HOUR + 34 * MIN + 567, 7 * 24 * HOUR),
        ("* 9 * * *", T0 + 9 * HOUR, T0 + 15 * HOUR, 24 * HOUR),  # dense, far from now
        ("*/7 * * * * ?", T0 + 7000, T0 + 5 * HOUR + 3_456, 2 * HOUR),  # every 7 s (Quartz)
        ("30 2 * * *", T0 + 2 * HOUR + 30 * MIN, T0 + 2 * HOUR + 30 * MIN, HOUR),  # missed exactly now
        ("0 0 1 * *", T0 + 31 * 24 * HOUR, T0 + 40 * 24 * HOUR, 7 * 24 * HOUR),  # none in the window
    ]
    for conf, next_at, now, window in cases:
        full = brute_force(CRON, conf, "Europe/Berlin", max(next_at, now - window), now)
        got = catch_up_times(CRON, conf, "Europe/Berlin", LATEST, next_at, now, window, 100).times_ms
        assert got == full[-1:], conf


def test_other_strategies_ignore_the_window():
    skipped = plan(CRON, "* * * * *", MisfireStrategy.DO_NOTHING, T0 + MIN, T0 + 10 * MIN, HOUR)
    assert skipped.misfired and skipped.fires == [] and skipped.next_fire_at_ms == T0 + 11 * MIN
    assert plan(CRON, "* * * * *", MisfireStrategy.FIRE_ONCE_NOW, T0 + MIN, T0 + 10 * MIN, HOUR).fires == [(T0 + 10 * MIN, TriggerType.MISFIRE)]


# ---------------------------------------------------------------- on the fake clock

def started(receiver, job):
    return [r.log_date_ms - T0 for r in receiver.runs if r.job_id == job]


def fires_of(db, job):
    with db.read_session() as s:
        return [(f.fire_at_ms - T0, f.trigger_type) for f in s.scalars(sa.select(Fire).where(Fire.job_id == job).order_by(Fire.fire_at_ms, Fire.id))]


def test_after_downtime_each_missed_time_in_the_window_runs_once_with_its_planned_time(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    every = add_job(admin_db, group, T0, schedule_type=CRON, schedule_conf="* * * * *", misfire_strategy=ALL, catchup_window_s=300)
    latest = add_job(admin_db, group, T0, schedule_type=CRON, schedule_conf="* * * * *", misfire_strategy=LATEST, catchup_window_s=300)
    plain = add_job(admin_db, group, T0, schedule_type=CRON, schedule_conf="* * * * *")
    node = make_scheduler(admin_db)
    node.step(T0 + MIN)
    assert started(receiver, every) == started(receiver, latest) == started(receiver, plain) == [MIN]
    # Down from 00:01 to 00:10:30: 00:02-00:10 were missed; the window reaches back to 00:05:30.
    node.step(T0 + 10 * MIN + 30_000)
    assert started(receiver, every) == [MIN, 6 * MIN, 7 * MIN, 8 * MIN, 9 * MIN, 10 * MIN]
    assert started(receiver, latest) == [MIN, 10 * MIN]
    assert started(receiver, plain) == [MIN]  # DO_NOTHING, as before
    assert fires_of(admin_db, latest) == [(MIN, TriggerType.CRON), (10 * MIN, TriggerType.MISFIRE)]
    second = make_scheduler(admin_db, "node-b")
    second.step(T0 + 10 * MIN + 31_000)
    node.step(T0 + 10 * MIN + 32_000)
    assert len(started(receiver, every)) == 6  # nothing fired twice, by either node
    node.step(T0 + 11 * MIN)
    assert started(receiver, every)[-1] == started(receiver, latest)[-1] == started(receiver, plain)[-1] == 11 * MIN
    with admin_db.read_session() as s:
        assert s.get(Job, every).next_fire_at_ms == T0 + 12 * MIN


def test_a_long_outage_fires_at_most_the_limit_then_resumes(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=RATE, schedule_conf="60", misfire_strategy=ALL, catchup_window_s=86_400)
    node = make_scheduler(admin_db)
    node.store.catchup_max_fires = 4
    node.step(T0 + HOUR + 1_000)
    assert started(receiver, job) == [MIN, 2 * MIN, 3 * MIN, 4 * MIN]
    node.step(T0 + HOUR + MIN + 1_000)
    assert started(receiver, job)[4:] == [HOUR + MIN]


def test_caught_up_fires_meet_the_jobs_overlap_policy(admin_db, receivers, make_scheduler):
    receiver = receivers()  # accepts every run and never reports its end: the first stays active
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(
        admin_db, group, T0, schedule_type=CRON, schedule_conf="* * * * *", misfire_strategy=ALL, catchup_window_s=180, overlap_policy="SKIP",
        first_fire_ms=T0 + MIN,
    )
    node = make_scheduler(admin_db)
    node.step(T0 + 5 * MIN + 30_000)
    assert started(receiver, job) == [3 * MIN]
    with admin_db.read_session() as s:
        notes = [f.overlap_note for f in s.scalars(sa.select(Fire).where(Fire.job_id == job).order_by(Fire.fire_at_ms))]
    assert notes[0] is None and all(note and note.startswith("skipped") for note in notes[1:]) and len(notes) == 3
