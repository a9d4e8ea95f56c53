"""The fire loop's store: claiming due fires durably, in one transaction per tick.

`FireStore.claim_then(now_ms, then)` is the whole hot path of the fire loop, one transaction
under the node's current lease term (node_lease):

0. **The term's own row**, share-locked for the whole transaction, so no other node can adopt
   the term while it claims. A missing row means the term was taken over (`LeaseLost`).
1. **Ended terms.** Lease rows whose `lease_until_ms` has passed by the database's clock (their
   node died, stalled or stopped) are locked (`SKIP LOCKED`) and deleted, and every CLAIMED fire
   they owned is adopted by this term, with the ended term's send horizon: rows planned before
   it may have been sent and are settled with the executor before anything is sent again.
   Every ORPHAN_CHECK_MS, CLAIMED fires whose owner has no lease row at all are adopted too.
2. **Scheduled fires.** Enabled CRON/FIX_RATE jobs with `next_fire_at_ms <= now + lookahead` are
   selected (`FOR UPDATE SKIP LOCKED` on MySQL/MariaDB, so concurrent nodes split the due jobs
   instead of queueing on them). For each, every planned fire up to the horizon becomes a `Fire`
   row inserted already CLAIMED by this term, and `next_fire_at_ms` moves past the
   horizon. A job more than `misfire_grace_ms` behind (downtime, a long pause) is a *misfire*:
   its missed fires collapse into nothing (DO_NOTHING) or into one MISFIRE fire at `now`
   (FIRE_ONCE_NOW), or those within the job's catch-up window become MISFIRE fires at their own
   planned times (CATCH_UP_ALL, at most `catchup_max_fires`; CATCH_UP_LATEST, the latest one,
   schedules.catchup), and the schedule resumes at its first fire after `now`. Inserts are
   INSERT IGNORE on the unique key (job, fire time, trigger type, origin): a fire that exists
   already is never recorded twice. Fire inserts and job updates are bulk statements. A job
   with calendars (`calendar_ids`) gets fires only at its allowed planned times, its calendars
   taken from the node's in-memory cache (calendar_cache: one version query per such tick).
3. **Pending fires.** PENDING fires (manual, API, retry, child) due within the lookahead are
   claimed.
4. **Run rows.** The fires claimed in this tick go to `then` (`claim_then`), still inside the
   transaction: the dispatcher writes their run rows there, so claims and rows commit together.
   A batch limit reached means the loop claims again at once.

Fires hold no lease of their own: the term's row is renewed for all of them at once.
On SQLite there is one scheduler process and every write transaction starts with
BEGIN IMMEDIATE (sqlengine), which serializes it with the web requests.
"""

from __future__ import annotations

import logging
import operator
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import sqlalchemy as sa
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from ..db import Database, changed_rows
from ..enums import CATCH_UP_STRATEGIES, FireStatus, MisfireStrategy, ScheduleType, TriggerType
from ..metrics import TriggerFailure, record_trigger_failure
from ..models import Fire, Job, RunLog, SchedulerLease
from ..schedules.due_fires import CATCHUP_MAX_FIRES, JobPlan, plan_job_fires
from ..schedules.schedule import ScheduleError
from .calendar_cache import CalendarCache
from .held_reader import HeldReader
from .bulk_insert import insert_ignoring_duplicates
from .id_lists import execute_for_ids, in_ids
from .node_lease import LeaseTerm, NodeLease

log = logging.getLogger("shardcron.admin.scheduling")

#: Most jobs advanced, and most pending fires claimed, in one round of a tick (a full round is
#: followed by another at once; FireLoop starts a tick with smaller rounds).
CLAIM_BATCH = 5000
#: How often a node looks for CLAIMED fires whose owner has no lease row at all (a scheduler of
#: an older release, a row deleted by hand); ended terms are looked for on every claim.
ORPHAN_CHECK_MS = 5000
#: `sent_before_ms` of fires whose earlier owner is unknown: any of their rows may have been sent.
ANYTHING_MAY_BE_SENT = 2**62

SCHEDULED = (ScheduleType.CRON, ScheduleType.FIX_RATE)

#: MySQL/MariaDB: deadlock found / lock wait timeout. The transaction is retried from scratch.
RETRYABLE_MYSQL_CODES = {1213, 1205}
#: PostgreSQL (SQLSTATE): deadlock detected, serialization failure, lock not available.
RETRYABLE_POSTGRESQL_STATES = {"40P01", "40001", "55P03"}
_PAUSE = threading.Event()
T = TypeVar("T")


def retry_on_deadlock(work: Callable[[], T], attempts: int = 5) -> T:
    for attempt in range(attempts):
        try:
            return work()
        except OperationalError as exc:
            code = exc.orig.args[0] if exc.orig is not None and exc.orig.args else None
            retryable = code in RETRYABLE_MYSQL_CODES or getattr(exc.orig, "sqlstate", None) in RETRYABLE_POSTGRESQL_STATES
            if not retryable or attempt == attempts - 1:
                raise
            _PAUSE.wait(0.005 * (attempt + 1))  # a real back-off between DB attempts (never set)
    raise AssertionError("unreachable")


# Slots, not frozen (read-only by convention): built per fire on the hot path (docs/benchmarks.md).
@dataclass(slots=True)
class ClaimedFire:
    """A fire this node holds under a lease."""

    id: int
    job_id: int
    fire_at_ms: int
    trigger_type: TriggerType
    origin_ref: int
    param: str | None
    shard_index: int | None
    shard_total: int | None
    address: str | None
    attempt: int
    #: False when the fire certainly has no run rows yet (created or taken PENDING this tick);
    #: True for adopted fires and for what a claim after a failed one picks up (rows may exist).
    may_have_runs: bool = True
    #: Adopted fires: the ended term may have sent run rows planned before this (its send
    #: horizon); those are settled with the executor before anything is sent again. None: no
    #: other term ever held the fire.
    sent_before_ms: int | None = None
    #: Claimed from BUFFERED: it waited for its job's active run to end (firing.overlap) or for a
    #: slot under a concurrency cap (firing.caps).
    from_waiting: bool = False
    #: A re-run's planned time (Fire.planned_at_ms), sent as logDateTime; None: fire_at_ms.
    planned_at_ms: int | None = None
    #: The workflow step run this fire runs (its run rows carry it); None: not a workflow's.
    step_run_id: int | None = None


def _claimed(row: Sequence[Any], *, may_have_runs: bool = True, sent_before_ms: int | None = None) -> ClaimedFire:
    """A held fire from a row of `_CLAIMED_COLUMNS` (its twelve columns, in their order)."""
    fire_id, job_id, fire_at_ms, trigger_type, origin_ref, param, shard_index, shard_total, address, attempt, planned_at_ms, step_run_id = row
    return ClaimedFire(
        fire_id, job_id, fire_at_ms, trigger_type, origin_ref, param, shard_index, shard_total, address, attempt,
        may_have_runs=may_have_runs, sent_before_ms=sent_before_ms, planned_at_ms=planned_at_ms, step_run_id=step_run_id,
    )


#: The order claimed fires are prepared (and sent) in.
_FIRE_ORDER = operator.attrgetter("fire_at_ms", "id")
#: A claimed fire's row: ClaimedFire's first ten fields, then planned_at_ms and step_run_id.
#: Table columns, not the model's attributes: a plain Core select skips the ORM's row loading.
_CLAIMED_COLUMNS = sa.select(*(Fire.__table__.c[name] for name in (
    "id", "job_id", "fire_at_ms", "trigger_type", "origin_ref", "param", "shard_index", "shard_total", "address", "attempt",
    "planned_at_ms", "step_run_id",
)))
_LEASE = SchedulerLease.__table__
#: A fast tick's question (built once: it is asked every `workflow_tick_ms` while instances run).
_PENDING_DUE = sa.select(Fire.__table__.c.id).where(
    Fire.__table__.c.status == FireStatus.PENDING, Fire.__table__.c.fire_at_ms <= sa.bindparam("until"),
).limit(1)
_LEASE_ROW = sa.select(_LEASE.c.owner)
# A claim's own statements, built once (a fast tick claims a workflow step's fire within
# milliseconds of its predecessor's result: building these per claim cost more than running
# them). The locking forms for MySQL/MariaDB and PostgreSQL, the plain ones for SQLite.
_OWN_LEASE = _LEASE_ROW.where(_LEASE.c.owner == sa.bindparam("owner"))
_OWN_LEASE_LOCKED = _OWN_LEASE.with_for_update(read=True)
_PENDING_FIRES = (
    _CLAIMED_COLUMNS.where(Fire.__table__.c.status == FireStatus.PENDING, Fire.__table__.c.fire_at_ms <= sa.bindparam("until"))
    .order_by(Fire.__table__.c.fire_at_ms)
    .limit(sa.bindparam("limit"))
)
_PENDING_FIRES_LOCKED = _PENDING_FIRES.with_for_update(skip_locked=True)


def _held_by(owner: str) -> sa.ColumnElement[bool]:
    """The fires `owner`'s term holds. Built only where a claim reads them (not on every claim:
    0.12 ms of a 4 ms claim on a slow host, docs/benchmarks.md, "Workflows")."""
    fire = Fire.__table__.c
    return (fire.owner == owner) & (fire.status == FireStatus.CLAIMED)


def _claim_fires_where(ids: sa.ColumnElement[bool]) -> sa.Update:
    return sa.update(Fire.__table__).where(ids).values(status=FireStatus.CLAIMED, owner=sa.bindparam("b_owner"))


def advance_jobs(session: Session, updates: list[tuple[int, int, int, bool]]) -> None:
    """Move every due job's schedule on: `(job id, next fire, last fire, enabled)` each.

    SQLite runs the driver's executemany of one prepared UPDATE, in C. PyMySQL would send that
    as one round trip per row, so MySQL/MariaDB and PostgreSQL get a single UPDATE with CASE
    instead (FALSE, not 0: `enabled` is a boolean on PostgreSQL, and MySQL reads FALSE as 0). Every value
    there is an int the tick computed, rendered with `int()`: nothing from outside reaches the SQL
    text."""
    if not updates:
        return
    if session.get_bind().dialect.name == "sqlite":
        session.connection().exec_driver_sql(
            f"UPDATE {Job.__tablename__} SET next_fire_at_ms = ?, last_fire_at_ms = ?, enabled = ? WHERE id = ?",
            [(n, last, int(e), i) for i, n, last, e in updates],
        )
        return
    ids = ",".join(str(int(job_id)) for job_id, _, _, _ in updates)
    next_at = " ".join(f"WHEN {int(job_id)} THEN {int(at)}" for job_id, at, _, _ in updates)
    last_at = " ".join(f"WHEN {int(job_id)} THEN {int(at)}" for job_id, _, at, _ in updates)
    stopped = ",".join(str(int(job_id)) for job_id, _, _, enabled in updates if not enabled)
    enabled = f"CASE WHEN id IN ({stopped}) THEN FALSE ELSE enabled END" if stopped else "enabled"
    session.connection().exec_driver_sql(
        f"UPDATE {Job.__tablename__} SET next_fire_at_ms = CASE id {next_at} END, "
        f"last_fire_at_ms = CASE id {last_at} END, enabled = {enabled} WHERE id IN ({ids})"
    )


class LeaseLost(Exception):
    """This node's lease term was taken over by another node: its claims are gone."""


class FireStore:
    def __init__(
        self,
        db: Database,
        lease: NodeLease,
        *,
        lookahead_ms: int,
        misfire_grace_ms: int,
        batch: int = CLAIM_BATCH,
        catchup_max_fires: int = CATCHUP_MAX_FIRES,
    ) -> None:
        self.db = db
        self.lease = lease
        self.lookahead_ms = lookahead_ms
        self.misfire_grace_ms = misfire_grace_ms
        self.batch = batch
        self.catchup_max_fires = catchup_max_fires
        self._locking = db.dialect != "sqlite"
        #: The fast ticks' question, on a connection of its own (not on SQLite: held_reader.py).
        self._poll = HeldReader(db.engine) if self._locking else None
        self._recovered = False
        self._orphans_checked_ms = -ORPHAN_CHECK_MS
        self.last_claim_full = False
        #: The calendars' excluded dates, reloaded per calendar when its version moves.
        self.calendars = CalendarCache()

    def _for_update(self, query: sa.Select) -> sa.Select:
        return query.with_for_update(skip_locked=True) if self._locking else query

    # ------------------------------------------------------------------ the tick's transaction

    def claim(self, now_ms: int, limit: int | None = None) -> list[ClaimedFire]:
        """Create and claim due fires and adopt the fires of ended lease terms, in one transaction
        under this node's current lease term (`LeaseLost` when it has none that holds).

        Returns the fires claimed by this call; the first call after a failed one also returns
        every fire the term already held (its transaction may have committed before the error
        reached us). `last_claim_full` tells whether the batch limit (`limit`, default `batch`)
        was reached: claim again at once. A deadlock (MySQL, PostgreSQL) retries the whole transaction."""
        return self.claim_then(now_ms, lambda session, fires: fires, limit)

    def claim_then(
        self, now_ms: int, then: Callable[[Session, list[ClaimedFire]], T], limit: int | None = None, term: LeaseTerm | None = None,
        *, pending_only: bool = False,
    ) -> T:
        """`claim`, then `then(session, fires)` in the same transaction (the dispatcher writes the
        fires' run rows there); returns what `then` returns. `term`: the lease term to claim under
        (default: the node's current one). `pending_only`: claim PENDING fires only (the fire
        loop's fast ticks between full ones, for workflow steps' fires); adopting ended terms,
        writing scheduled fires and starting waiting ones are left to the full ticks."""
        term = term or self.lease.current()
        if term is None or not term.alive():
            self.last_claim_full = False
            raise LeaseLost("this node holds no lease term")
        try:
            result = retry_on_deadlock(lambda: self._claim(term, now_ms, limit or self.batch, then, pending_only))
        except LeaseLost:
            self.lease.end(term, "another node took it over")
            raise
        except Exception:
            self._recovered = False  # whatever this attempt claimed is picked up by the next one
            raise
        self._recovered = True
        return result

    def pending_due(self, now_ms: int) -> bool:
        """Whether a PENDING fire is due within the lookahead (a read: no write lock, no claim)."""
        params = {"until": now_ms + self.lookahead_ms}
        if self._poll is not None:
            return self._poll.first(_PENDING_DUE, params) is not None
        with self.db.read_session() as session:
            return session.connection().execute(_PENDING_DUE, params).first() is not None

    def close(self) -> None:
        """Give back the connection `pending_due` holds (the fire loop's close, when the node stops)."""
        if self._poll is not None:
            self._poll.close()

    def _claim(self, term: LeaseTerm, now_ms: int, limit: int, then: Callable[[Session, list[ClaimedFire]], T], pending_only: bool = False) -> T:
        horizon_ms = now_ms + self.lookahead_ms
        owner = term.owner
        fire = Fire.__table__.c
        with self.db.session() as session:
            # The term's own row, share-locked for the whole transaction: no node can adopt the
            # term while it claims, so every fire claimed here is visible to its adopter.
            own = _OWN_LEASE_LOCKED if self._locking else _OWN_LEASE
            if session.connection().execute(own, {"owner": owner}).first() is None:
                raise LeaseLost(f"lease term {owner} was taken over")
            adopted: list[ClaimedFire] = []
            due_ids: list[int] = []
            if not pending_only:
                adopted = self._adopt_ended(session, owner)
                if now_ms - self._orphans_checked_ms >= ORPHAN_CHECK_MS:
                    adopted += self._adopt_orphans(session, owner)
                    self._orphans_checked_ms = now_ms
                due_ids = self._create_scheduled(session, owner, now_ms, horizon_ms, limit)
            claimed, waiting = self._claim_pending(session, owner, horizon_ms, limit)
            if not pending_only:
                claimed += self._claim_waiting(session, owner, now_ms, limit)
            self.last_claim_full = len(due_ids) >= limit or waiting >= limit
            if not self._recovered:
                # The first claim of this store, or the one after a failed claim (whose commit
                # may have gone through): everything the term holds, locked like any claim.
                seen = {f.id for f in adopted}
                claimed = [_claimed(row) for row in session.execute(self._for_update(_CLAIMED_COLUMNS.where(_held_by(owner)))) if row[0] not in seen]
            elif due_ids:
                # The scheduled fires inserted just now: this round's jobs, this claim's time.
                inserted = _held_by(owner) & (fire.created_at_ms == now_ms) & (fire.origin_ref == 0) & in_ids(fire.job_id, due_ids)
                seen = {f.id for f in claimed}
                claimed += [_claimed(row, may_have_runs=False) for row in session.execute(_CLAIMED_COLUMNS.where(inserted)) if row[0] not in seen]
            claimed += adopted
            claimed.sort(key=_FIRE_ORDER)
            return then(session, claimed)

    # ------------------------------------------------------------------ adoption

    def _adopt_ended(self, session: Session, owner: str) -> list[ClaimedFire]:
        """Adopt every fire of each lease term whose lease ended by the database's clock (its
        node died, stalled or stopped), and delete the term's row (which ends its renewals)."""
        lease = _LEASE.c
        ended = session.execute(
            self._for_update(sa.select(lease.owner, lease.send_horizon_ms).where(lease.lease_until_ms < self.lease.lease_clock.now_sql(), lease.owner != owner))
        ).all()
        adopted: list[ClaimedFire] = []
        for ended_owner, horizon_ms in ended:
            fires = self._take_over(session, owner, Fire.__table__.c.owner == ended_owner, skip_locked=False)
            session.execute(sa.delete(_LEASE).where(lease.owner == ended_owner))
            adopted += [_claimed(row, may_have_runs=True, sent_before_ms=horizon_ms) for row in fires]
            log.warning(
                "adopted %d fire(s) of an ended lease term", len(fires),
                extra={"owner": ended_owner, "adopted_by": owner, "send_horizon_ms": horizon_ms},
            )
        return adopted

    def _adopt_orphans(self, session: Session, owner: str) -> list[ClaimedFire]:
        """Adopt CLAIMED fires whose owner has no lease row at all (claimed by a scheduler of an
        older release, or a row removed by hand). What their owner may have sent is unknown: all
        their pending rows are settled before anything is sent again."""
        fire = Fire.__table__.c
        # Owners first, then terms: a term's row commits before any fire it claims.
        owners = set(session.execute(sa.select(fire.owner).where(fire.status == FireStatus.CLAIMED).distinct()).scalars())
        if not owners:
            return []
        orphaned = owners - set(session.execute(sa.select(_LEASE.c.owner)).scalars())
        adopted: list[ClaimedFire] = []
        for orphan in sorted(orphaned, key=str):
            held_by = fire.owner.is_(None) if orphan is None else fire.owner == orphan
            rows = self._take_over(session, owner, held_by, skip_locked=True)
            adopted += [_claimed(row, may_have_runs=True, sent_before_ms=ANYTHING_MAY_BE_SENT) for row in rows]
            if rows:
                log.warning("adopted %d fire(s) of an owner without a lease", len(rows), extra={"owner": orphan, "adopted_by": owner})
        return adopted

    def _take_over(self, session: Session, owner: str, held_by: sa.ColumnElement[bool], *, skip_locked: bool) -> Sequence[sa.Row]:
        fire = Fire.__table__.c
        query = _CLAIMED_COLUMNS.where(held_by, fire.status == FireStatus.CLAIMED)
        if self._locking:
            query = query.with_for_update(skip_locked=skip_locked)
        rows = session.execute(query).all()
        if rows:
            session.execute(sa.update(Fire.__table__).where(in_ids(fire.id, [row[0] for row in rows])).values(owner=owner))
        return rows

    # ------------------------------------------------------------------ new and waiting fires

    def _create_scheduled(self, session: Session, owner: str, now_ms: int, horizon_ms: int, limit: int) -> list[int]:
        """Returns the ids of the due jobs found."""
        job = Job.__table__.c
        due = session.execute(
            self._for_update(
                sa.select(
                    job.id, job.schedule_type, job.schedule_conf, job.timezone, job.misfire_strategy, job.next_fire_at_ms, job.last_fire_at_ms,
                    job.catchup_window_s, job.calendar_ids,
                )
                .where(
                    job.enabled == sa.true(),  # `= 1`: the index ix_job_due(enabled, next_fire_at_ms) applies
                    job.next_fire_at_ms > 0,
                    job.next_fire_at_ms <= horizon_ms,
                    job.schedule_type.in_([t.value for t in SCHEDULED]),
                )
                .order_by(job.next_fire_at_ms)
                .limit(limit)
            )
        ).all()
        if not due:
            return []
        fires: list[dict] = []
        updates: list[tuple[int, int, int, bool]] = []
        calendars: CalendarCache | None = None
        for job_id, kind, conf, zone, misfire, next_at, last_at, window_s, calendar_ids in due:
            excluded = None
            if calendar_ids:  # the one test a job without calendars costs
                calendars = calendars or self.calendars.refreshed(session)
                excluded = calendars.exclusions(calendar_ids)
            try:
                plan = plan_job_fires(
                    kind, conf, zone, misfire, next_at, now_ms, horizon_ms, self.misfire_grace_ms, excluded,
                    catchup_window_ms=window_s * 1000, catchup_max_fires=self.catchup_max_fires,
                )
            except (ScheduleError, ValueError) as exc:
                log.error("job %s has an unusable schedule and is stopped: %s", job_id, exc)
                updates.append((job_id, 0, last_at, False))
                continue
            if plan.misfired:
                self._log_misfire(job_id, misfire, next_at, now_ms, plan)
            for at_ms, trigger_type in plan.fires:
                fires.append({
                    "job_id": job_id, "fire_at_ms": at_ms, "trigger_type": trigger_type, "origin_ref": 0,
                    "status": FireStatus.CLAIMED, "owner": owner, "lease_until_ms": 0,
                    "attempt": 0, "created_at_ms": now_ms,
                })
            if plan.next_fire_at_ms is None:
                log.info("job %s has no further fire time and is stopped", job_id)
            updates.append((job_id, plan.next_fire_at_ms or 0, max([last_at] + [at for at, _ in plan.fires]), plan.next_fire_at_ms is not None))
        insert_ignoring_duplicates(session, Fire.__table__, fires)
        advance_jobs(session, updates)
        return [row[0] for row in due]

    def _log_misfire(self, job_id: int, misfire: MisfireStrategy, next_at: int, now_ms: int, plan: JobPlan) -> None:
        caught_up = sum(1 for _, trigger_type in plan.fires if trigger_type == TriggerType.MISFIRE)
        if misfire in CATCH_UP_STRATEGIES:
            outcome = f"caught up {caught_up} missed fire(s)" + (f", the limit of {self.catchup_max_fires}; later missed ones skipped" if plan.beyond_catchup_limit else "")
        else:
            outcome = "fired once now" if caught_up else "skipped"
        log.warning(
            "job %s misfired (planned %s, now %s): %s", job_id, next_at, now_ms, outcome,
            extra={"job_id": job_id, "planned_at_ms": next_at, "misfire_strategy": str(misfire)},
        )
        if not caught_up or plan.beyond_catchup_limit:
            record_trigger_failure(TriggerFailure.MISFIRE_SKIPPED)

    def _claim_pending(self, session: Session, owner: str, horizon_ms: int, limit: int) -> tuple[list[ClaimedFire], int]:
        """Claims PENDING fires (manual, API, retry, child) due within the lookahead."""
        fire = Fire.__table__.c
        conn = session.connection()
        pending = conn.execute(_PENDING_FIRES_LOCKED if self._locking else _PENDING_FIRES, {"until": horizon_ms, "limit": limit}).all()
        if pending:
            execute_for_ids(session, _claim_fires_where, fire.id, [row[0] for row in pending], {"b_owner": owner})
        return [_claimed(row, may_have_runs=False) for row in pending], len(pending)

    def _claim_waiting(self, session: Session, owner: str, now_ms: int, limit: int) -> list[ClaimedFire]:
        """Claims BUFFERED fires due by now: their job's overlap policy and caps decide again whether
        they start (firing.overlap). One indexed query that finds nothing when no job waits."""
        fire = Fire.__table__.c
        rows = session.execute(
            self._for_update(
                _CLAIMED_COLUMNS.where(fire.status == FireStatus.BUFFERED, fire.fire_at_ms <= now_ms).order_by(fire.fire_at_ms, fire.id).limit(limit)
            )
        ).all()
        if not rows:
            return []
        session.execute(_claim_fires_where(in_ids(fire.id, [row[0] for row in rows])), {"b_owner": owner})
        out = [_claimed(row, may_have_runs=False) for row in rows]
        for claimed in out:
            claimed.from_waiting = True
        return out

    # ------------------------------------------------------------------ clean stop

    def release(self, owner: str, fire_ids: list[int]) -> int:
        """Hand fires back (PENDING, no owner) on a clean stop, so another node, or this one after
        a restart, claims them at once. Fires whose run rows exist already stay CLAIMED: their
        adopter settles and sends exactly those rows."""
        if not fire_ids:
            return 0
        fire = Fire.__table__.c
        has_runs = sa.select(RunLog.__table__.c.fire_id).where(RunLog.__table__.c.fire_id.in_(fire_ids))
        with self.db.session() as session:
            with_runs = set(session.execute(has_runs).scalars().all())
            free = [i for i in fire_ids if i not in with_runs]
            if not free:
                return 0
            result = session.execute(
                sa.update(Fire.__table__)
                .where(fire.id.in_(free), fire.owner == owner, fire.status == FireStatus.CLAIMED)
                .values(status=FireStatus.PENDING, owner=None, lease_until_ms=0)
            )
            return changed_rows(result)
