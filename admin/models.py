"""The admin database, as SQLAlchemy 2.0 typed models.

The models are the schema at head. A change to them ships as an Alembic revision in
`admin/schema/versions/` (`python -m shardcron.admin.schema revision`), and `sql/*/admin.sql`
is generated from them (`python -m shardcron.admin.schema sql`); tests keep models, revisions
and files equal on both engines. See docs/development.md, "Schema changes".

Instants are UTC epoch milliseconds in BIGINT columns named `*_at_ms`: exact, free of the
session-time-zone traps of DATETIME, and the unit XXL-JOB's protocol already uses.
High-churn tables (fires, run logs, alarms) carry no foreign keys, so retention deletes and hot
inserts take no locks on the job rows.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.mysql import MEDIUMTEXT
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship

from shardcron.core.schema_versions.spec import NAMING_CONVENTION

from .enums import (
    AddressType,
    AlarmChannel,
    AlarmStatus,
    BackfillStatus,
    CapPolicy,
    Delivery,
    FireStatus,
    FollowupStatus,
    MisfireStrategy,
    OverlapPolicy,
    RouteStrategy,
    RunStatus,
    ScheduleType,
    StepStatus,
    TriggerType,
    UserRole,
    WorkflowStatus,
)

#: BIGINT everywhere but SQLite, where only INTEGER PRIMARY KEY is the auto-incrementing rowid.
Id = BigInteger().with_variant(Integer(), "sqlite")
#: Text that may be larger than MySQL's TEXT (65,535 bytes): a 1,000-step workflow's definition,
#: a step's upstream data (workflow_upstream_max_bytes) or a broadcast step's result. MEDIUMTEXT
#: (16 MiB) there; TEXT is unbounded on SQLite and PostgreSQL.
LargeText = Text().with_variant(MEDIUMTEXT(), "mysql", "mariadb")

MYSQL_TABLE_ARGS: dict[str, Any] = {"mysql_engine": "InnoDB", "mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_bin"}
#: Tables with a surrogate id: on SQLite, AUTOINCREMENT so an id is never handed out twice (a run
#: log's id is the executor's log file name and its duplicate-trigger key).
ID_TABLE_ARGS: dict[str, Any] = {**MYSQL_TABLE_ARGS, "sqlite_autoincrement": True}


class EnumText(TypeDecorator):
    """A StrEnum stored as VARCHAR (no native ENUM: adding a value must not need an ALTER)."""

    impl = String
    cache_ok = True

    def __init__(self, enum_cls: type[StrEnum], length: int = 32) -> None:
        super().__init__(length)
        self.enum_cls = enum_cls
        # Rows are read by the thousand on the scheduler's hot path: a dict lookup, not Enum's call.
        self._members: dict[str, StrEnum] = {member.value: member for member in enum_cls}

    def process_bind_param(self, value: Any, dialect: Any) -> str | None:
        return None if value is None else self.enum_cls(value).value

    def process_result_value(self, value: Any, dialect: Any) -> StrEnum | None:
        member = self._members.get(value)
        if member is not None:
            return member
        return None if value is None else self.enum_cls(value)  # an unknown value raises, as before


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    # Every model here maps one Table; saying so lets Core statements take `Model.__table__`.
    __table__: ClassVar[Table]


class Meta(Base):
    """Key/value facts about the installation (e.g. that the first admin was created)."""

    __tablename__ = "sc_meta"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(String(255))


class ExecutorGroup(Base):
    """An application's executors, by app name (XXL-JOB: xxl_job_group)."""

    __tablename__ = "sc_executor_group"
    __table_args__ = (UniqueConstraint("app_name", name="uq_group_app_name"), ID_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    app_name: Mapped[str] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(128))
    address_type: Mapped[AddressType] = mapped_column(EnumText(AddressType, 16), default=AddressType.AUTO)
    #: For MANUAL groups: normalized executor URLs, one per line.
    manual_addresses: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    # Columns added by later revisions come last: an upgraded table has them at its end.
    #: At most this many runs of the group's jobs active at once across the cluster (firing.caps);
    #: NULL: no cap.
    cap_runs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: What a fire over the group's (or its job's) cap does: wait for a slot, or be skipped.
    cap_policy: Mapped[CapPolicy] = mapped_column(EnumText(CapPolicy, 16), default=CapPolicy.WAIT, server_default=CapPolicy.WAIT.value)
    #: How long a fire waits for a slot (WAIT) before it is skipped, counted from its planned time.
    cap_wait_s: Mapped[int] = mapped_column(Integer, default=60, server_default="60")

    jobs: Mapped[list[Job]] = relationship(back_populates="group")


class ExecutorRegistry(Base):
    """One live (or recently live) executor address, refreshed by its heartbeat."""

    __tablename__ = "sc_executor_registry"
    __table_args__ = (
        UniqueConstraint("registry_group", "app_name", "address", name="uq_registry_address"),
        Index("ix_registry_heartbeat", "heartbeat_at_ms"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    registry_group: Mapped[str] = mapped_column(String(32))
    app_name: Mapped[str] = mapped_column(String(64))
    address: Mapped[str] = mapped_column(String(255))
    registered_at_ms: Mapped[int] = mapped_column(BigInteger)
    heartbeat_at_ms: Mapped[int] = mapped_column(BigInteger)


class Job(Base):
    """A job definition and its schedule state (XXL-JOB: xxl_job_info)."""

    __tablename__ = "sc_job"
    __table_args__ = (
        # The fire loop's due-job query: enabled AND next_fire_at_ms <= horizon ORDER BY next_fire_at_ms.
        Index("ix_job_due", "enabled", "next_fire_at_ms"),
        Index("ix_job_group_name", "group_id", "name"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sc_executor_group.id", name="fk_job_group"))
    name: Mapped[str] = mapped_column(String(128))
    author: Mapped[str] = mapped_column(String(64), default="")
    schedule_type: Mapped[ScheduleType] = mapped_column(EnumText(ScheduleType, 16), default=ScheduleType.NONE)
    #: Cron expression, or the FIX_RATE period in seconds; empty for NONE.
    schedule_conf: Mapped[str] = mapped_column(String(255), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    misfire_strategy: Mapped[MisfireStrategy] = mapped_column(EnumText(MisfireStrategy, 16), default=MisfireStrategy.DO_NOTHING)
    route_strategy: Mapped[RouteStrategy] = mapped_column(EnumText(RouteStrategy, 32), default=RouteStrategy.FIRST)
    handler: Mapped[str] = mapped_column(String(255), default="")
    param: Mapped[str | None] = mapped_column(Text, nullable=True)
    block_strategy: Mapped[str] = mapped_column(String(32), default="SERIAL_EXECUTION")
    timeout_s: Mapped[int] = mapped_column(Integer, default=0)
    retry_count: Mapped[int] = mapped_column(Integer, default=0)
    #: Delay before the first retry; each further retry multiplies it, up to retry_max_delay_s.
    retry_delay_s: Mapped[int] = mapped_column(Integer, default=10)
    retry_backoff_multiplier: Mapped[int] = mapped_column(Integer, default=2)
    retry_max_delay_s: Mapped[int] = mapped_column(Integer, default=600)
    glue_type: Mapped[str] = mapped_column(String(32), default="BEAN")
    glue_source: Mapped[str | None] = mapped_column(Text, nullable=True)
    glue_updated_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Comma-separated job ids fired when a run of this job succeeds.
    child_job_ids: Mapped[str] = mapped_column(String(512), default="")
    alarm_emails: Mapped[str] = mapped_column(String(512), default="")
    alarm_webhook: Mapped[str] = mapped_column(String(512), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Next planned fire not yet claimed (0 when disabled or unscheduled).
    next_fire_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    last_fire_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    # Columns added by later revisions come last: an upgraded table has them at its end.
    #: A /run whose outcome cannot be settled after its sender died: not sent again (AT_MOST_ONCE,
    #: the run is UNKNOWN) or sent again under the same logId (AT_LEAST_ONCE).
    delivery: Mapped[Delivery] = mapped_column(
        EnumText(Delivery, 16), default=Delivery.AT_MOST_ONCE, server_default=Delivery.AT_MOST_ONCE.value
    )
    #: What a fire does while a run of this job is active anywhere (firing.overlap).
    overlap_policy: Mapped[OverlapPolicy] = mapped_column(
        EnumText(OverlapPolicy, 16), default=OverlapPolicy.ALLOW_ALL, server_default=OverlapPolicy.ALLOW_ALL.value
    )
    #: Each scheduled fire's `/run` goes out up to this many seconds after its planned time
    #: (schedules.jitter: fixed per planned time, the same on every node); 0: no jitter.
    jitter_s: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Pause on failure (monitors.pause_on_failure): after this many consecutive failed runs the
    #: job stops itself; 0: never.
    pause_after_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: Failed runs since the last success or start, counted while pause on failure is on.
    consecutive_failures: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: When the job paused itself (0: it did not, or it was started since) and why.
    paused_at_ms: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    paused_reason: Mapped[str | None] = mapped_column(String(512), nullable=True)
    #: Misfire strategies CATCH_UP_ALL / CATCH_UP_LATEST: how far back missed planned times are
    #: still fired (schedules.catchup); 0 with every other strategy.
    catchup_window_s: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    #: At most this many runs of this job active at once across the cluster (firing.caps), over
    #: its group's cap policy and wait; NULL: no cap of its own.
    cap_runs: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: Comma-separated ids of the calendars (sc_calendar) whose excluded dates this job's
    #: scheduled fires skip; empty: none. A column, not a link table: the due-job query reads it
    #: without a join, and an empty string is the one test a job without calendars costs.
    calendar_ids: Mapped[str] = mapped_column(String(512), default="", server_default="")

    group: Mapped[ExecutorGroup] = relationship(back_populates="jobs")


class Calendar(Base):
    """A named set of excluded dates (holidays, freeze windows) read in its own time zone.

    `version` grows with every change of the calendar or its entries: each scheduler node keeps
    the calendars in memory and reloads one only when its version moved (firing.calendar_cache)."""

    __tablename__ = "sc_calendar"
    __table_args__ = (UniqueConstraint("name", name="uq_calendar_name"), ID_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    description: Mapped[str] = mapped_column(String(255), default="")
    version: Mapped[int] = mapped_column(BigInteger, default=1)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class CalendarEntry(Base):
    """One excluded date, or an inclusive range of dates, of a calendar."""

    __tablename__ = "sc_calendar_entry"
    __table_args__ = (Index("ix_calendar_entry_calendar", "calendar_id", "start_date"), ID_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    calendar_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sc_calendar.id", name="fk_calendar_entry_calendar"))
    start_date: Mapped[dt.date] = mapped_column(Date)
    #: The last excluded date (equal to start_date for a single date).
    end_date: Mapped[dt.date] = mapped_column(Date)
    label: Mapped[str] = mapped_column(String(128), default="")


class Fire(Base):
    """One fire of one job, recorded before it is dispatched so that it happens exactly once.

    Scheduled fires are unique per (job, planned time); retries, child-job and manual fires carry
    an `origin_ref` (the failed run, the parent run, a request id) that keeps them distinct.
    A CLAIMED fire belongs to the scheduler lease term named by `owner` (SchedulerLease); when
    that term ends unrenewed, another node adopts the term's fires. `lease_until_ms` is no
    longer written (the term's row holds the lease) and stays 0.
    """

    __tablename__ = "sc_fire"
    __table_args__ = (
        UniqueConstraint("job_id", "fire_at_ms", "trigger_type", "origin_ref", name="uq_fire_once"),
        Index("ix_fire_claimable", "status", "lease_until_ms"),
        Index("ix_fire_created", "created_at_ms"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    fire_at_ms: Mapped[int] = mapped_column(BigInteger)
    trigger_type: Mapped[TriggerType] = mapped_column(EnumText(TriggerType, 16))
    origin_ref: Mapped[int] = mapped_column(BigInteger, default=0)
    status: Mapped[FireStatus] = mapped_column(EnumText(FireStatus, 16), default=FireStatus.PENDING)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Overrides for this fire only (manual trigger, retry of one shard, ...).
    param: Mapped[str | None] = mapped_column(Text, nullable=True)
    shard_index: Mapped[int | None] = mapped_column(Integer, nullable=True)
    shard_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    done_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    # Columns added by later revisions come last: an upgraded table has them at its end.
    #: What the job's overlap policy decided for this fire ("skipped: run 12 was active (SKIP)").
    overlap_note: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: The run whose checkpoint this fire's runs resume from (retries, repair now, a manual
    #: trigger that asks for it); NULL: start fresh.
    resume_from_run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The workflow step run (sc_workflow_step_run) this fire runs, kept by its retries; NULL: none.
    step_run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The planned time a re-run keeps (a retry, a repair now): its runs are sent it as
    #: logDateTime instead of `fire_at_ms`, which stays the time the fire is due. NULL: the same
    #: as `fire_at_ms` (every fire that is not a re-run).
    planned_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


def log_date_ms(fire_at_ms: int, planned_at_ms: int | None) -> int:
    """The time a run is sent as logDateTime (the executor's `ctx.trigger_time_ms`, and the day
    its log file is kept under): its planned time when it is a re-run of an earlier run, else
    its fire's time. Every `/run` body and every `/log` call for the run use this one value."""
    return fire_at_ms if planned_at_ms is None else planned_at_ms


class RunLog(Base):
    """One trigger of a job, or one shard of a broadcast. Its id is the wire `logId`."""

    __tablename__ = "sc_run_log"
    __table_args__ = (
        Index("ix_run_job_time", "job_id", "trigger_at_ms"),
        Index("ix_run_group_time", "group_id", "trigger_at_ms"),
        Index("ix_run_status_time", "status", "trigger_at_ms"),
        # The console's "failed runs of this group lately" (and a user's dashboard) read it index-only.
        Index("ix_run_group_status_time", "group_id", "status", "trigger_at_ms"),
        Index("ix_run_time", "trigger_at_ms"),
        Index("ix_run_fire", "fire_id"),
        Index("ix_run_followup", "followup_status"),
        Index("ix_run_step", "step_run_id"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    group_id: Mapped[int] = mapped_column(BigInteger)
    fire_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    trigger_type: Mapped[TriggerType] = mapped_column(EnumText(TriggerType, 16))
    #: Its fire's time (the same for every shard of a broadcast): the planned time of a scheduled
    #: run, when a retry became due for a retry; sent as logDateTime unless planned_at_ms is set.
    fire_at_ms: Mapped[int] = mapped_column(BigInteger)
    trigger_at_ms: Mapped[int] = mapped_column(BigInteger)
    executor_address: Mapped[str | None] = mapped_column(String(255), nullable=True)
    handler: Mapped[str] = mapped_column(String(255), default="")
    param: Mapped[str | None] = mapped_column(Text, nullable=True)
    shard_index: Mapped[int] = mapped_column(Integer, default=0)
    shard_total: Mapped[int] = mapped_column(Integer, default=1)
    attempt: Mapped[int] = mapped_column(Integer, default=0)
    retry_remaining: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[RunStatus] = mapped_column(EnumText(RunStatus, 16), default=RunStatus.PENDING)
    trigger_code: Mapped[int] = mapped_column(Integer, default=0)
    trigger_msg: Mapped[str | None] = mapped_column(Text, nullable=True)
    handle_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    handle_code: Mapped[int] = mapped_column(Integer, default=0)
    handle_msg: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: Structured result (JSON), e.g. a retry-task drainer's claimed/succeeded/retried/dead counts.
    result_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    followup_status: Mapped[FollowupStatus] = mapped_column(EnumText(FollowupStatus, 16), default=FollowupStatus.NONE)
    #: Latest `/api/progress` of a running run (the executor's `ctx.progress(done, total)`).
    progress_done: Mapped[int | None] = mapped_column(Integer, nullable=True)
    progress_total: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: When the lost-run monitor first found this run's executor not live (NULL: live, or never checked).
    executor_gone_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Latest `ctx.checkpoint(state)` (JSON, at most 16 KiB) and its number within the run; a run
    #: that resumes starts with the checkpoint it resumes from, numbered 0.
    checkpoint_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    checkpoint_seq: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")
    checkpoint_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The run whose checkpoint this run was sent with (`resumeFromLogId`); NULL: started fresh.
    resume_from_run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The workflow step run this run (or retry) belongs to, copied from its fire; NULL: none.
    step_run_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: Its fire's planned_at_ms: the planned time of the run a retry or repair re-runs (NULL: fire_at_ms).
    planned_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)

    @property
    def log_date_ms(self) -> int:
        """The logDateTime this run was (or is) sent with: see `log_date_ms()`."""
        return log_date_ms(self.fire_at_ms, self.planned_at_ms)


class User(Base):
    __tablename__ = "sc_user"
    __table_args__ = (
        UniqueConstraint("username", name="uq_user_username"),
        UniqueConstraint("api_token_hash", name="uq_user_api_token"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    password_hash: Mapped[str] = mapped_column(String(255))
    role: Mapped[UserRole] = mapped_column(EnumText(UserRole, 16), default=UserRole.USER)
    #: Before revision 0004 the user's one API token (its SHA-256). 0004 moved every token into
    #: sc_api_token as "default" and emptied this column; nothing reads or writes it any more.
    #: (Dropping it needs a table rebuild on SQLite because of its unique constraint.)
    api_token_hash: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: Bumped on password change and role change; sessions carrying an older value are void.
    session_version: Mapped[int] = mapped_column(Integer, default=0)
    #: The per-account lockout of releases before 0004; nothing reads them since login
    #: throttling counts per account+address (sc_login_throttle), which cannot lock an owner out.
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)
    #: The console language the user chose ("en", "zh"); NULL: follow the browser (revision 0006).
    locale: Mapped[str | None] = mapped_column(String(8), nullable=True)

    grants: Mapped[list[UserGroupGrant]] = relationship(cascade="all, delete-orphan", back_populates="user")


class ApiToken(Base):
    """A named REST API token of a user: only its SHA-256 is stored (tokens are 256 random bits,
    so a fast hash is enough, and the digest can be looked up by its unique index). Revoking a
    token deletes its row; a password reset or role change deletes all of the user's rows."""

    __tablename__ = "sc_api_token"
    __table_args__ = (
        UniqueConstraint("token_hash", name="uq_api_token_hash"),
        UniqueConstraint("user_id", "name", name="uq_api_token_user_name"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sc_user.id", name="fk_api_token_user", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    #: 0: the token never expires.
    expires_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class ConsoleSession(Base):
    """A console login: the signed cookie carries a random session id, this row its SHA-256.
    Logging out deletes the row, so a copy of the cookie taken before is refused afterwards."""

    __tablename__ = "sc_console_session"
    __table_args__ = (Index("ix_console_session_user", "user_id"), MYSQL_TABLE_ARGS)

    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sc_user.id", name="fk_console_session_user", ondelete="CASCADE"))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class LoginThrottle(Base):
    """Failed logins counted per key (SHA-256 of "account+address" or of "address"), with the
    instant before which that key's next attempt is refused unchecked. Shared by every process."""

    __tablename__ = "sc_login_throttle"
    __table_args__ = (Index("ix_login_throttle_last", "last_failure_at_ms"), MYSQL_TABLE_ARGS)

    key_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    blocked_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    last_failure_at_ms: Mapped[int] = mapped_column(BigInteger)


class UserGroupGrant(Base):
    """A normal user may see and act on the jobs of the groups granted here."""

    __tablename__ = "sc_user_group"
    __table_args__ = (Index("ix_user_group_group", "group_id"), MYSQL_TABLE_ARGS)

    user_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sc_user.id", name="fk_user_group_user", ondelete="CASCADE"), primary_key=True)
    group_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sc_executor_group.id", name="fk_user_group_group", ondelete="CASCADE"), primary_key=True)
    #: Whether the user may create and edit script (GLUE) jobs of this group: code that runs on its
    #: executors. Granted by an admin, explicitly, per group; never implied by the group grant.
    may_run_scripts: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")

    user: Mapped[User] = relationship(back_populates="grants")


class GlueVersion(Base):
    """One version of a job's script: who saved it, when, why (XXL-JOB: xxl_job_logglue).

    Every change of a job's glue_type or glue_source adds a row; the newest
    `services.glue_versions.KEEP_VERSIONS` per job are kept. Deleting the job deletes its versions.
    """

    __tablename__ = "sc_glue_version"
    __table_args__ = (Index("ix_glue_version_job", "job_id", "id"), ID_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sc_job.id", name="fk_glue_version_job", ondelete="CASCADE"))
    glue_type: Mapped[str] = mapped_column(String(32))
    glue_source: Mapped[str | None] = mapped_column(Text, nullable=True)
    remark: Mapped[str] = mapped_column(String(128), default="")
    #: Who saved it: a user id (NULL for the system: import, CLI) and the name at that time.
    author_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    author_name: Mapped[str] = mapped_column(String(64))
    created_at_ms: Mapped[int] = mapped_column(BigInteger)


class AuditEntry(Base):
    """One change made by a person or a token: who, when, from where, what, before and after.

    Written in the same transaction as the change (services.audit). The actor's and the target's
    names are kept as text, so the entries of a deleted user or job stay readable; no foreign
    keys, so deleting a job or a user keeps its history. `before_json`/`after_json` hold only
    the fields that changed (whole objects for a create or a delete), never a secret.
    Housekeeping deletes entries older than `audit_retention_days`.
    """

    __tablename__ = "sc_audit"
    __table_args__ = (
        Index("ix_audit_at", "at_ms"),
        Index("ix_audit_actor_at", "actor_name", "at_ms"),
        Index("ix_audit_action_at", "action", "at_ms"),
        Index("ix_audit_target_at", "target_type", "target_id", "at_ms"),
        Index("ix_audit_group_at", "group_id", "at_ms"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at_ms: Mapped[int] = mapped_column(BigInteger)
    #: ActorKind, AuditAction and AuditTarget values, kept as plain text: a node of an older release
    #: reading entries that a newer one wrote (rolling upgrade) shows a value it does not know.
    actor_kind: Mapped[str] = mapped_column(String(16))
    #: NULL for the command line, the setup page and the system.
    actor_user_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    actor_name: Mapped[str] = mapped_column(String(64))
    #: The name of the API token the actor used (API_TOKEN only).
    token_name: Mapped[str | None] = mapped_column(String(64), nullable=True)
    #: The client's address as the admin saw it (a reverse proxy's, behind one); "local" for the CLI.
    client_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    action: Mapped[str] = mapped_column(String(32))
    target_type: Mapped[str] = mapped_column(String(16))
    target_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    target_name: Mapped[str] = mapped_column(String(128), default="")
    #: The group the target belongs to: users see the entries of their groups. NULL for users and tokens.
    group_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    before_json: Mapped[str | None] = mapped_column(Text, nullable=True)
    after_json: Mapped[str | None] = mapped_column(Text, nullable=True)


class DailyReport(Base):
    """Per-day, per-group run counts for the dashboard (XXL-JOB: xxl_job_log_report)."""

    __tablename__ = "sc_daily_report"
    __table_args__ = (UniqueConstraint("day", "group_id", name="uq_daily_report_day_group"), ID_TABLE_ARGS)

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    day: Mapped[dt.date] = mapped_column(Date)
    group_id: Mapped[int] = mapped_column(BigInteger)
    running_count: Mapped[int] = mapped_column(Integer, default=0)
    success_count: Mapped[int] = mapped_column(Integer, default=0)
    fail_count: Mapped[int] = mapped_column(Integer, default=0)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class Alarm(Base):
    """One alarm for one failed run, or one failed or timed-out workflow instance, on one channel, with its delivery state.

    A run's alarm has `run_log_id` and `job_id`; a workflow instance's has `workflow_instance_id`
    (and neither of the others). Each unique key holds once per (run or instance, channel); rows
    of the other kind hold NULL there, which no unique key compares equal on any backend."""

    __tablename__ = "sc_alarm"
    __table_args__ = (
        UniqueConstraint("run_log_id", "channel", name="uq_alarm_run_channel"),
        UniqueConstraint("workflow_instance_id", "channel", name="uq_alarm_instance_channel"),
        Index("ix_alarm_due", "status", "next_attempt_at_ms"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    run_log_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    job_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    channel: Mapped[AlarmChannel] = mapped_column(EnumText(AlarmChannel, 16))
    target: Mapped[str] = mapped_column(String(512))
    status: Mapped[AlarmStatus] = mapped_column(EnumText(AlarmStatus, 16), default=AlarmStatus.PENDING)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at_ms: Mapped[int] = mapped_column(BigInteger)
    last_error: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    sent_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The run's failure paused its job (pause on failure): the alarm says so.
    job_paused: Mapped[bool] = mapped_column(Boolean, default=False, server_default="0")
    #: The workflow instance this alarm is about (it ended FAILED or TIMED_OUT); NULL for a run's.
    workflow_instance_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class SchedulerNode(Base):
    """A scheduler process; its heartbeat shows it alive (readiness, console, lease owners)."""

    __tablename__ = "sc_scheduler_node"
    __table_args__ = (Index("ix_scheduler_node_heartbeat", "heartbeat_at_ms"), MYSQL_TABLE_ARGS)

    node_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    hostname: Mapped[str] = mapped_column(String(255))
    pid: Mapped[int] = mapped_column(Integer)
    started_at_ms: Mapped[int] = mapped_column(BigInteger)
    heartbeat_at_ms: Mapped[int] = mapped_column(BigInteger)


class SchedulerLease(Base):
    """One lease term of a scheduler process: the right to send the fires it claimed.

    A process renews its term every `lease_renew_ms`; `lease_until_ms` is stamped by the database
    server's clock, so every node judges expiry by the same clock. `send_horizon_ms` (the
    holder's own clock) bounds what it may have sent: no fire planned at or after it. A node
    that finds a term expired deletes its row and adopts every fire whose `owner` is the term's.
    """

    __tablename__ = "sc_scheduler_lease"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    #: `<node_id (at most 119 characters)>#<8 hex>`, written into sc_fire.owner of every fire the term claims.
    owner: Mapped[str] = mapped_column(String(128), primary_key=True)
    node_id: Mapped[str] = mapped_column(String(128))
    lease_until_ms: Mapped[int] = mapped_column(BigInteger)
    send_horizon_ms: Mapped[int] = mapped_column(BigInteger)
    started_at_ms: Mapped[int] = mapped_column(BigInteger)
    renewed_at_ms: Mapped[int] = mapped_column(BigInteger)


class SingletonLease(Base):
    """A named lease for work one node at a time should do (registry sweep, reports, retention)."""

    __tablename__ = "sc_singleton_lease"
    __table_args__ = (MYSQL_TABLE_ARGS,)

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(128), nullable=True)
    lease_until_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    last_run_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class Backfill(Base):
    """"Run this job for every planned time between `from_ms` and `to_ms`" (backfills/): its fires
    are BACKFILL fires with `origin_ref` = this id, created by the backfill advancer a few at a
    time (`pace`), each at its planned time. `next_at_ms` is the next planned time still to
    create (0: all created); the row is locked by whichever node advances it."""

    __tablename__ = "sc_backfill"
    __table_args__ = (
        Index("ix_backfill_status", "status"),
        Index("ix_backfill_job", "job_id", "id"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    job_id: Mapped[int] = mapped_column(BigInteger)
    from_ms: Mapped[int] = mapped_column(BigInteger)
    to_ms: Mapped[int] = mapped_column(BigInteger)
    #: How its fires meet other active runs of the job (ALLOW_ALL, SKIP, BUFFER_ALL; firing.overlap).
    overlap_policy: Mapped[OverlapPolicy] = mapped_column(EnumText(OverlapPolicy, 16))
    #: Most of its fires unfinished or running at once.
    pace: Mapped[int] = mapped_column(Integer)
    #: How many planned times the range holds (fixed at creation).
    planned: Mapped[int] = mapped_column(Integer)
    #: How many of them have a fire so far.
    created: Mapped[int] = mapped_column(Integer, default=0)
    next_at_ms: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[BackfillStatus] = mapped_column(EnumText(BackfillStatus, 16), default=BackfillStatus.RUNNING)
    created_by: Mapped[str] = mapped_column(String(64), default="")
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    finished_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)


class Workflow(Base):
    """A named DAG of steps, each running an existing job (workflows/).

    The steps and edges are one JSON document (`definition_json`, workflows.graph reads it):
    a definition is saved, validated and copied into each instance whole, so an instance keeps
    running the definition it started with while the workflow is edited. `version` grows with
    every save. The schedule columns mean what the job's do; `group_id` is the group the workflow
    is listed under and whose users may see it (editing needs every step's job's group too)."""

    __tablename__ = "sc_workflow"
    __table_args__ = (
        UniqueConstraint("name", name="uq_workflow_name"),
        Index("ix_workflow_due", "enabled", "next_fire_at_ms"),
        Index("ix_workflow_group", "group_id"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    group_id: Mapped[int] = mapped_column(BigInteger, ForeignKey("sc_executor_group.id", name="fk_workflow_group"))
    name: Mapped[str] = mapped_column(String(128))
    description: Mapped[str] = mapped_column(String(512), default="")
    author: Mapped[str] = mapped_column(String(64), default="")
    #: {"steps": [...], "edges": [...]} (workflows.graph.Definition).
    definition_json: Mapped[str] = mapped_column(LargeText)
    version: Mapped[int] = mapped_column(Integer, default=1)
    schedule_type: Mapped[ScheduleType] = mapped_column(EnumText(ScheduleType, 16), default=ScheduleType.NONE)
    schedule_conf: Mapped[str] = mapped_column(String(255), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    misfire_strategy: Mapped[MisfireStrategy] = mapped_column(EnumText(MisfireStrategy, 16), default=MisfireStrategy.DO_NOTHING)
    #: Between this workflow's instances: ALLOW_ALL, SKIP, BUFFER_ONE or CANCEL_OTHER.
    overlap_policy: Mapped[OverlapPolicy] = mapped_column(EnumText(OverlapPolicy, 16), default=OverlapPolicy.ALLOW_ALL)
    #: An instance still running this long after it started ends TIMED_OUT; 0: never.
    timeout_s: Mapped[int] = mapped_column(Integer, default=0)
    alarm_emails: Mapped[str] = mapped_column(String(512), default="")
    alarm_webhook: Mapped[str] = mapped_column(String(512), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    next_fire_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    last_fire_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    updated_at_ms: Mapped[int] = mapped_column(BigInteger)


class WorkflowInstance(Base):
    """One run of a workflow, with the definition it runs. Created exactly once per planned time
    (or per manual request: `origin_ref`), like a fire; every change of it or its steps happens
    with this row locked, so the step transitions of one instance are serial across nodes."""

    __tablename__ = "sc_workflow_instance"
    __table_args__ = (
        UniqueConstraint("workflow_id", "planned_at_ms", "trigger_type", "origin_ref", name="uq_workflow_instance_once"),
        Index("ix_workflow_instance_status", "status", "deadline_at_ms"),
        Index("ix_workflow_instance_workflow", "workflow_id", "id"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    workflow_id: Mapped[int] = mapped_column(BigInteger)
    workflow_version: Mapped[int] = mapped_column(Integer)
    #: The workflow's definition when the instance was created.
    definition_json: Mapped[str] = mapped_column(LargeText)
    trigger_type: Mapped[TriggerType] = mapped_column(EnumText(TriggerType, 16))
    #: The planned time (scheduled), or when it was asked for (by hand).
    planned_at_ms: Mapped[int] = mapped_column(BigInteger)
    #: 0 for scheduled instances; a request id for those started by hand.
    origin_ref: Mapped[int] = mapped_column(BigInteger, default=0)
    #: Parameters given when started by hand (JSON object; templates read them as `params.*`).
    params_json: Mapped[str | None] = mapped_column(LargeText, nullable=True)
    status: Mapped[WorkflowStatus] = mapped_column(EnumText(WorkflowStatus, 16), default=WorkflowStatus.RUNNING)
    #: Why it ended as it did (or why it waits / was skipped).
    message: Mapped[str | None] = mapped_column(String(512), nullable=True)
    triggered_by: Mapped[str] = mapped_column(String(64), default="")
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    started_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: started_at_ms + the workflow's timeout; 0: none.
    deadline_at_ms: Mapped[int] = mapped_column(BigInteger, default=0)


class WorkflowStepRun(Base):
    """One step of one instance. Every step has a row from the instance's start (WAITING); a
    re-run gives the step (and the steps after it) a new row with the next `generation`, and the
    highest generation is the step's current state. The step's fire is a WORKFLOW fire with
    `origin_ref` = this id; its runs and their retries carry `step_run_id` = this id."""

    __tablename__ = "sc_workflow_step_run"
    __table_args__ = (
        UniqueConstraint("instance_id", "step_key", "generation", name="uq_workflow_step_run"),
        ID_TABLE_ARGS,
    )

    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(BigInteger)
    step_key: Mapped[str] = mapped_column(String(64))
    generation: Mapped[int] = mapped_column(Integer, default=0)
    job_id: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[StepStatus] = mapped_column(EnumText(StepStatus, 16), default=StepStatus.WAITING)
    fire_id: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    #: The parameter it was sent with, templates filled in.
    param: Mapped[str | None] = mapped_column(Text, nullable=True)
    #: What it was sent as `upstream` (ctx.upstream): {step key: result data} of the steps with an
    #: edge into it that left result data (JSON); NULL: none.
    upstream_json: Mapped[str | None] = mapped_column(LargeText, nullable=True)
    #: Its result data (the handler's JSON object; a broadcast's: {"shards": [...]}) for the steps after it.
    result_json: Mapped[str | None] = mapped_column(LargeText, nullable=True)
    message: Mapped[str | None] = mapped_column(String(512), nullable=True)
    created_at_ms: Mapped[int] = mapped_column(BigInteger)
    started_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    finished_at_ms: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
