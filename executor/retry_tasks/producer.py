"""Writing tasks from the application: enqueue (idempotent, optionally inside the caller's own
transaction) and the external callbacks complete / fail."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeAlias, TypeVar

from sqlalchemy import Connection, UpdateBase, select, update
from sqlalchemy.dialects.mysql import insert as mysql_insert
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from shardcron.core.clock import Clock, datetime_to_ms
from .database import TaskDatabase
from .errors import TaskInputError, TaskNotFound, TaskStateConflict
from .record import TaskRecord, check_key, clip_error, encode_json_text, encode_payload
from .schema import TaskStatus, retry_task

if TYPE_CHECKING:
    # Only named here: the ORM is the application's to load (an executor using the table through
    # Core, and `shardcron tasks`, never load it).
    from sqlalchemy.orm import Session

t = retry_task
T = TypeVar("T")

#: Where the caller's transaction comes from: an ORM Session or a Core Connection.
Executable: TypeAlias = "Session | Connection"

MAX_ATTEMPTS_LIMIT = 1_000_000


def _stages_json(stages: Mapping[str, Any] | Iterable[str] | None) -> str | None:
    if stages is None:
        return None
    if isinstance(stages, str):
        raise TaskInputError("stages", stages, "expected stage names (a list) or a mapping of stage name -> result")
    done = dict(stages) if isinstance(stages, Mapping) else {name: None for name in stages}
    for name in done:
        if not isinstance(name, str) or not name.strip():
            raise TaskInputError("stages", name, "a stage name must be a non-blank string")
    return encode_json_text("stages", done) if done else None


def _run_at_ms(run_at: int | datetime | None, now_ms: int) -> int:
    if run_at is None:
        return now_ms
    if isinstance(run_at, datetime):
        try:
            return datetime_to_ms(run_at)
        except ValueError as exc:
            raise TaskInputError("run_at", run_at.isoformat(), str(exc)) from None
    if isinstance(run_at, bool) or not isinstance(run_at, int) or run_at < 0:
        raise TaskInputError("run_at", run_at, "expected epoch milliseconds (int >= 0) or an aware datetime")
    return run_at


class TaskProducer:
    def __init__(self, db: TaskDatabase, clock: Clock, *, default_max_attempts: int) -> None:
        self.db = db
        self.clock = clock
        self.default_max_attempts = default_max_attempts

    def _in(self, session: Executable | None, work: Callable[[Any], T]) -> T:
        """Run `work` inside the caller's transaction when given one, else in one of our own."""
        return self.db.transaction(work) if session is None else work(session)

    def _fetch(self, conn: Any, task_code: str, request_no: str) -> Any:
        stmt = select(t).where(t.c.task_code == task_code, t.c.request_no == request_no)
        if self.db.is_mysql:
            # A locking read sees the newest committed row even when the caller's transaction
            # runs at REPEATABLE READ and a concurrent enqueue committed after its snapshot.
            stmt = stmt.with_for_update()
        return conn.execute(stmt).first()

    # ------------------------------------------------------------------ enqueue

    def enqueue(
        self,
        task_code: str,
        request_no: str,
        payload: Mapping[str, Any],
        *,
        max_attempts: int | None = None,
        run_at: int | datetime | None = None,
        stages: Mapping[str, Any] | Iterable[str] | None = None,
        session: Executable | None = None,
    ) -> TaskRecord:
        check_key(task_code, request_no)
        payload_json = encode_payload(payload)
        attempts = self.default_max_attempts if max_attempts is None else max_attempts
        if isinstance(attempts, bool) or not isinstance(attempts, int) or not 1 <= attempts <= MAX_ATTEMPTS_LIMIT:
            raise TaskInputError("max_attempts", attempts, f"expected a whole number from 1 to {MAX_ATTEMPTS_LIMIT}")
        now_ms = self.clock.now_ms()
        row = {
            "task_code": task_code,
            "request_no": request_no,
            "payload": payload_json,
            "status": TaskStatus.PENDING.value,
            "attempts": 0,
            "max_attempts": attempts,
            "next_attempt_at_ms": _run_at_ms(run_at, now_ms),
            "lease_owner": None,
            "lease_until_ms": 0,
            "stages_done": _stages_json(stages),
            "created_at_ms": now_ms,
            "updated_at_ms": now_ms,
        }
        # An insert that does nothing on a duplicate (task_code, request_no) instead of failing:
        # no error to recover from inside the caller's transaction, and a concurrent enqueue of
        # the same key waits on the unique index, then sees the winner's row.
        stmt: UpdateBase
        if self.db.is_mysql:
            stmt = mysql_insert(t).values(**row).on_duplicate_key_update(id=t.c.id)
        elif self.db.is_postgresql:
            stmt = postgresql_insert(t).values(**row).on_conflict_do_nothing(index_elements=["task_code", "request_no"]).returning(t.c.id)
        else:
            stmt = sqlite_insert(t).values(**row).on_conflict_do_nothing(index_elements=["task_code", "request_no"])

        def work(conn: Any) -> TaskRecord:
            result = conn.execute(stmt)
            # MySQL reports the new id only for a real insert; PostgreSQL returns no row on a
            # conflict; SQLite counts none.
            if self.db.is_mysql:
                created = bool(result.lastrowid)
            elif self.db.is_postgresql:
                created = result.first() is not None
            else:
                created = result.rowcount == 1
            return TaskRecord.from_row(self._fetch(conn, task_code, request_no), created=created)

        return self._in(session, work)

    # ------------------------------------------------------------------ callbacks

    def complete(self, task_code: str, request_no: str, result: Any = None, *, session: Executable | None = None) -> TaskRecord:
        """Mark the task SUCCEEDED with `result` (an external callback said so). Harmless when it
        already succeeded; a DEAD task (the poller gave up) is completed too, since the external
        answer is the truth; a task already FAILED by a callback is a `TaskStateConflict`."""
        check_key(task_code, request_no)
        values = {"result": None if result is None else encode_json_text("result", result)}
        return self._finish(task_code, request_no, TaskStatus.SUCCEEDED, values, "complete", session)

    def fail(self, task_code: str, request_no: str, error: str, *, session: Executable | None = None) -> TaskRecord:
        """Mark the task FAILED for good with `error` (an external callback said so). Harmless when
        it already failed; a task already SUCCEEDED is a `TaskStateConflict`."""
        check_key(task_code, request_no)
        if not isinstance(error, str) or not error.strip():
            raise TaskInputError("error", error, "must be a non-blank string")
        return self._finish(task_code, request_no, TaskStatus.FAILED, {"last_error": clip_error(error)}, "fail", session)

    def _finish(
        self,
        task_code: str,
        request_no: str,
        target: TaskStatus,
        values: dict[str, Any],
        action: str,
        session: Executable | None,
    ) -> TaskRecord:
        now_ms = self.clock.now_ms()
        # Update first, read after: on SQLite the write lock comes first (no read-to-write upgrade),
        # and a drainer holding a lease on the row loses it here (its later writes check the owner).
        stmt = (
            update(t)
            .where(
                t.c.task_code == task_code,
                t.c.request_no == request_no,
                t.c.status.in_([TaskStatus.PENDING.value, TaskStatus.DEAD.value]),
            )
            .values(status=target.value, finished_at_ms=now_ms, lease_owner=None, lease_until_ms=0, updated_at_ms=now_ms, **values)
        )

        def work(conn: Any) -> TaskRecord:
            changed = conn.execute(stmt).rowcount
            row = self._fetch(conn, task_code, request_no)
            if row is None:
                raise TaskNotFound(task_code, request_no)
            if not changed and row.status != target.value:
                raise TaskStateConflict(task_code, request_no, action, row.status)
            return TaskRecord.from_row(row)

        return self._in(session, work)

    # ------------------------------------------------------------------ reads

    def get(self, task_code: str, request_no: str) -> TaskRecord | None:
        check_key(task_code, request_no)
        with self.db.connect() as conn:
            row = conn.execute(select(t).where(t.c.task_code == task_code, t.c.request_no == request_no)).first()
        return None if row is None else TaskRecord.from_row(row)

