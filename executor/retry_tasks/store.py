"""The drainer's hot path: claim due rows under a lease, write their outcomes in bulk.

Every write after the claim carries the claim's lease token (`lease_owner`) in its WHERE
clause, so it lands only while this claim still holds the row: a row a callback finished
meanwhile (which clears the owner), or that another drainer re-claimed after the lease ran out
(a new token), is left alone. The row counts the database reports say how many writes landed.

An attempt counts when it is claimed: the claim's UPDATE adds one to `attempts`, so an attempt
whose drainer dies (killed, out of memory, `os._exit` in a handler) has been counted although it
never writes an outcome. Outcomes do not count again; `release` (claimed, never started) gives
the attempt back. A due PENDING row that still has a `lease_owner` is one whose lease expired
with no outcome written (every finishing write, a release and a callback clear the owner): the
claim runs it again if it has attempts left (noting the lapse in `last_error`), and makes it
DEAD in the same transaction if it has none — it is never run past `max_attempts`.

Claims, per dialect:
  * MySQL/MariaDB, one transaction: (1) a plain read of the ids of the due rows of the shard
    (index only, no locks, packed into one JSON array); (2) `SELECT ... WHERE id IN (those) AND still due FOR UPDATE SKIP
    LOCKED` by primary key; (3) one UPDATE that moves the locked rows to the lease (owner, until;
    next_attempt_at_ms = until; attempts + 1). Concurrent drainers skip each other's locked rows, and once
    committed a leased row is no longer due, so two claims never get the same row however the
    shards overlap. Locking by primary key (rather than `FOR UPDATE` over the range scan) matters:
    InnoDB locks each row a range scan visits before the `id % n` filter drops it, so drainers of
    other shards would make each other skip rows — and take an empty claim for "nothing due".
  * PostgreSQL, one transaction: `SELECT ... WHERE due ORDER BY next_attempt_at_ms LIMIT n FOR
    UPDATE SKIP LOCKED`, then the same UPDATE (3). (A drain run on PostgreSQL holds those locks
    for the batch instead of leasing, and writes each row once: held_claim.py. This lease claim
    serves it only on a table not yet upgraded to the claim table.) PostgreSQL locks a row only once it has passed
    the whole WHERE (the shard filter included) and re-checks a row another claim changed
    meanwhile, so the range scan is safe here. An empty claim looks once more without locks to
    tell "nothing due" from "due rows held by another claim". The claim's transaction first turns
    off sequential and bitmap scans for itself (`pg_claim_settings`): PostgreSQL has no statistics
    for `id % n = i` and guesses it keeps 0.5 % of the rows, so with many rows due it would read
    the whole table and sort it for every claim (27 ms for 100,000 rows, against 0.4 ms reading
    the due index in order).
  * SQLite, one transaction under SQLite's single write lock (taken by BEGIN IMMEDIATE): a read
    of the due rows, then the same UPDATE (3).
  Rows out of attempts get one more UPDATE in the same transaction, only when there are any.
"""

from __future__ import annotations

import json

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, NamedTuple, Protocol, cast

from sqlalchemy import BindParameter, ColumnElement, Connection, bindparam, case, func, select, text, update

from .database import TaskDatabase
from .schema import TaskStatus, retry_task

#: Rows per bulk statement (the IN list and CASE arms stay well within driver limits).
WRITE_CHUNK = 500

t = retry_task

#: What a claim reads of each due row (as it was before the claim).
CLAIM_COLUMNS = (t.c.id, t.c.task_code, t.c.request_no, t.c.payload, t.c.attempts, t.c.max_attempts, t.c.stages_done, t.c.lease_owner)


class ClaimedRow(NamedTuple):
    """A row leased (or held) to run one attempt. A named tuple: a claim makes hundreds at a
    time, and a frozen dataclass cost three times as much to build."""

    id: int
    task_code: str
    request_no: str
    payload_json: str
    #: The number of the attempt this claim runs, 1-based; the claim has counted it in `attempts`.
    attempt: int
    max_attempts: int
    stages_json: str | None
    #: The lease token of the previous attempt when that one ended without an outcome (its lease
    #: expired: the drainer running it died or stalled), else None.
    lapsed_owner: str | None = None


@dataclass(frozen=True, slots=True)
class ExhaustedRow:
    """A due row with no attempt left, made DEAD by the claim instead of being run."""

    id: int
    task_code: str
    request_no: str
    attempts: int
    max_attempts: int
    #: The owner of the expired lease of its last attempt (None: no attempt was running).
    lapsed_owner: str | None
    #: What the claim wrote to `last_error`.
    error: str


def pg_claim_settings(idle_timeout_ms: int | None = None) -> str:
    """One statement setting, for the current transaction only, what a PostgreSQL claim needs:
    no sequential or bitmap scan (the planner's guess for the shard filter `id % n = i` is 0.5 %
    of the rows, which with many rows due makes it read and sort the whole table rather than
    walk `ix_retry_task_due` in order), and with `idle_timeout_ms` the server's limit on the
    transaction's idle time (a held claim's lease, held_claim.py). Transaction-local: a session
    setting would outlive the claim on a pooled connection, and behind a transaction-pooling
    proxy reach other clients."""
    settings = ["set_config('enable_seqscan', 'off', true)", "set_config('enable_bitmapscan', 'off', true)"]
    if idle_timeout_ms is not None:
        settings.append(f"set_config('idle_in_transaction_session_timeout', '{max(1, int(idle_timeout_ms))}', true)")
    return "SELECT " + ", ".join(settings)


def due_condition(*, shard_index: int, shard_total: int, now_ms: int | BindParameter[int], task_codes: Sequence[str] | None) -> list[ColumnElement[bool]]:
    """A claim's WHERE: due PENDING rows of the shard (and of the task codes, if given). The
    first two terms are the due test alone."""
    due = [t.c.status == TaskStatus.PENDING.value, t.c.next_attempt_at_ms <= now_ms]
    if shard_total > 1:
        due.append(t.c.id % shard_total == shard_index)
    if task_codes:
        due.append(t.c.task_code.in_(list(task_codes)))
    return due


class HeldBatch(Protocol):
    """A claimed batch whose rows stay locked by an open transaction until `commit` (PostgreSQL,
    held_claim.py): its rows carry no lease, and each is written once, at its outcome."""

    #: True once `commit` ran (whatever it found): the rows are no longer held by the transaction.
    committed: bool

    def commit(self, outcomes: Sequence[Outcome], lease_ids: Sequence[int], lease_until_ms: int, now_ms: int) -> WriteCounts:
        """Write `outcomes` (counting their attempts), lease `lease_ids` (rows still running or
        waiting, counting theirs) and commit; rows in neither were never started and are left as
        they were. An outcome that could not land (the transaction was ended by the server after
        a stall) counts as lost."""
        ...

    def abandon(self, *, started: bool = True) -> None:
        """Roll back (nothing of the batch is written) and give the connection back. With
        `started` False no handler of the batch ran, and no attempt is counted for its rows."""
        ...


@dataclass(frozen=True)
class Claim:
    #: Rows leased to this claim, to run.
    rows: list[ClaimedRow]
    #: True when due rows existed but all were locked by other claims at that instant.
    contended: bool = False
    #: Rows the claim found out of attempts and made DEAD (not leased, not to run).
    exhausted: list[ExhaustedRow] = field(default_factory=list)
    #: How many rows (run or exhausted) had a previous attempt whose lease expired without an outcome.
    lapsed: int = 0
    #: Set when the rows are held by an open transaction rather than leased (PostgreSQL).
    held: HeldBatch | None = None

    @property
    def empty(self) -> bool:
        return not self.rows and not self.exhausted


def lapsed_error(attempt: int, max_attempts: int, owner: str) -> str:
    """`last_error` of a row whose attempt `attempt` ended without an outcome. Short (the owner
    is at most 128 characters), so it needs no clipping to fit the column."""
    return f"attempt {attempt} of {max_attempts} crashed or stalled: its lease (held by {owner}) expired before an outcome was written"


def exhausted_error(attempts: int, max_attempts: int, owner: str | None) -> str:
    if owner is None:  # only after a hand edit: attempts used up, yet PENDING and unleased
        return f"no attempts left ({attempts} of {max_attempts} used)"
    return lapsed_error(attempts, max_attempts, owner) + "; no attempts left"


class OutcomeKind(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    RETRY = "RETRY"  # back to PENDING, due at next_attempt_at_ms
    DEAD = "DEAD"


class Outcome(NamedTuple):
    """A finished attempt to write (a named tuple: one per row, built on the handler threads)."""

    task_id: int
    kind: OutcomeKind
    result_json: str | None = None
    error: str | None = None
    next_attempt_at_ms: int | None = None


@dataclass
class WriteCounts:
    """How many outcomes landed, per kind; `lost` did not (the row was no longer ours)."""

    succeeded: int = 0
    retried: int = 0
    dead: int = 0
    lost: int = 0

    def add(self, other: WriteCounts) -> None:
        self.succeeded += other.succeeded
        self.retried += other.retried
        self.dead += other.dead
        self.lost += other.lost


def _chunks(items: Sequence[Any], size: int = WRITE_CHUNK) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def id_list(ids: Iterable[int]) -> str:
    """Ids as SQL text, `1,2,3`: integers read from the table (`int()` makes sure)."""
    return ",".join(map(str, map(int, ids)))


def id_in(ids: Iterable[int]) -> ColumnElement[bool]:
    """`id IN (1,2,3)` with the ids inlined. They are integers read from the table (`int()`
    makes sure), and binding 500 parameters per statement costs the client more than the rest
    of the statement; the hot path runs three such statements per batch."""
    # A text clause stands wherever a boolean column expression may (WHERE, and_).
    return cast(ColumnElement[bool], text(f"{t.c.id.name} IN ({id_list(ids)})"))


def per_row(column: Any, values: dict[int, Any]) -> Any:
    """One value for all rows when they agree (the common case, and a cacheable statement),
    else `CASE id WHEN .. THEN .. END`."""
    distinct = set(values.values())
    if len(distinct) == 1:
        return bindparam(None, next(iter(distinct)), type_=column.type)
    return case(values, value=t.c.id)


def write_outcome_rows(
    conn: Connection,
    outcomes: Sequence[Outcome],
    now_ms: int,
    where: Callable[[Sequence[int]], list[ColumnElement[bool]]],
    extra: dict[str, Any] | None = None,
) -> WriteCounts:
    """The outcome UPDATEs (per kind, per 500 rows) on `conn`, each limited to `where(ids)` and
    setting `extra` too; the counts of rows they changed."""
    groups: dict[OutcomeKind, list[Outcome]] = {kind: [] for kind in OutcomeKind}
    for outcome in outcomes:
        groups[outcome.kind].append(outcome)
    released = {"lease_owner": None, "lease_until_ms": 0, "updated_at_ms": now_ms, **(extra or {})}

    def write(chunk: Sequence[Outcome], values: dict[str, Any]) -> int:
        return conn.execute(update(t).where(*where([o.task_id for o in chunk])).values(**values)).rowcount

    counts = WriteCounts()
    for chunk in _chunks(groups[OutcomeKind.SUCCEEDED]):
        values = dict(released, status=TaskStatus.SUCCEEDED.value, finished_at_ms=now_ms)
        values["result"] = per_row(t.c.result, {o.task_id: o.result_json for o in chunk})
        counts.succeeded += write(chunk, values)
    for chunk in _chunks(groups[OutcomeKind.RETRY]):
        values = dict(released)
        values["next_attempt_at_ms"] = per_row(t.c.next_attempt_at_ms, {o.task_id: o.next_attempt_at_ms for o in chunk})
        values["last_error"] = per_row(t.c.last_error, {o.task_id: o.error for o in chunk})
        counts.retried += write(chunk, values)
    for chunk in _chunks(groups[OutcomeKind.DEAD]):
        values = dict(released, status=TaskStatus.DEAD.value, finished_at_ms=now_ms)
        values["last_error"] = per_row(t.c.last_error, {o.task_id: o.error for o in chunk})
        counts.dead += write(chunk, values)
    counts.lost = len(outcomes) - counts.succeeded - counts.retried - counts.dead
    return counts


def write_exhausted(conn: Connection, exhausted: Sequence[ExhaustedRow], now_ms: int) -> None:
    """Make the rows a claim found out of attempts DEAD, each with its count and its error."""
    if not exhausted:
        return
    dead = {
        "status": TaskStatus.DEAD.value,
        "attempts": per_row(t.c.attempts, {r.id: r.attempts for r in exhausted}),
        "lease_owner": None,
        "lease_until_ms": 0,
        "finished_at_ms": now_ms,
        "updated_at_ms": now_ms,
        "last_error": per_row(t.c.last_error, {r.id: r.error for r in exhausted}),
    }
    conn.execute(update(t).where(id_in(r.id for r in exhausted)).values(**dead))


class TaskStore:
    def __init__(self, db: TaskDatabase) -> None:
        self.db = db

    # ------------------------------------------------------------------ claim

    def claim(
        self,
        *,
        token: str,
        shard_index: int,
        shard_total: int,
        limit: int,
        now_ms: int,
        lease_until_ms: int,
        task_codes: Sequence[str] | None = None,
    ) -> Claim:
        """Lease up to `limit` due rows of shard `shard_index` of `shard_total` to `token`,
        counting an attempt on each; rows out of attempts are made DEAD instead (`exhausted`).
        (A drain run on PostgreSQL holds its rows instead: held_claim.py.)"""
        due = due_condition(shard_index=shard_index, shard_total=shard_total, now_ms=now_ms, task_codes=task_codes)
        lease = {"lease_owner": token, "lease_until_ms": lease_until_ms, "next_attempt_at_ms": lease_until_ms, "updated_at_ms": now_ms}

        def work(conn: Connection) -> Claim:
            if self.db.is_mysql:
                # The candidate ids come back as one JSON array rather than `limit` rows: PyMySQL
                # parses rows in Python, and that parsing was a quarter of a claim's client time.
                candidates = select(t.c.id).where(*due).order_by(t.c.next_attempt_at_ms).limit(limit).subquery()
                packed = conn.execute(select(func.json_arrayagg(candidates.c.id))).scalar()
                ids = json.loads(packed) if packed else []
                if not ids:
                    return Claim([], contended=False)
                locking = (
                    select(*CLAIM_COLUMNS)
                    .with_hint(t, "FORCE INDEX (PRIMARY)", "mysql")
                    .where(id_in(ids), *due[:2])
                    .with_for_update(skip_locked=True)
                )
                found = conn.execute(locking).all()
            elif self.db.is_postgresql:
                conn.exec_driver_sql(pg_claim_settings())
                locking = select(*CLAIM_COLUMNS).where(*due).order_by(t.c.next_attempt_at_ms).limit(limit).with_for_update(skip_locked=True)
                found = conn.execute(locking).all()
                # Only after an empty claim: is anything due that another claim holds?
                ids = [] if found else list(conn.execute(select(t.c.id).where(*due).limit(1)).scalars())
            else:
                ids = []
                found = conn.execute(select(*CLAIM_COLUMNS).where(*due).order_by(t.c.next_attempt_at_ms).limit(limit)).all()
            claim = self._take(conn, found, lease, now_ms)
            # Due rows seen but none taken: another claim holds them this instant (overlapping
            # shards while the shard count changes). Not "nothing due": the caller tries again.
            return Claim(claim.rows, contended=bool(ids) and not found, exhausted=claim.exhausted, lapsed=claim.lapsed)

        return self.db.transaction(work)

    def _take(self, conn: Connection, found: Sequence[Any], lease: dict[str, Any], now_ms: int) -> Claim:
        """Lease the rows read by a claim (attempts + 1), or make them DEAD if none is left."""
        rows: list[ClaimedRow] = []
        exhausted: list[ExhaustedRow] = []
        lapsed: dict[int, str] = {}
        for task_id, task_code, request_no, payload_json, attempts, max_attempts, stages_json, owner in found:
            if attempts >= max_attempts:
                error = exhausted_error(attempts, max_attempts, owner)
                exhausted.append(ExhaustedRow(task_id, task_code, request_no, attempts, max_attempts, owner, error))
                continue
            if owner is not None:
                lapsed[task_id] = lapsed_error(attempts, max_attempts, owner)
            rows.append(ClaimedRow(task_id, task_code, request_no, payload_json, attempts + 1, max_attempts, stages_json, owner))
        if rows:
            # No read-your-write dependency between these assignments: MySQL applies them left
            # to right, SQLite all from the old row, and both give the same result here.
            values = dict(lease, attempts=t.c.attempts + 1)
            if lapsed:  # rare: only rows of a drainer that died (one statement either way)
                values["last_error"] = case(lapsed, value=t.c.id, else_=t.c.last_error)
            conn.execute(update(t).where(self._taken(r.id for r in rows)).values(**values))
        write_exhausted(conn, exhausted, now_ms)
        return Claim(rows, exhausted=exhausted, lapsed=len(lapsed) + sum(1 for r in exhausted if r.lapsed_owner is not None))

    def _taken(self, ids: Iterable[int]) -> ColumnElement[bool]:
        """`id IN (...)` for the claim's UPDATE. On MySQL and PostgreSQL the ids are inlined (see `id_in`); on
        SQLite they are bound (a batch is at most 5,000 ids, far below SQLite's limit on
        variables), so the statement compiles once and stays in SQLAlchemy's and sqlite3's
        statement caches: compiling a fresh statement for every batch cost the claim more than
        its two statements did."""
        if self.db.is_server:
            return id_in(ids)
        return t.c.id.in_(bindparam("claimed_ids", list(ids), expanding=True))

    # ------------------------------------------------------------------ writes under the lease

    def _held(self, token: str, ids: Sequence[int]) -> list[Any]:
        # `lease_owner` is set only on a PENDING row held by a claim: every write that finishes a
        # row (ours, complete/fail) clears it. So the owner check alone says "still ours". A
        # `status` test here would also tempt MySQL into scanning the due index instead of
        # looking the ids up by primary key.
        return [id_in(ids), t.c.lease_owner == token]

    def write_outcomes(self, token: str, outcomes: Sequence[Outcome], now_ms: int) -> WriteCounts:
        """Write finished attempts in bulk (one transaction, a few statements per 500 rows)."""

        def work(conn: Connection) -> WriteCounts:
            # The claim counted the attempt: an outcome does not touch `attempts`.
            return write_outcome_rows(conn, outcomes, now_ms, lambda ids: self._held(token, ids))

        return self.db.transaction(work) if outcomes else WriteCounts()

    def release(self, token: str, ids: Sequence[int], now_ms: int) -> int:
        """Give back rows that were claimed but never started: due again at once, and the attempt
        their claim counted is given back (a clean stop costs no attempt)."""
        # attempts >= 1 here: the row is still held by the claim that counted it.
        values = {"lease_owner": None, "lease_until_ms": 0, "next_attempt_at_ms": now_ms, "updated_at_ms": now_ms, "attempts": t.c.attempts - 1}
        return self._update_held(token, ids, values)

    def renew(self, token: str, ids: Sequence[int], lease_until_ms: int, now_ms: int) -> int:
        """Extend the lease of rows whose handlers are still running; returns how many are still held."""
        values = {"lease_until_ms": lease_until_ms, "next_attempt_at_ms": lease_until_ms, "updated_at_ms": now_ms}
        return self._update_held(token, ids, values)

    def _update_held(self, token: str, ids: Sequence[int], values: dict[str, Any]) -> int:
        if not ids:
            return 0

        def work(conn: Connection) -> int:
            return sum(conn.execute(update(t).where(*self._held(token, chunk)).values(**values)).rowcount for chunk in _chunks(list(ids)))

        return self.db.transaction(work)

    def record_stages(self, token: str, task_id: int, stages_json: str, now_ms: int) -> bool:
        """Persist the finished stages of a running task at once; False if the row is no longer held."""

        def work(conn: Connection) -> bool:
            stmt = update(t).where(*self._held(token, [task_id])).values(stages_done=stages_json, updated_at_ms=now_ms)
            return conn.execute(stmt).rowcount == 1

        return self.db.transaction(work)
