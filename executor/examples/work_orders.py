"""Recipe: work orders until someone is on shift.

A cron job (`createWorkOrders`) creates the period's work orders — one per site, the period
being the UTC day of the fire — and, in the same transaction, one retry task per order
(`DELIVER_WORK_ORDER`, request number `WO-<period>-<site>`). The drainer job delivers each task
to whoever the roster (`roster.Roster`, a table of the same database) has on shift:

- nobody on shift (no shift scheduled yet, the shift was cleared, a day off): the attempt fails
  with `NobodyOnShift` and the task's backoff spaces out the next tries (1 min, 2 min, 4 min, ...
  up to 15 min by default);
- someone on shift: stage "deliver" puts the order into that person's inbox and assigns it, in
  one transaction; the task SUCCEEDS and is never tried again.

Both jobs are idempotent: a second fire of `createWorkOrders` in the same period creates nothing
(the orders and their tasks exist), and a delivery replayed after a crash finds its stage done
or the inbox row already there.

    python -m shardcron.executor.examples.work_orders     # the story on a fake clock, in a second

`create_executor()` is the executor application of the recipe (`shardcron executor run
shardcron.executor.examples.work_orders:create_executor`); the business database is named by
SHARDCRON_EXAMPLE_DATABASE_URL.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ..app import Executor
from shardcron.core.clock import Clock, FakeClock
from ..context import JobContext, JobResult
from shardcron.core.errors import ShardcronError
from ..retry_tasks import Backoff, RetryTasks, Task, TaskStatus
from .roster import Roster, ShiftState, metadata

TASK_CODE = "DELIVER_WORK_ORDER"
CREATE_HANDLER = "createWorkOrders"
DATABASE_URL_ENV = "SHARDCRON_EXAMPLE_DATABASE_URL"
RETRY_BASE_ENV = "SHARDCRON_EXAMPLE_RETRY_BASE_S"

work_order = sa.Table(
    "example_work_order",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_no", sa.String(128), nullable=False, unique=True),
    sa.Column("period", sa.String(16), nullable=False),
    sa.Column("site", sa.String(64), nullable=False),
    sa.Column("created_at_ms", sa.BigInteger, nullable=False),
    sa.Column("assigned_to", sa.String(64), nullable=True),
    sa.Column("delivered_at_ms", sa.BigInteger, nullable=True),
)

#: What a person on shift receives: one row per order (unique), so a replayed delivery is harmless.
inbox = sa.Table(
    "example_inbox",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("request_no", sa.String(128), nullable=False, unique=True),
    sa.Column("person", sa.String(64), nullable=False),
    sa.Column("delivered_at_ms", sa.BigInteger, nullable=False),
)


class NobodyOnShift(ShardcronError):
    """A delivery attempt found nobody on shift; the task's backoff decides when to look again."""


@dataclass(frozen=True)
class WorkOrderSettings:
    team: str = "maintenance"
    sites: tuple[str, ...] = ("boiler-room", "loading-dock", "roof")
    backoff: Backoff = Backoff(base_s=60, factor=2, cap_s=900, jitter=0.1)
    #: With a 15-minute cap, 200 attempts cover more than two days without anybody on shift.
    max_attempts: int = 200


def period_of(instant_ms: int) -> str:
    """The period a fire at `instant_ms` creates orders for: its UTC day."""
    return datetime.fromtimestamp(instant_ms / 1000, UTC).strftime("%Y-%m-%d")


class WorkOrders:
    """The application side of the recipe: the orders, their delivery handler and the cron job."""

    def __init__(self, tasks: RetryTasks, settings: WorkOrderSettings = WorkOrderSettings()) -> None:
        self.tasks = tasks
        self.settings = settings
        self.roster = Roster(tasks.engine)
        tasks.handler(TASK_CODE, backoff=settings.backoff)(self.deliver)

    @property
    def clock(self) -> Clock:
        return self.tasks.clock

    def create_tables(self) -> None:
        self.tasks.create_table()
        metadata.create_all(self.tasks.engine)

    def register(self, executor: Executor) -> None:
        executor.job(CREATE_HANDLER)(self.create_orders_job)
        self.tasks.register_drainer(executor)

    def create_orders(self, period: str) -> list[str]:
        """Create the period's orders and their delivery tasks in one transaction; returns the
        request numbers created now (empty when the period's orders exist already)."""
        now_ms = self.clock.now_ms()
        created = []
        with self.tasks.engine.begin() as conn:
            existing = set(conn.execute(sa.select(work_order.c.request_no).where(work_order.c.period == period)).scalars())
            for site in self.settings.sites:
                request_no = f"WO-{period}-{site}"
                if request_no in existing:
                    continue
                conn.execute(work_order.insert().values(request_no=request_no, period=period, site=site, created_at_ms=now_ms))
                self.tasks.enqueue(TASK_CODE, request_no, {"site": site, "team": self.settings.team}, max_attempts=self.settings.max_attempts, session=conn)
                created.append(request_no)
        return created

    def create_orders_job(self, ctx: JobContext) -> JobResult:
        period = period_of(ctx.trigger_time_ms or self.clock.now_ms())
        created = self.create_orders(period)
        ctx.log("period %s: created %d work order(s): %s", period, len(created), ", ".join(created) or "none (they exist)")
        return JobResult.success(f"period {period}: {len(created)} work order(s) created", {"period": period, "created": created})

    def deliver(self, task: Task) -> dict[str, Any]:
        """The task handler: deliver to whoever is on shift now, or fail so that backoff applies."""
        team = str(task.payload.get("team") or self.settings.team)
        duty = self.roster.on_shift(team, self.clock.now_ms())
        if duty.person is None:
            raise NobodyOnShift(f"nobody on shift for {team}: {duty.vacancy} (attempt {task.attempt})")
        person = task.stage("deliver", self._put_in_inbox, task.request_no, duty.person)
        return {"assigned_to": person}

    def _put_in_inbox(self, request_no: str, person: str) -> str:
        now_ms = self.clock.now_ms()
        with self.tasks.engine.begin() as conn:
            earlier = conn.execute(sa.select(inbox.c.person).where(inbox.c.request_no == request_no)).scalar_one_or_none()
            if earlier is not None:  # delivered by an attempt whose stage record was lost: keep it
                return str(earlier)
            conn.execute(inbox.insert().values(request_no=request_no, person=person, delivered_at_ms=now_ms))
            conn.execute(work_order.update().where(work_order.c.request_no == request_no).values(assigned_to=person, delivered_at_ms=now_ms))
        return person

    def inbox_of(self, person: str) -> list[str]:
        with self.tasks.engine.connect() as conn:
            return list(conn.execute(sa.select(inbox.c.request_no).where(inbox.c.person == person).order_by(inbox.c.request_no)).scalars())

    def orders(self, period: str) -> list[sa.Row[Any]]:
        with self.tasks.engine.connect() as conn:
            return list(conn.execute(sa.select(work_order).where(work_order.c.period == period).order_by(work_order.c.site)).all())


def create_executor() -> Executor:
    """The recipe's executor application: the executor's own settings from SHARDCRON_EXECUTOR_*,
    the business database from SHARDCRON_EXAMPLE_DATABASE_URL (the retry base delay, in
    seconds, from SHARDCRON_EXAMPLE_RETRY_BASE_S when a demo wants it short)."""
    url = os.environ.get(DATABASE_URL_ENV)
    if not url:
        raise ShardcronError(f"{DATABASE_URL_ENV} is not set: the work-orders recipe needs the business database")
    base_s = float(os.environ.get(RETRY_BASE_ENV) or WorkOrderSettings.backoff.base_s)
    settings = WorkOrderSettings(backoff=Backoff(base_s=base_s, factor=2, cap_s=max(base_s, 15 * base_s), jitter=0.1))
    orders = WorkOrders(RetryTasks(url), settings)
    orders.create_tables()
    executor = Executor()
    orders.register(executor)
    return executor


def run_demo(url: str | None = None, *, out: Callable[[str], None] = print) -> dict[str, str]:
    """The story of one morning on a fake clock: orders created at 05:30, before any shift is
    scheduled; from 06:00 Alice has the day off and Bob's shift was cleared; Carol starts at
    08:00. The drainer runs every minute; each order reaches Carol at the first attempt from
    08:00 on. Returns request number -> person."""
    day = datetime(2026, 12, 7, tzinfo=UTC)
    at = lambda hours, minutes=0: int((day + timedelta(hours=hours, minutes=minutes)).timestamp() * 1000)  # noqa: E731
    clock = FakeClock(start_ms=at(5, 30))
    with tempfile.TemporaryDirectory(prefix="shardcron-work-orders-") as folder:
        tasks = RetryTasks(url or f"sqlite:///{Path(folder) / 'business.db'}", clock=clock, owner="demo-executor")
        orders = WorkOrders(tasks, WorkOrderSettings(backoff=Backoff(base_s=600, factor=2, cap_s=3600, jitter=0)))
        try:
            orders.create_tables()
            orders.roster.add_shift("maintenance", "alice", at(6), at(14), ShiftState.DAY_OFF)
            bob = orders.roster.add_shift("maintenance", "bob", at(6), at(14))
            orders.roster.set_state(bob, ShiftState.CLEARED)
            orders.roster.add_shift("maintenance", "carol", at(8), at(16))
            created = orders.create_orders(period_of(clock.now_ms()))
            out(f"05:30 created {', '.join(created)}")
            while clock.now_ms() <= at(9):
                report = tasks.drain()
                if report.claimed:
                    hhmm = datetime.fromtimestamp(clock.now_ms() / 1000, UTC).strftime("%H:%M")
                    record = tasks.get(TASK_CODE, created[0])
                    assert record is not None
                    detail = f"delivered to {record.result['assigned_to']}" if record.status == TaskStatus.SUCCEEDED else record.last_error
                    out(f"{hhmm} attempt {record.attempts}: {detail}")
                clock.advance(s=60)
            final = {row.request_no: row.assigned_to for row in orders.orders(period_of(at(5, 30)))}
            for request_no, person in final.items():
                record = tasks.get(TASK_CODE, request_no)
                assert record is not None
                out(f"{request_no}: {record.status.value} after {record.attempts} attempt(s), in the inbox of {person}")
            return final
        finally:
            tasks.close()


if __name__ == "__main__":
    run_demo()
