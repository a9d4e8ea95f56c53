"""Overlap policies: what a fire does while a run of its job is active anywhere in the cluster.

Decided in the claim transaction (RunStore.prepare_in), so exactly once across scheduler nodes:

- The rows of the batch's jobs whose policy is not ALLOW_ALL are locked (`FOR UPDATE`, in id
  order; SQLite has one writer anyway). Every node that starts a run of such a job holds that
  lock while it decides and writes the run row, so two nodes never both find the job idle.
- One query reads the active runs of those jobs (PENDING or RUNNING, through the
  `ix_run_status_time` index: the rows scanned are the cluster's active runs, not the jobs'
  history), one more the fires already waiting (BUFFERED, through `ix_fire_claimable`). Jobs
  with ALLOW_ALL cost nothing: no lock, no query.

"Active" ends when the run row does: the executor's callback, a kill, the run timeout monitor
(`timeout_s`) or lost-run detection (its executor vanished) all finish the row, so a lost or
hung run blocks its job no longer than those bounds. UNKNOWN runs (their executor may never
have got them) do not count as active.

A fire planned after now (claimed within the lookahead) that meets an active run is not decided
yet: it waits (BUFFERED) and is decided at its planned time, when the run may have ended. A fire
that waits is unowned; the fire loop claims due waiting fires on every tick
(FireStore._claim_waiting) and decides again.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import FireStatus, FollowupStatus, OverlapPolicy, RunStatus
from ..models import Fire, Job, RunLog
from .fire_store import ClaimedFire
from .id_lists import in_ids

#: A run row that is active: it holds its job (overlap policies) and a slot of its group's and
#: job's caps (firing.caps) until the callback, a kill, the run timeout or lost-run detection
#: finishes it. Read through `ix_run_status_time`: the rows scanned are the cluster's active runs.
ACTIVE_RUN: sa.ColumnElement[bool] = RunLog.__table__.c.status.in_([RunStatus.PENDING.value, RunStatus.RUNNING.value])

#: What a terminated run's row says (TERMINATE_OTHER).
TERMINATED_CODE = 500
#: How the note of a fire whose CANCEL_OTHER kill went out begins (the next look sends no other).
KILL_SENT = "waits: kill of run "


class Verdict(enum.Enum):
    START = "start"
    SKIP = "skip"  # the fire ends without a run
    WAIT = "wait"  # the fire waits (BUFFERED) and is decided again


@dataclass(frozen=True)
class Decision:
    verdict: Verdict
    #: Recorded on the fire (sc_fire.overlap_note); None: nothing worth recording (no overlap).
    note: str | None = None
    #: Active RUNNING runs to stop: (run id, executor address) — killed (CANCEL_OTHER), or failed
    #: and killed (TERMINATE_OTHER).
    kill: tuple[tuple[int, str | None], ...] = ()
    terminate: bool = False


@dataclass(slots=True)
class ActiveRun:
    id: int
    status: RunStatus
    address: str | None


@dataclass
class JobOverlap:
    """What is known of one job in this batch."""

    active: list[ActiveRun] = field(default_factory=list)
    #: Fires of the job that wait (BUFFERED rows not claimed in this batch, plus those this batch
    #: left waiting).
    waiting: int = 0
    #: A fire of this batch that started a run (its run row is written in this transaction).
    started_fire: int | None = None


def decide(policy: OverlapPolicy, fire: ClaimedFire, state: JobOverlap, now_ms: int, *, kill_sent: bool = False) -> Decision:
    """The decision for `fire` of a job with `policy` given `state`; `kill_sent`: an earlier
    look at this fire sent the kill (CANCEL_OTHER). Pure."""
    if policy == OverlapPolicy.ALLOW_ALL:
        return Decision(Verdict.START)
    started = state.started_fire
    if started is not None and fire.fire_at_ms > now_ms:
        # An earlier fire of the batch starts a run; this one is planned after it: decide at its time.
        return Decision(Verdict.WAIT, f"waits: fire {started} of the job starts before it ({policy})")
    blocked = bool(state.active) or started is not None
    # Fires that waited and are due now are all in this batch: what still waits is planned later.
    waits_already = state.waiting > 0 and not fire.from_waiting and policy in (OverlapPolicy.BUFFER_ONE, OverlapPolicy.BUFFER_ALL, OverlapPolicy.CANCEL_OTHER)
    if not blocked and not waits_already:
        return Decision(Verdict.START, f"started: no run was active ({policy})" if fire.from_waiting else None)
    if blocked and fire.fire_at_ms > now_ms:
        return Decision(Verdict.WAIT, f"waits for its time: {_active(state)} is active ({policy})")
    cause = f"{_active(state)} was active" if blocked else f"{state.waiting} fire(s) wait before it"
    while_active = f", {_active(state)} active" if blocked else ""
    if policy == OverlapPolicy.SKIP:
        return Decision(Verdict.SKIP, f"skipped: {cause} (SKIP)")
    if policy == OverlapPolicy.BUFFER_ONE:
        if state.waiting > 0 and not fire.from_waiting:
            return Decision(Verdict.SKIP, f"skipped: another fire already waits (BUFFER_ONE{while_active})")
        return Decision(Verdict.WAIT, f"buffered: {cause} (BUFFER_ONE)")
    if policy == OverlapPolicy.BUFFER_ALL:
        return Decision(Verdict.WAIT, f"buffered: {cause} (BUFFER_ALL)")
    running = tuple((run.id, run.address) for run in state.active if run.status == RunStatus.RUNNING)
    ids = ", ".join(str(run_id) for run_id, _ in running)
    if policy == OverlapPolicy.CANCEL_OTHER:
        if state.waiting > 0 and not fire.from_waiting:
            return Decision(Verdict.SKIP, f"skipped: another fire already waits for the cancelled run (CANCEL_OTHER{while_active})")
        # The kill goes out once, at the first look that finds the run RUNNING; later looks only
        # wait for the run's end (the note keeps saying the kill was sent).
        if kill_sent or running:
            return Decision(Verdict.WAIT, f"{KILL_SENT}{ids or 'earlier'} sent (CANCEL_OTHER)", () if kill_sent else running)
        return Decision(Verdict.WAIT, f"waits: {cause} (CANCEL_OTHER)")
    # TERMINATE_OTHER: RUNNING runs are failed and killed at once. A PENDING one (its /run not
    # answered yet, or written by this batch) cannot be: its answer would be recorded after the
    # termination. The fire waits for it to be answered, and decides again.
    if started is not None or len(running) < len(state.active):
        pending = f"the run of fire {started}" if started is not None else f"run {next(r.id for r in state.active if r.status != RunStatus.RUNNING)}"
        return Decision(Verdict.WAIT, f"waits: {pending} is being sent (TERMINATE_OTHER)")
    if not running:
        return Decision(Verdict.WAIT, f"waits: {cause} (TERMINATE_OTHER)")
    return Decision(Verdict.START, f"started after terminating run {ids} (TERMINATE_OTHER)", running, terminate=True)


def _active(state: JobOverlap) -> str:
    """The active run a note names: the oldest active run, or the one this batch starts."""
    if state.active:
        return f"run {state.active[0].id}"
    return f"the run of fire {state.started_fire}"


class OverlapBatch:
    """The overlap state of one claim's jobs that have a policy (see the module's docstring)."""

    def __init__(self, jobs: dict[int, JobOverlap], earlier_notes: dict[int, str | None] | None = None) -> None:
        self.jobs = jobs
        #: The notes of fires that waited, as the last look at them left them.
        self.earlier_notes = earlier_notes or {}
        self.notes: dict[int, str] = {}
        self.waiting: list[int] = []
        self.terminated: list[tuple[int, str]] = []  # (run id, message)
        self.kills: list[tuple[str, int, int]] = []  # (address, job id, run id)

    @classmethod
    def load(cls, session: Session, job_ids: Iterable[int], rechecked: list[int], *, locking: bool) -> OverlapBatch:
        """`rechecked`: the batch's fires that waited (their earlier notes are read). `locking`
        False: the caller locked the job rows already (with a cap's, firing.caps.lock_rows)."""
        ids = sorted(set(job_ids))
        job_t, run_t, fire_t = Job.__table__.c, RunLog.__table__.c, Fire.__table__.c
        if locking:
            # The decision's lock (see above), in id order so that two nodes lock alike.
            session.execute(sa.select(job_t.id).where(in_ids(job_t.id, ids)).order_by(job_t.id).with_for_update())
        jobs = {job_id: JobOverlap() for job_id in ids}
        active = session.execute(
            sa.select(run_t.job_id, run_t.id, run_t.status, run_t.executor_address)
            .where(ACTIVE_RUN, in_ids(run_t.job_id, ids))
            .order_by(run_t.id)
        )
        for job_id, run_id, status, address in active:
            jobs[job_id].active.append(ActiveRun(run_id, RunStatus(status), address))
        waiting = session.execute(
            sa.select(fire_t.job_id, sa.func.count()).where(fire_t.status == FireStatus.BUFFERED.value, in_ids(fire_t.job_id, ids)).group_by(fire_t.job_id)
        )
        for job_id, count in waiting:
            jobs[job_id].waiting = count
        notes: dict[int, str | None] = {}
        if rechecked:
            notes = {fire_id: note for fire_id, note in session.execute(sa.select(fire_t.id, fire_t.overlap_note).where(in_ids(fire_t.id, rechecked)))}
        return cls(jobs, notes)

    def decide(self, policy: OverlapPolicy, fire: ClaimedFire, job_id: int, now_ms: int) -> Verdict:
        """Decide for `fire` and note what follows from it (fire notes, waits, terminations, kills)."""
        state = self.jobs[job_id]
        kill_sent = (self.earlier_notes.get(fire.id) or "").startswith(KILL_SENT)
        decision = decide(policy, fire, state, now_ms, kill_sent=kill_sent)
        if decision.note is not None:
            self.notes[fire.id] = decision.note
        if decision.verdict is Verdict.WAIT:
            self.waiting.append(fire.id)
            state.waiting += 1
        for run_id, address in decision.kill:
            if address:
                self.kills.append((address, job_id, run_id))
            if decision.terminate:
                self.terminated.append((run_id, f"terminated by fire {fire.id} of the job (overlap policy TERMINATE_OTHER)"))
        if decision.terminate:
            state.active = []
        if decision.verdict is Verdict.START:
            state.started_fire = fire.id
        return decision.verdict

    def write(self, session: Session, now_ms: int) -> None:
        """Record the batch's decisions in the claim transaction: waiting fires go back unowned,
        terminated runs are failed (no retry, no alarm: the policy replaced them), notes kept."""
        fire_t, run_t = Fire.__table__.c, RunLog.__table__.c
        if self.waiting:
            session.execute(sa.update(Fire.__table__).where(in_ids(fire_t.id, self.waiting)).values(status=FireStatus.BUFFERED, owner=None))
        for run_id, msg in self.terminated:
            session.execute(
                sa.update(RunLog.__table__)
                .where(run_t.id == run_id, run_t.status == RunStatus.RUNNING.value)
                .values(status=RunStatus.FAILED, handle_code=TERMINATED_CODE, handle_msg=msg, handle_at_ms=now_ms, followup_status=FollowupStatus.DONE)
            )
        by_note: dict[str, list[int]] = {}
        for fire_id, note in self.notes.items():
            by_note.setdefault(note[:255], []).append(fire_id)
        for note, ids in by_note.items():
            session.execute(sa.update(Fire.__table__).where(in_ids(fire_t.id, ids)).values(overlap_note=note))
