"""Follow-ups: retries with backoff (exact fire times), broadcast shard retries, exhausted retries
alarm, child jobs on success only, idempotence across nodes."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import AlarmChannel, AlarmStatus, FireStatus, FollowupStatus, RouteStrategy, RunStatus, TriggerType
from shardcron.admin.models import Alarm, Job
from shardcron.admin.monitors.followups import FollowupMonitor, parse_child_job_ids
from tests.support.run_rows import T0, add_group, add_job, add_run, fires, run_row

FAILED_AT = T0 + 5_000


def failed_run(db, job_id: int, **fields) -> int:
    values = dict(status=RunStatus.FAILED, handle_code=500, handle_at_ms=FAILED_AT, followup_status=FollowupStatus.PENDING)
    values.update(fields)
    return add_run(db, job_id, **values)


def alarms(db) -> list[Alarm]:
    with db.session() as s:
        return list(s.scalars(sa.select(Alarm).order_by(Alarm.id)))


def test_retries_back_off_exactly_and_stop_when_exhausted(db, fake_clock) -> None:
    job = add_job(db, add_group(db), retry_count=4, retry_delay_s=10, retry_backoff_multiplier=3, retry_max_delay_s=60,
                  alarm_emails="ops@example.com", param="p")
    monitor = FollowupMonitor(db, "node-a")
    expected_delays_s = [10, 30, 60, 60]  # 10 * 3^attempt, capped at 60
    for attempt, delay_s in enumerate(expected_delays_s):
        run = failed_run(db, job, attempt=attempt, retry_remaining=4 - attempt, param="p-override")
        monitor.tick(fake_clock.now_ms())
        fire = fires(db)[-1]
        assert (fire.job_id, fire.trigger_type, fire.origin_ref) == (job, TriggerType.RETRY, run)
        assert fire.fire_at_ms == FAILED_AT + delay_s * 1000
        assert (fire.attempt, fire.param, fire.status, fire.address) == (attempt + 1, "p-override", FireStatus.PENDING, None)
        assert (fire.shard_index, fire.shard_total) == (None, None)  # not a broadcast: the route decides again
        assert fire.resume_from_run_id == run  # resumes from the failed run's checkpoint, if it saved one
        assert run_row(db, run).followup_status == FollowupStatus.DONE
        assert alarms(db) == []  # a failure that will be retried is not alarmed
    last = failed_run(db, job, attempt=4, retry_remaining=0)
    monitor.tick(fake_clock.now_ms())
    assert len(fires(db)) == 4  # retries exhausted: no more fires
    [alarm] = alarms(db)
    assert (alarm.run_log_id, alarm.channel, alarm.target, alarm.status) == (last, AlarmChannel.EMAIL, "ops@example.com", AlarmStatus.PENDING)
    assert alarm.next_attempt_at_ms == fake_clock.now_ms()


def test_broadcast_retries_only_the_failed_shard(db, fake_clock) -> None:
    job = add_job(db, add_group(db), route_strategy=RouteStrategy.SHARDING_BROADCAST, retry_count=1, retry_delay_s=5)
    ok = [add_run(db, job, status=RunStatus.SUCCESS, handle_code=200, shard_index=i, shard_total=3) for i in (0, 2)]
    bad = failed_run(db, job, shard_index=1, shard_total=3, retry_remaining=1, param="shard-param")
    FollowupMonitor(db, "node-a").tick(fake_clock.now_ms())
    [fire] = fires(db)
    assert (fire.origin_ref, fire.shard_index, fire.shard_total, fire.param) == (bad, 1, 3, "shard-param")
    assert fire.fire_at_ms == FAILED_AT + 5_000
    assert all(run_row(db, r).followup_status == FollowupStatus.NONE for r in ok)


def test_trigger_failure_without_handle_time_retries_from_trigger_time(db, fake_clock) -> None:
    job = add_job(db, add_group(db), retry_count=1, retry_delay_s=7)
    run = add_run(db, job, status=RunStatus.FAILED, trigger_code=500, trigger_msg="no live executor in group billing",
                  trigger_at_ms=T0 + 100, retry_remaining=1, followup_status=FollowupStatus.PENDING)
    FollowupMonitor(db, "node-a").tick(fake_clock.now_ms())
    [fire] = fires(db)
    assert (fire.origin_ref, fire.fire_at_ms) == (run, T0 + 100 + 7_000)


def test_child_jobs_fire_on_success_only(db, fake_clock) -> None:
    group = add_group(db)
    child_a, child_b = add_job(db, group, name="a"), add_job(db, group, name="b")
    parent = add_job(db, group, name="parent", child_job_ids=f"{child_a}, {child_b},999999")  # 999999: deleted job
    success = add_run(db, parent, status=RunStatus.SUCCESS, handle_code=200, handle_at_ms=FAILED_AT, followup_status=FollowupStatus.PENDING)
    failure = failed_run(db, parent, retry_remaining=0)
    FollowupMonitor(db, "node-a").tick(fake_clock.now_ms())
    got = [(f.job_id, f.trigger_type, f.origin_ref, f.fire_at_ms, f.attempt) for f in fires(db)]
    assert got == [(child_a, TriggerType.PARENT, success, FAILED_AT, 0), (child_b, TriggerType.PARENT, success, FAILED_AT, 0)]
    assert run_row(db, failure).followup_status == FollowupStatus.DONE


def test_a_job_never_fires_itself_as_its_child(db, fake_clock) -> None:
    group = add_group(db)
    job = add_job(db, group)
    with db.session() as s:
        s.get(Job, job).child_job_ids = str(job)
    add_run(db, job, status=RunStatus.SUCCESS, handle_code=200, handle_at_ms=FAILED_AT, followup_status=FollowupStatus.PENDING)
    FollowupMonitor(db, "node-a").tick(fake_clock.now_ms())
    assert fires(db) == []


def test_alarm_per_configured_channel_and_none_without_channels(db, fake_clock) -> None:
    group = add_group(db)
    loud = add_job(db, group, name="loud", alarm_emails="a@example.com,b@example.com", alarm_webhook="http://hooks.local/x")
    quiet = add_job(db, group, name="quiet")
    loud_run, _ = failed_run(db, loud), failed_run(db, quiet)
    FollowupMonitor(db, "node-a").tick(fake_clock.now_ms())
    assert [(a.run_log_id, a.channel, a.target) for a in alarms(db)] == [
        (loud_run, AlarmChannel.EMAIL, "a@example.com,b@example.com"),
        (loud_run, AlarmChannel.WEBHOOK, "http://hooks.local/x"),
    ]


def test_two_nodes_following_up_the_same_runs_write_each_row_once(db, fake_clock) -> None:
    group = add_group(db)
    child = add_job(db, group, name="child")
    job = add_job(db, group, retry_count=1, child_job_ids=str(child), alarm_webhook="http://hooks.local/x")
    add_run(db, job, status=RunStatus.SUCCESS, handle_code=200, handle_at_ms=FAILED_AT, followup_status=FollowupStatus.PENDING)
    retry = failed_run(db, job, retry_remaining=1)
    exhausted = failed_run(db, job, retry_remaining=0)
    a, b = FollowupMonitor(db, "node-a"), FollowupMonitor(db, "node-b")
    # node-a's lease expired mid-way, node-b took over and both processed the same rows
    a.process_batch(fake_clock.now_ms())
    with db.session() as s:
        s.execute(sa.text("UPDATE sc_run_log SET followup_status = 'PENDING'"))
    fake_clock.advance(s=60)
    b.tick(fake_clock.now_ms())
    assert sorted((f.trigger_type, f.origin_ref) for f in fires(db)) == sorted([(TriggerType.PARENT, retry - 1), (TriggerType.RETRY, retry)])
    assert [(a.run_log_id, a.channel) for a in alarms(db)] == [(exhausted, AlarmChannel.WEBHOOK)]


def test_only_the_lease_holder_follows_up(db, fake_clock) -> None:
    job = add_job(db, add_group(db), retry_count=1)
    a, b = FollowupMonitor(db, "node-a"), FollowupMonitor(db, "node-b")
    a.tick(fake_clock.now_ms())
    run = failed_run(db, job, retry_remaining=1)
    b.tick(fake_clock.now_ms() + 1_000)
    assert fires(db) == [] and run_row(db, run).followup_status == FollowupStatus.PENDING
    b.tick(fake_clock.now_ms() + 30_000)  # node-a stopped renewing: its lease ran out
    assert len(fires(db)) == 1


def test_parse_child_job_ids() -> None:
    assert parse_child_job_ids(" 12, 15,12,,x, 7 ") == [12, 15, 7]
    assert parse_child_job_ids("") == [] and parse_child_job_ids(None) == []


def unknown_run(db, job_id: int, **fields) -> int:
    """A run recorded UNKNOWN by the dispatcher: not confirmed delivered, not re-sent."""
    values = dict(status=RunStatus.UNKNOWN, trigger_code=0, followup_status=FollowupStatus.PENDING,
                  trigger_msg="outcome unknown: executor http://10.0.0.1:9999 could not be asked about logId 1: timed out; "
                              "not sent again (delivery AT_MOST_ONCE)")
    values.update(fields)
    return add_run(db, job_id, **values)


def test_unknown_run_is_alarmed_once_per_channel_and_never_retried(db, fake_clock) -> None:
    group = add_group(db)
    child = add_job(db, group, name="child")
    job = add_job(db, group, retry_count=3, retry_delay_s=1, child_job_ids=str(child),
                  alarm_emails="ops@example.com", alarm_webhook="http://hooks.local/x")
    run = unknown_run(db, job, retry_remaining=3)
    a, b = FollowupMonitor(db, "node-a"), FollowupMonitor(db, "node-b")
    a.tick(fake_clock.now_ms())
    assert fires(db) == []  # no RETRY (it may have run) and no child fire (it did not succeed)
    assert [(x.run_log_id, x.channel, x.target, x.status) for x in alarms(db)] == [
        (run, AlarmChannel.EMAIL, "ops@example.com", AlarmStatus.PENDING),
        (run, AlarmChannel.WEBHOOK, "http://hooks.local/x", AlarmStatus.PENDING),
    ]
    row = run_row(db, run)
    assert (row.status, row.followup_status) == (RunStatus.UNKNOWN, FollowupStatus.DONE)
    # Another node following up the same run (a lease that changed hands) adds nothing.
    with db.session() as s:
        s.execute(sa.text("UPDATE sc_run_log SET followup_status = 'PENDING'"))
    fake_clock.advance(s=60)
    b.tick(fake_clock.now_ms())
    assert fires(db) == [] and len(alarms(db)) == 2


def test_unknown_run_of_a_job_without_alarm_channels_is_just_done(db, fake_clock) -> None:
    job = add_job(db, add_group(db), retry_count=2)
    run = unknown_run(db, job, retry_remaining=2)
    FollowupMonitor(db, "node-a").tick(fake_clock.now_ms())
    assert fires(db) == [] and alarms(db) == []
    assert run_row(db, run).followup_status == FollowupStatus.DONE


def test_a_result_after_unknown_is_followed_up_as_that_result(db, fake_clock) -> None:
    """The executor did have it and reported a failure: now it is a failure like any other."""
    job = add_job(db, add_group(db), retry_count=1, retry_delay_s=4)
    run = unknown_run(db, job, retry_remaining=1)
    monitor = FollowupMonitor(db, "node-a")
    monitor.tick(fake_clock.now_ms())
    assert fires(db) == []
    with db.session() as s:
        s.execute(sa.text("UPDATE sc_run_log SET status = 'FAILED', handle_code = 500, handle_at_ms = :at, followup_status = 'PENDING'"),
                  {"at": FAILED_AT})
    monitor.tick(fake_clock.now_ms())
    [fire] = fires(db)
    assert (fire.trigger_type, fire.origin_ref, fire.fire_at_ms) == (TriggerType.RETRY, run, FAILED_AT + 4_000)
