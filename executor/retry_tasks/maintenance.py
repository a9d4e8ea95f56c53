"""Operator work on the table: re-drive dead tasks, purge finished ones, count by status."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, and_, case, delete, func, select, update

from shardcron.core.clock import Clock
from .database import TaskDatabase
from .schema import TaskStatus, retry_task

t = retry_task

PURGE_CHUNK = 5_000
DAY_MS = 86_400_000

RedriveKind = Literal["all", "task_code", "request_no"]


@dataclass(frozen=True)
class RedriveScope:
    """Which dead tasks to re-queue: all of them, one task code, or one request number."""

    kind: RedriveKind
    value: str | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("all", "task_code", "request_no"):
            raise ValueError(f"unknown re-drive scope {self.kind!r}: expected all, task_code:CODE or request_no:NUMBER")
        if (self.kind == "all") != (self.value is None) or (self.value is not None and not self.value.strip()):
            raise ValueError("expected all, task_code:CODE or request_no:NUMBER")

    @classmethod
    def parse(cls, text: str) -> RedriveScope:
        """`all`, `task_code:CODE` or `request_no:NUMBER`; ValueError otherwise."""
        if text == "all":
            return cls("all")
        kind, sep, value = text.partition(":")
        if not sep or kind not in ("task_code", "request_no") or not value:
            raise ValueError("expected all, task_code:CODE or request_no:NUMBER")
        return cls(kind, value)  # type: ignore[arg-type]

    def to_text(self) -> str:
        return "all" if self.kind == "all" else f"{self.kind}:{self.value}"


@dataclass(frozen=True)
class StatsRow:
    task_code: str
    status: TaskStatus
    count: int
    #: PENDING rows due now and not leased (waiting for a drainer).
    due: int
    #: PENDING rows held by a drainer right now.
    leased: int
    #: Oldest next attempt among the PENDING rows that are due (how far behind the drainers are).
    oldest_due_at_ms: int | None


class Maintenance:
    def __init__(self, db: TaskDatabase, clock: Clock) -> None:
        self.db = db
        self.clock = clock

    def redrive(self, scope: RedriveScope, *, shard_index: int = 0, shard_total: int = 1) -> int:
        """Re-queue DEAD tasks in `scope` (of one shard, when given): PENDING, due now, with a fresh
        set of attempts. The last error stays on the row until the next attempt replaces it."""
        now_ms = self.clock.now_ms()
        where = [t.c.status == TaskStatus.DEAD.value]
        if scope.kind == "task_code":
            where.append(t.c.task_code == scope.value)
        elif scope.kind == "request_no":
            where.append(t.c.request_no == scope.value)
        if shard_total > 1:
            where.append(t.c.id % shard_total == shard_index)
        stmt = (
            update(t)
            .where(*where)
            .values(
                status=TaskStatus.PENDING.value,
                attempts=0,
                next_attempt_at_ms=now_ms,
                lease_owner=None,
                lease_until_ms=0,
                finished_at_ms=None,
                updated_at_ms=now_ms,
            )
        )
        return self.db.transaction(lambda conn: conn.execute(stmt).rowcount)

    def purge(self, older_than_days: float, *, include_dead: bool = False) -> int:
        """Delete SUCCEEDED and FAILED rows (and DEAD ones if asked) finished more than
        `older_than_days` ago, in chunks so no single transaction holds many locks."""
        if older_than_days < 0:
            raise ValueError("older_than_days cannot be negative")
        cutoff_ms = self.clock.now_ms() - round(older_than_days * DAY_MS)
        statuses = [TaskStatus.SUCCEEDED.value, TaskStatus.FAILED.value] + ([TaskStatus.DEAD.value] if include_dead else [])
        old = and_(t.c.status.in_(statuses), t.c.finished_at_ms < cutoff_ms)

        def delete_chunk(conn: Connection) -> int:
            ids = conn.execute(select(t.c.id).where(old).limit(PURGE_CHUNK)).scalars().all()
            return conn.execute(delete(t).where(t.c.id.in_(ids), old)).rowcount if ids else 0

        total = 0
        while True:
            deleted = self.db.transaction(delete_chunk)
            total += deleted
            if deleted < PURGE_CHUNK:
                return total

    def stats(self) -> list[StatsRow]:
        """Counts by task code and status, sorted by task code then status."""
        now_ms = self.clock.now_ms()
        pending = t.c.status == TaskStatus.PENDING.value
        waiting = and_(pending, t.c.next_attempt_at_ms <= now_ms)
        held = and_(pending, t.c.lease_owner.is_not(None), t.c.lease_until_ms > now_ms)
        stmt = (
            select(
                t.c.task_code,
                t.c.status,
                func.count(),
                func.coalesce(func.sum(case((waiting, 1), else_=0)), 0),
                func.coalesce(func.sum(case((held, 1), else_=0)), 0),
                func.min(case((waiting, t.c.next_attempt_at_ms), else_=None)),
            )
            .group_by(t.c.task_code, t.c.status)
            .order_by(t.c.task_code, t.c.status)
        )
        with self.db.connect() as conn:
            rows = conn.execute(stmt).all()
        return [
            StatsRow(code, TaskStatus(status), int(count), int(due), int(leased), None if oldest is None else int(oldest))
            for code, status, count, due, leased, oldest in rows
        ]
