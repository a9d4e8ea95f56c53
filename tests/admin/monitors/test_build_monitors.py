"""build_monitors: the loops the scheduler runner drives, working together on one database."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin import AdminContext
from shardcron.admin.config import load_config
from shardcron.admin.enums import AlarmStatus, FollowupStatus, RunStatus
from shardcron.admin.models import Alarm
from shardcron.admin.monitors import build_monitors
from tests.support.alarm_receivers import WebhookReceiver
from tests.support.run_rows import T0, add_group, add_job, add_run, register, run_row


def test_every_monitor_is_a_loop_with_a_distinct_name(db, fake_clock, tmp_path) -> None:
    ctx = AdminContext(load_config(env={}, overrides={"instance_dir": str(tmp_path)}), db, fake_clock)
    monitors = build_monitors(ctx, "node-a")
    names = [m.name for m in monitors]
    assert names == ["registry-sweep", "followups", "run-timeouts", "lost-runs", "workflow-instances", "alarms", "run-log-retention", "daily-report"]
    assert all(m.interval_s > 0 and callable(m.tick) for m in monitors)


def test_lost_run_is_failed_followed_up_and_alarmed(db, fake_clock, tmp_path) -> None:
    hook = WebhookReceiver().start()
    try:
        ctx = AdminContext(load_config(env={}, overrides={"instance_dir": str(tmp_path), "lost_run_after_s": 30}), db, fake_clock)
        monitors = build_monitors(ctx, "node-a")
        job = add_job(db, add_group(db, "billing"), alarm_webhook=hook.url)
        register(db, "billing", "http://10.0.0.1:9999", T0)
        run = add_run(db, job, executor_address="http://10.0.0.1:9999", trigger_at_ms=T0)

        def tick_all(at_ms: int) -> None:
            fake_clock.set(at_ms)
            for monitor in monitors:
                monitor.tick(at_ms)

        tick_all(T0 + 90_000)  # heartbeat window over: noted as gone, registration swept
        tick_all(T0 + 120_000)  # gone for 30 s: failed as lost
        tick_all(T0 + 121_000)  # followed up: alarm row written, then sent
        row = run_row(db, run)
        assert (row.status, row.followup_status) == (RunStatus.FAILED, FollowupStatus.DONE)
        assert [r["body"]["run"]["id"] for r in hook.received] == [run]
        assert hook.received[0]["body"]["run"]["handle_msg"] == "lost: executor gone (http://10.0.0.1:9999 not live for 30 s or more)"
        with db.session() as s:
            assert [a.status for a in s.scalars(sa.select(Alarm))] == [AlarmStatus.SENT]
    finally:
        hook.stop()


def test_a_clean_stop_hands_the_leases_over_at_once(db, fake_clock, tmp_path) -> None:
    ctx = AdminContext(load_config(env={}, overrides={"instance_dir": str(tmp_path)}), db, fake_clock)
    first, second = build_monitors(ctx, "node-a"), build_monitors(ctx, "node-b")
    leased = [m for m in first if hasattr(m, "lease")]
    assert leased, "the singleton monitors hold leases"
    for monitor in leased:
        assert monitor.lease.acquire(fake_clock.now_ms())
    others = {m.name: m for m in second}
    assert not any(others[m.name].lease.acquire(fake_clock.now_ms()) for m in leased)
    for monitor in leased:
        monitor.close()
    assert all(others[m.name].lease.acquire(fake_clock.now_ms()) for m in leased)
