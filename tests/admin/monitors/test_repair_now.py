"""Repair now: a running run whose executor is lost is failed and re-run at once by hand,
resuming from its checkpoint; a run still alive is refused with the reason; repair now and
lost-run detection never both start a re-run (each claims the run with the same guarded UPDATE)."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import AuditAction, FollowupStatus, RunStatus, TriggerType
from shardcron.admin.models import AuditEntry, Fire
from shardcron.admin.monitors.followups import FollowupMonitor
from shardcron.admin.monitors.lost_runs import LostRuns
from shardcron.admin.services.actor import SYSTEM_ACTOR
from shardcron.admin.services.errors import Conflict
from shardcron.admin.services.repair import repair_run
from shardcron.admin.transport.executor_client import ExecutorClient
from tests.support.recording_executor import RecordingExecutor
from tests.support.run_rows import T0, add_group, add_job, add_run, register, run_row

GONE = "http://10.0.0.1:9999"  # registered at T0, dead 90 s later
LATER = T0 + 100_000


@pytest.fixture
def client() -> Iterator[ExecutorClient]:
    c = ExecutorClient("repair-token-0123456789", connect_timeout_s=2, read_timeout_s=5)
    yield c
    c.close()


def all_fires(db) -> list[Fire]:
    with db.read_session() as s:
        return list(s.scalars(sa.select(Fire).order_by(Fire.id)))


def lost_run(db, group: int | None = None) -> tuple[int, int]:
    if group is None:
        group = add_group(db, "billing")
        register(db, "billing", GONE, T0)
    job = add_job(db, group, retry_count=2)
    run = add_run(db, job, executor_address=GONE, param="p", attempt=1, retry_remaining=1,
                  checkpoint_json=json.dumps({"next": 5000}), checkpoint_seq=12)
    return job, run


def test_a_lost_run_is_failed_and_re_run_at_once_from_its_checkpoint(db, client) -> None:
    job, run = lost_run(db)
    result = repair_run(db, SYSTEM_ACTOR, run, client, now_ms=LATER)
    assert result.resumes and f"re-run as fire {result.fire_id}, resuming from its checkpoint #12" in result.message
    row = run_row(db, run)
    assert (row.status, row.handle_code, row.handle_at_ms, row.followup_status) == (RunStatus.FAILED, 500, LATER, FollowupStatus.DONE)
    assert row.handle_msg == f"lost: repaired by hand (executor {GONE} is not a live executor of group billing)"
    [fire] = all_fires(db)
    assert (fire.id, fire.job_id, fire.trigger_type, fire.fire_at_ms, fire.param, fire.attempt, fire.resume_from_run_id, fire.address) == (
        result.fire_id, job, TriggerType.MANUAL, LATER, "p", 1, run, None,
    )
    with db.read_session() as s:
        [entry] = s.scalars(sa.select(AuditEntry)).all()
    assert (entry.action, entry.target_id, entry.actor_kind) == (AuditAction.JOB_TRIGGER, job, "SYSTEM")
    assert json.loads(entry.after_json)["repair_of_run_id"] == run and json.loads(entry.after_json)["resume_from_run_id"] == run
    # the automatic path finds nothing left to do: no second failure, no retry fire
    LostRuns(db, "node-a", client, lost_after_s=1).tick(LATER + 10_000)
    LostRuns(db, "node-a", client, lost_after_s=1).tick(LATER + 20_000)
    FollowupMonitor(db, "node-a").tick(LATER + 30_000)
    assert len(all_fires(db)) == 1 and run_row(db, run).handle_msg.startswith("lost: repaired by hand")


def test_a_broadcast_shard_is_re_run_alone(db, client) -> None:
    from shardcron.admin.enums import RouteStrategy

    job = add_job(db, add_group(db, "billing"), route_strategy=RouteStrategy.SHARDING_BROADCAST)
    register(db, "billing", GONE, T0)
    run = add_run(db, job, executor_address=GONE, shard_index=2, shard_total=3)
    result = repair_run(db, SYSTEM_ACTOR, run, client, now_ms=LATER)
    assert not result.resumes and "starting fresh (it saved no checkpoint)" in result.message
    [fire] = all_fires(db)
    assert (fire.shard_index, fire.shard_total) == (2, 3)


def test_a_run_still_alive_is_refused_with_the_reason(db, client) -> None:
    stub = RecordingExecutor().start()
    stub.answers["/idleBeat"] = 500  # busy: it runs the job
    try:
        job = add_job(db, add_group(db, "billing"))
        register(db, "billing", stub.address, LATER - 1_000)
        run = add_run(db, job, executor_address=stub.address)
        with pytest.raises(Conflict, match=f"run {run} is still alive: executor {stub.address} answers /beat and is running job {job}") as refused:
            repair_run(db, SYSTEM_ACTOR, run, client, now_ms=LATER)
        assert refused.value.status == 409
        assert run_row(db, run).status == RunStatus.RUNNING and all_fires(db) == []
        # the same executor, restarted (idle for the job): the run is gone there, repair goes ahead
        stub.answers["/idleBeat"] = 200
        result = repair_run(db, SYSTEM_ACTOR, run, client, now_ms=LATER)
        assert "no longer runs job" in result.message and len(all_fires(db)) == 1
    finally:
        stub.stop()


@pytest.mark.parametrize(("status", "why"), [
    (RunStatus.PENDING, "not acknowledged yet"),
    (RunStatus.UNKNOWN, "delivers at most once"),
    (RunStatus.SUCCESS, "it has finished"),
])
def test_runs_that_are_not_running_are_refused(db, client, status, why) -> None:
    job = add_job(db, add_group(db, "billing"))
    run = add_run(db, job, status=status, executor_address=GONE)
    with pytest.raises(Conflict, match=why):
        repair_run(db, SYSTEM_ACTOR, run, client, now_ms=LATER)
    assert all_fires(db) == []


def test_after_lost_run_detection_repair_is_refused_and_only_the_retry_runs(db, client) -> None:
    _, run = lost_run(db)
    monitor = LostRuns(db, "node-a", client, lost_after_s=1)
    monitor.tick(LATER)
    monitor.tick(LATER + 1_000)
    assert run_row(db, run).status == RunStatus.FAILED
    with pytest.raises(Conflict, match="is FAILED, not RUNNING"):
        repair_run(db, SYSTEM_ACTOR, run, client, now_ms=LATER + 2_000)
    FollowupMonitor(db, "node-a").tick(LATER + 3_000)
    [retry] = all_fires(db)
    assert (retry.trigger_type, retry.resume_from_run_id) == (TriggerType.RETRY, run)  # the retry resumes too


def race(db, client, run: int, monitor: LostRuns) -> object:
    """Repair now and the monitor's failing tick, released together on two threads; the repair's outcome."""
    start = threading.Barrier(2, timeout=30)
    outcomes: dict[str, object] = {}

    def by_hand() -> None:
        start.wait()
        try:
            outcomes["repair"] = repair_run(db, SYSTEM_ACTOR, run, client, now_ms=LATER + 1_000)
        except Conflict as exc:
            outcomes["repair"] = exc

    def automatic() -> None:
        start.wait()
        monitor.tick(LATER + 1_000)
        outcomes["monitor"] = True

    threads = [threading.Thread(target=by_hand), threading.Thread(target=automatic)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
        assert not t.is_alive(), "a path hung"
    assert set(outcomes) == {"repair", "monitor"}, outcomes
    return outcomes["repair"]


def test_repair_now_racing_lost_run_detection_starts_one_re_run(db, client) -> None:
    """Both paths at the same moment, on real threads, again and again: exactly one wins each time."""
    group = add_group(db, "billing")
    register(db, "billing", GONE, T0)
    for round_ in range(6):
        _, run = lost_run(db, group)
        monitor = LostRuns(db, "node-a", client, lost_after_s=1)
        monitor.tick(LATER)  # notes the executor gone; the next tick fails the run
        repaired = race(db, client, run, monitor)
        FollowupMonitor(db, "node-a").tick(LATER + 2_000)
        row = run_row(db, run)
        mine = [f for f in all_fires(db) if f.resume_from_run_id == run]
        assert len(mine) == 1, f"round {round_}: {[(f.trigger_type, f.origin_ref) for f in mine]}"
        if isinstance(repaired, Conflict):
            assert row.handle_msg.startswith("lost: executor gone") and mine[0].trigger_type == TriggerType.RETRY
        else:
            assert row.handle_msg.startswith("lost: repaired by hand") and mine[0].trigger_type == TriggerType.MANUAL
