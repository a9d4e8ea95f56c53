"""Reading an XXL-JOB database: executor groups and job definitions, as typed rows.

XXL-JOB 2.3 to 3.4 name a group's display name `title` and a job's `job_desc`; 3.5 renames them
to `name` and adds a per-group `access_token`. The reader looks at the columns that are there and
accepts either spelling. Before 2.3 there was no `schedule_type` column: those versions are
refused with a message saying so. The source is only ever read.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, create_engine, inspect, text
from sqlalchemy.exc import ArgumentError, DBAPIError, SQLAlchemyError
from sqlalchemy.engine import make_url
from sqlalchemy.pool import NullPool

from shardcron.core.errors import ShardcronError
from shardcron.core.sqlengine import describe_db_error, redact_url

GROUP_TABLE = "xxl_job_group"
JOB_TABLE = "xxl_job_info"

_GROUP_COLUMNS = ("id", "app_name", "address_type", "address_list")
_JOB_COLUMNS = (
    "id",
    "job_group",
    "author",
    "alarm_email",
    "schedule_type",
    "schedule_conf",
    "misfire_strategy",
    "executor_route_strategy",
    "executor_handler",
    "executor_param",
    "executor_block_strategy",
    "executor_timeout",
    "executor_fail_retry_count",
    "glue_type",
    "glue_source",
    "glue_remark",
    "glue_updatetime",
    "child_jobid",
    "trigger_status",
)


class SourceError(ShardcronError):
    """The XXL-JOB database cannot be read: bad URL, unreachable, not an XXL-JOB 2.3+ schema."""


@dataclass(frozen=True)
class XxlGroup:
    id: int
    app_name: str
    title: str
    address_type: int  # 0 auto-registered, 1 manual
    address_list: str | None
    access_token: str | None  # 3.5 only


@dataclass(frozen=True)
class XxlJob:
    id: int
    job_group: int
    name: str
    author: str | None
    alarm_email: str | None
    schedule_type: str | None
    schedule_conf: str | None
    misfire_strategy: str | None
    route_strategy: str | None
    handler: str | None
    param: str | None
    block_strategy: str | None
    timeout_s: int | None
    retry_count: int | None
    glue_type: str | None
    glue_source: str | None
    glue_remark: str | None
    glue_updated_at: dt.datetime | None
    child_jobid: str | None
    trigger_status: int | None


@dataclass(frozen=True)
class XxlSnapshot:
    """Everything read from one XXL-JOB database, ordered by id."""

    url: str  # redacted
    schema: str  # "2.3-3.4" (title/job_desc) or "3.5" (name)
    groups: list[XxlGroup]
    jobs: list[XxlJob]


def _source_engine(url: str) -> Engine:
    try:
        parsed = make_url(url)
    except ArgumentError:
        raise SourceError(f"--from {url!r} is not a database URL: use mysql+pymysql://USER:PASSWORD@HOST:3306/xxl_job") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend not in ("mysql", "mariadb") or driver != "pymysql":
        raise SourceError(f"--from {redact_url(parsed)}: XXL-JOB keeps its tables in MySQL; use mysql+pymysql://USER:PASSWORD@HOST:3306/xxl_job")
    if not parsed.database:
        raise SourceError(f"--from {redact_url(parsed)} names no database (…/xxl_job at the end)")
    query = dict(parsed.query)
    query.setdefault("charset", "utf8mb4")
    return create_engine(parsed.set(query=query), poolclass=NullPool, connect_args={"connect_timeout": 5})


def _columns(engine: Engine, table: str, where: str) -> set[str]:
    names = set(inspect(engine).get_table_names())
    if table not in names:
        raise SourceError(f"XXL-JOB database {where} has no table {table}: is this XXL-JOB's database?")
    return {c["name"].lower() for c in inspect(engine).get_columns(table)}


def _require(table: str, present: set[str], needed: tuple[str, ...], where: str) -> None:
    missing = [c for c in needed if c not in present]
    if "schedule_type" in missing:
        raise SourceError(f"XXL-JOB database {where}: {table} has no schedule_type column; XXL-JOB before 2.3 is not supported (upgrade it to 2.4 first)")
    if missing:
        raise SourceError(f"XXL-JOB database {where}: {table} lacks column(s) {', '.join(missing)}; expected XXL-JOB 2.4 or 3.x")


def _pick(present: set[str], table: str, where: str, *candidates: str) -> str:
    for name in candidates:
        if name in present:
            return name
    raise SourceError(f"XXL-JOB database {where}: {table} has none of the columns {' / '.join(candidates)}")


def read_xxljob(url: str) -> XxlSnapshot:
    """Read the groups and jobs of the XXL-JOB database at `url` (MySQL only). Raises SourceError."""
    engine = _source_engine(url)
    where = redact_url(engine.url)
    try:
        group_cols = _columns(engine, GROUP_TABLE, where)
        job_cols = _columns(engine, JOB_TABLE, where)
        _require(GROUP_TABLE, group_cols, _GROUP_COLUMNS, where)
        _require(JOB_TABLE, job_cols, _JOB_COLUMNS, where)
        title_col = _pick(group_cols, GROUP_TABLE, where, "title", "name")
        name_col = _pick(job_cols, JOB_TABLE, where, "job_desc", "name")
        token_col = "access_token" if "access_token" in group_cols else None
        with engine.connect() as conn:
            group_rows = conn.execute(
                text(
                    f"SELECT id, app_name, `{title_col}` AS title, address_type, address_list"
                    f"{', access_token' if token_col else ', NULL AS access_token'} FROM {GROUP_TABLE} ORDER BY id"
                )
            ).mappings().all()
            job_rows = conn.execute(
                text(f"SELECT {', '.join(_JOB_COLUMNS)}, `{name_col}` AS job_name FROM {JOB_TABLE} ORDER BY id")
            ).mappings().all()
    except (DBAPIError, SQLAlchemyError) as exc:
        raise SourceError(describe_db_error(exc, engine.url, what="XXL-JOB database")) from None
    finally:
        engine.dispose()
    groups = [
        XxlGroup(
            id=int(r["id"]),
            app_name=r["app_name"] or "",
            title=r["title"] or "",
            address_type=int(r["address_type"] or 0),
            address_list=r["address_list"],
            access_token=r["access_token"],
        )
        for r in group_rows
    ]
    jobs = [
        XxlJob(
            id=int(r["id"]),
            job_group=int(r["job_group"]),
            name=r["job_name"] or "",
            author=r["author"],
            alarm_email=r["alarm_email"],
            schedule_type=r["schedule_type"],
            schedule_conf=r["schedule_conf"],
            misfire_strategy=r["misfire_strategy"],
            route_strategy=r["executor_route_strategy"],
            handler=r["executor_handler"],
            param=r["executor_param"],
            block_strategy=r["executor_block_strategy"],
            timeout_s=r["executor_timeout"],
            retry_count=r["executor_fail_retry_count"],
            glue_type=r["glue_type"],
            glue_source=r["glue_source"],
            glue_remark=r["glue_remark"],
            glue_updated_at=r["glue_updatetime"],
            child_jobid=r["child_jobid"],
            trigger_status=r["trigger_status"],
        )
        for r in job_rows
    ]
    schema = "3.5" if name_col == "name" else "2.3-3.4"
    return XxlSnapshot(url=where, schema=schema, groups=groups, jobs=jobs)
