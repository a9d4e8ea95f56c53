"""Checking a job's fields: every rule of a job definition, written once for console and API.

`clean_job` takes what a form or a JSON body gave (strings from a form, typed values from JSON;
a partial dict for an update), merges it over the current job, checks everything and returns the
column values, or raises one `ServiceError` whose `field_errors` name every bad field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.core.numbers import parse_whole
from shardcron.core.protocol import BlockStrategy, GlueType

from ..calendar_rows import parse_calendar_ids
from ..enums import CATCH_UP_STRATEGIES, Delivery, MisfireStrategy, OverlapPolicy, RouteStrategy, ScheduleType
from ..models import ExecutorGroup, Job
from ..schedules.catchup import MAX_CATCHUP_WINDOW_S
from ..schedules.jitter import MAX_JITTER_S
from ..schedules.schedule import ScheduleError, validate_schedule
from .actor import Actor
from .caps import check_cap
from ..texts import _t
from .errors import FieldErrors
from .job_calendars import check_keeps_a_time, resolve_calendars
from .numbers import ID_MAX, ID_MIN, check_whole
from .script_rights import require_script_right, script_touched

#: TEXT columns hold 65,535 bytes on MySQL.
MAX_TEXT_BYTES = 65_535
#: A week: longer runs are not cron jobs.
MAX_TIMEOUT_S = 7 * 24 * 3600
MAX_RETRY_COUNT = 100
MAX_RETRY_DELAY_S = 7 * 24 * 3600
MAX_BACKOFF_MULTIPLIER = 10
MAX_CHILD_JOBS = 50
#: Pause on failure: the most consecutive failed runs a job may be given before it stops itself.
MAX_PAUSE_AFTER_FAILURES = 1000
EMAIL_RE = re.compile(r"[^@\s,;<>\"']+@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)+")

#: Field -> (default for a new job, column length or None).
JOB_FIELDS: dict[str, tuple[Any, int | None]] = {
    "group_id": (None, None),
    "name": (None, 128),
    "author": ("", 64),
    "schedule_type": (ScheduleType.CRON, None),
    "schedule_conf": ("", 255),
    "timezone": (None, 64),
    "misfire_strategy": (MisfireStrategy.DO_NOTHING, None),
    "delivery": (Delivery.AT_MOST_ONCE, None),
    "overlap_policy": (OverlapPolicy.ALLOW_ALL, None),
    "jitter_s": (0, None),
    "pause_after_failures": (0, None),
    "catchup_window_s": (0, None),
    "cap_runs": (None, None),
    "route_strategy": (RouteStrategy.FIRST, None),
    "handler": ("", 255),
    "param": (None, None),
    "block_strategy": (BlockStrategy.SERIAL_EXECUTION, None),
    "timeout_s": (0, None),
    "retry_count": (0, None),
    "retry_delay_s": (10, None),
    "retry_backoff_multiplier": (2, None),
    "retry_max_delay_s": (600, None),
    "glue_type": (GlueType.BEAN, None),
    "glue_source": (None, None),
    "child_job_ids": ("", 512),
    "alarm_emails": ("", 512),
    "alarm_webhook": ("", 512),
}
_INT_RANGES = {
    "timeout_s": (0, MAX_TIMEOUT_S),
    "retry_count": (0, MAX_RETRY_COUNT),
    "retry_delay_s": (0, MAX_RETRY_DELAY_S),
    "retry_backoff_multiplier": (1, MAX_BACKOFF_MULTIPLIER),
    "retry_max_delay_s": (0, MAX_RETRY_DELAY_S),
    "jitter_s": (0, MAX_JITTER_S),
    "pause_after_failures": (0, MAX_PAUSE_AFTER_FAILURES),
    "catchup_window_s": (0, MAX_CATCHUP_WINDOW_S),
}
_ENUMS = {
    "misfire_strategy": MisfireStrategy,
    "delivery": Delivery,
    "overlap_policy": OverlapPolicy,
    "route_strategy": RouteStrategy,
    "block_strategy": BlockStrategy,
    "glue_type": GlueType,
}


def _check_catchup(errors: FieldErrors, out: dict[str, Any]) -> None:
    """A catch-up strategy needs a window; any other strategy has none (a stored window always
    means something)."""
    if "catchup_window_s" in errors or "misfire_strategy" in errors:
        return
    catching_up = out["misfire_strategy"] in CATCH_UP_STRATEGIES
    if catching_up and not out["catchup_window_s"]:
        errors.add("catchup_window_s", _t("misfire strategy %(strategy)s needs a catch-up window of 1 to %(limit)s seconds", strategy=out["misfire_strategy"], limit=MAX_CATCHUP_WINDOW_S))
    elif not catching_up and out["catchup_window_s"]:
        errors.add("catchup_window_s", _t("must be 0 unless the misfire strategy is CATCH_UP_ALL or CATCH_UP_LATEST"))


#: Fields a form or body may give besides the columns: `calendars`, by name (job_calendars).
INPUT_ONLY_FIELDS = frozenset({"calendars"})


def current_values(job: Job) -> dict[str, Any]:
    return {**{name: getattr(job, name) for name in JOB_FIELDS}, "calendar_ids": job.calendar_ids}


def parse_id_list(value: str) -> list[int]:
    """A stored comma-separated id list (child_job_ids)."""
    return [number for number in map(parse_whole, value.split(",")) if number is not None and ID_MIN <= number <= ID_MAX]


def parse_email_list(value: str) -> list[str]:
    return [part.strip() for part in re.split(r"[,;\s]+", value or "") if part.strip()]


def _text(errors: FieldErrors, name: str, value: Any, *, max_chars: int | None, required: bool = False, nullable: bool = False) -> str | None:
    if value is None:
        if required:
            errors.add(name, _t("is required"))
        return None if nullable else ""
    if not isinstance(value, str):
        errors.add(name, _t("must be text"))
        return None
    if "\x00" in value:
        errors.add(name, _t("must not contain NUL characters"))
    if required and not value.strip():
        errors.add(name, _t("is required"))
    if max_chars is not None and len(value) > max_chars:
        errors.add(name, _t("is %(length)s characters long; at most %(limit)s fit", length=len(value), limit=max_chars))
    elif len(value.encode("utf-8")) > MAX_TEXT_BYTES:
        errors.add(name, _t("is %(length)s bytes long; at most %(limit)s fit", length=len(value.encode("utf-8")), limit=MAX_TEXT_BYTES))
    return value


def _child_ids(errors: FieldErrors, value: Any) -> list[int]:
    if value is None or value == "":
        return []
    parts = value.replace(";", ",").split(",") if isinstance(value, str) else value
    if not isinstance(parts, (list, tuple)):
        errors.add("child_job_ids", _t("must be a list of job ids"))
        return []
    ids: list[int] = []
    for part in parts:
        if isinstance(part, str) and not part.strip():
            continue
        number = check_whole(errors, "child_job_ids", part, ID_MIN, ID_MAX, what=_t("a job id"))
        if number is None:
            return []
        if number not in ids:
            ids.append(number)
    if len(ids) > MAX_CHILD_JOBS:
        errors.add("child_job_ids", _t("at most %(max)s child jobs", max=MAX_CHILD_JOBS))
    return ids


def _emails(errors: FieldErrors, value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        items = parse_email_list(value)
    elif isinstance(value, (list, tuple)) and all(isinstance(v, str) for v in value):
        items = [v.strip() for v in value if v.strip()]
    else:
        errors.add("alarm_emails", _t("must be a list of e-mail addresses"))
        return []
    for item in items:
        if not EMAIL_RE.fullmatch(item) or len(item) > 254:
            errors.add("alarm_emails", _t("%(value)s is not an e-mail address", value=repr(item)))
    if len(",".join(items)) > 512:
        errors.add("alarm_emails", _t("the addresses take more than 512 characters together"))
    return items


def _webhook(errors: FieldErrors, value: Any) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str):
        errors.add("alarm_webhook", _t("must be a URL"))
        return ""
    url = value.strip()
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        errors.add("alarm_webhook", _t("must be an http:// or https:// URL with a host"))
    elif parts.username or parts.password:
        errors.add("alarm_webhook", _t("must not carry a user name or password; put a token in the path or query"))
    if len(url) > 512:
        errors.add("alarm_webhook", _t("is %(length)s characters long; at most %(limit)s fit", length=len(url), limit=512))
    return url


def find_cycle(session: Session, job_id: int, children: list[int]) -> list[int] | None:
    """The path job_id -> ... -> job_id that `children` would close, else None."""
    graph: dict[int, list[int]] = {
        jid: parse_id_list(text) for jid, text in session.execute(sa.select(Job.id, Job.child_job_ids).where(Job.child_job_ids != ""))
    }
    graph[job_id] = children
    stack: list[tuple[int, list[int]]] = [(job_id, [job_id])]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        for child in graph.get(node, []):
            if child == job_id:
                return path + [child]
            if child not in seen:
                seen.add(child)
                stack.append((child, path + [child]))
    return None


def clean_job(
    session: Session,
    actor: Actor,
    data: Mapping[str, Any],
    current: Job | None,
    *,
    default_timezone: str = "UTC",
    approved_webhook: str = "",
    now_ms: int | None = None,
) -> dict[str, Any]:
    """The column values for a new job (`current` None) or an update (partial `data`).

    The alarm webhook is a URL the admin will POST to, so only an ADMIN may point it somewhere
    new (no SSRF through a job form): a USER may keep the job's current one (or
    `approved_webhook`, the one of the job being copied) or clear it.

    A script change (services.script_rights) by an actor without the right for the job's group
    raises Forbidden (403) before anything is written, whatever else is wrong with the data."""
    errors = FieldErrors()
    for unknown in sorted(set(data) - set(JOB_FIELDS) - INPUT_ONLY_FIELDS):
        errors.add(unknown, _t("unknown field"))
    merged = current_values(current) if current is not None else {k: d for k, (d, _) in JOB_FIELDS.items()}
    merged.update({k: v for k, v in data.items() if k in JOB_FIELDS})
    if current is None and not merged["timezone"]:
        merged["timezone"] = default_timezone
    out: dict[str, Any] = {}

    out["group_id"] = group_id = check_group(errors, session, actor, merged["group_id"])

    name = _text(errors, "name", merged["name"], max_chars=128, required=True)
    out["name"] = name.strip() if name else name
    for field in ("author", "handler", "schedule_conf"):
        value = _text(errors, field, merged[field], max_chars=JOB_FIELDS[field][1])
        out[field] = value.strip() if isinstance(value, str) else value
    for field in ("param", "glue_source"):
        out[field] = _text(errors, field, merged[field], max_chars=None, nullable=True)

    for field, enum_cls in _ENUMS.items():
        try:
            out[field] = enum_cls(merged[field])
        except ValueError:
            errors.add(field, _t("%(value)s is not one of %(allowed)s", value=repr(merged[field]), allowed=", ".join(e.value for e in enum_cls)))
    if out.get("glue_type") == GlueType.BEAN and not out.get("handler") and "handler" not in errors:
        errors.add("handler", _t("a BEAN job needs the name of a handler registered by its executors"))
    if out.get("glue_type") not in (None, GlueType.BEAN) and not (out.get("glue_source") or "").strip() and "glue_source" not in errors:
        errors.add("glue_source", _t("a %(type)s job needs its script", type=out["glue_type"]))

    try:
        out["schedule_type"] = ScheduleType(merged["schedule_type"])
    except ValueError:
        errors.add("schedule_type", _t("%(value)s is not one of %(allowed)s", value=repr(merged["schedule_type"]), allowed=", ".join(t.value for t in ScheduleType)))
    timezone = _text(errors, "timezone", merged["timezone"], max_chars=JOB_FIELDS["timezone"][1], required=True)
    out["timezone"] = timezone.strip() if isinstance(timezone, str) else timezone
    if "schedule_type" not in errors and "schedule_conf" not in errors:
        # A bad zone must not hide a bad expression: the expression is then checked in UTC.
        zones = [out["timezone"], "UTC"] if "timezone" not in errors else ["UTC"]
        for zone in zones:
            try:
                validate_schedule(out["schedule_type"], out["schedule_conf"], zone)
                break
            except ScheduleError as exc:
                errors.add(exc.field, exc.reason)
                if exc.field != "timezone":
                    break

    for field, (low, high) in _INT_RANGES.items():
        out[field] = check_whole(errors, field, merged[field], low, high)
    if "retry_delay_s" not in errors and "retry_max_delay_s" not in errors and out["retry_max_delay_s"] < out["retry_delay_s"]:
        errors.add("retry_max_delay_s", _t("must not be shorter than retry_delay_s"))
    if (
        "jitter_s" not in errors and out["jitter_s"] and out.get("schedule_type") == ScheduleType.FIX_RATE
        and "schedule_conf" not in errors and out["jitter_s"] > int(out["schedule_conf"])
    ):
        errors.add("jitter_s", _t("must not be longer than the fixed rate (%(rate)s s)", rate=out["schedule_conf"]))
    _check_catchup(errors, out)

    out["cap_runs"] = check_cap(errors, "cap_runs", merged["cap_runs"])

    children = _child_ids(errors, merged["child_job_ids"])
    if children and "child_job_ids" not in errors:
        found = {jid: gid for jid, gid in session.execute(sa.select(Job.id, Job.group_id).where(Job.id.in_(children)))}
        missing = [c for c in children if c not in found or not actor.can_access_group(found[c])]
        if missing:
            errors.add("child_job_ids", _t("no such job: %(ids)s", ids=", ".join(map(str, missing))))
        elif current is not None:
            cycle = find_cycle(session, current.id, children)
            if cycle:
                errors.add("child_job_ids", _t("would make a cycle: %(cycle)s", cycle=" -> ".join(map(str, cycle))))
    out["child_job_ids"] = ",".join(map(str, children))
    if len(out["child_job_ids"]) > 512:
        errors.add("child_job_ids", _t("the ids take more than 512 characters together"))
    if "calendars" in data:
        calendar_ids = resolve_calendars(session, errors, data["calendars"])
    else:
        calendar_ids = parse_calendar_ids(current.calendar_ids) if current is not None else []
    out["calendar_ids"] = ",".join(map(str, calendar_ids))
    if now_ms is not None and calendar_ids and not {"schedule_type", "schedule_conf", "timezone", "calendars"} & set(errors.errors):
        check_keeps_a_time(session, errors, calendar_ids, out["schedule_type"], out["schedule_conf"], out["timezone"], now_ms)
    out["alarm_emails"] = ",".join(_emails(errors, merged["alarm_emails"]))
    out["alarm_webhook"] = _webhook(errors, merged["alarm_webhook"])
    allowed = {"", approved_webhook, current.alarm_webhook if current is not None else ""}
    if not actor.is_admin and "alarm_webhook" not in errors and out["alarm_webhook"] not in allowed:
        errors.add("alarm_webhook", _t("only an admin may set a webhook URL (the admin calls it); ask one, or use alarm e-mails"))

    if group_id is not None and "group_id" not in errors and script_touched(out, current):
        what = _t("create a script job") if current is None else _t("change a job's script, its type or the group a script job runs in")
        require_script_right(actor, group_id, job_id=current.id if current else None, what=what)

    errors.raise_if_any(_t("job not saved") if current is None else _t("job %(id)s not saved", id=current.id), object_id=current.id if current else None)
    return out


def check_group(errors: FieldErrors, session: Session, actor: Actor, value: Any) -> int | None:
    """A form's `group_id`: required, an id, a group that exists and the actor may use."""
    if value in (None, ""):
        errors.add("group_id", _t("is required"))
        return None
    group_id = check_whole(errors, "group_id", value, ID_MIN, ID_MAX, what=_t("a group id"))
    if group_id is not None and (not actor.can_access_group(group_id) or session.get(ExecutorGroup, group_id) is None):
        errors.add("group_id", _t("no executor group %(id)s", id=group_id))
    return group_id
