"""Repair now: re-run at once, by hand, a run whose executor is lost, resuming from its checkpoint.

Lost-run detection (monitors/lost_runs.py) fails such a run only after `lost_run_after_s`, and its
retry follows after the job's backoff. "Repair now" does both at once for one RUNNING run whose
executor is gone: not a live executor of its group any more, not answering `/beat`, or answering
that it no longer runs the job (`/idleBeat` idle: it restarted). A run still alive is refused
with the reason (409), and so is a run that is not RUNNING: a PENDING one is still being
delivered by the scheduler, an UNKNOWN one belongs to a job that delivers at most once.

"Idle" alone cannot tell a restarted executor from one that has just finished the run and holds
its result in its callback spool (re-sent every 10-30 s until an admin accepts it): re-running
then would run finished work twice. So after an idle answer the executor is asked about the
run's logId (`/log`): a shardcron executor answers `resultPending`, and a run whose result is on
its way is refused (409) until it arrives. XXL-JOB's executors (Java, pyxxl) do not say; for
them an idle answer is taken as lost, as before.

The claim is one conditional UPDATE (`status = RUNNING` -> FAILED, follow-up DONE), the same guard
the monitor's UPDATE has: whichever commits first wins and the other changes nothing, so the two
paths never both start a re-run. The winner here records, in the same transaction, a MANUAL fire
of the same job (the same shard of a broadcast) that resumes from the run's checkpoint and keeps
its planned time (the logDateTime it was sent with), and the audit entry. A result that was still on its way when the run was repaired
(from an executor that does not say so) is ignored (the run has finished), as for any lost run.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

import sqlalchemy as sa

from ..db import Database, changed_rows
from ..enums import AuditAction, AuditTarget, FireStatus, FollowupStatus, RouteStrategy, RunStatus, TriggerType
from ..models import Fire, Job, RunLog
from ..transport.executor_client import ExecutorClient
from . import audit
from .actor import Actor
from .errors import Conflict
from .runs import RunTarget, run_target
from ..texts import Text, _t

REPAIR_CODE = 500


@dataclass(frozen=True)
class RepairResult:
    run_id: int
    #: The fire of the re-run (follow it with GET /api/v1/fires/{id}).
    fire_id: int
    #: Whether the re-run resumes from a checkpoint (False: the run saved none, it starts fresh).
    resumes: bool
    message: Text


def lost_reason(client: ExecutorClient, target: RunTarget) -> Text | None:
    """Why the run's executor is lost, or None while it is alive and running the job. Calls the
    executor (outside any transaction). Raises Conflict when the executor says the run ended and
    its result is on its way."""
    address, job_id = target.address, target.job_id
    if not address:
        return _t("it names no executor")
    if not target.live:
        return _t("executor %(address)s is not a live executor of group %(group)s", address=address, group=target.app_name)
    if not client.beat(address).ok:
        return _t("executor %(address)s does not answer /beat", address=address)
    if not client.idle_beat(address, job_id).ok:
        return None
    # Asked after /idleBeat, never before: a run that ends in between has its result pending by
    # the time it reads idle (the executor spools a result before its worker lets go of the run).
    if client.result_pending(address, target.log_date_ms, target.run_id):
        raise Conflict(
            _t("run %(run)s has ended: its result is on its way from executor %(address)s; wait for it (repair now would run it again)", run=target.run_id, address=address),
            object_id=target.run_id,
        )
    return _t("executor %(address)s no longer runs job %(job)s (it restarted or dropped the run)", address=address, job=job_id)


def repair_run(db: Database, actor: Actor, run_id: int, client: ExecutorClient, *, now_ms: int) -> RepairResult:
    target = run_target(db, actor, run_id, now_ms)
    if target.status != RunStatus.RUNNING:
        why = {
            RunStatus.PENDING: _t("its trigger is not acknowledged yet (the scheduler is still delivering it)"),
            RunStatus.UNKNOWN: _t("whether its executor got it is unknown, and the job delivers at most once"),
        }.get(target.status, _t("it has finished"))
        raise Conflict(_t("run %(run)s is %(status)s, not RUNNING: %(why)s; repair now is for a running run whose executor is lost", run=run_id, status=target.status.value, why=why), object_id=run_id)
    reason = lost_reason(client, target)
    if reason is None:
        raise Conflict(
            _t("run %(run)s is still alive: executor %(address)s answers /beat and is running job %(job)s; kill it first, or wait for it", run=run_id, address=target.address, job=target.job_id),
            object_id=run_id,
        )
    msg = f"lost: repaired by hand ({reason})"
    with db.session() as session:
        claimed = changed_rows(session.execute(
            sa.update(RunLog)
            .where(RunLog.id == run_id, RunLog.status == RunStatus.RUNNING)
            # Follow-up DONE: this repair is the run's follow-up; no retry fire is added for it.
            .values(status=RunStatus.FAILED, handle_code=REPAIR_CODE, handle_msg=msg, handle_at_ms=now_ms, followup_status=FollowupStatus.DONE)
        ))
        if not claimed:
            raise Conflict(_t("run %(run)s finished meanwhile (its result arrived, or lost-run detection failed it first); nothing was repaired", run=run_id), object_id=run_id)
        run = session.get_one(RunLog, run_id)
        job = session.get(Job, run.job_id)
        if job is None:
            raise Conflict(_t("run %(run)s: job %(job)s was deleted; nothing to re-run", run=run_id, job=run.job_id), object_id=run_id)
        broadcast = job.route_strategy == RouteStrategy.SHARDING_BROADCAST
        fire = Fire(
            job_id=job.id,
            fire_at_ms=now_ms,
            trigger_type=TriggerType.MANUAL,
            origin_ref=secrets.randbelow(2**62) + 1,
            status=FireStatus.PENDING,
            lease_until_ms=0,
            param=run.param,
            shard_index=run.shard_index if broadcast else None,
            shard_total=run.shard_total if broadcast else None,
            address=None,
            attempt=run.attempt,  # a repair by hand uses none of the job's retries
            created_at_ms=now_ms,
            resume_from_run_id=run.id,
            planned_at_ms=run.log_date_ms,
        )
        session.add(fire)
        session.flush()
        resumes = run.checkpoint_json is not None
        audit.record(
            session, actor, AuditAction.JOB_TRIGGER, AuditTarget.JOB, target_id=job.id, target_name=job.name, group_id=job.group_id,
            before={"run_id": run.id, "status": RunStatus.RUNNING},
            after={"fire_id": fire.id, "trigger_type": TriggerType.MANUAL, "repair_of_run_id": run.id, "reason": reason,
                   "resume_from_run_id": run.id if resumes else None, "shard_index": fire.shard_index, "shard_total": fire.shard_total},
            now_ms=now_ms,
        )  # fmt: skip
        fire_id = fire.id
    if resumes:
        message = _t("run %(run)s marked failed (%(reason)s); re-run as fire %(fire)s, resuming from its checkpoint #%(seq)s", run=run_id, reason=reason, fire=fire_id, seq=run.checkpoint_seq)
    else:
        message = _t("run %(run)s marked failed (%(reason)s); re-run as fire %(fire)s, starting fresh (it saved no checkpoint)", run=run_id, reason=reason, fire=fire_id)
    return RepairResult(run_id, fire_id, resumes, message)
