"""Alarm delivery: e-mail to a real local SMTP server, webhook to a real local HTTP receiver,
failures retried with backoff and finally FAILED with last_error."""

from __future__ import annotations

import email.policy
import json
from email import message_from_bytes, message_from_string

import pytest
import sqlalchemy as sa

from shardcron.admin.alarms import AlarmSender
from shardcron.admin.config import load_config
from shardcron.admin.enums import AlarmChannel, AlarmStatus, FollowupStatus, RunStatus
from shardcron.admin.alarms.message import build_message
from shardcron.admin.models import Alarm, ExecutorGroup, Job, RunLog
from shardcron.admin.texts import catalog_for
from shardcron.core.errors import ConfigError
from shardcron.core.protocol import encode_json
from shardcron.admin.monitors.followups import FollowupMonitor
from tests.support.net import free_port
from tests.support.run_rows import T0, add_group, add_job, add_run


def config(**overrides):
    values = {"smtp_starttls": False, "alarm_retry_delay_s": 10, "alarm_retry_max_delay_s": 25, "alarm_max_attempts": 4,
              "alarm_timeout_s": 5, "public_url": "https://jobs.example.com/"}
    values.update(overrides)
    return load_config(env={}, overrides=values)


def failed_job_run(db, fake_clock, **job_fields) -> int:
    """A job whose last retry failed, followed up: its alarm rows exist."""
    job = add_job(db, add_group(db, "billing"), name="nightly-sync", **job_fields)
    run = add_run(db, job, status=RunStatus.FAILED, handle_code=500, handle_msg="db down", handle_at_ms=T0 + 1_000,
                  shard_index=1, shard_total=3, followup_status=FollowupStatus.PENDING)
    FollowupMonitor(db, "node-a").tick(fake_clock.now_ms())
    return run


def alarm(db, channel: AlarmChannel) -> Alarm:
    with db.session() as s:
        return s.scalars(sa.select(Alarm).where(Alarm.channel == channel)).one()


def test_email_alarm_reaches_a_real_smtp_server(db, fake_clock, smtp) -> None:
    run = failed_job_run(db, fake_clock, alarm_emails="ops@example.com; Oncall <oncall@example.com>")
    AlarmSender(db, fake_clock, config(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="cron@example.com")).tick(fake_clock.now_ms())
    [(sender, recipients, content)] = smtp.messages
    assert (sender, recipients) == ("cron@example.com", ["ops@example.com", "oncall@example.com"])
    mail = message_from_string(content)
    assert mail["Subject"] == f"[shardcron] job nightly-sync (#1) failed: run {run}"
    assert mail["Date"] == "Thu, 01 Jan 2026 00:00:00 +0000"  # the clock's time, not the host's
    body = mail.get_payload()
    assert "shard 1/3" in body and "500 db down" in body and f"https://jobs.example.com/runs/{run}" in body
    row = alarm(db, AlarmChannel.EMAIL)
    assert (row.status, row.attempts, row.sent_at_ms, row.last_error) == (AlarmStatus.SENT, 1, fake_clock.now_ms(), None)


def test_webhook_alarm_posts_json_to_a_real_receiver(db, fake_clock, hook) -> None:
    run = failed_job_run(db, fake_clock, alarm_webhook=hook.url)
    AlarmSender(db, fake_clock, config()).tick(fake_clock.now_ms())
    [got] = hook.received
    assert got["content_type"] == "application/json"
    body = got["body"]
    assert body["event"] == "run_failed"
    assert body["text"] == f"[shardcron] job nightly-sync (#1) failed: run {run}"
    assert body["group"]["app_name"] == "billing"
    assert body["console_url"] == f"https://jobs.example.com/runs/{run}"
    assert {k: body["run"][k] for k in ("id", "status", "handle_code", "handle_msg", "shard_index", "shard_total", "handle_at")} == {
        "id": run, "status": "FAILED", "handle_code": 500, "handle_msg": "db down", "shard_index": 1, "shard_total": 3,
        "handle_at": "2026-01-01T00:00:01.000Z",
    }
    assert alarm(db, AlarmChannel.WEBHOOK).status == AlarmStatus.SENT


UNKNOWN_MSG = "outcome unknown: executor http://10.0.0.1:9999 could not be asked about logId 1: timed out; not sent again (delivery AT_MOST_ONCE)"


def unknown_job_run(db, fake_clock, **job_fields) -> int:
    """A run recorded UNKNOWN (delivery not confirmed after a scheduler failure), followed up."""
    job = add_job(db, add_group(db, "billing"), name="nightly-sync", retry_count=3, **job_fields)
    run = add_run(db, job, status=RunStatus.UNKNOWN, trigger_code=0, trigger_msg=UNKNOWN_MSG, retry_remaining=3,
                  followup_status=FollowupStatus.PENDING)
    FollowupMonitor(db, "node-a").tick(fake_clock.now_ms())
    return run


def test_unknown_run_alarms_say_outcome_unknown_not_failed(db, fake_clock, smtp, hook) -> None:
    run = unknown_job_run(db, fake_clock, alarm_emails="ops@example.com", alarm_webhook=hook.url)
    AlarmSender(db, fake_clock, config(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="cron@example.com")).tick(fake_clock.now_ms())
    [(_, _, content)] = smtp.messages
    mail = message_from_string(content)
    assert mail["Subject"] == f"[shardcron] job nightly-sync (#1) outcome unknown: run {run}"
    body = mail.get_payload(decode=True).decode("utf-8")  # quoted-printable: long lines are folded
    assert "failed" not in body.lower()
    assert UNKNOWN_MSG in body and "could not be confirmed after a scheduler failure" in body and "not sent again" in body
    [got] = hook.received
    assert got["body"]["event"] == "run_outcome_unknown"
    assert got["body"]["text"] == f"[shardcron] job nightly-sync (#1) outcome unknown: run {run}"
    assert (got["body"]["run"]["status"], got["body"]["run"]["trigger_code"], got["body"]["run"]["trigger_msg"]) == ("UNKNOWN", 0, UNKNOWN_MSG)
    assert alarm(db, AlarmChannel.EMAIL).status == alarm(db, AlarmChannel.WEBHOOK).status == AlarmStatus.SENT


def test_alarm_of_an_unknown_run_that_finished_meanwhile_says_how_it_ended(db, fake_clock) -> None:
    """The message is built when the alarm goes out: a result reported in between is told."""
    run_id = unknown_job_run(db, fake_clock, alarm_emails="ops@example.com")
    with db.session() as s:
        run = s.get(RunLog, run_id)
        run.status, run.handle_code, run.handle_msg, run.handle_at_ms = RunStatus.SUCCESS, 200, "ok", T0 + 2_000
        s.flush()
        s.expunge(run)
    message = build_message(run_id, run, None, None, None, fake_clock.now_ms())
    assert message.subject == f"[shardcron] job (deleted job) (#{run.job_id}) outcome unknown at first, now SUCCESS: run {run_id}"
    assert message.payload["event"] == "run_outcome_unknown" and message.payload["run"]["status"] == "SUCCESS"
    run.status = RunStatus.FAILED
    failed = build_message(run_id, run, None, None, None, fake_clock.now_ms())
    assert failed.subject.endswith(f") failed: run {run_id}") and failed.payload["event"] == "run_failed"



def test_alarms_in_chinese_keep_the_webhook_document_and_the_run_values(db, fake_clock, smtp, hook) -> None:
    run = failed_job_run(db, fake_clock, alarm_emails="ops@example.com", alarm_webhook=hook.url)
    settings = config(smtp_host="127.0.0.1", smtp_port=smtp.port, smtp_from="cron@example.com", alarm_language="zh")
    AlarmSender(db, fake_clock, settings).tick(fake_clock.now_ms())
    [(_, _, content)] = smtp.messages
    mail = message_from_bytes(content.encode("utf-8"), policy=email.policy.default)  # 8bit UTF-8
    assert mail["Subject"] == f"[shardcron] 任务 nightly-sync (#1) 调度失败：调度 {run}"
    body = mail.get_content()
    assert body.splitlines() == [
        f"[shardcron] 任务 nightly-sync (#1) 调度失败：调度 {run}",
        "",
        "任务：    nightly-sync (#1)，执行器 billing",
        f"调度：    {run}，触发类型 CRON，第 0 次尝试，分片 1/3",
        "执行器：  http://10.0.0.1:9999",
        "计划时间：2026-01-01T00:00:00.000Z",
        "调度结果：2026-01-01T00:00:00.000Z -> 200",
        "执行结果：2026-01-01T00:00:01.000Z -> 500 db down",
        "",
        f"调度中心：https://jobs.example.com/runs/{run}",
    ]
    [got] = hook.received
    chinese = got["body"]
    assert chinese["text"] == f"[shardcron] 任务 nightly-sync (#1) 调度失败：调度 {run}"
    # The same alarm in English: only the human text differs.
    with db.read_session() as s:
        row, job = s.get(RunLog, run), s.get(Job, 1)
        group = s.get(ExecutorGroup, job.group_id)
        english = build_message(run, row, job, group, "https://jobs.example.com/", fake_clock.now_ms()).payload
    assert english["text"] == f"[shardcron] job nightly-sync (#1) failed: run {run}"
    assert {**chinese, "text": None} == {**json.loads(encode_json(english)), "text": None}


def test_an_unknown_run_alarm_in_chinese_explains_itself(db, fake_clock) -> None:
    run_id = unknown_job_run(db, fake_clock, alarm_emails="ops@example.com")
    with db.read_session() as s:
        run = s.get(RunLog, run_id)
        s.expunge(run)
    message = build_message(run_id, run, None, None, None, fake_clock.now_ms(), catalog_for("zh"))
    assert message.subject == f"[shardcron] 任务 （已删除的任务） (#{run.job_id}) 结果未知：调度 {run_id}"
    assert "调度器故障后，无法确认执行器是否收到了本次调度" in message.text and UNKNOWN_MSG in message.text
    assert "Whether" not in message.text and message.payload["event"] == "run_outcome_unknown"
    assert message.payload["job"]["name"] == "(deleted job)"  # a value of the document: the same in every language
    run.status = RunStatus.SUCCESS
    later = build_message(run_id, run, None, None, None, fake_clock.now_ms(), catalog_for("zh"))
    assert later.subject == f"[shardcron] 任务 （已删除的任务） (#{run.job_id}) 起初结果未知，现在为 SUCCESS：调度 {run_id}"


def test_alarm_language_is_en_or_zh() -> None:
    assert config().alarm_language == "en"
    assert load_config(env={"SHARDCRON_ALARM_LANGUAGE": "zh"}).alarm_language == "zh"
    with pytest.raises(ConfigError, match="alarm_language"):
        load_config(env={"SHARDCRON_ALARM_LANGUAGE": "fr"})

def test_failing_webhook_is_retried_with_backoff_then_failed(db, fake_clock, hook) -> None:
    hook.status = 503
    failed_job_run(db, fake_clock, alarm_webhook=hook.url)
    sender = AlarmSender(db, fake_clock, config())
    start = fake_clock.now_ms()
    sender.tick(start)
    row = alarm(db, AlarmChannel.WEBHOOK)
    assert (row.status, row.attempts, row.next_attempt_at_ms) == (AlarmStatus.PENDING, 1, start + 10_000)
    assert row.last_error == f"webhook {hook.url} answered HTTP 503"  # the status only, never the answer's body
    sender.tick(start + 9_999)  # not due yet
    assert len(hook.received) == 1
    waits = [10_000, 20_000, 25_000]  # 10 s doubling, capped at 25 s
    now = start
    for attempt, wait in enumerate(waits, start=2):
        now += wait
        fake_clock.set(now)
        sender.tick(now)
        assert len(hook.received) == attempt
    row = alarm(db, AlarmChannel.WEBHOOK)
    assert (row.status, row.attempts, row.sent_at_ms) == (AlarmStatus.FAILED, 4, None)
    assert "answered HTTP 503" in row.last_error
    sender.tick(now + 3_600_000)
    assert len(hook.received) == 4  # a FAILED alarm is never sent again


def test_unreachable_smtp_server_is_retried_and_recovers(db, fake_clock, smtp) -> None:
    failed_job_run(db, fake_clock, alarm_emails="ops@example.com")
    down = AlarmSender(db, fake_clock, config(smtp_host="127.0.0.1", smtp_port=free_port()))
    down.tick(fake_clock.now_ms())
    row = alarm(db, AlarmChannel.EMAIL)
    assert (row.status, row.attempts) == (AlarmStatus.PENDING, 1)
    assert "ConnectionRefusedError" in row.last_error
    fake_clock.advance(s=10)
    AlarmSender(db, fake_clock, config(smtp_host="127.0.0.1", smtp_port=smtp.port)).tick(fake_clock.now_ms())
    assert len(smtp.messages) == 1
    row = alarm(db, AlarmChannel.EMAIL)
    assert (row.status, row.attempts, row.last_error) == (AlarmStatus.SENT, 2, None)


def test_email_without_smtp_host_fails_at_once_with_the_reason(db, fake_clock) -> None:
    failed_job_run(db, fake_clock, alarm_emails="ops@example.com")
    AlarmSender(db, fake_clock, config()).tick(fake_clock.now_ms())
    row = alarm(db, AlarmChannel.EMAIL)
    assert (row.status, row.attempts, row.last_error) == (AlarmStatus.FAILED, 1, "smtp_host is not configured: e-mail alarms cannot be sent")


def test_two_senders_deliver_each_alarm_once(db, fake_clock, hook) -> None:
    failed_job_run(db, fake_clock, alarm_webhook=hook.url)
    first, second = AlarmSender(db, fake_clock, config()), AlarmSender(db, fake_clock, config())
    claims = first._claim_due(fake_clock.now_ms())
    assert second._claim_due(fake_clock.now_ms()) == []  # claimed by the first node
    for claim in claims:
        first._attempt(claim)
    second.tick(fake_clock.now_ms() + 3_600_000)
    assert len(hook.received) == 1
