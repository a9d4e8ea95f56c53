"""XXL-JOB rows -> shardcron values, with a note for everything that does not carry over.

Pure functions: no database, the current time passed in. Rules (docs/operations.md repeats them):

- Values shardcron has no equivalent for fall back to a safe default and produce an `Issue`
  naming the row, the field, the old value and what was done instead.
- A job whose schedule cannot be used (an invalid cron, FIX_DELAY, a bad period) is imported
  with schedule type NONE and stopped, so it can be fixed in the console; nothing fires by a
  guess. A BEAN job without a handler, and a job with an unknown glue type, are imported stopped.
- Cron expressions are read in `timezone` (XXL-JOB used its JVM's zone, which the database does
  not record), and so are XXL-JOB's DATETIME columns.
- A running job (trigger_status 1) is imported enabled, its next fire computed from now, unless
  the import was asked to stop every job.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from shardcron.admin.enums import CATCH_UP_STRATEGIES, AddressType, Delivery, MisfireStrategy, RouteStrategy, ScheduleType
from shardcron.admin.schedules.schedule import ScheduleError, next_fire_at_ms, validate_schedule
from shardcron.admin.services.groups import APP_NAME_RE
from shardcron.admin.services.job_form import EMAIL_RE, MAX_RETRY_COUNT, MAX_TIMEOUT_S
from shardcron.core.protocol import (
    MAX_APP_NAME_CHARS,
    MAX_HANDLER_CHARS,
    BlockStrategy,
    GlueType,
    ProtocolError,
    normalize_address,
)

from .source import XxlGroup, XxlJob

MAX_TITLE_CHARS = 128
MAX_NAME_CHARS = 128
MAX_AUTHOR_CHARS = 64
MAX_EMAILS_CHARS = 512
MAX_CHILD_IDS_CHARS = 512
MAX_GLUE_REMARK_CHARS = 128  # services.glue_versions.MAX_REMARK_CHARS
#: Script types the shardcron executor runs itself (when glue_enabled); the others are carried
#: over for XXL-JOB executors (Java xxl-job-core) that run them.
SHARDCRON_GLUE_TYPES = frozenset({GlueType.BEAN, GlueType.GLUE_SHELL, GlueType.GLUE_PYTHON})


@dataclass(frozen=True)
class Issue:
    """Something about one source row that was not carried over as it was."""

    subject: str  # "job 12 'Sync orders'" or "group 3 'billing'"
    field: str  # the XXL-JOB column
    value: str  # its value there (shortened)
    outcome: str  # what the import did instead

    def line(self) -> str:
        return f"{self.subject}: {self.field}={self.value}: {self.outcome}"


def _shown(value: Any, limit: int = 80) -> str:
    text = repr(value if value is not None else None)
    return text if len(text) <= limit else text[: limit - 4] + "...'"


@dataclass
class GroupDraft:
    source: XxlGroup
    usable: bool
    app_name: str
    title: str
    address_type: AddressType
    manual_addresses: str | None
    issues: list[Issue] = field(default_factory=list)

    @property
    def subject(self) -> str:
        return f"group {self.source.id} {self.source.app_name!r}"


@dataclass
class JobDraft:
    source: XxlJob
    #: sc_job column values, except group_id and child_job_ids (known only once ids exist)
    values: dict[str, Any]
    child_xxl_ids: list[int]
    issues: list[Issue] = field(default_factory=list)
    #: Kept as the remark of a script job's first version.
    glue_remark: str = ""

    @property
    def subject(self) -> str:
        return f"job {self.source.id} {self.source.name!r}"


def convert_group(group: XxlGroup) -> GroupDraft:
    subject = f"group {group.id} {group.app_name!r}"
    issues: list[Issue] = []
    app_name = (group.app_name or "").strip()
    usable = True
    if len(app_name) > MAX_APP_NAME_CHARS or not APP_NAME_RE.fullmatch(app_name):
        usable = False
        issues.append(
            Issue(subject, "app_name", _shown(group.app_name), f"not usable as an app name (1-{MAX_APP_NAME_CHARS} letters, digits, '.', '_', '-'); group and its jobs skipped")
        )
    title = (group.title or "").strip() or app_name
    if len(title) > MAX_TITLE_CHARS:
        issues.append(Issue(subject, "title", _shown(group.title), f"cut to {MAX_TITLE_CHARS} characters"))
        title = title[:MAX_TITLE_CHARS]
    manual: str | None = None
    if group.address_type == 1:
        address_type = AddressType.MANUAL
        kept: list[str] = []
        for raw in (group.address_list or "").split(","):
            if not raw.strip():
                continue
            try:
                address = normalize_address(raw)
            except ProtocolError as exc:
                issues.append(Issue(subject, "address_list", _shown(raw.strip()), f"dropped: {exc}"))
                continue
            if address not in kept:
                kept.append(address)
        manual = "\n".join(kept) or None
        if not kept:
            # a MANUAL group needs an address; with none, let executors register themselves
            address_type = AddressType.AUTO
            issues.append(Issue(subject, "address_list", _shown(group.address_list), "no usable address; imported as AUTO (executors register themselves)"))
    else:
        address_type = AddressType.AUTO
        if group.address_type != 0:
            issues.append(Issue(subject, "address_type", _shown(group.address_type), "unknown; imported as AUTO (executors register themselves)"))
        # address_list of an auto group is XXL-JOB's cache of its registry: executors re-register.
    if group.access_token:
        issues.append(
            Issue(subject, "access_token", "'***'", "per-group tokens are not carried over: executors use shardcron's one access token (SHARDCRON_ACCESS_TOKEN)")
        )
    return GroupDraft(group, usable, app_name, title, address_type, manual, issues)


def _enum_value(enum_cls: Any, raw: str | None, default: Any, subject: str, column: str, issues: list[Issue]) -> Any:
    text = (raw or "").strip()
    try:
        return enum_cls(text)
    except ValueError:
        issues.append(Issue(subject, column, _shown(raw), f"unknown; imported as {default.value}"))
        return default


def _bounded(raw: int | None, limit: int, subject: str, column: str, issues: list[Issue]) -> int:
    """0..limit (the console's range for the field)."""
    value = int(raw or 0)
    if value < 0:
        issues.append(Issue(subject, column, _shown(raw), "negative; imported as 0"))
        return 0
    if value > limit:
        issues.append(Issue(subject, column, _shown(raw), f"above shardcron's limit; imported as {limit}"))
        return limit
    return value


def _datetime_ms(value: datetime | None, timezone: str) -> int:
    if value is None:
        return 0
    if value.tzinfo is None:
        value = value.replace(tzinfo=ZoneInfo(timezone))
    return int(value.timestamp() * 1000)


def _emails(raw: str | None, subject: str, issues: list[Issue]) -> str:
    kept: list[str] = []
    for part in re.split(r"[,;\s]+", raw or ""):
        if not part:
            continue
        valid = EMAIL_RE.fullmatch(part) is not None and len(part) <= 254  # the console's rule
        if valid and part not in kept:
            kept.append(part)
        elif not valid:
            issues.append(Issue(subject, "alarm_email", _shown(part), "not an e-mail address; dropped"))
    text = ",".join(kept)
    while len(text) > MAX_EMAILS_CHARS:
        dropped = kept.pop()
        issues.append(Issue(subject, "alarm_email", _shown(dropped), f"dropped: the list is longer than {MAX_EMAILS_CHARS} characters"))
        text = ",".join(kept)
    return text


def _child_ids(raw: str | None, subject: str, issues: list[Issue]) -> list[int]:
    ids: list[int] = []
    for part in (raw or "").split(","):
        part = part.strip()
        if not part:
            continue
        if part.isascii() and part.isdigit() and int(part) > 0:
            if int(part) not in ids:
                ids.append(int(part))
        else:
            issues.append(Issue(subject, "child_jobid", _shown(part), "not a job id; dropped"))
    return ids


def convert_job(job: XxlJob, *, timezone: str, now_ms: int, stop_all: bool = False) -> JobDraft:
    """shardcron's values for one XXL-JOB job (group and child ids are mapped by the importer)."""
    subject = f"job {job.id} {job.name!r}"
    issues: list[Issue] = []
    keep_stopped = False

    name = (job.name or "").strip()
    if not name:
        name = f"xxl-job {job.id}"
        issues.append(Issue(subject, "job_desc", "''", f"empty; named {name!r}"))
    if len(name) > MAX_NAME_CHARS:
        issues.append(Issue(subject, "job_desc", _shown(job.name), f"cut to {MAX_NAME_CHARS} characters"))
        name = name[:MAX_NAME_CHARS]
    author = (job.author or "").strip()
    if len(author) > MAX_AUTHOR_CHARS:
        issues.append(Issue(subject, "author", _shown(job.author), f"cut to {MAX_AUTHOR_CHARS} characters"))
        author = author[:MAX_AUTHOR_CHARS]

    # --- schedule
    schedule_type = ScheduleType.NONE
    conf = (job.schedule_conf or "").strip()
    raw_type = (job.schedule_type or "").strip()
    if raw_type in (ScheduleType.CRON, ScheduleType.FIX_RATE):
        try:
            validate_schedule(raw_type, conf, timezone)
            schedule_type = ScheduleType(raw_type)
        except ScheduleError as exc:
            issues.append(Issue(subject, "schedule_conf", _shown(job.schedule_conf), f"{exc.reason}; imported as NONE (manual trigger only) and stopped"))
            conf, keep_stopped = "", True
    elif raw_type == ScheduleType.NONE:
        conf = ""
    else:
        issues.append(Issue(subject, "schedule_type", _shown(job.schedule_type), "not supported (CRON, FIX_RATE or NONE); imported as NONE and stopped"))
        conf, keep_stopped = "", True

    misfire = _enum_value(MisfireStrategy, job.misfire_strategy, MisfireStrategy.DO_NOTHING, subject, "misfire_strategy", issues)
    if misfire in CATCH_UP_STRATEGIES:  # not XXL-JOB's, and an imported job has no catch-up window
        issues.append(Issue(subject, "misfire_strategy", _shown(job.misfire_strategy), "not an XXL-JOB strategy; imported as DO_NOTHING"))
        misfire = MisfireStrategy.DO_NOTHING
    route = _enum_value(RouteStrategy, job.route_strategy, RouteStrategy.FIRST, subject, "executor_route_strategy", issues)
    block = _enum_value(BlockStrategy, job.block_strategy, BlockStrategy.SERIAL_EXECUTION, subject, "executor_block_strategy", issues)

    # --- what runs
    glue_type = GlueType.BEAN
    raw_glue = (job.glue_type or "").strip()
    try:
        glue_type = GlueType(raw_glue)
    except ValueError:
        issues.append(Issue(subject, "glue_type", _shown(job.glue_type), "unknown; imported as BEAN and stopped"))
        keep_stopped = True
    if glue_type not in SHARDCRON_GLUE_TYPES:
        issues.append(Issue(subject, "glue_type", _shown(glue_type.value), "kept, but only XXL-JOB executors that support it can run it (shardcron's executor runs BEAN, GLUE_SHELL, GLUE_PYTHON)"))
    handler = (job.handler or "").strip()
    if len(handler) > MAX_HANDLER_CHARS:
        issues.append(Issue(subject, "executor_handler", _shown(job.handler), f"longer than {MAX_HANDLER_CHARS} characters; cleared and stopped"))
        handler, keep_stopped = "", True
    if glue_type is GlueType.BEAN and not handler:
        issues.append(Issue(subject, "executor_handler", _shown(job.handler), "a BEAN job needs a handler; imported stopped"))
        keep_stopped = True
    # The remark becomes the note of the script's first kept version (one line, at most 128 characters).
    glue_remark = " ".join((job.glue_remark or "").split()) if glue_type is not GlueType.BEAN else ""
    if len(glue_remark) > MAX_GLUE_REMARK_CHARS:
        issues.append(Issue(subject, "glue_remark", _shown(job.glue_remark), f"longer than {MAX_GLUE_REMARK_CHARS} characters; shortened"))
        glue_remark = glue_remark[:MAX_GLUE_REMARK_CHARS]

    enabled = job.trigger_status == 1 and not keep_stopped and not stop_all
    if job.trigger_status == 1 and schedule_type is ScheduleType.NONE and not keep_stopped:
        enabled = False  # XXL-JOB cannot start a NONE job either; no note needed
    if job.trigger_status == 1 and keep_stopped:
        issues.append(Issue(subject, "trigger_status", "1", "was running; imported stopped (see above)"))
    next_fire = 0
    if enabled:
        next_fire = next_fire_at_ms(schedule_type, conf, timezone, now_ms) or 0

    values: dict[str, Any] = {
        "name": name,
        "author": author,
        "schedule_type": schedule_type,
        "schedule_conf": conf,
        "timezone": timezone,
        "misfire_strategy": misfire,
        # XXL-JOB has no such setting: imported jobs get shardcron's default, at most once.
        "delivery": Delivery.AT_MOST_ONCE,
        "route_strategy": route,
        "handler": handler,
        "param": job.param if job.param not in (None, "") else None,
        "block_strategy": block.value,
        "timeout_s": _bounded(job.timeout_s, MAX_TIMEOUT_S, subject, "executor_timeout", issues),
        "retry_count": _bounded(job.retry_count, MAX_RETRY_COUNT, subject, "executor_fail_retry_count", issues),
        "glue_type": glue_type.value,
        "glue_source": job.glue_source if glue_type is not GlueType.BEAN and job.glue_source else None,
        "glue_updated_at_ms": _datetime_ms(job.glue_updated_at, timezone),
        "alarm_emails": _emails(job.alarm_email, subject, issues),
        "alarm_webhook": "",
        "enabled": enabled,
        "next_fire_at_ms": next_fire,
        "last_fire_at_ms": 0,
    }
    return JobDraft(job, values, _child_ids(job.child_jobid, subject, issues), issues, glue_remark)
