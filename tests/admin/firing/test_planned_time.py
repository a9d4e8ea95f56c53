"""A re-run keeps the planned time of the run it re-runs: a retry (of a backfilled, caught-up or
plain cron run, of one shard of a broadcast, of a retry) and a repair now are sent with that
planned time as logDateTime (the executor's ctx.trigger_time_ms), and every `/log` about them —
the scheduler settling a send after a takeover, the console's log view — asks with the same time.
When a send goes out, and whether it is settled after a takeover, still follow the time its fire
became due. On a fake clock, on SQLite, MariaDB and PostgreSQL, against RunReceivers (whose
`/log` knows a logId only on the day its /run carried, as executors keep their log files)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FollowupStatus, MisfireStrategy, RouteStrategy, RunStatus, ScheduleType, TriggerType
from shardcron.admin.firing.backfill_advance import BackfillAdvancer
from shardcron.admin.models import Fire, RunLog
from shardcron.admin.monitors.followups import FollowupMonitor
from shardcron.admin.services import backfills, runs as run_service
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.repair import repair_run
from shardcron.admin.services.triggers import get_fire
from shardcron.admin.transport.executor_client import ExecutorClient
from tests.support.executor_calls import TOKEN
from tests.support.scheduler_rows import add_group, add_job

T0 = 1_767_225_600_000  # 2026-01-01 00:00 UTC: the day the data job processes
HOUR = 3_600_000
DAY = 24 * HOUR
LATER = T0 + 3 * DAY + HOUR  # when a backfill or a catch-up sends that day's run
RETRY_DELAY_MS = 60_000
DAILY = {"schedule_type": ScheduleType.CRON, "schedule_conf": "0 0 * * *", "retry_count": 3, "retry_delay_s": RETRY_DELAY_MS // 1000,
         "retry_backoff_multiplier": 1}
GONE = "http://10.0.0.1:9999"  # not an executor of any group


def all_runs(db) -> list[RunLog]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(RunLog).order_by(RunLog.id)))


def run_row(db, run_id: int) -> RunLog:
    with db.read_session() as s:
        return s.get_one(RunLog, run_id)


def fail(db, run_id: int, at_ms: int) -> None:
    """The executor reports the run failed at `at_ms`."""
    with db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.id == run_id).values(
            status=RunStatus.FAILED, handle_code=500, handle_at_ms=at_ms, followup_status=FollowupStatus.PENDING,
        ))


def retry(db, node, run_id: int, failed_at_ms: int) -> RunLog:
    """Fail `run_id` at `failed_at_ms`, follow it up, and send its retry when it is due."""
    fail(db, run_id, failed_at_ms)
    FollowupMonitor(db, "node-a").tick(failed_at_ms)
    node.step(failed_at_ms + RETRY_DELAY_MS)
    with db.read_session() as s:
        fire_id = s.execute(sa.select(Fire.id).where(Fire.trigger_type == TriggerType.RETRY, Fire.origin_ref == run_id)).scalar_one()
        return s.execute(sa.select(RunLog).where(RunLog.fire_id == fire_id)).scalar_one()


def first_run(db, node, job: int, kind: str) -> tuple[RunLog, int]:
    """The job's first run for 2026-01-01 and when it was sent: a backfill's, a catch-up's (a
    MISFIRE at the missed time) or a plain cron run's."""
    if kind == "backfill":
        with db.session() as s:
            backfills.create_backfill(s, SYSTEM_ACTOR, job, {"from_ms": T0, "to_ms": T0 + HOUR}, now_ms=LATER, max_runs=10)
        BackfillAdvancer(db).advance(LATER)
        sent_at = LATER
    elif kind == "catch-up":
        sent_at = T0 + 2 * HOUR  # down over midnight: 00:00 is caught up within the window
    else:
        sent_at = T0
    node.step(sent_at)
    [run] = all_runs(db)
    assert (run.trigger_type, run.fire_at_ms, run.planned_at_ms) == (
        {"backfill": TriggerType.BACKFILL, "catch-up": TriggerType.MISFIRE, "cron": TriggerType.CRON}[kind], T0, None,
    )
    return run, sent_at


@pytest.mark.parametrize("kind", ["backfill", "catch-up", "cron"])
def test_a_retry_and_a_retry_of_the_retry_carry_the_planned_time(admin_db, receivers, make_scheduler, kind: str):
    receiver = receivers()
    group = add_group(admin_db, "app", T0, manual=[receiver.address])
    job_fields = dict(DAILY, first_fire_ms=T0, misfire_strategy=MisfireStrategy.CATCH_UP_ALL, catchup_window_s=DAY) if kind == "catch-up" else DAILY
    job = add_job(admin_db, group, T0 - HOUR if kind != "backfill" else LATER, **job_fields)
    node = make_scheduler(admin_db)
    run, sent_at = first_run(admin_db, node, job, kind)
    second = retry(admin_db, node, run.id, sent_at + 5_000)
    third = retry(admin_db, node, second.id, sent_at + 5_000 + RETRY_DELAY_MS + 5_000)
    assert [(r.log_id, r.log_date_ms) for r in receiver.runs] == [(run.id, T0), (second.id, T0), (third.id, T0)]
    assert (second.trigger_type, second.attempt, second.fire_at_ms, second.planned_at_ms) == (TriggerType.RETRY, 1, sent_at + 5_000 + RETRY_DELAY_MS, T0)
    assert (third.attempt, third.planned_at_ms, third.log_date_ms) == (2, T0, T0)
    assert third.fire_at_ms == sent_at + 10_000 + 2 * RETRY_DELAY_MS  # due by its own backoff, not at the planned time
    with admin_db.read_session() as s:
        assert s.get_one(Fire, third.fire_id).planned_at_ms == T0


def test_the_retry_of_one_shard_of_a_broadcast_carries_the_planned_time(admin_db, receivers, make_scheduler):
    recs = sorted((receivers() for _ in range(3)), key=lambda r: r.address)
    group = add_group(admin_db, "app", T0, manual=[r.address for r in recs])
    job = add_job(admin_db, group, LATER, route_strategy=RouteStrategy.SHARDING_BROADCAST, **DAILY)
    with admin_db.session() as s:
        backfills.create_backfill(s, SYSTEM_ACTOR, job, {"from_ms": T0, "to_ms": T0 + HOUR}, now_ms=LATER, max_runs=10)
    BackfillAdvancer(admin_db).advance(LATER)
    node = make_scheduler(admin_db)
    node.step(LATER)
    shards = all_runs(admin_db)
    assert [(r.shard_index, r.shard_total, r.log_date_ms) for r in shards] == [(0, 3, T0), (1, 3, T0), (2, 3, T0)]
    again = retry(admin_db, node, shards[1].id, LATER + 5_000)
    assert (again.shard_index, again.shard_total, again.fire_at_ms, again.planned_at_ms) == (1, 3, LATER + 5_000 + RETRY_DELAY_MS, T0)
    sent = [(r.log_id, r.shard_index, r.log_date_ms) for rec in recs for r in rec.runs if r.log_id == again.id]
    assert sent == [(again.id, 1, T0)]  # that shard alone, for 2026-01-01
    assert len(all_runs(admin_db)) == 4


def test_repair_now_re_runs_with_the_planned_time(admin_db, receivers, make_scheduler):
    receiver = receivers()
    job = add_job(admin_db, add_group(admin_db, "app", T0, manual=[receiver.address]), T0 - HOUR, **DAILY)
    node = make_scheduler(admin_db)
    node.step(T0)
    [run] = all_runs(admin_db)
    second = retry(admin_db, node, run.id, T0 + 5_000)
    # The retry's executor is lost (not an executor of the group any more): repaired by hand.
    with admin_db.session() as s:
        s.execute(sa.update(RunLog).where(RunLog.id == second.id).values(executor_address=GONE))
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        result = repair_run(admin_db, SYSTEM_ACTOR, second.id, client, now_ms=T0 + 12 * HOUR)
    finally:
        client.close()
    node.step(T0 + 12 * HOUR)
    with admin_db.read_session() as s:
        fire = s.get_one(Fire, result.fire_id)
        rerun = s.execute(sa.select(RunLog).where(RunLog.fire_id == fire.id)).scalar_one()
    assert (fire.trigger_type, fire.fire_at_ms, fire.planned_at_ms) == (TriggerType.MANUAL, T0 + 12 * HOUR, T0)
    assert (rerun.job_id, rerun.status, rerun.planned_at_ms) == (job, RunStatus.RUNNING, T0)
    with admin_db.read_session() as s:
        view = get_fire(s, SYSTEM_ACTOR, fire.id)  # what GET /fires/{id} shows
    assert (view.fire_at_ms, view.planned_at_ms, [r.planned_at_ms for r in view.runs]) == (T0 + 12 * HOUR, T0, [T0])
    assert [(r.log_id, r.log_date_ms) for r in receiver.runs][-1] == (rerun.id, T0)


def test_the_console_reads_a_retrys_log_with_the_planned_time(admin_db, receivers, make_scheduler):
    receiver = receivers()
    add_job(admin_db, add_group(admin_db, "app", T0, manual=[receiver.address]), T0 - HOUR, **DAILY)
    node = make_scheduler(admin_db)
    node.step(T0)
    [run] = all_runs(admin_db)
    second = retry(admin_db, node, run.id, T0 + DAY - 10_000)  # failed just before midnight: retried the next day
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=5)
    try:
        page = run_service.read_run_log(admin_db, SYSTEM_ACTOR, second.id, client, now_ms=T0 + DAY + RETRY_DELAY_MS)
    finally:
        client.close()
    assert receiver.log_asked == [(second.id, T0)]
    assert page.run_id == second.id and page.run_status == RunStatus.RUNNING
    with admin_db.read_session() as s:
        view = run_service.get_run(s, SYSTEM_ACTOR, second.id)
    assert (view.fire_at_ms, view.planned_at_ms) == (T0 + DAY - 10_000 + RETRY_DELAY_MS, T0)


# ---------------------------------------------------------------- takeover

LEASE = {"lease_ms": 2000, "renew_ms": 500, "margin_ms": 500}


def add_retry_fire(db, job: int, origin_run: int, at_ms: int) -> None:
    with db.session() as s:
        s.add(Fire(job_id=job, fire_at_ms=at_ms, trigger_type=TriggerType.RETRY, origin_ref=origin_run, created_at_ms=at_ms - DAY,
                   attempt=1, planned_at_ms=T0))


def test_a_retry_sent_before_its_node_died_is_settled_with_the_planned_time_and_sent_once(admin_db, receivers, make_scheduler):
    receiver = receivers()
    job = add_job(admin_db, add_group(admin_db, "app", T0, manual=[receiver.address]), T0, retry_count=3)
    due = T0 + 2 * DAY + 1_000  # two days after the day it runs for
    add_retry_fire(admin_db, job, 101, due)
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.live(due - 100)
    a.loop.tick(due - 100)
    [send] = a.dispatcher._timers.queued()  # noqa: SLF001
    assert a.dispatcher.client.run_encoded(send.address, send.body).ok  # A sends it and dies before recording the answer
    b.step(due + 3_000)
    [run] = all_runs(admin_db)
    assert receiver.log_asked == [(run.id, T0)]  # asked on the day the /run carried
    assert [(r.log_id, r.log_date_ms) for r in receiver.runs] == [(run.id, T0)] and receiver.repeats == 0
    assert run.status == RunStatus.RUNNING and run.trigger_msg == f"settled: executor {receiver.address} says it has logId {run.id}; not sent again"


def test_after_a_takeover_only_retries_due_before_the_dead_nodes_horizon_are_settled(admin_db, receivers, make_scheduler):
    receiver = receivers()
    job = add_job(admin_db, add_group(admin_db, "app", T0, manual=[receiver.address]), T0, retry_count=3)
    base = T0 + 2 * DAY
    add_retry_fire(admin_db, job, 101, base + 1_000)
    add_retry_fire(admin_db, job, 102, base + 2_000)  # planned for the same day, due after A's horizon
    a = make_scheduler(admin_db, "node-a", **LEASE)
    b = make_scheduler(admin_db, "node-b", **LEASE)
    a.step(base)  # claims and prepares both; nothing is due yet
    b.step(base + 2_100)  # A froze: B adopts both and sends them
    early, late = all_runs(admin_db)
    assert (early.fire_at_ms, late.fire_at_ms, early.planned_at_ms, late.planned_at_ms) == (base + 1_000, base + 2_000, T0, T0)
    # The send horizon is compared with when each retry was due, not with its planned time.
    assert receiver.log_asked == [(early.id, T0)]
    assert sorted((r.log_id, r.log_date_ms) for r in receiver.runs) == [(early.id, T0), (late.id, T0)]
