"""Fires that resume from a run's checkpoint send it as `resumeFrom` (shardcron's extension key)
and start their run rows with it; fires whose run saved none start fresh."""

from __future__ import annotations

import json

from shardcron.admin.enums import RunStatus, TriggerType
from shardcron.admin.models import RunLog
from tests.admin.firing.test_manual_fires import T0, add_fire, runs
from tests.support.scheduler_rows import add_group, add_job


def _failed_run(db, job, checkpoint: dict | None, seq: int = 3) -> int:
    with db.session() as s:
        run = RunLog(job_id=job, group_id=1, trigger_type=TriggerType.CRON, fire_at_ms=T0, trigger_at_ms=T0, status=RunStatus.FAILED,
                     checkpoint_json=None if checkpoint is None else json.dumps(checkpoint), checkpoint_seq=seq if checkpoint else 0)
        s.add(run)
        s.flush()
        return run.id


def test_a_retry_and_a_manual_fire_resume_from_the_runs_checkpoint(admin_db, receivers, make_scheduler):
    rec = receivers()
    job = add_job(admin_db, add_group(admin_db, "app", T0, manual=[rec.address]), T0, retry_count=2)
    node = make_scheduler(admin_db)
    saved = _failed_run(admin_db, job, {"next": 5000, "note": "ü"})
    retry = add_fire(admin_db, job, saved, trigger_type=TriggerType.RETRY, attempt=1, resume_from_run_id=saved)
    manual = add_fire(admin_db, job, 77, resume_from_run_id=saved)
    fresh = add_fire(admin_db, job, 78)
    node.step()
    got = {r.log_id: r for r in rec.runs}
    for fire in (retry, manual):
        [row] = runs(admin_db, fire)
        assert (got[row.id].resume_from, got[row.id].resume_from_log_id) == ({"next": 5000, "note": "ü"}, saved)
        assert (row.resume_from_run_id, json.loads(row.checkpoint_json), row.checkpoint_seq) == (saved, {"next": 5000, "note": "ü"}, 0)
    [row] = runs(admin_db, fresh)
    assert (got[row.id].resume_from, got[row.id].resume_from_log_id, row.resume_from_run_id, row.checkpoint_json) == (None, None, None, None)


def test_a_fire_whose_run_saved_no_checkpoint_starts_fresh(admin_db, receivers, make_scheduler):
    rec = receivers()
    job = add_job(admin_db, add_group(admin_db, "app", T0, manual=[rec.address]), T0)
    node = make_scheduler(admin_db)
    nothing = _failed_run(admin_db, job, None)
    fire = add_fire(admin_db, job, nothing, trigger_type=TriggerType.RETRY, attempt=1, resume_from_run_id=nothing)
    node.step()
    [row] = runs(admin_db, fire)
    assert (rec.runs[0].resume_from_log_id, row.resume_from_run_id) == (None, None)


def test_a_retry_of_a_resumed_run_that_saved_nothing_resumes_from_the_same_checkpoint(admin_db, receivers, make_scheduler):
    rec = receivers()
    job = add_job(admin_db, add_group(admin_db, "app", T0, manual=[rec.address]), T0, retry_count=3)
    node = make_scheduler(admin_db)
    first = _failed_run(admin_db, job, {"next": 10})
    second_fire = add_fire(admin_db, job, first, trigger_type=TriggerType.RETRY, attempt=1, resume_from_run_id=first)
    node.step()
    [second] = runs(admin_db, second_fire)
    with admin_db.session() as s:
        s.get(RunLog, second.id).status = RunStatus.FAILED  # failed before its first checkpoint
    third_fire = add_fire(admin_db, job, second.id, trigger_type=TriggerType.RETRY, attempt=2, resume_from_run_id=second.id)
    node.step()
    [third] = runs(admin_db, third_fire)
    assert (third.status, third.trigger_msg) == (RunStatus.RUNNING, None), third.trigger_msg
    assert [(r.resume_from, r.resume_from_log_id) for r in rec.runs] == [({"next": 10}, first), ({"next": 10}, second.id)]
    assert third.resume_from_run_id == second.id
