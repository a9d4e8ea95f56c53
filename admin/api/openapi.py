"""The OpenAPI 3.1 document of /api/v1, written by hand and served at /api/v1/openapi.json.

It is data, not generated from the code, so it says what clients may rely on; a test walks the
Flask url_map and keeps the two equal (every route and method documented, nothing documented
that does not exist, documented required fields really required, documented response properties
really returned).
"""

from __future__ import annotations

from typing import Any

from flask import jsonify

from ..enums import (
    BACKFILL_POLICIES, ActorKind, AddressType, AuditAction, AuditTarget, BackfillStatus, CapPolicy, Delivery, FireStatus, MisfireStrategy,
    OverlapPolicy, RouteStrategy, RunStatus, ScheduleType, TriggerType, UserRole,
)
from ..schedules.catchup import MAX_CATCHUP_WINDOW_S
from ..schedules.jitter import MAX_JITTER_S
from ..services.backfills import MAX_PACE
from ..services.caps import MAX_CAP_RUNS, MAX_CAP_WAIT_S
from ..services.job_form import MAX_PAUSE_AFTER_FAILURES
from shardcron.core.numbers import EPOCH_MS_MAX, EPOCH_MS_MIN, ID_MAX, ID_MIN, INT_MAX
from shardcron.core.protocol import BlockStrategy, GlueType

from . import bp
from .openapi_transfer import SCHEMAS as TRANSFER_SCHEMAS
from .openapi_transfer import transfer_paths

Schema = dict[str, Any]


def _ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


def _enum(cls) -> Schema:
    return {"type": "string", "enum": [e.value for e in cls]}


INT: Schema = {"type": "integer"}
#: Ids in paths and filters: a path id out of this range is a 404, a filter id a 400 naming it.
ID: Schema = {"type": "integer", "minimum": ID_MIN, "maximum": ID_MAX}
#: Instants a caller may name (1970 to 9999); outside them, a 400 naming the parameter.
MS_PARAM: Schema = {"type": "integer", "minimum": EPOCH_MS_MIN, "maximum": EPOCH_MS_MAX, "description": "UTC epoch milliseconds"}
MS: Schema = {"type": "integer", "description": "UTC epoch milliseconds"}
MS_OR_NULL: Schema = {"type": ["integer", "null"], "description": "UTC epoch milliseconds"}
STR: Schema = {"type": "string"}
STR_OR_NULL: Schema = {"type": ["string", "null"]}
BOOL: Schema = {"type": "boolean"}
INT_LIST: Schema = {"type": "array", "items": INT}


def _object(properties: dict[str, Schema], required: list[str] | None = None, description: str | None = None) -> Schema:
    schema: Schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = required
    if description:
        schema["description"] = description
    return schema


def _page_of(item: str) -> Schema:
    return _object(
        {
            "items": {"type": "array", "items": _ref(item)},
            "page": INT,
            "per_page": INT,
            "total": {"type": "integer", "description": "Matching rows; a lower bound when total_exact is false."},
            "total_exact": {"type": "boolean", "description": "False when counting stopped at 10,000 matching runs."},
            "pages": INT,
        },
        ["items", "page", "per_page", "total", "total_exact", "pages"],
    )


#: A group's concurrency cap (firing.caps), in and out.
GROUP_CAP_PROPERTIES: dict[str, Schema] = {
    "cap_runs": {
        "type": ["integer", "null"], "minimum": 1, "maximum": MAX_CAP_RUNS, "default": None,
        "description": (
            "At most this many runs of the group's jobs active (PENDING or RUNNING) at once across the cluster; a sharding broadcast takes one "
            "per shard. null: no cap. 0 and negative numbers are refused."
        ),
    },
    "cap_policy": {
        **_enum(CapPolicy),
        "default": "WAIT",
        "description": (
            "What a fire over the group's or its job's cap does: WAIT for a free slot (at most cap_wait_s after its planned time, then "
            "skipped), or SKIP at once. The decision is noted on the fire."
        ),
    },
    "cap_wait_s": {"type": "integer", "minimum": 1, "maximum": MAX_CAP_WAIT_S, "default": 60, "description": "How long a fire waits for a slot (WAIT), counted from its planned time."},
}

JOB_INPUT_PROPERTIES: dict[str, Schema] = {
    "group_id": {"type": "integer", "description": "Executor group (one the caller is granted)."},
    "name": {"type": "string", "maxLength": 128},
    "author": {"type": "string", "maxLength": 64},
    "schedule_type": {**_enum(ScheduleType), "default": "CRON"},
    "schedule_conf": {"type": "string", "maxLength": 255, "description": "Cron expression (5-field Unix or 6/7-field Quartz), the FIX_RATE period in seconds, or empty for NONE."},
    "timezone": {"type": "string", "description": "IANA zone the cron is read in; default: the admin's default_timezone."},
    "misfire_strategy": {
        **_enum(MisfireStrategy),
        "default": "DO_NOTHING",
        "description": (
            "What a fire more than the misfire grace late does: DO_NOTHING skips the missed planned times; FIRE_ONCE_NOW fires once, now; "
            "CATCH_UP_ALL fires every missed planned time within catchup_window_s before now, oldest first, each at its own planned time "
            "(at most the setting catchup_max_fires per misfire; later ones are skipped); CATCH_UP_LATEST fires only the latest of them. "
            "The schedule then resumes after now."
        ),
    },
    "catchup_window_s": {
        "type": "integer", "minimum": 0, "maximum": MAX_CATCHUP_WINDOW_S, "default": 0,
        "description": "How far back (seconds) CATCH_UP_ALL / CATCH_UP_LATEST still fire a missed planned time: 1 or more with those strategies, 0 with any other.",
    },
    "delivery": {
        **_enum(Delivery),
        "default": "AT_MOST_ONCE",
        "description": (
            "A run whose delivery cannot be confirmed after a scheduler failure (the executor cannot say whether it got it): "
            "AT_MOST_ONCE records it UNKNOWN, alarms and never sends it again; AT_LEAST_ONCE sends it again under the same logId."
        ),
    },
    "jitter_s": {
        "type": "integer", "minimum": 0, "maximum": MAX_JITTER_S, "default": 0,
        "description": (
            "Each scheduled fire's /run goes out a delay in [0, jitter_s] seconds after its planned time, derived from the job id and the "
            "planned time (the same on every scheduler node); the run's trigger time stays the planned time. Manual, API, retry and child "
            "fires are not delayed. For a FIX_RATE job at most its rate."
        ),
    },
    "pause_after_failures": {
        "type": "integer", "minimum": 0, "maximum": MAX_PAUSE_AFTER_FAILURES, "default": 0,
        "description": (
            "Pause on failure: after this many consecutive failed runs (failed and not retried any more; each shard of a broadcast "
            "is a run) the job stops itself, records why (paused_reason) and sends one alarm; a successful run sets the count back "
            "to 0, starting the job ends the pause. 0: never."
        ),
    },
    "cap_runs": {
        "type": ["integer", "null"], "minimum": 1, "maximum": MAX_CAP_RUNS, "default": None,
        "description": (
            "At most this many runs of the job active (PENDING or RUNNING) at once across the cluster, on top of its group's cap; "
            "a fire over it follows the group's cap_policy and cap_wait_s. null: no cap of its own. 0 and negative numbers are refused."
        ),
    },
    "overlap_policy": {
        **_enum(OverlapPolicy),
        "default": "ALLOW_ALL",
        "description": (
            "What a fire does while a run of the job is active anywhere in the cluster: ALLOW_ALL starts it (the executor's block strategy decides); "
            "SKIP drops it; BUFFER_ONE starts it when the active run ends (at most one waits, later ones are dropped); BUFFER_ALL lets every such "
            "fire wait and starts them one after another; CANCEL_OTHER asks the executor to kill the active run and starts once it has ended; "
            "TERMINATE_OTHER marks the active run failed, kills it and starts at once. The decision is recorded on the fire."
        ),
    },
    "route_strategy": {**_enum(RouteStrategy), "default": "FIRST"},
    "handler": {"type": "string", "maxLength": 255, "description": "Handler name; required for BEAN jobs."},
    "param": {"type": ["string", "null"], "description": "At most 65,535 bytes."},
    "block_strategy": {**_enum(BlockStrategy), "default": "SERIAL_EXECUTION"},
    "timeout_s": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 0},
    "retry_count": {"type": "integer", "minimum": 0, "maximum": 100, "default": 0},
    "retry_delay_s": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 10},
    "retry_backoff_multiplier": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
    "retry_max_delay_s": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 600},
    "glue_type": {**_enum(GlueType), "default": "BEAN"},
    "glue_source": {
        "type": ["string", "null"],
        "description": (
            "Script of a GLUE_* job (required for them). Creating a script job or changing glue_type or glue_source needs an ADMIN, "
            "or a USER granted script rights for the group (403 otherwise); each change is kept as a glue version."
        ),
    },
    "child_job_ids": {"type": "array", "items": INT, "description": "Jobs fired when a run succeeds; no cycles."},
    "calendars": {
        "type": "array", "items": STR, "maxItems": 20,
        "description": (
            "Names of calendars (GET /calendars) whose excluded dates the job's scheduled fires skip; the schedule moves on to its next "
            "allowed planned time. Manual, API, retry and child fires are not blocked. Any user may attach any calendar. Refused when "
            "the calendars leave the job no planned time in the next 10 years."
        ),
    },
    "alarm_emails": {"type": "array", "items": {"type": "string", "format": "email"}},
    "alarm_webhook": {"type": "string", "description": "http(s) URL, or empty. Only an ADMIN may set a new one (the admin POSTs to it); a USER may keep or clear it."},
}

#: Input only: the remark kept with the glue version a script change makes.
GLUE_REMARK: dict[str, Schema] = {"glue_remark": {"type": "string", "maxLength": 128, "description": "Why the script changed (one line); kept with its version."}}

JOB_PROPERTIES: dict[str, Schema] = {
    "id": INT,
    **{k: v for k, v in JOB_INPUT_PROPERTIES.items()},
    "can_edit_script": {"type": "boolean", "description": "Whether the caller may change this job's glue_type and glue_source; read-only for them when false."},
    "group_app_name": STR,
    "glue_updated_at_ms": MS,
    "enabled": BOOL,
    "next_fire_at_ms": {"type": "integer", "description": "Next planned fire (UTC epoch ms); 0 when stopped."},
    "last_fire_at_ms": MS,
    "created_at_ms": MS,
    "updated_at_ms": MS,
    "consecutive_failures": {"type": "integer", "minimum": 0, "description": "Failed runs since the last success or start (counted while pause_after_failures is on)."},
    "paused_at_ms": {"type": "integer", "description": "When the job paused itself after consecutive failed runs (UTC epoch ms); 0 when it did not, or was started since."},
    "paused_reason": {
        **STR_OR_NULL,
        "description": "Why the job paused itself, e.g. \"paused after 5 consecutive failed runs; last: run 1234 at 2026-12-05T21:00:00Z: 502 timed out ...\"; null when not paused.",
    },
}

RUN_PROPERTIES: dict[str, Schema] = {
    "id": {"type": "integer", "description": "Also the executor's logId."},
    "job_id": INT,
    "job_name": STR_OR_NULL,
    "group_id": INT,
    "fire_id": {"type": ["integer", "null"]},
    "trigger_type": _enum(TriggerType),
    "fire_at_ms": MS,
    "trigger_at_ms": MS,
    "executor_address": STR_OR_NULL,
    "handler": STR,
    "param": STR_OR_NULL,
    "shard_index": INT,
    "shard_total": INT,
    "attempt": INT,
    "retry_remaining": INT,
    "status": {
        **_enum(RunStatus),
        "description": (
            "UNKNOWN: whether the executor received the run could not be confirmed after a scheduler failure, and the job "
            "delivers at most once, so it was not sent again (an alarm goes out). A result the executor reports later still finishes it."
        ),
    },
    "trigger_code": INT,
    "trigger_msg": STR_OR_NULL,
    "handle_at_ms": MS_OR_NULL,
    "handle_code": INT,
    "handle_msg": STR_OR_NULL,
    "progress_done": {"type": ["integer", "null"], "description": "Latest progress of a running run."},
    "progress_total": {"type": ["integer", "null"]},
    "result": {"type": ["object", "null"], "description": "Structured result data (or the latest progress data)."},
    "drain_counts": {
        "type": ["object", "null"],
        "description": "A retry-task drainer shard's counts.",
        "properties": {k: INT for k in ("claimed", "succeeded", "retried", "dead")},
    },
    "checkpoint": {"description": "The run's last checkpoint (ctx.checkpoint(state): any JSON value, at most 16 KiB); null: none saved."},
    "checkpoint_seq": {"type": "integer", "description": "Its number within the run; 0: the checkpoint the run resumed from."},
    "checkpoint_at_ms": MS_OR_NULL,
    "resume_from_run_id": {"type": ["integer", "null"], "description": "The run whose checkpoint this run was sent with; null: it started fresh."},
}

SCHEMAS: dict[str, Schema] = {
    "Error": _object(
        {
            "error": _object(
                {"message": STR, "fields": {"type": "object", "additionalProperties": STR, "description": "Input field -> what is wrong with it."}},
                ["message", "fields"],
            )
        },
        ["error"],
    ),
    "LiveExecutor": _object({"address": STR, "registered_at_ms": MS_OR_NULL, "heartbeat_at_ms": MS_OR_NULL}),
    "Group": _object(
        {
            "id": INT,
            "app_name": STR,
            "title": STR,
            "address_type": _enum(AddressType),
            "manual_addresses": {"type": "array", "items": STR},
            "job_count": INT,
            "live_executors": {"type": "array", "items": _ref("LiveExecutor")},
            "created_at_ms": MS,
            "updated_at_ms": MS,
            **GROUP_CAP_PROPERTIES,
        }
    ),
    "GroupCreate": _object(
        {
            "app_name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
            "title": {"type": "string", "maxLength": 128, "description": "Default: the app name."},
            "address_type": {**_enum(AddressType), "default": "AUTO"},
            "manual_addresses": {"type": "array", "items": STR, "description": "Executor URLs of a MANUAL group (http:// or https://)."},
            **GROUP_CAP_PROPERTIES,
        },
        ["app_name"],
    ),
    "GroupUpdate": _object(
        {
            "app_name": {"type": "string"},
            "title": {"type": "string"},
            "address_type": _enum(AddressType),
            "manual_addresses": {"type": "array", "items": STR},
            **GROUP_CAP_PROPERTIES,
        },
        description="Only the given fields change.",
    ),
    "Job": _object(JOB_PROPERTIES),
    "JobCreate": _object(
        {**JOB_INPUT_PROPERTIES, **GLUE_REMARK},
        ["group_id", "name", "schedule_conf", "handler"],
        "schedule_conf is required for the default CRON schedule (empty for NONE); handler for the default BEAN glue type.",
    ),
    "JobUpdate": _object({**JOB_INPUT_PROPERTIES, **GLUE_REMARK}, description="Only the given fields change; the result is checked as a whole."),
    "GlueVersion": _object(
        {
            "id": INT,
            "job_id": INT,
            "glue_type": STR,
            "remark": STR,
            "author_user_id": {"type": ["integer", "null"], "description": "Null for the system (import, upgrade)."},
            "author_name": STR,
            "created_at_ms": MS,
        }
    ),
    "GlueVersionList": _object({"items": {"type": "array", "items": _ref("GlueVersion"), "description": "Newest first; the newest 30 are kept."}}),
    "GlueVersionDetail": _object(
        {
            "version": _ref("GlueVersion"),
            "glue_source": STR_OR_NULL,
            "previous_id": {"type": ["integer", "null"], "description": "The version before this one; null for the oldest kept."},
            "diff": {"type": "string", "description": "Unified diff from the previous version's source to this one's; empty for the oldest."},
        }
    ),
    "JobCopy": _object({"name": {"type": "string", "description": "Default: '<name> (copy)'."}}),
    "TriggerRequest": _object(
        {
            "param": {"type": ["string", "null"], "description": "Parameter for this fire only (default: the job's)."},
            "shard_index": {"type": ["integer", "null"], "description": "Run only shard i (0 <= i < shard_total)."},
            "shard_total": {"type": ["integer", "null"], "description": "Default: the number of live executors."},
            "address": {"type": ["string", "null"], "description": "Send only to this live executor of the job's group."},
            "resume_from_run_id": {
                "type": ["integer", "null"],
                "description": "Resume from the last checkpoint of this run of the job (ctx.resume_from); null or absent: start fresh.",
            },
        }
    ),
    "TriggerResult": _object(
        {
            "fire_id": INT,
            "job_id": INT,
            "fire_at_ms": MS,
            "trigger_type": _enum(TriggerType),
            "shard_index": {"type": ["integer", "null"]},
            "shard_total": {"type": ["integer", "null"]},
            "address": STR_OR_NULL,
            "resume_from_run_id": {"type": ["integer", "null"]},
        }
    ),
    "RepairResult": _object(
        {
            "run_id": INT,
            "fire_id": {"type": "integer", "description": "The fire of the re-run; follow it with GET /fires/{fire_id}."},
            "resumes": {**BOOL, "description": "False: the run saved no checkpoint and the re-run starts fresh."},
            "message": STR,
        }
    ),
    "SkippedTime": _object({"at_ms": MS, "calendar": {"type": "string", "description": "The calendar that excludes this planned time."}}),
    "FireTimes": _object(
        {
            "fire_times_ms": {"type": "array", "items": MS, "description": "The next allowed fire times (the calendars applied)."},
            "skipped": {"type": "array", "items": _ref("SkippedTime"), "description": "Planned times among them that a calendar skips (at most count)."},
        }
    ),
    "CalendarEntry": _object(
        {
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date", "description": "The last excluded date (inclusive); default: start."},
            "label": {"type": "string", "maxLength": 128},
        },
        ["start"],
    ),
    "Calendar": _object(
        {
            "id": INT,
            "name": STR,
            "timezone": STR,
            "description": STR,
            "entries": {"type": "array", "items": _ref("CalendarEntry")},
            "job_count": {"type": "integer", "description": "Jobs that use the calendar."},
            "version": {"type": "integer", "description": "Grows with every change; scheduler nodes reload the calendar when it moves."},
            "created_at_ms": MS,
            "updated_at_ms": MS,
        }
    ),
    "CalendarCreate": _object(
        {
            "name": {"type": "string", "maxLength": 64, "description": "Unique; no commas."},
            "timezone": {"type": "string", "description": "IANA zone the dates are read in. Default: the admin's default_timezone."},
            "description": {"type": "string", "maxLength": 255},
            "entries": {
                "type": ["array", "string"],
                "items": {"oneOf": [_ref("CalendarEntry"), {"type": "string"}]},
                "description": (
                    "Excluded dates: objects, lines such as '2026-12-24..2026-12-26 office closed', or one text with a line per entry "
                    "(blank lines and lines starting with # skipped). At most calendar_max_entries."
                ),
            },
        },
        ["name"],
    ),
    "CalendarUpdate": _object(
        {
            "name": STR,
            "timezone": STR,
            "description": STR,
            "entries": {"type": ["array", "string"], "description": "Replaces every entry. Refused when a job using the calendar would be left no planned time in the next 10 years."},
        },
        description="Only the given fields change.",
    ),
    "JobFireTimes": _object(
        {
            "fire_times_ms": {"type": "array", "items": MS},
            "jitter_ms": {
                "type": "array", "items": {"type": "integer", "minimum": 0},
                "description": "The job's jitter for each fire time, in the same order: its /run goes out that many ms later (all 0 without jitter).",
            },
            "skipped": {"type": "array", "items": _ref("SkippedTime"), "description": "Planned times among them that the job's calendars skip."},
        }
    ),
    "Run": _object(RUN_PROPERTIES),
    "BackfillRequest": _object(
        {
            "from_ms": {**MS, "description": "First instant of the range (inclusive), UTC epoch ms"},
            "to_ms": {**MS, "description": "Last instant of the range (inclusive), not in the future"},
            "overlap_policy": {
                "type": "string", "enum": [p.value for p in BACKFILL_POLICIES], "default": "ALLOW_ALL",
                "description": (
                    "How its runs meet other active runs of the job: ALLOW_ALL starts them anyway; SKIP skips that planned time; "
                    "BUFFER_ALL waits. SKIP and BUFFER_ALL go one at a time (pace 1)."
                ),
            },
            "pace": {"type": "integer", "minimum": 1, "maximum": MAX_PACE, "default": 1, "description": "Most runs of this backfill active at once."},
        },
        required=["from_ms", "to_ms"],
    ),
    "BackfillPreview": _object(
        {
            "planned": {"type": "integer", "description": "How many runs the backfill would make (one per planned time)"},
            "first_times_ms": {"type": "array", "items": MS},
            "overlap_policy": STR,
            "pace": {"type": "integer"},
        }
    ),
    "Backfill": _object(
        {
            "id": ID, "job_id": ID, "from_ms": MS, "to_ms": MS, "overlap_policy": STR, "pace": {"type": "integer"},
            "status": _enum(BackfillStatus),
            "planned": {"type": "integer", "description": "Planned times in the range"},
            "created": {"type": "integer", "description": "Of them, how many have a fire so far"},
            "started": {"type": "integer", "description": "Fires that started runs"},
            "running": {"type": "integer", "description": "Runs PENDING or RUNNING"},
            "succeeded": {"type": "integer"},
            "failed": {"type": "integer", "description": "Runs FAILED or UNKNOWN"},
            "skipped": {"type": "integer", "description": "Fires that ended without a run (skipped by SKIP, or closed by a cancel)"},
            "created_by": STR, "created_at_ms": MS, "finished_at_ms": MS_OR_NULL,
        }
    ),
    "BackfillList": _object({"items": {"type": "array", "items": _ref("Backfill")}}),
    "Fire": _object(
        {
            "id": INT,
            "job_id": INT,
            "fire_at_ms": MS,
            "trigger_type": _enum(TriggerType),
            "status": _enum(FireStatus),
            "param": STR_OR_NULL,
            "shard_index": {"type": ["integer", "null"]},
            "shard_total": {"type": ["integer", "null"]},
            "address": STR_OR_NULL,
            "attempt": INT,
            "created_at_ms": MS,
            "done_at_ms": MS_OR_NULL,
            "overlap_note": {
                **STR_OR_NULL,
                "description": (
                    "What the job's overlap policy or a concurrency cap decided for this fire (skipped, waits, started after waiting, "
                    "terminated run N; 'skipped: group cap 4 reached, 4 runs active'); null when nothing held it back."
                ),
            },
            "runs": {"type": "array", "items": _ref("Run")},
            "resume_from_run_id": {"type": ["integer", "null"]},
        }
    ),
    "LogPage": _object(
        {
            "run_id": INT,
            "from_line": INT,
            "to_line": INT,
            "content": STR,
            "is_end": {"type": "boolean", "description": "The run's log is complete; stop polling."},
            "run_status": _enum(RunStatus),
        }
    ),
    "KillResult": _object({"run_id": INT, "sent": {"type": "boolean", "description": "True: the executor was asked; false: marked failed here (executor gone)."}, "message": STR}),
    "CleanupRequest": _object(
        {
            "job_id": {**ID, "description": "Clean up this job's runs (give job_id or group_id)."},
            "group_id": {**ID, "description": "Clean up this group's runs (give job_id or group_id)."},
            "older_than_days": {"type": "integer", "minimum": 0, "maximum": 36500, "description": "Delete runs triggered more than N x 24 h ago."},
            "keep_last": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000, "description": "Keep the newest N runs, delete the rest."},
        },
        description="At least one of older_than_days and keep_last; given both, a run goes when it matches both. Runs still going are never deleted.",
    )
    | {"oneOf": [{"required": ["job_id"]}, {"required": ["group_id"]}], "anyOf": [{"required": ["older_than_days"]}, {"required": ["keep_last"]}]},
    "CleanupCriteria": _object(
        {name: {"type": ["integer", "null"]} for name in ("job_id", "group_id", "older_than_days", "keep_last")}, description="The request, as understood (null: not given).",
    ),
    "CleanupScope": _object({"target": {"type": "string", "enum": ["job", "group"]}, "target_id": INT, "name": STR, "group_id": INT}),
    "CleanupPreview": _object({"request": _ref("CleanupCriteria"), "scope": _ref("CleanupScope"), "matching": {"type": "integer", "description": "Runs the clean-up would delete now."}}),
    "CleanupResult": _object({"request": _ref("CleanupCriteria"), "scope": _ref("CleanupScope"), "deleted": INT, "batches": {"type": "integer", "description": "Transactions the delete took."}}),
    "DayCounts": _object(
        {
            "day": {"type": "string", "format": "date"},
            "success": INT,
            "failed": INT,
            "running": INT,
            "unknown": {"type": "integer", "description": "Runs of unknown outcome (status UNKNOWN); not part of failed."},
        }
    ),
    "Counts": _object(
        {
            "key": {"type": "string", "description": "Group name or executor address ('—': runs never sent); empty for the totals."},
            "success": INT,
            "failed": INT,
            "running": {"type": "integer", "description": "RUNNING and PENDING runs."},
            "unknown": INT,
        }
    ),
    "RangeCounts": _object(
        {
            "first_day": {"type": "string", "format": "date"},
            "last_day": {"type": "string", "format": "date"},
            "daily": {"type": "array", "items": _ref("DayCounts"), "description": "One bucket per day, oldest first; today's is live."},
            "totals": _ref("Counts"),
            "per_group": {"type": "array", "items": _ref("Counts"), "description": "Most runs first; only groups the caller may see."},
            "per_executor": {"type": "array", "items": _ref("Counts"), "description": "Most runs first."},
        },
        description="Runs triggered in the range, read once: totals, per_group and per_executor are sums of the same rows as daily.",
    ),
    "Dashboard": _object(
        {
            "job_count": INT,
            "enabled_job_count": INT,
            "group_count": INT,
            "live_executor_count": INT,
            "live_group_count": {"type": "integer", "description": "Groups with at least one live executor."},
            "runs": _ref("RangeCounts"),
            "success_rate": {"type": ["number", "null"], "description": "success / (success + failed + unknown) over the range; null before a finished run."},
            "recent_failures": {"type": "array", "items": _ref("Run"), "description": "The range's latest FAILED or UNKNOWN runs, newest first."},
            "timezone": {"type": "string", "description": "The zone whose calendar days the range and its buckets are."},
            "start_ms": {"type": "integer", "description": "Where the range's first day begins, epoch ms."},
        }
    ),
    "User": _object(
        {
            "id": INT,
            "username": STR,
            "role": _enum(UserRole),
            "group_ids": INT_LIST,
            "script_group_ids": {**INT_LIST, "description": "Granted groups whose script jobs the user may write (admins: every group)."},
            "has_api_token": BOOL,
            "created_at_ms": MS,
            "updated_at_ms": MS,
        }
    ),
    "UserCreate": _object(
        {
            "username": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"},
            "password": {"type": "string", "minLength": 10, "maxLength": 1024},
            "role": {**_enum(UserRole), "default": "USER"},
            "group_ids": INT_LIST,
        },
        ["username", "password"],
    ),
    "UserUpdate": _object(
        {
            "role": _enum(UserRole),
            "group_ids": INT_LIST,
            "script_group_ids": {**INT_LIST, "description": "Groups (each granted to the user) whose script jobs the user may write; applied after group_ids."},
            "password": {"type": "string", "minLength": 10, "description": "An admin's reset of another user's password."},
        },
        description="Only the given fields change.",
    ),
    "PasswordChange": _object({"current_password": STR, "new_password": {"type": "string", "minLength": 10}}, ["current_password", "new_password"]),
    "Token": _object({"token": {"type": "string", "description": "Shown once; only its SHA-256 is stored."}}, ["token"]),
    "ApiToken": _object(
        {
            "id": INT,
            "user_id": INT,
            "name": STR,
            "created_at_ms": MS,
            "expires_at_ms": {**MS_OR_NULL, "description": "UTC epoch milliseconds; null: never expires"},
            "expired": BOOL,
        },
        ["id", "user_id", "name", "created_at_ms", "expires_at_ms", "expired"],
    ),
    "ApiTokenList": _object({"items": {"type": "array", "items": _ref("ApiToken")}}, ["items"]),
    "ApiTokenCreate": _object(
        {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$", "description": "Unique among the caller's tokens."},
            "expires_at_ms": {"type": ["integer", "null"], "minimum": 0, "maximum": 253402300799999, "description": "UTC epoch milliseconds, in the future; null or absent: never expires."},
        },
        ["name"],
    ),
    "ApiTokenIssued": _object(
        {
            "id": INT,
            "user_id": INT,
            "name": STR,
            "created_at_ms": MS,
            "expires_at_ms": MS_OR_NULL,
            "expired": BOOL,
            "token": {"type": "string", "description": "Shown once; only its SHA-256 is stored."},
        },
        ["id", "user_id", "name", "created_at_ms", "expires_at_ms", "expired", "token"],
    ),
    "AuditEntry": _object(
        {
            "id": INT,
            "at_ms": MS,
            "actor_kind": {"type": "string", "description": f"One of {', '.join(k.value for k in ActorKind)} (text: a later release may add kinds)."},
            "actor_user_id": {"type": ["integer", "null"], "description": "Null for the command line, the setup page and the system."},
            "actor_name": {"type": "string", "description": "The actor's name when it acted (kept after the user is deleted)."},
            "token_name": {"type": ["string", "null"], "description": "The API token the actor used (API_TOKEN only)."},
            "client_address": {"type": ["string", "null"], "description": "The client's address as the admin saw it; \"local\" for the CLI."},
            "action": {"type": "string", "description": f"One of {', '.join(a.value for a in AuditAction)}."},
            "target_type": {"type": "string", "description": f"One of {', '.join(t.value for t in AuditTarget)}."},
            "target_id": {"type": ["integer", "null"]},
            "target_name": STR,
            "group_id": {"type": ["integer", "null"], "description": "The target's group; null for users, tokens and calendars (admins only see those)."},
            "before": {"type": ["object", "null"], "description": "The fields before: only the changed ones for an update; never a secret."},
            "after": {"type": ["object", "null"], "description": "The fields after: only the changed ones for an update; never a secret."},
        },
        ["id", "at_ms", "actor_kind", "actor_name", "action", "target_type", "target_name"],
    ),
}
for _name in ("AuditEntry", "Calendar", "Group", "Job", "Run", "User"):
    SCHEMAS[f"{_name}Page"] = _page_of(_name)


def _error(description: str) -> Schema:
    return {"description": description, "content": {"application/json": {"schema": _ref("Error")}}}


ERRORS = {
    "400": _error("Invalid input; `fields` names each bad field."),
    "401": _error("No, an invalid or a revoked API token."),
    "403": _error("The caller may not do this (e.g. not an admin)."),
    "404": _error("No such object, or one in a group the caller is not granted."),
    "409": _error("Conflicts with the current state (a name taken, a group with jobs, the last admin, a finished run)."),
}


def _json(schema: str, description: str = "OK") -> Schema:
    return {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}


NO_CONTENT = {"description": "Done; no content."}


def _param(name: str, where: str, schema: Schema, description: str = "", required: bool = False) -> Schema:
    return {"name": name, "in": where, "required": required or where == "path", "schema": schema, "description": description}


PAGING = [
    _param("page", "query", {"type": "integer", "minimum": 1, "maximum": 10000, "default": 1}),
    _param("per_page", "query", {"type": "integer", "minimum": 1, "maximum": 200, "default": 20}),
]
PREVIEW_COUNT = _param("count", "query", {"type": "integer", "minimum": 1, "maximum": 50, "default": 5})


def _op(
    summary: str, responses: dict[str, Schema], *, body: str | None = None, body_required: bool = True, params: list[Schema] | None = None,
    errors: tuple[str, ...] = ("401", "404"), tag: str,
) -> Schema:
    op: Schema = {"summary": summary, "tags": [tag], "responses": {**{code: ERRORS[code] for code in errors}, **responses}}
    if body:
        op["requestBody"] = {"required": body_required, "content": {"application/json": {"schema": _ref(body)}}}
    if params:
        op["parameters"] = params
    return op


def _id(name: str) -> list[Schema]:
    return [_param(name, "path", ID)]


PATHS: dict[str, Schema] = {
    "/openapi.json": {
        "get": {"summary": "This document", "tags": ["meta"], "security": [], "responses": {"200": {"description": "The OpenAPI 3.1 document", "content": {"application/json": {}}}}}
    },
    "/groups": {
        "get": _op("Executor groups the caller may see, with live executors", {"200": _json("GroupPage")}, params=PAGING, errors=("400", "401"), tag="groups"),
        "post": _op("Create a group (admin)", {"201": _json("Group", "Created")}, body="GroupCreate", errors=("400", "401", "403", "409"), tag="groups"),
    },
    "/groups/{group_id}": {
        "get": _op("One group with its live executors", {"200": _json("Group")}, params=_id("group_id"), tag="groups"),
        "patch": _op("Change a group (admin)", {"200": _json("Group")}, body="GroupUpdate", params=_id("group_id"), errors=("400", "401", "403", "404", "409"), tag="groups"),
        "delete": _op("Delete a group without jobs (admin)", {"204": NO_CONTENT}, params=_id("group_id"), errors=("401", "403", "404", "409"), tag="groups"),
    },
    "/calendars": {
        "get": _op("Calendars (every user may read and use them)", {"200": _json("CalendarPage")}, params=PAGING, errors=("400", "401"), tag="calendars"),
        "post": _op("Create a calendar (admin)", {"201": _json("Calendar", "Created")}, body="CalendarCreate", errors=("400", "401", "403", "409"), tag="calendars"),
    },
    "/calendars/{calendar_id}": {
        "get": _op("One calendar with its entries", {"200": _json("Calendar")}, params=_id("calendar_id"), tag="calendars"),
        "patch": _op(
            "Change a calendar (admin)", {"200": _json("Calendar")}, body="CalendarUpdate", params=_id("calendar_id"), errors=("400", "401", "403", "404", "409"), tag="calendars"
        ),
        "delete": _op("Delete a calendar no job uses (admin)", {"204": NO_CONTENT}, params=_id("calendar_id"), errors=("401", "403", "404", "409"), tag="calendars"),
    },
    "/jobs": {
        "get": _op(
            "Jobs, filtered, sorted and paged",
            {"200": _json("JobPage")},
            params=[
                _param("group_id", "query", ID),
                _param("search", "query", STR, "Part of the name or handler."),
                _param("owner", "query", {"type": "string", "maxLength": 64}, "Part of the owner (the job's author)."),
                _param("enabled", "query", BOOL),
                _param("paused", "query", BOOL, "true: only jobs paused on failure; false: only the others."),
                _param("sort", "query", {"type": "string", "enum": ["id", "name", "next_fire_at_ms", "updated_at_ms"], "default": "id"}),
                _param("order", "query", {"type": "string", "enum": ["asc", "desc"], "default": "asc"}),
                *PAGING,
            ],
            errors=("400", "401"),
            tag="jobs",
        ),
        "post": _op("Create a job (stopped)", {"201": _json("Job", "Created")}, body="JobCreate", errors=("400", "401", "403"), tag="jobs"),
    },
    "/jobs/{job_id}": {
        "get": _op("One job", {"200": _json("Job")}, params=_id("job_id"), tag="jobs"),
        "patch": _op("Change a job", {"200": _json("Job")}, body="JobUpdate", params=_id("job_id"), errors=("400", "401", "403", "404"), tag="jobs"),
        "delete": _op("Delete a job and its undispatched fires", {"204": NO_CONTENT}, params=_id("job_id"), errors=("401", "404", "409"), tag="jobs"),
    },
    "/jobs/{job_id}/start": {"post": _op("Start: schedule the next fire", {"200": _json("Job")}, params=_id("job_id"), errors=("400", "401", "404"), tag="jobs")},
    "/jobs/{job_id}/stop": {"post": _op("Stop: no further scheduled fires", {"200": _json("Job")}, params=_id("job_id"), tag="jobs")},
    "/jobs/{job_id}/copy": {
        "post": _op("Copy a job (the copy is stopped)", {"201": _json("Job", "Created")}, body="JobCopy", body_required=False, params=_id("job_id"), errors=("400", "401", "403", "404"), tag="jobs")
    },
    "/jobs/{job_id}/glue-versions": {
        "get": _op("The job's kept script versions, newest first", {"200": _json("GlueVersionList")}, params=_id("job_id"), tag="jobs")
    },
    "/jobs/{job_id}/glue-versions/{version_id}": {
        "get": _op("One script version, its source and the diff from the version before", {"200": _json("GlueVersionDetail")}, params=[*_id("job_id"), *_id("version_id")], tag="jobs")
    },
    "/jobs/{job_id}/glue-versions/{version_id}/rollback": {
        "post": _op(
            "Put a version's script back on the job (script rights needed; kept as a new version)",
            {"200": _json("Job")},
            params=[*_id("job_id"), *_id("version_id")],
            errors=("400", "401", "403", "404"),
            tag="jobs",
        )
    },
    "/jobs/{job_id}/trigger": {
        "post": _op(
            "Trigger now: the whole job, or one shard i/n, optionally with a parameter or a chosen live executor",
            {"202": _json("TriggerResult", "Recorded; the scheduler dispatches it at once. Follow it with GET /fires/{fire_id}.")},
            body="TriggerRequest",
            body_required=False,
            params=_id("job_id"),
            errors=("400", "401", "404"),
            tag="jobs",
        )
    },
    "/jobs/{job_id}/preview": {
        "get": _op(
            "The next fire times of a saved job, with its jitter and the times its calendars skip",
            {"200": _json("JobFireTimes")}, params=[*_id("job_id"), PREVIEW_COUNT], errors=("400", "401", "404"), tag="jobs",
        )
    },
    "/schedule-preview": {
        "get": _op(
            "The next fire times of a schedule being edited",
            {"200": _json("FireTimes")},
            params=[
                _param("schedule_type", "query", _enum(ScheduleType), required=True),
                _param("schedule_conf", "query", STR),
                _param("timezone", "query", STR, "Default: the admin's default_timezone."),
                _param("calendars", "query", STR, "Calendar names, comma-separated: their excluded dates are skipped."),
                PREVIEW_COUNT,
            ],
            errors=("400", "401"),
            tag="jobs",
        )
    },
    "/jobs/{job_id}/backfills": {
        "get": _op("The job's backfills, newest first, with progress", {"200": _json("BackfillList")}, params=_id("job_id"), tag="jobs"),
        "post": _op(
            "Backfill: run the job once for every planned time of its schedule between from_ms and to_ms; each run's trigger time is its planned time",
            {"201": _json("Backfill", "Created; the scheduler starts its runs at its pace")},
            body="BackfillRequest", params=_id("job_id"), errors=("400", "401", "404"), tag="jobs",
        ),
    },
    "/jobs/{job_id}/backfills/preview": {
        "get": _op(
            "How many runs a backfill would make (nothing written)", {"200": _json("BackfillPreview")},
            params=[*_id("job_id"), _param("from_ms", "query", MS, required=True), _param("to_ms", "query", MS, required=True),
                    _param("overlap_policy", "query", STR), _param("pace", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PACE})],
            errors=("400", "401", "404"), tag="jobs",
        )
    },
    "/backfills/{backfill_id}": {"get": _op("One backfill with its progress", {"200": _json("Backfill")}, params=_id("backfill_id"), tag="jobs")},
    "/backfills/{backfill_id}/cancel": {
        "post": _op(
            "Cancel: start nothing more (fires not yet claimed are closed); runs already started run to their end",
            {"200": _json("Backfill")}, params=_id("backfill_id"), errors=("401", "404", "409"), tag="jobs",
        )
    },
    "/fires/{fire_id}": {"get": _op("A fire and the runs it produced (one per shard)", {"200": _json("Fire")}, params=_id("fire_id"), tag="runs")},
    "/runs": {
        "get": _op(
            "Run log, newest first, filtered and paged (one row per shard)",
            {"200": _json("RunPage")},
            params=[
                _param("group_id", "query", ID),
                _param("job_id", "query", ID),
                _param("status", "query", _enum(RunStatus)),
                _param("trigger_type", "query", _enum(TriggerType)),
                _param("from_ms", "query", MS_PARAM, "Trigger time >= from_ms."),
                _param("to_ms", "query", MS_PARAM, "Trigger time < to_ms."),
                _param("sort", "query", {"type": "string", "enum": ["trigger_at_ms"], "default": "trigger_at_ms"}),
                _param("order", "query", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
                *PAGING,
            ],
            errors=("400", "401"),
            tag="runs",
        )
    },
    "/runs/cleanup": {
        "get": _op(
            "Count the runs a clean-up would delete now (admins); nothing is deleted",
            {"200": _json("CleanupPreview")},
            params=[
                _param("job_id", "query", ID),
                _param("group_id", "query", ID),
                _param("older_than_days", "query", {"type": "integer", "minimum": 0, "maximum": 36500}),
                _param("keep_last", "query", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}),
            ],
            errors=("400", "401", "403", "404"),
            tag="runs",
        ),
        "post": _op(
            "Delete a job's or a group's old runs (admins), in batches; audited as run.cleanup",
            {"200": _json("CleanupResult")},
            body="CleanupRequest",
            errors=("400", "401", "403", "404"),
            tag="runs",
        ),
    },
    "/runs/{run_id}": {"get": _op("One run", {"200": _json("Run")}, params=_id("run_id"), tag="runs")},
    "/runs/{run_id}/log": {
        "get": _op(
            "A page of the run's log, read from its executor (only a live executor of the run's group is called)",
            {"200": _json("LogPage"), "409": _error("The run has no live executor to read from."), "502": _error("The executor failed the call.")},
            params=[*_id("run_id"), _param("from_line", "query", {"type": "integer", "minimum": 1, "maximum": INT_MAX, "default": 1})],
            errors=("400", "401", "404"),
            tag="runs",
        )
    },
    "/runs/{run_id}/kill": {
        "post": _op(
            "Kill a pending or running run, or one of unknown outcome (through its live executor only)",
            {
                "202": _json("KillResult", "The executor was asked to stop it; the run ends when it reports back."),
                "200": _json("KillResult", "Its executor is gone: the run was marked failed here."),
                "409": _error("The run has finished, or its outcome is unknown and it has no live executor to ask."),
                "502": _error("The executor failed the call."),
            },
            params=_id("run_id"),
            tag="runs",
        )
    },
    "/runs/{run_id}/repair": {
        "post": _op(
            "Repair now: fail a running run whose executor is lost and re-run it at once, resuming from its checkpoint",
            {
                "202": _json("RepairResult", "The run was marked failed and a fire re-runs it (the same shard of a broadcast)."),
                "409": _error("The run is not RUNNING, or it is still alive (its executor answers /beat and runs the job)."),
            },
            params=_id("run_id"),
            tag="runs",
        )
    },
    "/dashboard": {
        "get": _op(
            "Counts, the per-day buckets over a date range, per-group and per-executor counts, and the latest failures",
            {"200": _json("Dashboard")},
            params=[
                _param("days", "query", {"type": "integer", "enum": [1, 7, 30], "default": 7}, "The last N days ending today (1: today); ignored when from is given."),
                _param("from", "query", {"type": "string", "format": "date"}, "First day of a custom range (at most 90 days)."),
                _param("to", "query", {"type": "string", "format": "date"}, "Last day of a custom range, not after today; default: today."),
                _param("timezone", "query", STR, "Whose calendar days; default: default_timezone."),
            ],
            errors=("400", "401"),
            tag="dashboard",
        )
    },
    "/audit": {
        "get": _op(
            "The audit trail, newest first, filtered and paged (admins: every entry; users: their groups' entries)",
            {"200": _json("AuditEntryPage")},
            params=[
                _param("actor", "query", {"type": "string", "maxLength": 64}, "The actor's name, exactly."),
                _param("actor_kind", "query", _enum(ActorKind)),
                _param(
                    "action", "query",
                    {"type": "string", "enum": sorted([a.value for a in AuditAction] + sorted({a.value.split(".")[0] for a in AuditAction}))},
                    "One action, or every action on a kind of target (e.g. job).",
                ),
                _param("target_type", "query", _enum(AuditTarget)),
                _param("target_id", "query", ID, "Needs target_type."),
                _param("group_id", "query", ID),
                _param("from_ms", "query", MS_PARAM, "Entry time >= from_ms."),
                _param("to_ms", "query", MS_PARAM, "Entry time < to_ms."),
                *PAGING,
            ],
            errors=("400", "401"),
            tag="audit",
        )
    },
    "/users": {
        "get": _op("Users (admin)", {"200": _json("UserPage")}, params=PAGING, errors=("400", "401", "403"), tag="users"),
        "post": _op("Create a user (admin)", {"201": _json("User", "Created")}, body="UserCreate", errors=("400", "401", "403", "409"), tag="users"),
    },
    "/users/{user_id}": {
        "get": _op("One user (admin, or the user themself)", {"200": _json("User")}, params=_id("user_id"), tag="users"),
        "patch": _op("Change role, grants or password (admin)", {"200": _json("User")}, body="UserUpdate", params=_id("user_id"), errors=("400", "401", "403", "404", "409"), tag="users"),
        "delete": _op("Delete a user (admin; never the last admin)", {"204": NO_CONTENT}, params=_id("user_id"), errors=("401", "403", "404", "409"), tag="users"),
    },
    "/me": {"get": _op("The caller's own account", {"200": _json("User")}, errors=("401",), tag="users")},
    "/me/password": {"post": _op("Change the caller's password", {"204": NO_CONTENT}, body="PasswordChange", errors=("400", "401"), tag="users")},
    "/me/token": {
        "post": _op("A new API token named \"default\" for the caller (replaces the one of that name)", {"201": _json("Token", "Created")}, errors=("401",), tag="users"),
        "delete": _op("Revoke the caller's API token named \"default\"", {"204": NO_CONTENT}, errors=("401",), tag="users"),
    },
    "/me/tokens": {
        "get": _op("The caller's API tokens (names, creation, expiry; never the values)", {"200": _json("ApiTokenList")}, errors=("401",), tag="users"),
        "post": _op("Issue a named API token, optionally expiring", {"201": _json("ApiTokenIssued", "Created")}, body="ApiTokenCreate", errors=("400", "401", "409"), tag="users"),
    },
    "/me/tokens/{token_id}": {
        "delete": _op("Revoke one of the caller's API tokens", {"204": NO_CONTENT}, params=_id("token_id"), tag="users"),
    },
    "/users/{user_id}/tokens": {
        "get": _op("A user's API tokens (admin, or the user themself)", {"200": _json("ApiTokenList")}, params=_id("user_id"), tag="users"),
    },
    "/users/{user_id}/tokens/{token_id}": {
        "delete": _op("Revoke a user's API token (admin, or the user themself)", {"204": NO_CONTENT}, params=_id("user_id") + _id("token_id"), tag="users"),
    },
}
PATHS.update(transfer_paths(_op, _param, ERRORS))
SCHEMAS.update(TRANSFER_SCHEMAS)

DOCUMENT: Schema = {
    "openapi": "3.1.0",
    "info": {
        "title": "shardcron REST API",
        "version": "1",
        "description": (
            "Everything the console does, for scripts and CI. Authenticate with a per-user API token: "
            "`Authorization: Bearer <token>`. Console cookies are NOT accepted on /api/v1 (so there is no CSRF token to send). "
            "Errors are `{\"error\": {\"message\", \"fields\"}}`; lists take `page` and `per_page` (at most 200). "
            "Instants are UTC epoch milliseconds (`*_ms`). A user sees and acts on the groups granted to them only; "
            "objects of other groups answer 404."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerToken": []}],
    "tags": [{"name": t} for t in ("groups", "calendars", "jobs", "runs", "dashboard", "users", "audit", "transfer", "meta")],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "A user's API token (POST /me/token, the console's account page, or `shardcron user token NAME`). Cookies are ignored.",
            }
        },
        "schemas": SCHEMAS,
    },
}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
