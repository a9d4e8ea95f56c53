"""Pause on failure on the fake clock (SQLite, MariaDB, PostgreSQL): results arrive by the
callback path (`apply_callbacks`) or the monitors' own settling, the follow-up monitor counts
them. N final failures pause the job (disabled, reason, audit by the system, one alarm that says
so), a success resets the count, a repeated callback or a second node counts nothing twice,
failures that will be retried do not count, and a start clears the pause."""

from __future__ import annotations

import json

import sqlalchemy as sa

from shardcron.admin.alarms import AlarmSender
from shardcron.admin.alarms.message import build_message
from shardcron.admin.config import load_config
from shardcron.admin.enums import ActorKind, AlarmChannel, AlarmStatus, FollowupStatus, RouteStrategy, RunStatus
from shardcron.admin.models import Alarm, AuditEntry, ExecutorGroup, Job, RunLog
from shardcron.admin.monitors.followups import FollowupMonitor
from shardcron.admin.monitors.lost_runs import LostRuns
from shardcron.admin.monitors.run_timeouts import RunTimeouts
from shardcron.admin.monitors.pause_on_failure import count_runs
from shardcron.admin.rpc.run_results import apply_callbacks
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.jobs import start_job
from shardcron.admin.texts import catalog_for
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.core.protocol import CallbackParam
from tests.support.run_rows import T0, add_group, add_job, add_run, run_row

EVERY_MINUTE = {"schedule_type": "CRON", "schedule_conf": "* * * * *", "timezone": "UTC"}


def job_row(db, job_id: int) -> Job:
    with db.read_session() as s:
        job = s.get(Job, job_id)
        assert job is not None
        s.expunge(job)
        return job


def running_job(db, **fields) -> int:
    values = {"pause_after_failures": 3, "enabled": True, "next_fire_at_ms": T0 + 60_000, "alarm_webhook": "http://hooks.local/x", **EVERY_MINUTE}
    values.update(fields)
    return add_job(db, add_group(db), **values)


def report(db, run_id: int, code: int, now_ms: int, msg: str = "boom") -> None:
    """A result as /api/callback applies it."""
    with db.session() as s:
        apply_callbacks(s, [CallbackParam(run_id, T0, code, msg)], now_ms)


def finish(db, monitor: FollowupMonitor, job_id: int, code: int, now_ms: int, **run_fields) -> int:
    run = add_run(db, job_id, **run_fields)
    report(db, run, code, now_ms)
    monitor.tick(now_ms)
    return run


def alarms(db) -> list[Alarm]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(Alarm).order_by(Alarm.id)))


def pause_audits(db) -> list[AuditEntry]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "job.pause")))


def test_n_consecutive_failures_pause_the_job_once_with_reason_audit_and_alarm(db, fake_clock) -> None:
    job = running_job(db)
    monitor = FollowupMonitor(db, "node-a")
    now = fake_clock.now_ms()
    finish(db, monitor, job, 500, now)
    finish(db, monitor, job, 502, now + 1_000)
    state = job_row(db, job)
    assert (state.consecutive_failures, state.enabled, state.paused_at_ms) == (2, True, 0)
    assert pause_audits(db) == []
    last = finish(db, monitor, job, 500, now + 2_000)
    state = job_row(db, job)
    assert (state.consecutive_failures, state.enabled, state.next_fire_at_ms, state.paused_at_ms) == (3, False, 0, now + 2_000)
    assert state.paused_reason == f"paused after 3 consecutive failed runs; last: run {last} at 2026-01-01T00:00:02Z: 500 boom"
    [entry] = pause_audits(db)
    assert (entry.actor_kind, entry.actor_name, entry.target_id, entry.at_ms) == (ActorKind.SYSTEM, "system", job, now + 2_000)
    after = json.loads(entry.after_json or "{}")
    assert (after["enabled"], after["paused_reason"], after["run_id"], after["consecutive_failures"]) == (False, state.paused_reason, last, 3)
    # Every final failure is alarmed; only the one that paused the job says so.
    assert [(a.run_log_id == last, a.job_paused) for a in alarms(db)] == [(False, False), (False, False), (True, True)]
    # A run that fails after the pause (it was running already) neither counts nor alarms the pause again.
    late = finish(db, monitor, job, 500, now + 3_000)
    state = job_row(db, job)
    assert (state.consecutive_failures, state.paused_at_ms) == (3, now + 2_000)
    assert [a.job_paused for a in alarms(db) if a.run_log_id == late] == [False]
    assert len(pause_audits(db)) == 1 and sum(a.job_paused for a in alarms(db)) == 1


def test_a_success_in_between_resets_the_count(db, fake_clock) -> None:
    job = running_job(db)
    monitor = FollowupMonitor(db, "node-a")
    now = fake_clock.now_ms()
    finish(db, monitor, job, 500, now)
    finish(db, monitor, job, 500, now)
    ok = finish(db, monitor, job, 200, now)
    assert run_row(db, ok).followup_status == FollowupStatus.DONE  # followed up for the count
    assert job_row(db, job).consecutive_failures == 0
    finish(db, monitor, job, 500, now)
    finish(db, monitor, job, 500, now)
    state = job_row(db, job)
    assert (state.consecutive_failures, state.enabled, state.paused_at_ms) == (2, True, 0)


def test_a_repeated_callback_or_a_second_node_counts_once(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=2)
    a, b = FollowupMonitor(db, "node-a"), FollowupMonitor(db, "node-b")
    now = fake_clock.now_ms()
    run = add_run(db, job)
    report(db, run, 500, now)
    report(db, run, 500, now + 10)  # the executor sent it again: the first result won
    a.process_batch(now)
    b.process_batch(now)  # node-a's lease lapsed mid-way; node-b follows up the same rows
    with db.session() as s:
        # node-b read the run before node-a marked it DONE: it tries again, and must not count it.
        runs = list(s.scalars(sa.select(RunLog).where(RunLog.id == run)))
        assert count_runs(s, runs, {job: s.get(Job, job)}, now) == set()
    assert job_row(db, job).consecutive_failures == 1
    assert run_row(db, run).handle_at_ms == now


def test_failures_that_will_be_retried_do_not_count_until_the_last(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=2, retry_count=2, retry_delay_s=1)
    monitor = FollowupMonitor(db, "node-a")
    now = fake_clock.now_ms()
    for attempt, remaining in ((0, 2), (1, 1)):
        finish(db, monitor, job, 500, now, attempt=attempt, retry_remaining=remaining)
        assert job_row(db, job).consecutive_failures == 0
    finish(db, monitor, job, 500, now, attempt=2, retry_remaining=0)
    assert job_row(db, job).consecutive_failures == 1  # one planned time, tried three times: one failed run
    # The next planned time: its first try fails, its retry succeeds -> back to 0.
    finish(db, monitor, job, 500, now, attempt=0, retry_remaining=2)
    finish(db, monitor, job, 200, now, attempt=1, retry_remaining=1)
    assert job_row(db, job).consecutive_failures == 0 and job_row(db, job).enabled


def test_timeouts_lost_runs_and_trigger_failures_count_unknown_runs_do_not(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=3)
    monitor = FollowupMonitor(db, "node-a")
    now = fake_clock.now_ms()
    settled = dict(status=RunStatus.FAILED, handle_at_ms=now, followup_status=FollowupStatus.PENDING)
    add_run(db, job, handle_code=502, handle_msg="timed out: still running", **settled)
    add_run(db, job, status=RunStatus.UNKNOWN, trigger_code=0, followup_status=FollowupStatus.PENDING)
    monitor.tick(now)
    assert job_row(db, job).consecutive_failures == 1
    add_run(db, job, handle_code=500, handle_msg="lost: executor gone", **settled)
    trigger = add_run(db, job, status=RunStatus.FAILED, trigger_code=500, trigger_msg="no live executor in group billing",
                      followup_status=FollowupStatus.PENDING)
    monitor.tick(now)
    state = job_row(db, job)
    assert (state.consecutive_failures, state.enabled) == (3, False)
    assert state.paused_reason is not None and state.paused_reason.endswith(f"run {trigger} at 2026-01-01T00:00:00Z: trigger 500 no live executor in group billing")


def test_runs_the_timeout_and_lost_run_monitors_fail_are_counted(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=2, timeout_s=10)
    follow = FollowupMonitor(db, "node-a")
    client = ExecutorClient("token-0123456789abcdef", connect_timeout_s=1, read_timeout_s=1)
    try:
        overdue = add_run(db, job, executor_address=None, trigger_at_ms=T0)  # no address: nothing to kill
        RunTimeouts(db, "node-a", client, grace_s=0).tick(T0 + 60_000)
        follow.tick(T0 + 60_000)
        assert run_row(db, overdue).handle_code == 502 and job_row(db, job).consecutive_failures == 1
        unacknowledged = add_run(db, job, status=RunStatus.PENDING, trigger_at_ms=T0 + 60_000)  # its fire is gone
        LostRuns(db, "node-a", client, lost_after_s=120).tick(T0 + 200_000)
        follow.tick(T0 + 200_000)
    finally:
        client.close()
    assert run_row(db, unacknowledged).handle_msg.startswith("lost: trigger never acknowledged")
    state = job_row(db, job)
    assert (state.consecutive_failures, state.enabled, state.paused_at_ms) == (2, False, T0 + 200_000)
    assert f"last: run {unacknowledged} at " in (state.paused_reason or "")


def test_a_broadcast_counts_each_failed_shard(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=3, route_strategy=RouteStrategy.SHARDING_BROADCAST)
    monitor = FollowupMonitor(db, "node-a")
    now = fake_clock.now_ms()
    shards = [add_run(db, job, shard_index=i, shard_total=4) for i in range(4)]
    with db.session() as s:
        apply_callbacks(s, [CallbackParam(run, T0, 200 if i == 0 else 500, "shard failed") for i, run in enumerate(shards)], now)
    monitor.tick(now)
    state = job_row(db, job)
    assert (state.consecutive_failures, state.enabled) == (3, False)
    assert f"run {shards[3]} (shard 3/4)" in (state.paused_reason or "")


def test_jobs_without_pause_on_failure_count_nothing_and_successes_need_no_follow_up(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=0)
    monitor = FollowupMonitor(db, "node-a")
    now = fake_clock.now_ms()
    for _ in range(3):
        finish(db, monitor, job, 500, now)
    ok = finish(db, monitor, job, 200, now)
    state = job_row(db, job)
    assert (state.consecutive_failures, state.enabled, state.paused_at_ms) == (0, True, 0)
    assert run_row(db, ok).followup_status == FollowupStatus.NONE


def test_start_clears_the_pause_and_resets_the_count(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=1)
    monitor = FollowupMonitor(db, "node-a")
    finish(db, monitor, job, 500, fake_clock.now_ms())
    assert job_row(db, job).paused_at_ms
    fake_clock.advance(s=300)
    with db.session() as s:
        view = start_job(s, SYSTEM_ACTOR, job, now_ms=fake_clock.now_ms())
    assert (view.enabled, view.paused_at_ms, view.paused_reason, view.consecutive_failures) == (True, 0, None, 0)
    with db.read_session() as s:
        entry = s.scalars(sa.select(AuditEntry).where(AuditEntry.action == "job.start")).one()
    assert json.loads(entry.before_json or "{}")["consecutive_failures"] == 1
    assert json.loads(entry.after_json or "{}") == {
        "enabled": True, "next_fire_at_ms": view.next_fire_at_ms, "paused_at_ms": 0, "paused_reason": None, "consecutive_failures": 0,
    }
    # Counting starts again: the next failure pauses it anew, with its own alarm.
    finish(db, monitor, job, 500, fake_clock.now_ms())
    assert not job_row(db, job).enabled
    assert sum(a.job_paused for a in alarms(db)) == 2


def test_an_unknown_run_alarmed_before_announces_the_pause_when_its_failure_comes(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=1)
    monitor = FollowupMonitor(db, "node-a")
    now = fake_clock.now_ms()
    run = add_run(db, job, status=RunStatus.UNKNOWN, trigger_code=0, followup_status=FollowupStatus.PENDING)
    monitor.tick(now)
    with db.session() as s:
        s.execute(sa.update(Alarm).values(status=AlarmStatus.SENT, attempts=1, sent_at_ms=now))
    report(db, run, 500, now + 1_000)
    monitor.tick(now + 1_000)
    [alarm] = alarms(db)
    assert (alarm.job_paused, alarm.status, alarm.attempts, alarm.sent_at_ms) == (True, AlarmStatus.PENDING, 0, None)


def test_the_pause_alarm_says_so_in_english_and_chinese(db, fake_clock) -> None:
    job = running_job(db, pause_after_failures=1, name="nightly-sync", alarm_emails="ops@example.com")
    monitor = FollowupMonitor(db, "node-a")
    run = finish(db, monitor, job, 500, fake_clock.now_ms())
    sent: list = []
    config = load_config(env={}, overrides={"public_url": "https://jobs.example.com/"})
    sender = AlarmSender(db, fake_clock, config, email=lambda t, m: sent.append(("email", m)), webhook=lambda t, m: sent.append(("webhook", m)))
    sender.tick(fake_clock.now_ms())
    assert sorted(kind for kind, _ in sent) == ["email", "webhook"]
    message = sent[0][1]
    assert message.subject == f"[shardcron] job nightly-sync (#{job}) paused after consecutive failed runs: run {run}"
    assert message.payload["event"] == "job_paused"
    assert message.payload["pause"]["reason"] == job_row(db, job).paused_reason
    assert "Paused:    2026-01-01T00:00:00.000Z, paused after 1 consecutive failed runs" in message.text
    assert all(a.status == AlarmStatus.SENT for a in alarms(db))
    with db.read_session() as s:
        row, job_obj = s.get(RunLog, run), s.get(Job, job)
        group = s.get(ExecutorGroup, job_obj.group_id) if job_obj else None
        zh = build_message(run, row, job_obj, group, None, fake_clock.now_ms(), catalog_for("zh"), job_paused=True)
    assert zh.subject.startswith("[shardcron] 任务 nightly-sync") and "暂停" in zh.subject
    assert zh.payload["event"] == "job_paused"
    assert [a.channel for a in alarms(db)] == [AlarmChannel.EMAIL, AlarmChannel.WEBHOOK]
