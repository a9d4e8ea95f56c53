"""The dispatcher's store: run rows written before `/run`, answers recorded after it.

Exactly-once rule (docs/scheduling.md, "Fire loop and exactly-once"):

- `prepare_in` runs inside the fire loop's claim transaction (FireStore.claim_then), on fires
  claimed and locked there: it writes their run rows (status PENDING; the row id is the wire
  logId) — or, for a fire adopted from an ended lease term that had written them already, reads
  the rows still PENDING. Claims and rows commit together or not at all, and nothing is sent
  before the commit, so a fire has exactly one set of run rows, whoever dispatches it.
- An adopted row planned before the ended term's send horizon may have been sent: its send is
  marked `settle`, and the dispatcher asks the executor about that logId before sending it again.
- `record` runs one transaction for a batch of answers, under a share lock on the lease row of
  each answer's term: answers of a term another node has adopted are not written (the adopter
  settles those rows itself). Each row moves PENDING -> RUNNING (trigger_code 200), FAILED (500,
  followup PENDING) or UNKNOWN (not re-sent, followup PENDING for the alarm), guarded by its
  trigger code; a fire whose rows have all been answered becomes DONE.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, NamedTuple

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import Database
from ..enums import AddressType, CapPolicy, Delivery, FireStatus, FollowupStatus, OverlapPolicy, RouteStrategy, RunStatus, TriggerType
from ..models import ExecutorGroup, Fire, Job, RunLog, SchedulerLease, WorkflowStepRun, log_date_ms
from ..registry_view import live_addresses
from ..schedules.jitter import jitter_ms
from ..schedules.routing import RouteState
from .backfill_advance import backfill_overlap_policies
from .bulk_insert import insert_values_returning_ids
from .caps import CapBatch, lock_rows
from .fire_store import ClaimedFire, retry_on_deadlock
from .id_lists import execute_for_ids, in_ids
from .node_lease import LeaseTerm
from .overlap import OverlapBatch, Verdict
from .run_body import RunBody, resume_suffix, upstream_suffix
from .trigger_plan import JobFacts, PlannedRun, plan_runs

log = logging.getLogger("shardcron.admin.scheduling")

#: The trigger types of scheduled fires: the ones a stopped job drops and a job's jitter delays.
_SCHEDULED = (TriggerType.CRON, TriggerType.MISFIRE)

# Slots, not frozen (read-only by convention): built per fire on the hot path (docs/benchmarks.md).
@dataclass(slots=True)
class Send:
    """One `/run` to make under lease term `term`. `probe`: FAILOVER/BUSYOVER, choose among
    `candidates` first. `settle`: it may have been sent already (by an ended term, or by this one
    when its answer never came): ask the executor before sending it again."""

    fire_id: int
    run_id: int
    fire_at_ms: int
    address: str | None
    job_id: int
    shard_index: int
    shard_total: int
    #: The `/run` body, encoded when the run row was written (run_body).
    body: bytes
    term: LeaseTerm
    delivery: Delivery = Delivery.AT_MOST_ONCE
    probe: bool = False
    strategy: RouteStrategy = RouteStrategy.FIRST
    candidates: tuple[str, ...] = ()
    trace: str = ""
    settle: bool = False
    #: How often the executor was asked about this send (settle.SETTLE_ROUNDS bounds it).
    asked: int = 0
    #: The job's jitter for this planned time (schedules.jitter): the send goes out at
    #: `fire_at_ms + delay_ms`; the run keeps `fire_at_ms` as its trigger time.
    delay_ms: int = 0
    #: A re-run's planned time (RunLog.planned_at_ms), the logDateTime its body carries; None:
    #: fire_at_ms. When the send goes out, and whether it is settled, follow fire_at_ms alone.
    planned_at_ms: int | None = None

    @property
    def send_at_ms(self) -> int:
        """When the `/run` goes out: the planned time plus the job's jitter."""
        return self.fire_at_ms + self.delay_ms

    @property
    def log_date_ms(self) -> int:
        """The logDateTime the `/run` carries, and so the one a `/log` about it must pass."""
        return log_date_ms(self.fire_at_ms, self.planned_at_ms)

    def log_fields(self) -> dict:
        """What a log line about this send says of it."""
        return {"job_id": self.job_id, "log_id": self.run_id, "shard": f"{self.shard_index}/{self.shard_total}", "fire_id": self.fire_id}


# Slots, not frozen (read-only by convention): built per fire on the hot path (docs/benchmarks.md).
@dataclass(slots=True)
class Answer:
    """How `/run` went, for the send's lease term `owner`. `msg` is kept as trigger_msg (empty:
    nothing worth keeping — a plain acceptance); `address` is the executor a probe chose (None:
    the row already names it). `unknown`: whether the executor got it cannot be known, and it is
    not sent again (the run becomes UNKNOWN)."""

    fire_id: int
    run_id: int
    accepted: bool
    msg: str
    address: str | None = None
    owner: str = ""
    unknown: bool = False


@dataclass
class Prepared:
    sends: list[Send] = field(default_factory=list)
    #: Fires finished in the same transaction (all rows failed at once, job gone, job stopped).
    done: list[int] = field(default_factory=list)
    #: Fires whose run rows were written now (not re-sends), for the fires metric and logs.
    fired: list[ClaimedFire] = field(default_factory=list)
    #: Run rows that failed at planning: (fire, run id, shard "i/n", reason message).
    failed: list[tuple[ClaimedFire, int, str, str]] = field(default_factory=list)
    #: The lease term the fires were claimed under (set by the dispatcher).
    term: LeaseTerm | None = None
    #: Kills the fires' overlap policies asked for, sent before the sends: (address, job id, run id).
    kills: list[tuple[str, int, int]] = field(default_factory=list)
    #: Workflow step runs whose fire ended here without a run to report it (skipped by its job's
    #: overlap policy or a cap, job gone): their instances are advanced after the commit.
    ended_steps: list[int] = field(default_factory=list)


#: What preparing a fire reads of its job (in _Job's field order) and of its job's group (in
#: _Group's), in one query: plain rows from a Core select on the table columns, not ORM objects
#: (whose construction cost more than the rest of preparing a fire) and not the ORM's row loading.
_JOB_COLUMNS = (
    "id", "group_id", "enabled", "handler", "param", "route_strategy", "block_strategy", "timeout_s",
    "retry_count", "glue_type", "glue_source", "glue_updated_at_ms", "delivery", "overlap_policy", "jitter_s",
    "cap_runs",
)
_GROUP_COLUMNS = ("id", "app_name", "address_type", "manual_addresses", "cap_runs", "cap_policy", "cap_wait_s")
_JOB_AND_GROUP_FACTS = sa.select(
    *(Job.__table__.c[name] for name in _JOB_COLUMNS),
    *(ExecutorGroup.__table__.c[name].label(f"group_{name}") for name in _GROUP_COLUMNS),
).select_from(Job.__table__.outerjoin(ExecutorGroup.__table__, ExecutorGroup.__table__.c.id == Job.__table__.c.group_id))


# Statements of the claim and of the answers' transaction, given their ids' clause
# (id_lists.execute_for_ids builds each once for short lists).
def _jobs_where(ids: sa.ColumnElement[bool]) -> sa.Select:
    return _JOB_AND_GROUP_FACTS.where(ids)


def _upstreams_where(ids: sa.ColumnElement[bool]) -> sa.Select:
    step_t = WorkflowStepRun.__table__.c
    return sa.select(step_t.id, step_t.upstream_json).where(ids, step_t.upstream_json.is_not(None))


def _fires_done_where(ids: sa.ColumnElement[bool]) -> sa.Update:
    fire_t = Fire.__table__.c
    return (
        sa.update(Fire.__table__)
        .where(ids, fire_t.status == FireStatus.CLAIMED, fire_t.owner == sa.bindparam("b_owner"))
        .values(status=FireStatus.DONE, done_at_ms=sa.bindparam("now_ms"))
    )


_UNANSWERED = sa.or_(*(RunLog.__table__.c.status == status for status in (RunStatus.PENDING.value, RunStatus.UNKNOWN.value)))


def _accepted_where(ids: sa.ColumnElement[bool]) -> sa.Update:
    run_t = RunLog.__table__.c
    return (
        sa.update(RunLog.__table__)
        .where(ids, run_t.trigger_code == 0)
        .values(trigger_code=200, status=sa.case((_UNANSWERED, RunStatus.RUNNING.value), else_=run_t.status))
    )


_LIVE_TERMS = sa.select(SchedulerLease.__table__.c.owner).where(SchedulerLease.__table__.c.owner.in_(sa.bindparam("owners", expanding=True)))
_LIVE_TERMS_LOCKED = _LIVE_TERMS.with_for_update(read=True)


class _Group(NamedTuple):
    """A job's group as preparing its fires reads it (what registry_view.live_addresses and the
    caps read of an ExecutorGroup)."""

    id: int
    app_name: str
    address_type: AddressType
    manual_addresses: str | None
    cap_runs: int | None
    cap_policy: CapPolicy
    cap_wait_s: int


class _Job:
    """A job as preparing its fires reads it, once per batch: a slot is read in a tenth of the
    time a result row's attribute takes, and a fire reads a dozen."""

    __slots__ = (
        "id", "group_id", "enabled", "handler", "param", "route_strategy", "block_strategy", "timeout_s", "retry_count",
        "glue_type", "glue_source", "glue_updated_at_ms", "delivery", "overlap_policy", "jitter_s", "cap_runs", "facts", "body",
    )

    def __init__(
        self, id: int, group_id: int, enabled: bool, handler: str, param: str | None, route_strategy: RouteStrategy, block_strategy: str,
        timeout_s: int, retry_count: int, glue_type: str, glue_source: str | None, glue_updated_at_ms: int, delivery: Delivery,
        overlap_policy: OverlapPolicy, jitter_s: int, cap_runs: int | None,
    ) -> None:
        self.id, self.group_id, self.enabled, self.handler, self.param = id, group_id, enabled, handler, param
        self.route_strategy, self.block_strategy, self.timeout_s, self.retry_count = route_strategy, block_strategy, timeout_s, retry_count
        self.glue_type, self.glue_source, self.glue_updated_at_ms, self.delivery = glue_type, glue_source, glue_updated_at_ms, delivery
        self.overlap_policy, self.jitter_s, self.cap_runs = overlap_policy, jitter_s, cap_runs
        self.facts: JobFacts | None = None  # set once its group is known
        self.body: RunBody | None = None  # the /run bodies of its new rows (the job's handler)


#: The columns of a run row as prepare_in writes it (RunStore._row's order).
_RUN_COLUMNS = [
    "job_id", "group_id", "fire_id", "trigger_type", "fire_at_ms", "trigger_at_ms", "executor_address", "handler", "param",
    "shard_index", "shard_total", "attempt", "retry_remaining", "status", "trigger_code", "trigger_msg", "followup_status",
    "planned_at_ms", "step_run_id",
]


#: Fires that may resume from a checkpoint (sc_fire.resume_from_run_id).
_RESUMABLE = (TriggerType.RETRY, TriggerType.MANUAL, TriggerType.API)


def run_body(job: _Job, handler: str) -> RunBody:
    return RunBody(job.id, handler, job.block_strategy, job.timeout_s, job.glue_type, job.glue_source, job.glue_updated_at_ms)


class RunStore:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._locking = db.dialect != "sqlite"

    # ------------------------------------------------------------------ before /run

    def prepare_in(self, session: Session, fires: list[ClaimedFire], now_ms: int, state: RouteState, term: LeaseTerm) -> Prepared:
        """Write the run rows of `fires` in the transaction that claimed them under `term`
        (FireStore.claim_then): they are locked and certainly the term's, and the claims and the
        rows commit together."""
        out = Prepared()
        if not fires:
            return out
        fire_t, run_t = Fire.__table__.c, RunLog.__table__.c
        existing: dict[int, list[RunLog]] = {}
        maybe_sent = [f.id for f in fires if f.may_have_runs]
        if maybe_sent:
            for run in session.execute(sa.select(RunLog).where(in_ids(run_t.fire_id, maybe_sent))).scalars():
                if run.fire_id is not None:  # always, by the query
                    existing.setdefault(run.fire_id, []).append(run)
        jobs: dict[int, _Job] = {}
        groups: dict[int, Any] = {}  # _Group: all live_addresses reads of an ExecutorGroup
        split = len(_JOB_COLUMNS)
        for row in execute_for_ids(session, _jobs_where, Job.__table__.c.id, {f.job_id for f in fires}):
            jobs[row[0]] = _Job(*row[:split])
            if row[split] is not None and row[split] not in groups:
                groups[row[split]] = _Group(*row[split:])
        live_cache: dict[int, list[str]] = {}

        def live_of(job: _Job) -> list[str]:
            live = live_cache.get(job.group_id)
            if live is None:
                live = live_cache[job.group_id] = live_addresses(session, groups[job.group_id], now_ms)
            return live

        # Overlap policies and caps: nothing at all unless a job or group of the batch has one
        # (firing.overlap, firing.caps). A backfill's fires follow the backfill's overlap policy,
        # not the job's (one test per fire).
        backfilled = [f.origin_ref for f in fires if f.trigger_type == TriggerType.BACKFILL]
        backfill_policies = backfill_overlap_policies(session, backfilled) if backfilled else {}
        with_policy = [j.id for j in jobs.values() if j.overlap_policy != OverlapPolicy.ALLOW_ALL]
        if backfill_policies:
            with_policy += [
                f.job_id for f in fires
                if f.trigger_type == TriggerType.BACKFILL and backfill_policies.get(f.origin_ref, OverlapPolicy.ALLOW_ALL) != OverlapPolicy.ALLOW_ALL
            ]
        group_caps = {g.id: g.cap_runs for g in groups.values() if g.cap_runs is not None}
        job_caps = {j.id: j.cap_runs for j in jobs.values() if j.cap_runs is not None}
        caps = None
        if group_caps or job_caps:
            if self._locking:
                lock_rows(session, group_caps, [*job_caps, *with_policy])
            caps = CapBatch.load(session, group_caps, job_caps)
        overlap = None
        if with_policy:
            rechecked = [f.id for f in fires if f.from_waiting]
            overlap = OverlapBatch.load(session, with_policy, rechecked, locking=self._locking and caps is None)

        retry_refs = [f.origin_ref for f in fires if f.trigger_type == TriggerType.RETRY and f.shard_total is not None and f.id not in existing]
        retry_addresses = dict(session.execute(sa.select(run_t.id, run_t.executor_address).where(run_t.id.in_(retry_refs))).all()) if retry_refs else {}

        resumes = self._resumes(session, [f.id for f in fires if f.trigger_type in _RESUMABLE and f.id not in existing])
        upstreams = self._upstreams(session, [f.step_run_id for f in fires if f.step_run_id is not None])

        new_rows: list[tuple] = []
        new_meta: list[tuple[ClaimedFire, _Job, PlannedRun]] = []
        scheduled = _SCHEDULED
        for fire in fires:
            job = jobs.get(fire.job_id)
            if existing and fire.id in existing:
                self._resend(fire, job, existing[fire.id], live_of, out, term, upstreams.get(fire.step_run_id) if upstreams and fire.step_run_id else None)
                continue
            if job is None or job.group_id not in groups:
                log.warning("fire %s of job %s: the job no longer exists; nothing to trigger", fire.id, fire.job_id)
                out.done.append(fire.id)
                continue
            if not job.enabled and fire.trigger_type in scheduled:
                log.info("fire %s of job %s: the job was stopped; scheduled fire dropped", fire.id, job.id)
                out.done.append(fire.id)
                continue
            capped = caps if caps is not None and (job.cap_runs is not None or job.group_id in group_caps) else None
            if capped is not None:
                verdict = self._check_cap(capped, fire, job, groups[job.group_id], live_of, now_ms)
                if verdict is Verdict.SKIP:
                    out.done.append(fire.id)
                    continue
                if verdict is Verdict.WAIT:
                    continue
            policy = job.overlap_policy
            if backfill_policies and fire.trigger_type == TriggerType.BACKFILL:
                policy = backfill_policies.get(fire.origin_ref, OverlapPolicy.ALLOW_ALL)
            if overlap is not None and policy != OverlapPolicy.ALLOW_ALL:
                verdict = overlap.decide(policy, fire, job.id, now_ms)
                if verdict is Verdict.SKIP:
                    out.done.append(fire.id)
                    continue
                if verdict is Verdict.WAIT:
                    continue
            facts = job.facts
            if facts is None:
                facts = job.facts = JobFacts(job.id, groups[job.group_id].app_name, job.route_strategy, job.param)
            planned = plan_runs(fire, facts, live_of(job), state, now_ms, retry_address=retry_addresses.get(fire.origin_ref) if retry_addresses else None)
            if capped is not None:
                capped.take(job.id, job.group_id, sum(1 for plan in planned if plan.failure is None))
            out.fired.append(fire)
            failures = 0
            for plan in planned:
                new_rows.append(self._row(fire, job, plan, now_ms))
                new_meta.append((fire, job, plan))
                if plan.failure is not None:
                    failures += 1
            if failures == len(planned):
                out.done.append(fire.id)
        run_ids = insert_values_returning_ids(session, RunLog.__table__, _RUN_COLUMNS, new_rows)
        resumed: list[dict] = []
        for run_id, (fire, job, plan) in zip(run_ids, new_meta, strict=True):
            resume = resumes.get(fire.id) if resumes else None
            if resume is not None:
                # The run starts with the checkpoint it resumes from (numbered 0, below the
                # executor's first): a retry of this run resumes from it too if it saves none.
                resumed.append({"b_id": run_id, "b_from": resume[0], "b_state": resume[1]})
            if plan.failure is not None:
                out.failed.append((fire, run_id, f"{plan.shard_index}/{plan.shard_total}", plan.failure))
                continue
            body = job.body
            if body is None:
                body = job.body = run_body(job, job.handler)
            suffix = resume_suffix(*resume) if resume is not None else b""
            if upstreams and fire.step_run_id in upstreams:
                suffix += upstream_suffix(upstreams[fire.step_run_id])
            encoded = body.encode(run_id, log_date_ms(fire.fire_at_ms, fire.planned_at_ms), plan.param, plan.shard_index, plan.shard_total, suffix)
            candidates = tuple(live_of(job)) if plan.probe else ()
            send = Send(
                fire.id, run_id, fire.fire_at_ms, plan.address, job.id, plan.shard_index, plan.shard_total, encoded,
                term, job.delivery, plan.probe, job.route_strategy, candidates, plan.trace, planned_at_ms=fire.planned_at_ms,
            )
            if job.jitter_s and fire.trigger_type in scheduled:
                send.delay_ms = jitter_ms(job.id, fire.fire_at_ms, job.jitter_s)
            out.sends.append(send)
        if resumed:
            session.connection().execute(
                sa.update(RunLog.__table__).where(run_t.id == sa.bindparam("b_id"))
                .values(resume_from_run_id=sa.bindparam("b_from"), checkpoint_json=sa.bindparam("b_state"), checkpoint_seq=0),
                resumed,
            )
        if out.done:
            session.execute(
                sa.update(Fire.__table__).where(in_ids(fire_t.id, out.done)).values(status=FireStatus.DONE, done_at_ms=now_ms)
            )
            if any(f.step_run_id is not None for f in fires):
                done = set(out.done)
                out.ended_steps = [f.step_run_id for f in fires if f.step_run_id is not None and f.id in done]
        if overlap is not None:
            overlap.write(session, now_ms)
            out.kills = overlap.kills
            if overlap.notes:
                log.info("overlap policies decided %d fire(s)", len(overlap.notes), extra={"decisions": overlap.notes})
        if caps is not None:
            caps.write(session, overlap.notes if overlap is not None else ())
            if caps.notes:
                log.info("concurrency caps decided %d fire(s)", len(caps.notes), extra={"decisions": caps.notes})
        return out

    @staticmethod
    def _check_cap(caps: CapBatch, fire: ClaimedFire, job: _Job, group: Any, live_of: Callable[[_Job], list[str]], now_ms: int) -> Verdict:
        """The cap's verdict on `fire` (firing.caps): a sharding broadcast needs a slot per live
        executor, any other fire (a single shard's retry included) one."""
        needed = 1
        if job.route_strategy == RouteStrategy.SHARDING_BROADCAST and fire.shard_total is None and fire.address is None:
            needed = max(len(live_of(job)), 1)
        return caps.check(fire, job.id, job.group_id, needed, CapPolicy(group.cap_policy), group.cap_wait_s, now_ms)

    @staticmethod
    def _resumes(session: Session, fire_ids: list[int]) -> dict[int, tuple[int, str]]:
        """fire id -> (run id, its checkpoint JSON) for the fires that resume from a run holding a
        checkpoint; a fire whose run saved none starts fresh. Only retries and manual/API fires
        can resume, so scheduled fires cost nothing here."""
        if not fire_ids:
            return {}
        fire_t, run_t = Fire.__table__.c, RunLog.__table__.c
        wanted = dict(session.execute(
            sa.select(fire_t.id, fire_t.resume_from_run_id).where(in_ids(fire_t.id, fire_ids), fire_t.resume_from_run_id.is_not(None))
        ).all())
        if not wanted:
            return {}
        saved = dict(session.execute(
            sa.select(run_t.id, run_t.checkpoint_json).where(in_ids(run_t.id, set(wanted.values())), run_t.checkpoint_json.is_not(None))
        ).all())
        return {fire_id: (run_id, saved[run_id]) for fire_id, run_id in wanted.items() if run_id in saved}

    @staticmethod
    def _upstreams(session: Session, step_run_ids: list[int]) -> dict[int, str]:
        """step run id -> the `upstream` JSON its runs are sent with (workflow steps whose
        predecessors left result data); other fires cost nothing here."""
        if not step_run_ids:
            return {}
        return {row[0]: row[1] for row in execute_for_ids(session, _upstreams_where, WorkflowStepRun.__table__.c.id, set(step_run_ids))}

    @staticmethod
    def _row(fire: ClaimedFire, job: _Job, plan: PlannedRun, now_ms: int) -> tuple:
        """A run row's values, in the order of _RUN_COLUMNS."""
        failed = plan.failure is not None
        send_at_ms = fire.fire_at_ms
        if job.jitter_s and fire.trigger_type in _SCHEDULED:
            send_at_ms += jitter_ms(job.id, fire.fire_at_ms, job.jitter_s)
        return (
            job.id, job.group_id, fire.id, fire.trigger_type, fire.fire_at_ms,
            # When the trigger goes out: its planned time (plus the job's jitter), or now for a late (or adopted) fire.
            max(send_at_ms, now_ms),
            plan.address, job.handler, plan.param, plan.shard_index, plan.shard_total,
            fire.attempt, max(job.retry_count - fire.attempt, 0),
            RunStatus.FAILED if failed else RunStatus.PENDING,
            500 if failed else 0,
            plan.failure,
            FollowupStatus.PENDING if failed else FollowupStatus.NONE,
            fire.planned_at_ms,
            fire.step_run_id,
        )

    def _resend(
        self, fire: ClaimedFire, job: _Job | None, runs: list[RunLog], live_of: Callable[[_Job], list[str]], out: Prepared, term: LeaseTerm,
        upstream: str | None = None,
    ) -> None:
        """A fire whose rows exist (adopted, or picked up again after a failed claim): send only
        the rows still PENDING, same logId. A row planned before the ended term's send horizon
        may have been sent: it is settled with the executor first."""
        waiting = [r for r in runs if r.status == RunStatus.PENDING]
        if not waiting:
            out.done.append(fire.id)
            return
        if job is None:
            # The job was deleted meanwhile: its rows can never be sent.
            for run in waiting:
                run.status = RunStatus.FAILED
                run.trigger_code = 500
                run.trigger_msg = f"job {fire.job_id} was deleted before this run was sent"
                run.followup_status = FollowupStatus.PENDING
            out.done.append(fire.id)
            return
        sent_before = fire.sent_before_ms
        unsure = sum(1 for run in waiting if sent_before is not None and run.fire_at_ms < sent_before)
        log.info(
            "fire %s: %d pending run(s) to send, %d of them to settle with the executor first", fire.id, len(waiting), unsure,
            extra={"fire_id": fire.id, "job_id": job.id},
        )
        for run in waiting:
            suffix = resume_suffix(run.resume_from_run_id, run.checkpoint_json) if run.resume_from_run_id is not None and run.checkpoint_json is not None else b""
            if upstream is not None:
                suffix += upstream_suffix(upstream)
            encoded = run_body(job, run.handler).encode(run.id, run.log_date_ms, run.param, run.shard_index, run.shard_total, suffix)
            probe = run.executor_address is None
            candidates = tuple(live_of(job)) if probe else ()
            out.sends.append(Send(
                fire.id, run.id, fire.fire_at_ms, run.executor_address, job.id, run.shard_index, run.shard_total, encoded,
                term, job.delivery, probe, job.route_strategy, candidates,
                settle=sent_before is not None and run.fire_at_ms < sent_before,
                delay_ms=jitter_ms(job.id, fire.fire_at_ms, job.jitter_s) if job.jitter_s and fire.trigger_type in _SCHEDULED else 0,
                planned_at_ms=run.planned_at_ms,
            ))

    # ------------------------------------------------------------------ after /run

    def record(self, answers: Iterable[Answer], finished_fires: Iterable[tuple[int, str]], now_ms: int) -> int:
        """Write `answers` and mark `finished_fires` ((fire id, owner) pairs) DONE, in one
        transaction; answers of terms whose lease row is gone are left out (another node adopted
        the term and settles those rows). Returns how many answers were left out."""
        answers = list(answers)
        finished = list(finished_fires)
        if not (answers or finished):
            return 0
        return retry_on_deadlock(lambda: self._record(answers, finished, now_ms))

    def _record(self, answers: list[Answer], finished: list[tuple[int, str]], now_ms: int) -> int:
        fire_t = Fire.__table__.c
        with self.db.session() as session:
            owners = {a.owner for a in answers} | {owner for _, owner in finished}
            # Share locks: no node can adopt these terms until the answers are written.
            held = _LIVE_TERMS_LOCKED if self._locking else _LIVE_TERMS
            live = set(session.connection().execute(held, {"owners": sorted(owners)}).scalars())
            if len(live) < len(owners):
                kept = [a for a in answers if a.owner in live]
                left_out = len(answers) - len(kept)
                answers = kept
                finished = [(fire_id, owner) for fire_id, owner in finished if owner in live]
                if left_out:
                    log.warning("%d /run answer(s) not recorded: their lease term was adopted by another node, which settles them", left_out)
            else:
                left_out = 0
            self._write_answers(session, answers)
            for owner in {owner for _, owner in finished}:
                ids = [fire_id for fire_id, o in finished if o == owner]
                execute_for_ids(session, _fires_done_where, fire_t.id, ids, {"b_owner": owner, "now_ms": now_ms})
        return left_out

    @staticmethod
    def _write_answers(session: Session, answers: list[Answer]) -> None:
        run_t = RunLog.__table__.c
        waiting = _UNANSWERED
        # Plain acceptances (most answers) differ only by id: one UPDATE ... IN for all of them.
        plain = [a.run_id for a in answers if a.accepted and not a.msg and a.address is None]
        params = [
            {
                "b_id": a.run_id,
                "b_code": 200 if a.accepted else 0 if a.unknown else 500,
                "b_msg": a.msg or None,
                "b_address": a.address,
                "b_status": (RunStatus.RUNNING if a.accepted else RunStatus.UNKNOWN if a.unknown else RunStatus.FAILED).value,
                "b_followup": (FollowupStatus.NONE if a.accepted else FollowupStatus.PENDING).value,
            }
            for a in answers
            if not (a.accepted and not a.msg and a.address is None)
        ]
        for chunk in (plain[i : i + 1000] for i in range(0, len(plain), 1000)):
            execute_for_ids(session, _accepted_where, run_t.id, chunk)
        if params:
            # followup_status is assigned before status: MySQL evaluates SET left to right.
            stmt = (
                sa.update(RunLog.__table__)
                .where(run_t.id == sa.bindparam("b_id"), run_t.trigger_code == 0)
                .ordered_values(
                    (run_t.trigger_code, sa.bindparam("b_code")),
                    (run_t.trigger_msg, sa.bindparam("b_msg")),
                    (run_t.executor_address, sa.func.coalesce(run_t.executor_address, sa.bindparam("b_address"))),
                    (run_t.followup_status, sa.case((waiting, sa.bindparam("b_followup")), else_=run_t.followup_status)),
                    (run_t.status, sa.case((waiting, sa.bindparam("b_status")), else_=run_t.status)),
                )
            )
            session.execute(stmt, params)
