"""The drainer's hot path: claim due rows under a lease, write their outcomes in bulk.

Every write after the claim carries the claim's lease token (`lease_owner`) in its WHERE
clause, so it lands only while this claim still holds the row: a row a callback finished
meanwhile (which clears the owner), or that another drainer re-claimed after the lease ran out
(a new token), is left alone. The row counts the database reports say how many writes landed.

Claims, per dialect:
  * MySQL/MariaDB, one transaction: (1) a plain read of the ids of the due rows of the shard
    (index only, no locks, packed into one JSON array); (2) `SELECT ... WHERE id IN (those) AND still due FOR UPDATE SKIP
    LOCKED` by primary key; (3) one UPDATE that moves the locked rows to the lease (owner, until;
    next_attempt_at_ms = until). Concurrent drainers skip each other's locked rows, and once
    committed a leased row is no longer due, so two claims never get the same row however the
    shards overlap. Locking by primary key (rather than `FOR UPDATE` over the range scan) matters:
    InnoDB locks each row a range scan visits before the `id % n` filter drops it, so drainers of
    other shards would make each other skip rows — and take an empty claim for "nothing due".
  * SQLite: one `UPDATE ... WHERE id IN (SELECT ... LIMIT n) RETURNING ...` under SQLite's
    single write lock: the claim is one statement, atomic by construction.
"""

from __future__ import annotations

import json

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, Connection, bindparam, case, func, select, text, update

from .database import TaskDatabase
from .schema import TaskStatus, retry_task

#: Rows per bulk statement (the IN list and CASE arms stay well within driver limits).
WRITE_CHUNK = 500

t = retry_task

_CLAIM_COLUMNS = (t.c.id, t.c.task_code, t.c.request_no, t.c.payload, t.c.attempts, t.c.max_attempts, t.c.stages_done)


@dataclass(frozen=True, slots=True)
class ClaimedRow:
    """A claimed row; fields in the order of `_CLAIM_COLUMNS`."""

    id: int
    task_code: str
    request_no: str
    payload_json: str
    #: Attempts made before this claim (the claim's attempt is attempts + 1).
    attempts: int
    max_attempts: int
    stages_json: str | None


@dataclass(frozen=True)
class Claim:
    rows: list[ClaimedRow]
    #: True when due rows existed but all were locked by other claims at that instant.
    contended: bool = False


class OutcomeKind(StrEnum):
    SUCCEEDED = "SUCCEEDED"
    RETRY = "RETRY"  # back to PENDING, due at next_attempt_at_ms
    DEAD = "DEAD"


@dataclass(frozen=True)
class Outcome:
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


def _id_in(ids: Iterable[int]) -> ColumnElement[bool]:
    """`id IN (1,2,3)` with the ids inlined. They are integers read from the table (`int()`
    makes sure), and binding 500 parameters per statement costs the client more than the rest
    of the statement; the hot path runs three such statements per batch."""
    return text(f"{t.c.id.name} IN ({','.join(str(int(i)) for i in ids)})")


def _per_row(column: Any, values: dict[int, Any]) -> Any:
    """One value for all rows when they agree (the common case, and a cacheable statement),
    else `CASE id WHEN .. THEN .. END`."""
    distinct = set(values.values())
    if len(distinct) == 1:
        return bindparam(None, next(iter(distinct)), type_=column.type)
    return case(values, value=t.c.id)


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
        """Lease up to `limit` due rows of shard `shard_index` of `shard_total` to `token`."""
        due = [t.c.status == TaskStatus.PENDING.value, t.c.next_attempt_at_ms <= now_ms]
        if shard_total > 1:
            due.append(t.c.id % shard_total == shard_index)
        if task_codes:
            due.append(t.c.task_code.in_(list(task_codes)))
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
                    select(*_CLAIM_COLUMNS)
                    .with_hint(t, "FORCE INDEX (PRIMARY)", "mysql")
                    .where(_id_in(ids), *due[:2])
                    .with_for_update(skip_locked=True)
                )
                rows = conn.execute(locking).all()
                if rows:
                    conn.execute(update(t).where(_id_in(r.id for r in rows)).values(**lease))
            else:
                ids = []
                picked_ids = select(t.c.id).where(*due).order_by(t.c.next_attempt_at_ms).limit(limit).scalar_subquery()
                rows = conn.execute(update(t).where(t.c.id.in_(picked_ids)).values(**lease).returning(*_CLAIM_COLUMNS)).all()
            claimed = [ClaimedRow(*r) for r in rows]
            # Due rows seen but none taken: another claim holds them this instant (overlapping
            # shards while the shard count changes). Not "nothing due": the caller tries again.
            return Claim(claimed, contended=bool(ids) and not rows)

        return self.db.transaction(work)

    # ------------------------------------------------------------------ writes under the lease

    def _held(self, token: str, ids: Sequence[int]) -> list[Any]:
        # `lease_owner` is set only on a PENDING row held by a claim: every write that finishes a
        # row (ours, complete/fail) clears it. So the owner check alone says "still ours". A
        # `status` test here would also tempt MySQL into scanning the due index instead of
        # looking the ids up by primary key.
        return [_id_in(ids), t.c.lease_owner == token]

    def write_outcomes(self, token: str, outcomes: Sequence[Outcome], now_ms: int) -> WriteCounts:
        """Write finished attempts in bulk (one transaction, a few statements per 500 rows)."""
        groups: dict[OutcomeKind, list[Outcome]] = {kind: [] for kind in OutcomeKind}
        for outcome in outcomes:
            groups[outcome.kind].append(outcome)
        released = {"lease_owner": None, "lease_until_ms": 0, "updated_at_ms": now_ms, "attempts": t.c.attempts + 1}

        def work(conn: Connection) -> WriteCounts:
            counts = WriteCounts()
            for chunk in _chunks(groups[OutcomeKind.SUCCEEDED]):
                values = dict(released, status=TaskStatus.SUCCEEDED.value, finished_at_ms=now_ms)
                values["result"] = _per_row(t.c.result, {o.task_id: o.result_json for o in chunk})
                counts.succeeded += self._update(conn, token, chunk, values)
            for chunk in _chunks(groups[OutcomeKind.RETRY]):
                values = dict(released)
                values["next_attempt_at_ms"] = _per_row(t.c.next_attempt_at_ms, {o.task_id: o.next_attempt_at_ms for o in chunk})
                values["last_error"] = _per_row(t.c.last_error, {o.task_id: o.error for o in chunk})
                counts.retried += self._update(conn, token, chunk, values)
            for chunk in _chunks(groups[OutcomeKind.DEAD]):
                values = dict(released, status=TaskStatus.DEAD.value, finished_at_ms=now_ms)
                values["last_error"] = _per_row(t.c.last_error, {o.task_id: o.error for o in chunk})
                counts.dead += self._update(conn, token, chunk, values)
            counts.lost = len(outcomes) - counts.succeeded - counts.retried - counts.dead
            return counts

        return self.db.transaction(work) if outcomes else WriteCounts()

    def _update(self, conn: Connection, token: str, chunk: Sequence[Outcome], values: dict[str, Any]) -> int:
        ids = [o.task_id for o in chunk]
        return conn.execute(update(t).where(*self._held(token, ids)).values(**values)).rowcount

    def release(self, token: str, ids: Sequence[int], now_ms: int) -> int:
        """Give back rows that were claimed but never started: due again at once, no attempt used."""
        values = {"lease_owner": None, "lease_until_ms": 0, "next_attempt_at_ms": now_ms, "updated_at_ms": now_ms}
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
