"""Lost runs: executor gone for lost_run_after_s -> FAILED "lost: executor gone"; PENDING rows
never acknowledged -> FAILED, unless a scheduler lease term still holds their fire; UNKNOWN runs
are left alone; an executor that comes back in time keeps its runs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, FollowupStatus, RunStatus, TriggerType
from shardcron.admin.models import Fire
from shardcron.admin.monitors.lost_runs import LostRuns
from shardcron.admin.transport.executor_client import ExecutorClient
from tests.support.recording_executor import RecordingExecutor
from tests.support.run_rows import T0, add_group, add_job, add_run, register, run_row

A, B = "http://10.0.0.1:9999", "http://10.0.0.2:9999"


@pytest.fixture
def client() -> Iterator[ExecutorClient]:
    c = ExecutorClient("monitor-token-0123456789", connect_timeout_s=2, read_timeout_s=5)
    yield c
    c.close()


def test_run_of_a_vanished_executor_is_failed_within_the_bound(db, client) -> None:
    job = add_job(db, add_group(db, "billing"))
    register(db, "billing", A, T0)  # A's last heartbeat: T0
    register(db, "billing", B, T0 + 200_000)
    on_a = add_run(db, job, executor_address=A)
    on_b = add_run(db, job, executor_address=B, trigger_at_ms=T0 + 200_000)  # young: B is not asked /idleBeat
    monitor = LostRuns(db, "node-a", client, lost_after_s=120)
    monitor.tick(T0 + 89_999)  # A still inside its heartbeat window
    assert run_row(db, on_a).executor_gone_at_ms is None
    monitor.tick(T0 + 90_000)  # A is dead from now on
    assert run_row(db, on_a).executor_gone_at_ms == T0 + 90_000
    monitor.tick(T0 + 90_000 + 119_999)
    assert run_row(db, on_a).status == RunStatus.RUNNING
    monitor.tick(T0 + 90_000 + 120_000)
    row = run_row(db, on_a)
    assert (row.status, row.handle_code, row.handle_at_ms, row.followup_status) == (RunStatus.FAILED, 500, T0 + 210_000, FollowupStatus.PENDING)
    assert row.handle_msg == f"lost: executor gone ({A} not live for 120 s or more)"
    assert (run_row(db, on_b).status, run_row(db, on_b).executor_gone_at_ms) == (RunStatus.RUNNING, None)


def test_executor_back_in_time_clears_the_note(db, client) -> None:
    stub = RecordingExecutor().start()
    stub.answers["/idleBeat"] = 500  # the run is still running there
    try:
        job = add_job(db, add_group(db, "billing"))
        register(db, "billing", stub.address, T0)
        run = add_run(db, job, executor_address=stub.address)
        monitor = LostRuns(db, "node-a", client, lost_after_s=120)
        monitor.tick(T0 + 100_000)
        assert run_row(db, run).executor_gone_at_ms == T0 + 100_000
        with db.session() as s:
            s.execute(sa.text("UPDATE sc_executor_registry SET heartbeat_at_ms = :t"), {"t": T0 + 150_000})
        monitor.tick(T0 + 160_000)
        assert run_row(db, run).executor_gone_at_ms is None
        with db.session() as s:
            s.execute(sa.text("UPDATE sc_executor_registry SET heartbeat_at_ms = :t"), {"t": T0 + 220_000})
        monitor.tick(T0 + 230_000)  # 130 s after the first note, but the executor came back in between
        assert run_row(db, run).status == RunStatus.RUNNING
        assert ("/idleBeat", {"jobId": job}) in [(p, b) for p, b, _ in stub.calls]
    finally:
        stub.stop()


def test_pending_row_never_acknowledged_is_failed(db, client) -> None:
    job = add_job(db, add_group(db, "billing"))
    stuck = add_run(db, job, status=RunStatus.PENDING, trigger_at_ms=T0)
    fresh = add_run(db, job, status=RunStatus.PENDING, trigger_at_ms=T0 + 100_000)
    LostRuns(db, "node-a", client, lost_after_s=120).tick(T0 + 120_001)
    row = run_row(db, stuck)
    assert (row.status, row.handle_code, row.followup_status) == (RunStatus.FAILED, 500, FollowupStatus.PENDING)
    assert row.handle_msg.startswith("lost: trigger never acknowledged within 120 s")
    assert run_row(db, fresh).status == RunStatus.PENDING


def add_fire(db, job_id: int, status: FireStatus, owner: str | None, fire_at_ms: int) -> int:
    with db.session() as s:
        fire = Fire(job_id=job_id, fire_at_ms=fire_at_ms, trigger_type=TriggerType.CRON, status=status, owner=owner, created_at_ms=T0)
        s.add(fire)
        s.flush()
        return fire.id


def test_pending_row_of_a_claimed_fire_is_left_to_its_lease_term(db, client) -> None:
    """A CLAIMED fire belongs to a lease term (or to whichever node adopts it when the term
    ends): that node sends or settles its PENDING rows. Failing them here would start a retry
    of a run that may yet be sent, or may have run."""
    job = add_job(db, add_group(db, "billing"))
    claimed = add_fire(db, job, FireStatus.CLAIMED, "node-b#0badf00d", T0)
    done = add_fire(db, job, FireStatus.DONE, "node-b#0badf00d", T0 - 60_000)
    held = add_run(db, job, status=RunStatus.PENDING, trigger_at_ms=T0, fire_id=claimed)
    lost = add_run(db, job, status=RunStatus.PENDING, trigger_at_ms=T0, fire_id=done)
    gone_fire = add_run(db, job, status=RunStatus.PENDING, trigger_at_ms=T0, fire_id=424242)  # its fire row was deleted
    no_fire = add_run(db, job, status=RunStatus.PENDING, trigger_at_ms=T0, fire_id=None)
    monitor = LostRuns(db, "node-a", client, lost_after_s=120)
    monitor.tick(T0 + 3_600_000)
    assert run_row(db, held).status == RunStatus.PENDING
    for run in (lost, gone_fire, no_fire):
        row = run_row(db, run)
        assert (row.status, row.followup_status) == (RunStatus.FAILED, FollowupStatus.PENDING), run
        assert row.handle_msg.startswith("lost: trigger never acknowledged")
    # Once the term's holder (or adopter) is done with the fire, a row it left PENDING is lost.
    with db.session() as s:
        s.execute(sa.update(Fire).where(Fire.id == claimed).values(status=FireStatus.DONE))
    monitor.tick(T0 + 3_610_000)
    assert run_row(db, held).status == RunStatus.FAILED


def test_unknown_runs_are_left_alone(db, client) -> None:
    """Whether an UNKNOWN run reached its executor cannot be known; its alarm went out and only
    a result from the executor finishes it — even when that executor is gone."""
    job = add_job(db, add_group(db, "billing"))
    unknown = add_run(db, job, status=RunStatus.UNKNOWN, trigger_code=0, trigger_at_ms=T0, executor_address=A)
    monitor = LostRuns(db, "node-a", client, lost_after_s=30)
    for at in (T0, T0 + 40_000, T0 + 3_600_000):
        monitor.tick(at)
    row = run_row(db, unknown)
    assert (row.status, row.executor_gone_at_ms, row.handle_code, row.followup_status) == (RunStatus.UNKNOWN, None, 0, FollowupStatus.NONE)


def test_manual_group_executor_is_checked_with_beat(db, client) -> None:
    stub = RecordingExecutor().start()
    try:
        job = add_job(db, add_group(db, "manual-app", manual=[stub.address, A]))
        answering = add_run(db, job, executor_address=stub.address)
        also_answering = add_run(db, job, executor_address=stub.address)
        unlisted = add_run(db, job, executor_address="http://10.9.9.9:9999")
        monitor = LostRuns(db, "node-a", client, lost_after_s=30)
        monitor.tick(T0)
        assert stub.paths() == ["/beat"]  # once per address, however many runs it has
        assert run_row(db, answering).executor_gone_at_ms is None
        assert run_row(db, also_answering).executor_gone_at_ms is None
        assert run_row(db, unlisted).executor_gone_at_ms == T0
        stub.answers["/beat"] = 500  # listed but not answering: gone
        monitor.tick(T0 + 10_000)
        monitor.tick(T0 + 40_000)
        assert run_row(db, answering).status == RunStatus.FAILED
        assert run_row(db, unlisted).status == RunStatus.FAILED
    finally:
        stub.stop()


#: A `/log` page as XXL-JOB's Java executor writes it for a logId without a log file: no
#: `resultPending`, so whether a result is on its way is not known.
XXLJOB_NO_LOG = {"fromLineNum": 1, "toLineNum": 0, "logContent": "readLog fail, logFile not exists", "isEnd": True}


def test_live_executor_that_no_longer_runs_the_job_loses_the_run(db, client) -> None:
    """An executor that does not say whether a result is on its way (XXL-JOB's): idle for
    lost_run_after_s after the first idle answer fails the run."""
    stub = RecordingExecutor().start()  # answers /idleBeat 200: the job is idle there (it restarted)
    stub.contents["/log"] = XXLJOB_NO_LOG
    try:
        job = add_job(db, add_group(db, "billing"))
        busy_job = add_job(db, add_group(db, "other"), name="busy")
        run = add_run(db, job, executor_address=stub.address, trigger_at_ms=T0)
        busy = add_run(db, busy_job, executor_address=stub.address, trigger_at_ms=T0)
        monitor = LostRuns(db, "node-a", client, lost_after_s=120)

        def tick(at_ms: int) -> None:
            with db.session() as s:  # the executor keeps heartbeating under both groups
                s.execute(sa.text("DELETE FROM sc_executor_registry"))
            register(db, "billing", stub.address, at_ms)
            register(db, "other", stub.address, at_ms)
            monitor.tick(at_ms)

        tick(T0 + 120_000)  # not older than lost_run_after_s yet: not asked
        assert stub.calls == []
        tick(T0 + 120_001)  # both answer idle (the stub's default); each run's logId is asked about after
        asked = [(p, b) for p, b, _ in stub.calls]
        assert [(p, b) for p, b in asked if p == "/idleBeat"] == [("/idleBeat", {"jobId": job}), ("/idleBeat", {"jobId": busy_job})]
        assert [b["logId"] for p, b in asked if p == "/log"] == [run, busy]
        assert asked.index(("/idleBeat", {"jobId": job})) < [p for p, _ in asked].index("/log")
        assert run_row(db, run).executor_gone_at_ms == T0 + 120_001
        assert run_row(db, busy).executor_gone_at_ms == T0 + 120_001
        stub.calls.clear()
        # the busy job's worker shows up (e.g. the run was queued): its note is cleared
        busy_job_answers = {job: 200, busy_job: 500}
        stub.answer_for = lambda body: busy_job_answers.get(body.get("jobId"), 200)
        tick(T0 + 240_001)
        row = run_row(db, run)
        assert (row.status, row.handle_code) == (RunStatus.FAILED, 500)
        assert row.handle_msg == f"lost: executor {stub.address} no longer runs it (job {job} idle there for 120 s or more; the executor restarted or dropped the run)"
        assert (run_row(db, busy).status, run_row(db, busy).executor_gone_at_ms) == (RunStatus.RUNNING, None)
    finally:
        stub.stop()
