"""Metrics and structured log lines of the fire loop: fires, trigger failures by reason, lag."""

from __future__ import annotations

import logging


from shardcron.admin.enums import MisfireStrategy, ScheduleType
from shardcron.admin.metrics import REGISTRY
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def events(caplog, message: str) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage() == message]


def test_a_sent_fire_is_counted_timed_and_logged(admin_db, receivers, make_scheduler, caplog) -> None:
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10")
    node = make_scheduler(admin_db)
    fires_before = sample("shardcron_fires_total", trigger_type="CRON")
    lag_before = sample("shardcron_trigger_lag_seconds_count")
    late_before = sample("shardcron_trigger_lag_seconds_bucket", le="0.25")
    caplog.set_level(logging.INFO, logger="shardcron.admin.scheduling")
    node.step(T0 + 9_000)  # claimed and prepared ahead of time: counted as a fire, not yet sent
    assert sample("shardcron_fires_total", trigger_type="CRON") == fires_before + 1
    assert sample("shardcron_trigger_lag_seconds_count") == lag_before
    node.step(T0 + 10_400)  # sent 400 ms after its planned instant
    assert sample("shardcron_trigger_lag_seconds_count") == lag_before + 1
    assert sample("shardcron_trigger_lag_seconds_bucket", le="0.25") == late_before  # 0.4 s is above this bucket
    (sent,) = events(caplog, "run sent")
    assert (sent.job_id, sent.log_id, sent.shard, sent.lag_ms) == (job, receiver.runs[0].log_id, "0/1", 400)


def test_no_live_executor_is_a_trigger_failure_with_its_reason(admin_db, make_scheduler, caplog) -> None:
    group = add_group(admin_db, "nobody-home", T0)  # AUTO group, nothing registered
    job = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10")
    node = make_scheduler(admin_db)
    before = sample("shardcron_trigger_failures_total", reason="no_live_executor")
    caplog.set_level(logging.INFO, logger="shardcron.admin.scheduling")
    node.step(T0 + 9_000)
    assert sample("shardcron_trigger_failures_total", reason="no_live_executor") == before + 1
    (failed,) = events(caplog, "trigger failed")
    assert (failed.job_id, failed.shard, failed.reason) == (job, "0/1", "no live executor in group nobody-home")
    assert failed.log_id > 0


def test_refusal_and_unreachable_executor_have_their_own_reasons(admin_db, receivers, make_scheduler, caplog) -> None:
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    busy = add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10")
    receiver.busy_jobs.add(busy)
    gone = add_group(admin_db, "gone", T0, manual=["http://127.0.0.1:9"])
    add_job(admin_db, gone, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10")
    node = make_scheduler(admin_db)
    refused = sample("shardcron_trigger_failures_total", reason="executor_refused")
    transport = sample("shardcron_trigger_failures_total", reason="transport")
    caplog.set_level(logging.INFO, logger="shardcron.admin.scheduling")
    node.step(T0 + 9_000)
    node.step(T0 + 10_000)
    assert sample("shardcron_trigger_failures_total", reason="executor_refused") == refused + 1
    assert sample("shardcron_trigger_failures_total", reason="transport") == transport + 1
    assert {r.job_id for r in events(caplog, "run refused")} == {busy}
    assert len(events(caplog, "run not delivered")) == 1


def test_a_skipped_misfire_is_counted(admin_db, receivers, make_scheduler) -> None:
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    add_job(admin_db, group, T0, schedule_type=ScheduleType.FIX_RATE, schedule_conf="10", misfire_strategy=MisfireStrategy.DO_NOTHING)
    node = make_scheduler(admin_db, grace_ms=5000)
    before = sample("shardcron_trigger_failures_total", reason="misfire_skipped")
    node.step(T0 + 95_000)
    assert sample("shardcron_trigger_failures_total", reason="misfire_skipped") == before + 1
