"""A workflow instance's alarm delivered by the AlarmSender: e-mail to a real local SMTP server,
webhook JSON (the run alarm's keys and a `workflow` object) to a real local HTTP receiver, in
English and Chinese, retried as run alarms are."""

from __future__ import annotations

import email.policy
from email import message_from_bytes

import sqlalchemy as sa

from shardcron.admin.alarms import AlarmSender
from shardcron.admin.config import load_config
from shardcron.admin.enums import AlarmChannel, AlarmStatus, WorkflowStatus
from shardcron.admin.models import Alarm, RunLog
from tests.support.alarm_receivers import SmtpReceiver, WebhookReceiver
from tests.support.scheduler_rows import add_job
from tests.support.workflow_cluster import succeed
from tests.support.workflow_rows import add_workflow, instance, start


def settings(smtp: SmtpReceiver, **overrides):
    values = {"smtp_host": "127.0.0.1", "smtp_port": smtp.port, "smtp_from": "cron@example.com", "smtp_starttls": False, "alarm_retry_delay_s": 10,
              "alarm_retry_max_delay_s": 25, "alarm_max_attempts": 3, "alarm_timeout_s": 5, "public_url": "https://jobs.example.com/"}
    values.update(overrides)
    return load_config(env={}, overrides=values)


def failed_instance(cluster, hook: WebhookReceiver) -> tuple[int, int, list[int]]:
    """(workflow id, instance id, the failed step's run ids): `load` fails, `report` never runs."""
    now = cluster.clock.now_ms()
    job = add_job(cluster.db, cluster.group_id, now, name="loader")
    definition = {"steps": [{"key": k, "job_id": job, "param": k} for k in ("extract", "load", "report")],
                  "edges": [{"from": "extract", "to": "load"}, {"from": "load", "to": "report"}]}
    wf = add_workflow(cluster.db, cluster.group_id, definition, now, name="nightly-etl", alarm_emails="ops@example.com", alarm_webhook=hook.url)
    cluster.answer = lambda run: (500, None, "db down") if run.params == "load" else succeed()
    instance_id = start(cluster.db, wf, now, planned_at_ms=now - 60_000)
    assert instance_id is not None
    cluster.pump()
    assert instance(cluster.db, instance_id).status == WorkflowStatus.FAILED
    with cluster.db.read_session() as s:
        runs = list(s.scalars(sa.select(RunLog.id).where(RunLog.handle_code == 500).order_by(RunLog.id)))
    return wf, instance_id, runs


def alarm(db, channel: AlarmChannel) -> Alarm:
    with db.read_session() as s:
        return s.scalars(sa.select(Alarm).where(Alarm.channel == channel)).one()


def test_an_instance_alarm_reaches_a_real_smtp_server_and_webhook(cluster, smtp, hook) -> None:
    wf, instance_id, runs = failed_instance(cluster, hook)
    AlarmSender(cluster.db, cluster.clock, settings(smtp)).tick(cluster.clock.now_ms())
    row = instance(cluster.db, instance_id)
    [(sender, recipients, content)] = smtp.messages
    assert (sender, recipients) == ("cron@example.com", ["ops@example.com"])
    mail = message_from_bytes(content.encode("utf-8"), policy=email.policy.default)
    subject = f"[shardcron] workflow nightly-etl (#{wf}) failed: instance {instance_id}"
    assert mail["Subject"] == subject
    body = mail.get_content()
    assert body.splitlines() == [
        subject,
        "",
        f"Workflow:  nightly-etl (#{wf}), group wf-app",
        f"Instance:  {instance_id}, API trigger, version 1, FAILED",
        "Planned:   2025-12-31T23:59:00.000Z",
        f"Started:   2026-01-01T00:00:00.000Z, ended {_iso_of(row.finished_at_ms)}",
        "Message:   failed step(s) with no failure branch: load",
        f"Step:      load FAILED (job #{_job_of(cluster)}), runs {', '.join(map(str, runs))}: {_step_message(cluster, instance_id)}",
        "",
        f"Console:   https://jobs.example.com/workflow-instances/{instance_id}",
    ]
    [got] = hook.received
    assert got["content_type"] == "application/json"
    doc = got["body"]
    assert {k: doc[k] for k in ("event", "text", "job", "run", "console_url")} == {
        "event": "workflow_failed", "text": subject, "job": None, "run": None, "console_url": f"https://jobs.example.com/workflow-instances/{instance_id}",
    }
    assert doc["group"]["app_name"] == "wf-app"
    assert doc["workflow"] == {
        "id": wf, "name": "nightly-etl",
        "instance": {
            "id": instance_id, "status": "FAILED", "message": "failed step(s) with no failure branch: load", "version": 1, "trigger_type": "API",
            "triggered_by": "test", "planned_at": "2025-12-31T23:59:00.000Z", "started_at": "2026-01-01T00:00:00.000Z", "finished_at": _iso_of(row.finished_at_ms),
            "failed_steps": [{"key": "load", "status": "FAILED", "job_id": _job_of(cluster), "message": _step_message(cluster, instance_id), "run_ids": runs}],
            "more_failed_steps": 0,
        },
    }  # fmt: skip
    for channel in (AlarmChannel.EMAIL, AlarmChannel.WEBHOOK):
        sent = alarm(cluster.db, channel)
        assert (sent.status, sent.attempts, sent.last_error) == (AlarmStatus.SENT, 1, None)


def test_an_instance_alarm_in_chinese(cluster, smtp, hook) -> None:
    wf, instance_id, _runs = failed_instance(cluster, hook)
    AlarmSender(cluster.db, cluster.clock, settings(smtp, alarm_language="zh")).tick(cluster.clock.now_ms())
    [(_, _, content)] = smtp.messages
    mail = message_from_bytes(content.encode("utf-8"), policy=email.policy.default)
    assert mail["Subject"] == f"[shardcron] 工作流 nightly-etl (#{wf}) 失败：实例 {instance_id}"
    lines = mail.get_content().splitlines()
    assert lines[2] == f"工作流：  nightly-etl (#{wf})，执行器 wf-app"
    assert lines[3] == f"实例：    {instance_id}，触发类型 API，版本 1，FAILED"
    assert lines[-1] == f"调度中心：https://jobs.example.com/workflow-instances/{instance_id}"
    [got] = hook.received
    # the document's keys and values are the same in every language; only `text` is translated
    assert got["body"]["event"] == "workflow_failed" and got["body"]["workflow"]["instance"]["status"] == "FAILED"
    assert got["body"]["text"] == mail["Subject"]


def test_a_failing_webhook_is_retried_with_backoff(cluster, smtp, hook) -> None:
    hook.status = 503
    failed_instance(cluster, hook)
    sender = AlarmSender(cluster.db, cluster.clock, settings(smtp))
    start_ms = cluster.clock.now_ms()
    sender.tick(start_ms)
    row = alarm(cluster.db, AlarmChannel.WEBHOOK)
    assert (row.status, row.attempts, row.next_attempt_at_ms) == (AlarmStatus.PENDING, 1, start_ms + 10_000)
    hook.status = 200
    sender.tick(start_ms + 10_000)
    row = alarm(cluster.db, AlarmChannel.WEBHOOK)
    assert (row.status, row.attempts, row.sent_at_ms) == (AlarmStatus.SENT, 2, cluster.clock.now_ms())
    assert len(hook.received) == 2


def _iso_of(at_ms: int | None) -> str:
    from shardcron.admin.alarms.message import _iso

    value = _iso(at_ms)
    assert value is not None
    return value


def _job_of(cluster) -> int:
    with cluster.db.read_session() as s:
        return s.scalars(sa.select(RunLog.job_id)).first() or 0


def _step_message(cluster, instance_id: int) -> str:
    from tests.support.workflow_rows import steps

    return steps(cluster.db, instance_id)["load"].message or ""
