"""Operations on an instance, inside the caller's transaction: cancel / time out (stop), re-run,
skip a step. Each locks the instance first (step_rows.lock_instance).

Stopping: RUNNING/WAITING -> CANCELLED or TIMED_OUT; WAITING steps -> CANCELLED; FIRED steps ->
CANCELLED, their fires still waiting to be sent marked DONE, their active runs failed here (as
overlap TERMINATE_OTHER fails a run: no retry, no alarm) and returned as kills for the caller to
send (`send_kills`) once the transaction committed — HTTP never runs under the lock. A late
result of a killed run changes the run, never the ended instance. A run whose `/run` is still
on its way (PENDING, sent or about to be) is failed too and its kill sent if it names an
executor; the dispatcher does not look at the row again before sending, so such a run may still
start on its executor (it reports into a finished row).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import changed_rows
from ..enums import STEP_FINAL, WORKFLOW_FINAL, FireStatus, FollowupStatus, RunStatus, StepStatus, WorkflowStatus
from ..firing.id_lists import in_ids
from ..models import Fire, RunLog, Workflow, WorkflowInstance
from ..texts import Text, _t
from ..transport.executor_client import ExecutorClient
from . import graph
from .advance import end_instance, progress
from .instance_alarms import write_instance_alarms
from .step_fires import UPSTREAM_MAX_BYTES
from .step_rows import add_generation, current_steps, definition_of, end_move, lock_instance, move_steps

log = logging.getLogger("shardcron.admin.workflows")

#: What a run killed with its instance says (handle_code).
KILLED_CODE = 500


@dataclass(frozen=True)
class Kill:
    """A `/kill` to send after the commit: the executor running `run_id` of `job_id`."""

    address: str
    job_id: int
    run_id: int


def stop_instance(session: Session, instance_id: int, status: WorkflowStatus, message: str, now_ms: int, *, start_waiting: bool = True) -> list[Kill] | None:
    """End a RUNNING or WAITING instance as CANCELLED or TIMED_OUT (see the module docstring).
    Returns the kills to send, or None when the instance had ended already (nothing changed)."""
    instance = lock_instance(session, instance_id)
    if instance is None or instance.status not in (WorkflowStatus.RUNNING, WorkflowStatus.WAITING):
        return None
    rows = current_steps(session, instance_id)
    waiting = [row.id for row in rows.values() if row.status == StepStatus.WAITING]
    fired = [row.id for row in rows.values() if row.status == StepStatus.FIRED]
    move_steps(session, [end_move(i, StepStatus.CANCELLED, now_ms, message) for i in waiting], StepStatus.WAITING)
    move_steps(session, [end_move(i, StepStatus.CANCELLED, now_ms, message) for i in fired], StepStatus.FIRED)
    kills = _kill_runs(session, fired, f"killed: workflow instance {instance_id} {status.lower().replace('_', ' ')}", now_ms)
    if start_waiting:
        end_instance(session, instance, status, now_ms, message)
    else:
        t = WorkflowInstance.__table__.c
        session.execute(sa.update(WorkflowInstance.__table__).where(t.id == instance_id).values(status=status.value, finished_at_ms=now_ms, message=message[:512]))
        instance.status = status
        write_instance_alarms(session, instance_id, instance.workflow_id, status, now_ms)
    return kills


def _kill_runs(session: Session, step_ids: list[int], message: str, now_ms: int) -> list[Kill]:
    if not step_ids:
        return []
    fire_t, run_t = Fire.__table__.c, RunLog.__table__.c
    # Fires not sent yet (the step's, or a retry's): read through the claimable statuses' index.
    session.execute(
        sa.update(Fire.__table__)
        .where(fire_t.status.in_([FireStatus.PENDING.value, FireStatus.BUFFERED.value]), in_ids(fire_t.step_run_id, step_ids))
        .values(status=FireStatus.DONE.value, done_at_ms=now_ms, overlap_note=message[:255])
    )
    active = session.execute(
        sa.select(run_t.id, run_t.job_id, run_t.executor_address)
        .where(in_ids(run_t.step_run_id, step_ids), run_t.status.in_([RunStatus.PENDING.value, RunStatus.RUNNING.value]))
        .order_by(run_t.id)
    ).all()
    kills: list[Kill] = []
    for run_id, job_id, address in active:
        changed = changed_rows(session.execute(
            sa.update(RunLog.__table__)
            .where(run_t.id == run_id, run_t.status.in_([RunStatus.PENDING.value, RunStatus.RUNNING.value]))
            .values(status=RunStatus.FAILED.value, handle_code=KILLED_CODE, handle_msg=message, handle_at_ms=now_ms, followup_status=FollowupStatus.DONE.value)
        ))
        if changed and address:
            kills.append(Kill(address, job_id, run_id))
    return kills


def send_kills(client: ExecutorClient, kills: Iterable[Kill]) -> None:
    """Ask each executor to stop the killed runs' jobs (after the commit; failures are logged:
    the runs are failed already, a run that goes on reports into a finished row)."""
    for kill in kills:
        answer = client.kill(kill.address, kill.job_id)
        if not answer.ok:
            log.warning("run %d killed with its workflow instance; kill of job %d at %s failed: %s", kill.run_id, kill.job_id, kill.address, answer.msg)


class OperationRefused(Exception):
    """An operation the instance's state does not allow (the service turns it into a 409)."""

    def __init__(self, reason: Text, state: str) -> None:
        super().__init__(reason)
        self.reason = reason
        self.state = state


def rerun_instance(session: Session, instance_id: int, from_step: str | None, now_ms: int, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> list[str]:
    """Re-run an ended (FAILED, CANCELLED, TIMED_OUT) instance, or a RUNNING one from a step that
    ended: the steps of graph.steps_to_rerun get a new WAITING generation, the instance is RUNNING
    again, and the starting steps are fired whatever their inbound edges say. Returns the steps
    re-run. Raises KeyError for an unknown step, OperationRefused for a state that forbids it."""
    instance = lock_instance(session, instance_id)
    if instance is None:
        raise LookupError(instance_id)
    definition = definition_of(instance.definition_json)
    rows = current_steps(session, instance_id)
    states = {key: row.status for key, row in rows.items()}
    if instance.status in (WorkflowStatus.WAITING, WorkflowStatus.SKIPPED, WorkflowStatus.SUCCEEDED) and from_step is None:
        raise OperationRefused(_t("only a failed, cancelled or timed-out instance is re-run from its failed steps"), instance.status)
    if instance.status in (WorkflowStatus.WAITING, WorkflowStatus.SKIPPED):
        raise OperationRefused(_t("the instance never started"), instance.status)
    if from_step is None:
        start = graph.failed_steps(definition, states)
        if not start:
            raise OperationRefused(_t("no step failed or was cancelled"), instance.status)
    else:
        if from_step not in rows:
            raise KeyError(from_step)
        if states[from_step] not in STEP_FINAL:
            raise OperationRefused(_t("step %(key)s is %(state)s; cancel it or wait for it to end", key=repr(from_step), state=states[from_step]), states[from_step])
        start = [from_step]
    keys = graph.steps_to_rerun(definition, start)
    busy = [key for key in keys if states[key] == StepStatus.FIRED]
    if busy:
        raise OperationRefused(_t("step(s) %(keys)s after it still run; wait for them or cancel the instance", keys=", ".join(busy)), StepStatus.FIRED)
    waiting_now = [rows[key].id for key in keys if states[key] == StepStatus.WAITING]
    # Their current WAITING rows are superseded by the new generation.
    move_steps(session, [end_move(i, StepStatus.CANCELLED, now_ms, "superseded by a re-run") for i in waiting_now], StepStatus.WAITING)
    fresh = add_generation(session, instance_id, [(key, rows[key].generation + 1, rows[key].job_id) for key in keys], StepStatus.WAITING, now_ms)
    rows.update(fresh)
    _reopen(session, instance, now_ms)
    progress(session, instance, definition, rows, now_ms, upstream_max_bytes=upstream_max_bytes, forced=frozenset(start))
    return keys


def skip_step(session: Session, instance_id: int, step_key: str, now_ms: int, *, upstream_max_bytes: int = UPSTREAM_MAX_BYTES) -> None:
    """Mark a WAITING, FAILED, CANCELLED or NOT_RUN step SKIPPED (a new generation; it counts as
    succeeded), give the steps after it new WAITING generations, and go on. Raises KeyError for
    an unknown step, OperationRefused for a FIRED step (cancel or wait) or one that ended well."""
    instance = lock_instance(session, instance_id)
    if instance is None:
        raise LookupError(instance_id)
    if instance.status in (WorkflowStatus.WAITING, WorkflowStatus.SKIPPED):
        raise OperationRefused(_t("the instance never started"), instance.status)
    definition = definition_of(instance.definition_json)
    rows = current_steps(session, instance_id)
    if step_key not in rows:
        raise KeyError(step_key)
    state = rows[step_key].status
    if state == StepStatus.FIRED:
        raise OperationRefused(_t("step %(key)s is running; cancel or wait", key=repr(step_key)), state)
    if state not in (StepStatus.WAITING, StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.NOT_RUN):
        raise OperationRefused(_t("step %(key)s is %(state)s; only a waiting, failed, cancelled or not run step is skipped", key=repr(step_key), state=state), state)
    after = [key for key in graph.steps_to_rerun(definition, [step_key]) if key != step_key]
    busy = [key for key in after if rows[key].status == StepStatus.FIRED]
    if busy:
        raise OperationRefused(_t("step(s) %(keys)s after it still run; wait for them or cancel the instance", keys=", ".join(busy)), StepStatus.FIRED)
    waiting_now = [rows[key].id for key in [step_key, *after] if rows[key].status == StepStatus.WAITING]
    move_steps(session, [end_move(i, StepStatus.CANCELLED, now_ms, "superseded by a skip") for i in waiting_now], StepStatus.WAITING)
    rows.update(add_generation(session, instance_id, [(step_key, rows[step_key].generation + 1, rows[step_key].job_id)], StepStatus.SKIPPED, now_ms))
    rows.update(add_generation(session, instance_id, [(key, rows[key].generation + 1, rows[key].job_id) for key in after], StepStatus.WAITING, now_ms))
    _reopen(session, instance, now_ms)
    progress(session, instance, definition, rows, now_ms, upstream_max_bytes=upstream_max_bytes)


def _reopen(session: Session, instance: WorkflowInstance, now_ms: int) -> None:
    if instance.status == WorkflowStatus.RUNNING:
        return
    assert instance.status in WORKFLOW_FINAL
    t = WorkflowInstance.__table__.c
    # A timed-out instance re-run gets a new deadline: its old one has passed.
    timeout_s = session.execute(sa.select(Workflow.__table__.c.timeout_s).where(Workflow.__table__.c.id == instance.workflow_id)).scalar() or 0
    deadline = now_ms + timeout_s * 1000 if timeout_s > 0 else 0
    session.execute(
        sa.update(WorkflowInstance.__table__).where(t.id == instance.id)
        .values(status=WorkflowStatus.RUNNING.value, finished_at_ms=None, message=None, deadline_at_ms=deadline)
    )
    instance.deadline_at_ms = deadline
    instance.status, instance.finished_at_ms, instance.message = WorkflowStatus.RUNNING, None, None
