"""PostgreSQL claims that hold their rows' locks for the batch, so each row is written once.

On PostgreSQL every row version written costs a new tuple and an entry in each index (the
lease's UPDATE cannot be HOT: it moves `next_attempt_at_ms`, an indexed column), and the
drainer's two writes per row (lease, then outcome) made it 0.36-0.48 of the database's bare
one-write loop (docs/benchmarks.md). Here a claim instead keeps the transaction that locked its
rows (`FOR UPDATE SKIP LOCKED`) open while the handlers run, and writes each row once: its
outcome, with the attempt counted, in the same transaction, committed when the batch is done.
Other drainers skip the locked rows exactly as they skip leased ones.

What stands in for the lease:
  * **The attempt count survives a crash.** Before any handler runs, the claim commits one row
    of `shardcron_retry_claim` (on a connection of its own) listing the batch's ids; the batch's
    commit deletes it with the outcomes. A drainer that dies (kill -9, `os._exit` in a handler,
    out of memory) has its transaction rolled back by the server, its rows become due at once,
    and that row stays behind: the next claim to lock one of them counts the lost attempt
    (`attempts` + 1 per such row, `last_error` naming the owner) and takes the id out of it. So
    a task that kills its drainer is still run at most `max_attempts` times. The record holds
    its claim's transaction id; a claim reads only records whose transaction is no longer in
    progress (`pg_xact_status`), so live batches' records are never parsed.
  * **A stalled drainer loses its rows after the lease.** The claim's transaction sets
    `idle_in_transaction_session_timeout` to the lease (for itself only): a drainer stopped (SIGSTOP, a frozen VM)
    that long has its session ended by the server, and then the same as a crash applies. Its late
    outcomes find the transaction gone and count as lost.
  * **Slow batches fall back to leases.** A batch still running after the first flush interval
    (`BatchRunner.flush_interval_s`, 1 s), or one whose handler records a stage (which must be
    durable at once), is committed part-way: outcomes so far written, every row not finished
    leased as the lease claim would have, and the rest of the batch runs under the lease (see
    store.py). So a row's result is never held back more than a flush interval, and a crash
    loses no more finished work than it does with leases.

A batch whose handlers are all done commits on a thread of its own while the next batch is
claimed (`BatchRunner.settle`): the two transactions' server work overlaps, on two connections.
A callback (`complete`/`fail`) or an enqueue that touches a held row waits for the batch's
commit, at most the flush interval; it then applies to the row as the batch left it.
Rows never started (the run was cancelled or out of budget) are simply not written: their
attempts were never counted. Claim rows whose tasks all left PENDING otherwise (finished by a
callback, purged) are deleted by `collect_claim_records` at the start of each drain run.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from typing import Any, NamedTuple

from sqlalchemy import BigInteger, ColumnElement, Connection, RootTransaction, Text, any_, bindparam, cast, delete, func, insert, select, text, update
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from .database import TaskDatabase
from .errors import TasksDatabaseError
from .schema import TaskStatus, retry_claim, retry_task
from .store import (
    CLAIM_COLUMNS,
    Claim,
    ClaimedRow,
    ExhaustedRow,
    Outcome,
    WriteCounts,
    due_condition,
    exhausted_error,
    id_in,
    id_list,
    lapsed_error,
    per_row,
    pg_claim_settings,
    write_exhausted,
    write_outcome_rows,
)

t = retry_task
c = retry_claim

#: SQLSTATE of a session the server ended for idling in its transaction past the timeout.
_IDLE_TIMEOUT = "25P03"


def _any_id(ids: Sequence[int]) -> list[ColumnElement[bool]]:
    """`id = ANY(:ids)`, the ids bound as one array literal (`{1,2,3}`, a string the driver
    sends as is): the statement stays the same from batch to batch, so SQLAlchemy compiles it
    once (inlined ids made every batch's statement new), and no list is adapted element by
    element."""
    literal = "{" + id_list(ids) + "}"
    return [t.c.id == any_(cast(bindparam("ids", literal, type_=Text()), _ID_ARRAY))]


_ID_ARRAY = ARRAY(BigInteger())


#: The claim's `now`, set at each claim; the statements are compiled once per run.
_NOW = bindparam("now_ms", 0, type_=BigInteger())


class _ClaimSql(NamedTuple):
    """One shard's claim statements as SQL text for the driver, each with its parameters
    (`now_ms` is set at each claim)."""

    locking: str
    locking_params: dict[str, Any]
    probe: str
    probe_params: dict[str, Any]


class HeldClaims:
    """The held claims of one drain run on PostgreSQL, on connections the run keeps: those of
    the claims' transactions (one per batch; two while a batch commits beside the next claim,
    see `BatchRunner.settle`) and one autocommitting for the claim records. `close` gives them
    back. `claim` is called from one thread; a batch may be committed from another."""

    def __init__(self, db: TaskDatabase) -> None:
        self.db = db
        self._lock = threading.Lock()
        self._idle: list[Connection] = []  # connections of no open batch, ready for the next claim
        self._busy: set[Connection] = set()
        self._side: Connection | None = None
        self._compiled: dict[tuple[Any, ...], _ClaimSql] = {}
        self._record: str | None = None

    def claim(self, *, token: str, shard_index: int, shard_total: int, task_codes: Sequence[str] | None, limit: int, now_ms: int, lease_until_ms: int) -> Claim:
        """Lock up to `limit` due rows of the shard in a transaction left open; rows out of
        attempts are made DEAD instead. The claim's `held` batch writes the outcomes and commits."""
        sql = self._statements(shard_index, shard_total, task_codes, limit)
        conn = self._take_connection()
        tx = conn.begin()
        try:
            # The lease as the server's idle limit, and the claim's plan (store.py), for this
            # transaction only.
            conn.exec_driver_sql(pg_claim_settings(lease_until_ms - now_ms))
            # Plain tuples from the driver's cursor: SQLAlchemy's rows cost a drain run more
            # than reading them did (docs/benchmarks.md).
            result = conn.exec_driver_sql(sql.locking, {**sql.locking_params, "now_ms": now_ms})
            found = result.cursor.fetchall()
            result.close()
            if not found:
                # Is anything due that another claim holds right now?
                held_elsewhere = conn.exec_driver_sql(sql.probe, {**sql.probe_params, "now_ms": now_ms}).first() is not None
                self._end(tx)
                return Claim([], contended=held_elsewhere)
            lapses = _count_lost_attempts(conn, {row[0] for row in found})
            xid = found[0][-1]
            rows, exhausted, lapsed = _take(conn, found, lapses, now_ms)
            if not rows:  # only rows made DEAD: nothing to hold
                tx.commit()
                self._end(tx)
                return Claim([], exhausted=exhausted, lapsed=lapsed)
            record = {"owner": token, "task_ids": json.dumps([row.id for row in rows]), "claim_xid": xid, "created_at_ms": now_ms}
            record_id = self._side_connection().exec_driver_sql(self._record_sql(), record).scalar_one()
        except BaseException as exc:
            self._end(tx)
            if isinstance(exc, (DBAPIError, SQLAlchemyError)):
                raise TasksDatabaseError(self.db.describe(exc)) from exc
            raise
        return Claim(rows, exhausted=exhausted, lapsed=lapsed, held=_Batch(self, tx, token, record_id))

    def _statements(self, shard_index: int, shard_total: int, task_codes: Sequence[str] | None, limit: int) -> _ClaimSql:
        """The claim's statements for this shard, compiled once per run: a drain run claims
        dozens of batches a second, and building and compiling them each time cost it more
        per row than reading the rows did."""
        key = (shard_index, shard_total, tuple(task_codes or ()), limit)
        sql = self._compiled.get(key)
        if sql is None:
            due = due_condition(shard_index=shard_index, shard_total=shard_total, now_ms=_NOW, task_codes=task_codes)
            # With each row, the transaction's id (the lock gives it one anyway): the record says
            # by it whether its claim is still alive.
            locking = self._compile(select(*CLAIM_COLUMNS, _XID).where(*due).order_by(t.c.next_attempt_at_ms).limit(limit).with_for_update(skip_locked=True))
            probe = self._compile(select(t.c.id).where(*due).limit(1))
            sql = self._compiled[key] = _ClaimSql(*locking, *probe)
        return sql

    def _record_sql(self) -> str:
        """The claim record's INSERT, as SQL text (compiled once per run, like the claim's)."""
        if self._record is None:
            columns = ("owner", "task_ids", "claim_xid", "created_at_ms")
            self._record = self._compile(insert(c).values({name: bindparam(name) for name in columns}).returning(c.c.id))[0]
        return self._record

    def _compile(self, statement: Any) -> tuple[str, dict[str, Any]]:
        """SQL text for the driver and its parameters (a list of task codes spelled out)."""
        compiled = statement.compile(dialect=self.db.engine.dialect, compile_kwargs={"render_postcompile": True})
        return str(compiled), dict(compiled.params)

    def close(self) -> None:
        """Give the connections back (a batch still open is rolled back)."""
        with self._lock:
            conns = [*self._idle, *self._busy]
            side, self._idle, self._busy, self._side = self._side, [], set(), None
        for conn in conns:
            conn.close()
        if side is not None:
            side.close()

    def _take_connection(self) -> Connection:
        """An idle connection of the run, or a new one."""
        with self._lock:
            conn = self._idle.pop() if self._idle else None
        if conn is None:
            conn = self.db.connection()
        with self._lock:
            self._busy.add(conn)
        return conn

    def _side_connection(self) -> Connection:
        if self._side is None or self._side.invalidated or self._side.closed:
            if self._side is not None:
                self._side.close()
            self._side = self.db.connection(autocommit=True)
        return self._side

    def _end(self, tx: RootTransaction) -> None:
        """Roll back what is left of `tx` and make its connection idle again; a connection the
        server ended is given up."""
        conn = tx.connection
        try:
            if tx.is_active:
                tx.rollback()
        except (DBAPIError, SQLAlchemyError):
            pass  # the connection is gone: the server has rolled the transaction back already
        with self._lock:
            if conn not in self._busy:  # closed meanwhile (`close`)
                return
            self._busy.discard(conn)
            if not conn.invalidated:
                self._idle.append(conn)
                return
        conn.close()


class _Batch:
    """The open transaction of one held claim (see the module docstring)."""

    def __init__(self, claims: HeldClaims, tx: RootTransaction, token: str, record_id: int) -> None:
        self.claims = claims
        self.tx = tx
        self.token = token
        self.record_id = record_id
        self.committed = False

    def commit(self, outcomes: Sequence[Outcome], lease_ids: Sequence[int], lease_until_ms: int, now_ms: int) -> WriteCounts:
        self.committed = True
        conn = self.tx.connection
        try:
            # Every row of the batch is locked by this transaction: no owner test is needed, and
            # the attempt is counted here, with its outcome.
            counts = write_outcome_rows(conn, outcomes, now_ms, _any_id, {"attempts": t.c.attempts + 1})
            if lease_ids:
                lease = {"lease_owner": self.token, "lease_until_ms": lease_until_ms, "next_attempt_at_ms": lease_until_ms, "updated_at_ms": now_ms, "attempts": t.c.attempts + 1}
                conn.execute(update(t).where(*_any_id(lease_ids)).values(**lease))
            conn.execute(delete(c).where(c.c.id == self.record_id))
            self.tx.commit()
            return counts
        except DBAPIError as exc:
            if getattr(exc.orig, "sqlstate", None) == _IDLE_TIMEOUT:
                # Stalled past the lease: the server rolled the batch back; its rows are due again
                # and the claim record tells the next claim that these attempts happened.
                return WriteCounts(lost=len(outcomes))
            raise TasksDatabaseError(self.claims.db.describe(exc)) from exc
        except SQLAlchemyError as exc:
            raise TasksDatabaseError(self.claims.db.describe(exc)) from exc
        finally:
            self.claims._end(self.tx)

    def abandon(self, *, started: bool = True) -> None:
        self.committed = True
        self.claims._end(self.tx)
        if not started:
            # No handler ran: no attempt to count. Best effort; a record left behind only
            # counts one attempt too many on these rows.
            try:
                self.claims._side_connection().execute(delete(c).where(c.c.id == self.record_id))
            except (DBAPIError, SQLAlchemyError, TasksDatabaseError):
                pass


def _count_lost_attempts(conn: Connection, ids: set[int]) -> dict[int, tuple[int, str]]:
    """For the locked `ids` listed by claim records left behind (their claims died): how many
    such attempts each had, and the owner of the latest. Takes the ids out of those records
    (deleting a record left empty) in this transaction, so they are counted once."""
    # Only a dead claim's record can list one of our ids (a live claim holds its rows' locks), and
    # the server tells a dead claim by its transaction, no longer in progress: the records of
    # live claims, one per running batch, are not even parsed. Locked in id order (no deadlock
    # between claims doing the same); a record another claim changed meanwhile is read as it
    # is after that claim's commit.
    found = conn.execute(_LISTING, {"ids": "{" + id_list(ids) + "}"}).all()
    lost: dict[int, tuple[int, str]] = {}
    for rid, owner, text_ids in found:
        record_ids = json.loads(text_ids)
        for task_id in ids.intersection(record_ids):
            count, _ = lost.get(task_id, (0, owner))
            lost[task_id] = (count + 1, owner)
        left = [task_id for task_id in record_ids if task_id not in ids]
        if left:
            conn.execute(update(c).where(c.c.id == rid).values(task_ids=json.dumps(left)))
        else:
            conn.execute(delete(c).where(c.c.id == rid))
    return lost


#: Whether a record's claim transaction has ended (committed claims delete their record, so an
#: ended one was rolled back: its drainer died). Live claims' records are skipped unread.
_ENDED = "pg_xact_status(claim_xid::text::xid8) IS DISTINCT FROM 'in progress'"
_LISTING = text(
    f"SELECT id, owner, task_ids FROM {c.name} WHERE {_ENDED}"
    f" AND EXISTS (SELECT 1 FROM jsonb_array_elements_text({c.name}.task_ids::jsonb) AS listed(value)"
    " WHERE listed.value::bigint = ANY(CAST(:ids AS BIGINT[]))) ORDER BY id FOR UPDATE"
)
#: The claim transaction's id, as a number (`pg_current_xact_id()` is an xid8).
_XID = cast(cast(func.pg_current_xact_id(), Text()), BigInteger())


def _take(conn: Connection, found: Sequence[Any], lost: dict[int, tuple[int, str]], now_ms: int) -> tuple[list[ClaimedRow], list[ExhaustedRow], int]:
    """The rows to run and those out of attempts (made DEAD here), and how many of them had a
    previous attempt that died. Each claim record left behind that lists a row is one attempt
    not yet counted; a row that still carries an expired lease (from a batch that had fallen
    back to leases) had its attempt counted by the lease. Lost attempts are written to the row
    now, with the lapse noted in `last_error`, like the lease claim does."""
    rows: list[ClaimedRow] = []
    exhausted: list[ExhaustedRow] = []
    noted: dict[int, tuple[int, str]] = {}  # run rows with a lapse: id -> (attempts used, last_error)
    lapsed = 0
    for task_id, task_code, request_no, payload_json, attempts, max_attempts, stages_json, lease_owner, _xid in found:
        recorded, owner = lost.get(task_id, (0, lease_owner))
        used = attempts + recorded
        lapsed += owner is not None
        if used >= max_attempts:
            error = exhausted_error(used, max_attempts, owner)
            exhausted.append(ExhaustedRow(task_id, task_code, request_no, used, max_attempts, owner, error))
            continue
        if owner is not None:
            noted[task_id] = (used, lapsed_error(used, max_attempts, owner))
        rows.append(ClaimedRow(task_id, task_code, request_no, payload_json, used + 1, max_attempts, stages_json, owner))
    if noted:  # rare: only rows whose previous attempt died with its drainer
        values = {
            "attempts": per_row(t.c.attempts, {i: used for i, (used, _) in noted.items()}),
            "last_error": per_row(t.c.last_error, {i: error for i, (_, error) in noted.items()}),
            "lease_owner": None,
            "lease_until_ms": 0,
            "updated_at_ms": now_ms,
        }
        conn.execute(update(t).where(id_in(noted)).values(**values))
    write_exhausted(conn, exhausted, now_ms)
    return rows, exhausted, lapsed


def collect_claim_records(db: TaskDatabase) -> int | None:
    """Delete claim records none of whose tasks is PENDING any more (finished by a callback or
    purged after their claim died): nobody will lock those rows to count the lost attempts.
    A live claim's record is skipped unread (its transaction is still in progress).
    None when the claim table does not exist yet (a table at revision 0001: `shardcron tasks
    upgrade` adds it); the drainer then leases its rows as on the other databases."""
    try:
        return db.transaction(lambda conn: conn.execute(_COLLECT, {"pending": TaskStatus.PENDING.value}).rowcount)
    except TasksDatabaseError as exc:
        cause = exc.__cause__
        if isinstance(cause, DBAPIError) and getattr(cause.orig, "sqlstate", None) == _UNDEFINED_TABLE:
            return None
        raise


#: SQLSTATE of a statement naming a table that does not exist.
_UNDEFINED_TABLE = "42P01"
_COLLECT = text(
    f"DELETE FROM {c.name} WHERE {_ENDED} AND NOT EXISTS (SELECT 1 FROM {t.name} WHERE {t.name}.status = :pending"
    f" AND {t.name}.id IN (SELECT jsonb_array_elements_text({c.name}.task_ids::jsonb)::bigint))"
)
