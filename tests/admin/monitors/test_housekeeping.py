"""Housekeeping: retention deletes only old rows (hourly, one node); daily report counts."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import sqlalchemy as sa

from shardcron.admin.enums import AlarmChannel, AlarmStatus, FireStatus, RunStatus, TriggerType
from shardcron.admin.models import Alarm, DailyReport, Fire, RunLog
from shardcron.admin.monitors.daily_report import DailyReportMonitor
from shardcron.admin.schedules.days import day_bounds_ms
from shardcron.admin.monitors.retention import RunLogRetention
from tests.support.run_rows import T0, add_group, add_job, add_run

DAY = 86_400_000


def ids(db, model) -> list[int]:
    with db.session() as s:
        return list(s.scalars(sa.select(model.id).order_by(model.id)))


def add_alarm(db, run_id: int, job_id: int, created_at_ms: int, status: AlarmStatus) -> int:
    with db.session() as s:
        a = Alarm(run_log_id=run_id, job_id=job_id, channel=AlarmChannel.WEBHOOK, target="http://h/x", status=status,
                  next_attempt_at_ms=created_at_ms, created_at_ms=created_at_ms)
        s.add(a)
        s.flush()
        return a.id


def add_fire(db, job_id: int, created_at_ms: int, status: FireStatus, origin_ref: int = 0) -> int:
    with db.session() as s:
        f = Fire(job_id=job_id, fire_at_ms=created_at_ms, origin_ref=origin_ref, trigger_type=TriggerType.CRON, status=status, created_at_ms=created_at_ms)
        s.add(f)
        s.flush()
        return f.id


def test_retention_deletes_only_rows_older_than_the_retention(db) -> None:
    job = add_job(db, add_group(db))
    now = T0 + 40 * DAY
    old = [add_run(db, job, trigger_at_ms=now - 30 * DAY - 1, status=RunStatus.SUCCESS) for _ in range(3)]
    kept = [add_run(db, job, trigger_at_ms=now - 30 * DAY, status=RunStatus.SUCCESS), add_run(db, job, trigger_at_ms=now - 1)]
    old_alarm = add_alarm(db, old[0], job, now - 31 * DAY, AlarmStatus.SENT)
    pending_alarm = add_alarm(db, old[1], job, now - 31 * DAY, AlarmStatus.PENDING)
    new_alarm = add_alarm(db, kept[0], job, now - DAY, AlarmStatus.FAILED)
    old_fire, claimed_fire = add_fire(db, job, now - 31 * DAY, FireStatus.DONE), add_fire(db, job, now - 31 * DAY, FireStatus.CLAIMED, origin_ref=1)
    new_fire = add_fire(db, job, now - DAY, FireStatus.DONE)
    RunLogRetention(db, "node-a", retention_days=30).tick(now)
    assert ids(db, RunLog) == kept
    assert ids(db, Alarm) == [pending_alarm, new_alarm]
    assert ids(db, Fire) == [claimed_fire, new_fire]
    assert old_alarm not in ids(db, Alarm) and old_fire not in ids(db, Fire)


def test_retention_deletes_old_workflow_instance_alarms_which_have_no_run(db) -> None:
    now = T0 + 40 * DAY
    with db.session() as s:
        rows = [Alarm(workflow_instance_id=instance_id, run_log_id=None, job_id=None, channel=AlarmChannel.EMAIL, target="ops@example.com", status=status,
                      attempts=1, next_attempt_at_ms=at, created_at_ms=at) for instance_id, at, status in
                ((1, now - 31 * DAY, AlarmStatus.SENT), (2, now - 31 * DAY, AlarmStatus.PENDING), (3, now - DAY, AlarmStatus.FAILED))]
        s.add_all(rows)
        s.flush()
        old, pending, new = (row.id for row in rows)
    RunLogRetention(db, "node-a", retention_days=30).tick(now)
    assert ids(db, Alarm) == [pending, new]


def test_retention_runs_hourly_in_batches_and_zero_keeps_everything(db, monkeypatch) -> None:
    import shardcron.admin.monitors.retention as retention

    monkeypatch.setattr(retention, "BATCH", 2)
    job = add_job(db, add_group(db))
    now = T0 + 10 * DAY
    for _ in range(5):
        add_run(db, job, trigger_at_ms=T0)
    RunLogRetention(db, "node-a", retention_days=0).tick(now)
    assert len(ids(db, RunLog)) == 5
    monitor = RunLogRetention(db, "node-a", retention_days=7)
    monitor.tick(now)
    assert ids(db, RunLog) == []  # 5 rows in batches of 2
    add_run(db, job, trigger_at_ms=T0)
    monitor.tick(now + 3_599_999)  # less than an hour after the last pass
    assert len(ids(db, RunLog)) == 1
    RunLogRetention(db, "node-a", retention_days=7).tick(now + 3_600_000)  # a restarted node remembers the hour too
    assert ids(db, RunLog) == []


def report(db) -> dict:
    with db.session() as s:
        rows = s.scalars(sa.select(DailyReport)).all()
        return {(r.day.isoformat(), r.group_id): (r.running_count, r.success_count, r.fail_count, r.updated_at_ms) for r in rows}


def test_daily_report_counts_today_and_yesterday_per_group(db) -> None:
    g1, g2 = add_group(db, "a"), add_group(db, "b")
    j1, j2 = add_job(db, g1), add_job(db, g2)
    today = T0 + 5 * DAY  # 2026-01-06T00:00Z
    for status, n in ((RunStatus.PENDING, 1), (RunStatus.RUNNING, 2), (RunStatus.SUCCESS, 3), (RunStatus.FAILED, 4)):
        for _ in range(n):
            add_run(db, j1, status=status, trigger_at_ms=today + 1_000)
    add_run(db, j2, status=RunStatus.SUCCESS, trigger_at_ms=today - 1)  # yesterday, last millisecond
    add_run(db, j2, status=RunStatus.FAILED, trigger_at_ms=today - 2 * DAY)  # too old to be recomputed
    now = today + 3_600_000
    DailyReportMonitor(db, "node-a", "UTC").tick(now)
    assert report(db) == {("2026-01-06", g1): (3, 3, 4, now), ("2026-01-05", g2): (0, 1, 0, now)}
    # runs finish and some are deleted: the next pass follows
    with db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.status.in_([RunStatus.PENDING, RunStatus.RUNNING])).values(status=RunStatus.SUCCESS))
        s.execute(sa.delete(RunLog).where(RunLog.job_id == j2))
    DailyReportMonitor(db, "node-a", "UTC").tick(now + 60_000)
    assert report(db) == {("2026-01-06", g1): (0, 6, 4, now + 60_000), ("2026-01-05", g2): (0, 0, 0, now + 60_000)}


def test_unknown_runs_count_in_no_column_until_they_finish(db) -> None:
    """An UNKNOWN run is neither running nor known to have failed: the report leaves it out (the
    dashboard counts it live), and counts it where it ends once the executor reports."""
    group = add_group(db)
    job = add_job(db, group)
    today = T0 + 5 * DAY
    add_run(db, job, status=RunStatus.SUCCESS, trigger_at_ms=today + 1_000)
    add_run(db, job, status=RunStatus.FAILED, trigger_at_ms=today + 2_000)
    unknown = add_run(db, job, status=RunStatus.UNKNOWN, trigger_code=0, trigger_at_ms=today + 3_000)
    # A group whose only run of the day is UNKNOWN gets no row: nothing of it ran, succeeded or failed.
    add_run(db, add_job(db, add_group(db, "other")), status=RunStatus.UNKNOWN, trigger_code=0, trigger_at_ms=today + 4_000)
    now = today + 3_600_000
    DailyReportMonitor(db, "node-a", "UTC").tick(now)
    assert report(db) == {("2026-01-06", group): (0, 1, 1, now)}  # running, success, fail
    with db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.id == unknown).values(status=RunStatus.SUCCESS))
    DailyReportMonitor(db, "node-a", "UTC").tick(now + 60_000)
    assert report(db) == {("2026-01-06", group): (0, 2, 1, now + 60_000)}


def test_report_days_follow_the_time_zone(db) -> None:
    group = add_group(db)
    job = add_job(db, group)
    # 2026-01-05T23:30Z is already 2026-01-06 in Berlin (UTC+1)
    add_run(db, job, status=RunStatus.SUCCESS, trigger_at_ms=T0 + 5 * DAY - 1_800_000)
    DailyReportMonitor(db, "node-a", "Europe/Berlin").tick(T0 + 5 * DAY)
    assert list(report(db)) == [("2026-01-06", group)]


def test_day_bounds_on_a_dst_day() -> None:
    start, end = day_bounds_ms(dt.date(2026, 3, 29), ZoneInfo("Europe/Berlin"))
    assert end - start == 23 * 3_600_000


def _audit_entry(db, at_ms: int) -> int:
    from shardcron.admin.models import AuditEntry

    with db.session() as s:
        entry = AuditEntry(at_ms=at_ms, actor_kind="CONSOLE", actor_name="root", action="job.update", target_type="job", target_id=1, target_name="j")
        s.add(entry)
        s.flush()
        return entry.id


def test_audit_retention_deletes_old_entries_in_batches_apart_from_run_logs(db, monkeypatch) -> None:
    import shardcron.admin.monitors.retention as retention
    from shardcron.admin.models import AuditEntry

    monkeypatch.setattr(retention, "BATCH", 2)
    job = add_job(db, add_group(db))
    now = T0 + 400 * DAY
    old = [_audit_entry(db, now - 180 * DAY - 1) for _ in range(5)]
    kept = [_audit_entry(db, now - 180 * DAY), _audit_entry(db, now - 1)]
    run = add_run(db, job, trigger_at_ms=now - 200 * DAY)
    RunLogRetention(db, "node-a", retention_days=0, audit_retention_days=0).tick(now)  # 0 and 0: nothing goes
    assert len(ids(db, AuditEntry)) == 7
    RunLogRetention(db, "node-a", retention_days=0, audit_retention_days=180).tick(now)
    assert ids(db, AuditEntry) == kept and old[0] not in ids(db, AuditEntry)  # 5 rows in batches of 2
    assert ids(db, RunLog) == [run]  # run logs kept forever (0) whatever the audit retention says
