"""Fire rows written by others (manual, API, retry, child) are dispatched per contracts §2."""

from __future__ import annotations

import sqlalchemy as sa

from shardcron.admin.enums import FireStatus, FollowupStatus, RouteStrategy, RunStatus, TriggerType
from shardcron.admin.models import Fire, Job, RunLog
from tests.support.scheduler_rows import add_group, add_job, register

T0 = 1_767_225_600_000


def add_fire(db, job_id, ref, *, trigger_type=TriggerType.MANUAL, at=T0, **fields):
    with db.session() as s:
        fire = Fire(job_id=job_id, fire_at_ms=at, trigger_type=trigger_type, origin_ref=ref, status=FireStatus.PENDING, created_at_ms=T0, **fields)
        s.add(fire)
        s.flush()
        return fire.id


def runs(db, fire_id):
    with db.read_session() as s:
        return s.execute(sa.select(RunLog).where(RunLog.fire_id == fire_id).order_by(RunLog.shard_index)).scalars().all()


def fire_status(db, fire_id):
    with db.read_session() as s:
        return s.get(Fire, fire_id).status


def three_receivers(admin_db, receivers, **job_fields):
    recs = sorted((receivers() for _ in range(3)), key=lambda r: r.address)
    group = add_group(admin_db, "app", T0, manual=[r.address for r in recs])
    return recs, add_job(admin_db, group, T0, param="job-param", **job_fields)


def test_parameter_override_and_the_jobs_own_parameter(admin_db, receivers, make_scheduler):
    recs, job = three_receivers(admin_db, receivers)
    node = make_scheduler(admin_db)
    own = add_fire(admin_db, job, 1)
    override = add_fire(admin_db, job, 2, param="given")
    node.step()
    assert [r.params for r in recs[0].runs] == ["job-param", "given"]
    assert [runs(admin_db, f)[0].param for f in (own, override)] == ["job-param", "given"]


def test_one_shard_of_a_broadcast_goes_to_index_i_mod_live(admin_db, receivers, make_scheduler):
    recs, job = three_receivers(admin_db, receivers, route_strategy=RouteStrategy.SHARDING_BROADCAST)
    node = make_scheduler(admin_db)
    fire = add_fire(admin_db, job, 1, shard_index=4, shard_total=5, param="only shard 4")
    node.step()
    [row] = runs(admin_db, fire)
    assert (row.shard_index, row.shard_total, row.executor_address, row.status) == (4, 5, recs[1].address, RunStatus.RUNNING)
    [got] = recs[1].runs
    assert (got.shard_index, got.shard_total, got.params) == (4, 5, "only shard 4")
    assert recs[0].runs == recs[2].runs == []


def test_the_whole_broadcast_makes_one_row_per_live_executor(admin_db, receivers, make_scheduler):
    recs, job = three_receivers(admin_db, receivers, route_strategy=RouteStrategy.SHARDING_BROADCAST, block_strategy="DISCARD_LATER")
    node = make_scheduler(admin_db)
    fire = add_fire(admin_db, job, 1)
    node.step()
    rows = runs(admin_db, fire)
    assert [(r.shard_index, r.shard_total, r.executor_address) for r in rows] == [(i, 3, recs[i].address) for i in range(3)]
    assert [(r.runs[0].shard_index, r.runs[0].shard_total, r.runs[0].block_strategy) for r in recs] == [(i, 3, "DISCARD_LATER") for i in range(3)]
    assert len({r.id for r in rows}) == 3 and {r.fire_at_ms for r in rows} == {T0}


def test_address_override_sends_only_there_if_it_is_a_live_executor_of_the_group(admin_db, receivers, make_scheduler):
    recs, job = three_receivers(admin_db, receivers)
    node = make_scheduler(admin_db)
    good = add_fire(admin_db, job, 1, address=recs[2].address + "/")
    bad = add_fire(admin_db, job, 2, address="http://169.254.169.254")
    node.step()
    assert len(recs[2].runs) == 1 and recs[0].runs == recs[1].runs == []
    assert runs(admin_db, good)[0].status == RunStatus.RUNNING
    [refused] = runs(admin_db, bad)
    assert (refused.status, refused.trigger_code, refused.followup_status) == (RunStatus.FAILED, 500, FollowupStatus.PENDING)
    assert refused.trigger_msg == "address override http://169.254.169.254 is not a live executor of group app"
    assert fire_status(admin_db, bad) == FireStatus.DONE


def test_no_live_executor_fails_one_row_with_a_clear_message(admin_db, receivers, make_scheduler):
    group = add_group(admin_db, "lonely", T0)  # AUTO, nobody registered
    job = add_job(admin_db, group, T0, route_strategy=RouteStrategy.SHARDING_BROADCAST)
    node = make_scheduler(admin_db)
    fire = add_fire(admin_db, job, 1)
    node.step()
    [row] = runs(admin_db, fire)
    assert (row.status, row.trigger_code, row.trigger_msg) == (RunStatus.FAILED, 500, "no live executor in group lonely")
    assert row.followup_status == FollowupStatus.PENDING and fire_status(admin_db, fire) == FireStatus.DONE


def test_auto_groups_route_to_executors_with_a_recent_heartbeat(admin_db, receivers, make_scheduler):
    alive, dead = receivers(), receivers()
    group = add_group(admin_db, "auto", T0)
    register(admin_db, "auto", alive.address, T0)
    register(admin_db, "auto", dead.address, T0 - 100_000)  # 100 s without a heartbeat
    job = add_job(admin_db, group, T0, route_strategy=RouteStrategy.SHARDING_BROADCAST)
    node = make_scheduler(admin_db)
    fire = add_fire(admin_db, job, 1)
    node.step()
    assert [(r.executor_address, r.shard_total) for r in runs(admin_db, fire)] == [(alive.address, 1)]
    assert dead.runs == []


def test_a_retry_of_one_shard_prefers_the_failed_runs_executor(admin_db, receivers, make_scheduler):
    recs, job = three_receivers(admin_db, receivers, route_strategy=RouteStrategy.SHARDING_BROADCAST, retry_count=3)
    node = make_scheduler(admin_db)
    with admin_db.session() as s:
        failed = RunLog(job_id=job, group_id=1, trigger_type=TriggerType.CRON, fire_at_ms=T0, trigger_at_ms=T0, executor_address=recs[2].address,
                        shard_index=0, shard_total=3, status=RunStatus.FAILED)
        s.add(failed)
        s.flush()
        failed_id = failed.id
    retry = add_fire(admin_db, job, failed_id, trigger_type=TriggerType.RETRY, shard_index=0, shard_total=3, attempt=1, param="again")
    node.step()
    [row] = runs(admin_db, retry)
    assert (row.executor_address, row.shard_index, row.shard_total, row.attempt, row.retry_remaining) == (recs[2].address, 0, 3, 1, 2)
    assert len(recs[2].runs) == 1 and row.trigger_type == TriggerType.RETRY


def test_a_fire_for_a_deleted_job_is_finished_without_runs(admin_db, receivers, make_scheduler):
    recs, job = three_receivers(admin_db, receivers)
    fire = add_fire(admin_db, job, 1)
    with admin_db.session() as s:
        s.delete(s.get(Job, job))
    make_scheduler(admin_db).step()
    assert runs(admin_db, fire) == [] and fire_status(admin_db, fire) == FireStatus.DONE


def test_a_refusal_is_recorded_with_the_executors_message(admin_db, receivers, make_scheduler):
    recs, job = three_receivers(admin_db, receivers)
    recs[0].busy_jobs.add(job)
    node = make_scheduler(admin_db)
    fire = add_fire(admin_db, job, 1)
    node.step()
    [row] = runs(admin_db, fire)
    assert (row.status, row.trigger_code, row.followup_status) == (RunStatus.FAILED, 500, FollowupStatus.PENDING)
    assert row.trigger_msg.startswith("block strategy effect: Discard Later")


def test_an_unreachable_executor_fails_the_run_with_the_transport_error(admin_db, receivers, make_scheduler):
    from tests.support.net import free_port

    group = add_group(admin_db, "app", T0, manual=[f"http://127.0.0.1:{free_port()}"])
    job = add_job(admin_db, group, T0)
    fire = add_fire(admin_db, job, 1)
    make_scheduler(admin_db).step()
    [row] = runs(admin_db, fire)
    assert row.status == RunStatus.FAILED and "unreachable" in row.trigger_msg


def test_more_fires_than_a_short_id_list_are_claimed_sent_and_recorded_like_a_few(admin_db, receivers, make_scheduler):
    """A claim of a few fires runs statements built once (their ids an expanding parameter); one
    of more than SHORT_LIST fires, jobs and answers writes the ids as literals (id_lists). Both
    claim every fire once, send it, record its answer and end it."""
    from shardcron.admin.firing.id_lists import SHORT_LIST

    rec = receivers()
    group = add_group(admin_db, "app", T0, manual=[rec.address])
    node = make_scheduler(admin_db)
    for count in (SHORT_LIST + 8, 3):
        jobs = [add_job(admin_db, group, T0, name=f"j{count}-{k}", param=f"p{count}-{k}") for k in range(count)]
        fires = [add_fire(admin_db, job, 1) for job in jobs]
        sent_before = len(rec.runs)
        node.step()
        assert sorted(r.params for r in rec.runs[sent_before:]) == sorted(f"p{count}-{k}" for k in range(count))
        for fire in fires:
            [row] = runs(admin_db, fire)
            assert (row.status, row.trigger_code) == (RunStatus.RUNNING, 200)
            assert fire_status(admin_db, fire) == FireStatus.DONE
