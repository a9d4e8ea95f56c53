"""Calendars on a fake clock, on SQLite, MariaDB and PostgreSQL: a job skips its calendar's
excluded day and fires the day after, a manual trigger on that day still runs, two scheduler
nodes both see a calendar edited between their ticks, and calendars are read once per version."""

from __future__ import annotations

import datetime as dt

import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, ScheduleType, TriggerType
from shardcron.admin.models import Calendar, CalendarEntry, Fire
from shardcron.admin.db import Database
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000  # the fake clock's start: 2026-01-01 00:00 UTC
DAY = 86_400_000
H = 3_600_000


def add_calendar(db: Database, name: str, zone: str, *days: tuple[str, str]) -> int:
    with db.session() as s:
        cal = Calendar(name=name, timezone=zone, description="", version=1, created_at_ms=T0, updated_at_ms=T0)
        s.add(cal)
        s.flush()
        for start, end in days:
            s.add(CalendarEntry(calendar_id=cal.id, start_date=dt.date.fromisoformat(start), end_date=dt.date.fromisoformat(end), label=""))
        return cal.id


def exclude_more(db: Database, calendar_id: int, start: str, end: str) -> None:
    """An edit as the calendar service makes it: a new entry and a new version."""
    with db.session() as s:
        s.add(CalendarEntry(calendar_id=calendar_id, start_date=dt.date.fromisoformat(start), end_date=dt.date.fromisoformat(end), label=""))
        s.execute(sa.update(Calendar).where(Calendar.id == calendar_id).values(version=Calendar.version + 1))


def started(receiver, job):
    return [(r.log_date_ms - T0) // H for r in receiver.runs if r.job_id == job]


def test_a_job_skips_the_excluded_day_and_fires_the_day_after(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    holidays = add_calendar(admin_db, "holidays", "UTC", ("2026-01-02", "2026-01-02"))
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.CRON, schedule_conf="0 9 * * *", calendar_ids=str(holidays))
    plain = add_job(admin_db, group, T0, schedule_type=ScheduleType.CRON, schedule_conf="0 9 * * *")
    node = make_scheduler(admin_db)
    for day in range(3):
        node.step(T0 + day * DAY + 9 * H)
    assert started(receiver, plain) == [9, 33, 57]
    assert started(receiver, job) == [9, 57]  # not on the 2nd: fired the day after
    with admin_db.read_session() as s:
        planned = sorted(s.execute(sa.select(Fire.fire_at_ms).where(Fire.job_id == job)).scalars())
    assert planned == [T0 + 9 * H, T0 + 2 * DAY + 9 * H]  # no fire row for the skipped time


def test_a_calendar_in_another_zone_excludes_its_own_day(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    # 2026-01-02 in Tokyo is 2026-01-01 15:00 to 2026-01-02 15:00 UTC.
    tokyo = add_calendar(admin_db, "tokyo", "Asia/Tokyo", ("2026-01-02", "2026-01-02"))
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="21600", calendar_ids=str(tokyo))  # every 6 h
    node = make_scheduler(admin_db)
    for hour in range(6, 48 + 1, 6):
        node.step(T0 + hour * H)
    assert started(receiver, job) == [6, 12, 42, 48]  # 18, 24, 30 and 36 h (to 39 h) are the 2nd in Tokyo


def test_a_manual_trigger_on_an_excluded_day_runs(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    freeze = add_calendar(admin_db, "freeze", "UTC", ("2026-01-01", "2026-01-31"))
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="3600", calendar_ids=str(freeze))
    node = make_scheduler(admin_db)
    with admin_db.session() as s:
        s.add(Fire(job_id=job, fire_at_ms=T0 + H, trigger_type=TriggerType.MANUAL, origin_ref=1, status=FireStatus.PENDING, created_at_ms=T0))
    node.step(T0 + H)
    assert started(receiver, job) == [1]  # the manual fire only; the scheduled one at 01:00 is skipped
    node.step(T0 + 2 * H)
    assert started(receiver, job) == [1]


def test_two_nodes_see_a_calendar_edit(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    cal = add_calendar(admin_db, "ops", "UTC", ("2026-03-01", "2026-03-01"))
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.CRON, schedule_conf="0 9 * * *", calendar_ids=str(cal))
    a = make_scheduler(admin_db, "node-a")
    b = make_scheduler(admin_db, "node-b")
    a.step(T0 + 9 * H)  # node a reads the calendar as it is
    assert started(receiver, job) == [9]
    assert a.store.calendars.loads == 1
    exclude_more(admin_db, cal, "2026-01-02", "2026-01-03")
    b.step(T0 + DAY + 9 * H)  # node b claims the job on the 2nd: skipped to the 4th
    exclude_more(admin_db, cal, "2026-01-04", "2026-01-04")
    a.step(T0 + 3 * DAY + 9 * H)  # node a, which read the calendar before both edits, claims on the 4th
    a.step(T0 + 4 * DAY + 9 * H)
    assert started(receiver, job) == [9, 105]  # the 2nd, 3rd and 4th skipped, then the 5th
    assert (a.store.calendars.loads, b.store.calendars.loads) == (2, 1)
    with admin_db.read_session() as s:
        planned = sorted(s.execute(sa.select(Fire.fire_at_ms).where(Fire.job_id == job)).scalars())
    assert planned == [T0 + 9 * H, T0 + 4 * DAY + 9 * H]


def test_calendars_are_read_again_only_when_a_version_moves(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    cal = add_calendar(admin_db, "ops", "UTC", ("2026-03-01", "2026-03-01"))
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60", calendar_ids=str(cal))
    node = make_scheduler(admin_db)
    for minute in range(1, 6):
        node.step(T0 + minute * 60_000)
    assert started(receiver, job) == [0] * 5
    assert node.store.calendars.loads == 1
    exclude_more(admin_db, cal, "2026-01-01", "2026-01-01")
    node.step(T0 + 6 * 60_000)
    node.step(T0 + 7 * 60_000)
    assert node.store.calendars.loads == 2
    assert len(started(receiver, job)) == 5


def test_jobs_without_calendars_cost_no_calendar_query(admin_db, receivers, make_scheduler):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_calendar(admin_db, "unused", "UTC", ("2026-01-01", "2026-01-31"))
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="60")
    seen: list[str] = []

    def note(conn, cursor, statement, parameters, context, executemany):
        seen.append(statement)

    node = make_scheduler(admin_db)
    sa.event.listen(admin_db.engine, "before_cursor_execute", note)
    try:
        for minute in range(1, 4):
            node.step(T0 + minute * 60_000)
    finally:
        sa.event.remove(admin_db.engine, "before_cursor_execute", note)
    assert started(receiver, job) == [0, 0, 0]
    assert seen and not [s for s in seen if "sc_calendar" in s]
    assert node.store.calendars.loads == 0
