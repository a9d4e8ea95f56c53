"""The OpenAPI component schemas of /api/v1 (openapi.py's `components.schemas`)."""

from __future__ import annotations

from ..enums import (
    BACKFILL_POLICIES, ActorKind, AddressType, AuditAction, AuditTarget, BackfillStatus, FireStatus, RunStatus, TriggerType, UserRole,
)
from ..services.backfills import MAX_PACE

from .openapi_parts import (
    BOOL, ID, INT, INT_LIST, MS, MS_OR_NULL, STR, STR_OR_NULL, Schema, enum_of, object_schema, page_of, ref,
)
from .openapi_job_fields import GLUE_REMARK, GROUP_CAP_PROPERTIES, JOB_INPUT_PROPERTIES, JOB_PROPERTIES, RUN_PROPERTIES

SCHEMAS: dict[str, Schema] = {
    "Error": object_schema(
        {
            "error": object_schema(
                {"message": STR, "fields": {"type": "object", "additionalProperties": STR, "description": "Input field -> what is wrong with it."}},
                ["message", "fields"],
            )
        },
        ["error"],
    ),
    "LiveExecutor": object_schema({"address": STR, "registered_at_ms": MS_OR_NULL, "heartbeat_at_ms": MS_OR_NULL}),
    "Group": object_schema(
        {
            "id": INT,
            "app_name": STR,
            "title": STR,
            "address_type": enum_of(AddressType),
            "manual_addresses": {"type": "array", "items": STR},
            "job_count": INT,
            "live_executors": {"type": "array", "items": ref("LiveExecutor")},
            "created_at_ms": MS,
            "updated_at_ms": MS,
            **GROUP_CAP_PROPERTIES,
        }
    ),
    "GroupCreate": object_schema(
        {
            "app_name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"},
            "title": {"type": "string", "maxLength": 128, "description": "Default: the app name."},
            "address_type": {**enum_of(AddressType), "default": "AUTO"},
            "manual_addresses": {"type": "array", "items": STR, "description": "Executor URLs of a MANUAL group (http:// or https://)."},
            **GROUP_CAP_PROPERTIES,
        },
        ["app_name"],
    ),
    "GroupUpdate": object_schema(
        {
            "app_name": {"type": "string"},
            "title": {"type": "string"},
            "address_type": enum_of(AddressType),
            "manual_addresses": {"type": "array", "items": STR},
            **GROUP_CAP_PROPERTIES,
        },
        description="Only the given fields change.",
    ),
    "Job": object_schema(JOB_PROPERTIES),
    "JobCreate": object_schema(
        {**JOB_INPUT_PROPERTIES, **GLUE_REMARK},
        ["group_id", "name", "schedule_conf", "handler"],
        "schedule_conf is required for the default CRON schedule (empty for NONE); handler for the default BEAN glue type.",
    ),
    "JobUpdate": object_schema({**JOB_INPUT_PROPERTIES, **GLUE_REMARK}, description="Only the given fields change; the result is checked as a whole."),
    "GlueVersion": object_schema(
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
    "GlueVersionList": object_schema({"items": {"type": "array", "items": ref("GlueVersion"), "description": "Newest first; the newest 30 are kept."}}),
    "GlueVersionDetail": object_schema(
        {
            "version": ref("GlueVersion"),
            "glue_source": STR_OR_NULL,
            "previous_id": {"type": ["integer", "null"], "description": "The version before this one; null for the oldest kept."},
            "diff": {"type": "string", "description": "Unified diff from the previous version's source to this one's; empty for the oldest."},
        }
    ),
    "JobCopy": object_schema({"name": {"type": "string", "description": "Default: '<name> (copy)'."}}),
    "TriggerRequest": object_schema(
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
    "TriggerResult": object_schema(
        {
            "fire_id": INT,
            "job_id": INT,
            "fire_at_ms": MS,
            "trigger_type": enum_of(TriggerType),
            "shard_index": {"type": ["integer", "null"]},
            "shard_total": {"type": ["integer", "null"]},
            "address": STR_OR_NULL,
            "resume_from_run_id": {"type": ["integer", "null"]},
        }
    ),
    "RepairResult": object_schema(
        {
            "run_id": INT,
            "fire_id": {"type": "integer", "description": "The fire of the re-run; follow it with GET /fires/{fire_id}."},
            "resumes": {**BOOL, "description": "False: the run saved no checkpoint and the re-run starts fresh."},
            "message": STR,
        }
    ),
    "SkippedTime": object_schema({"at_ms": MS, "calendar": {"type": "string", "description": "The calendar that excludes this planned time."}}),
    "FireTimes": object_schema(
        {
            "fire_times_ms": {"type": "array", "items": MS, "description": "The next allowed fire times (the calendars applied)."},
            "skipped": {"type": "array", "items": ref("SkippedTime"), "description": "Planned times among them that a calendar skips (at most count)."},
        }
    ),
    "CalendarEntry": object_schema(
        {
            "start": {"type": "string", "format": "date"},
            "end": {"type": "string", "format": "date", "description": "The last excluded date (inclusive); default: start."},
            "label": {"type": "string", "maxLength": 128},
        },
        ["start"],
    ),
    "Calendar": object_schema(
        {
            "id": INT,
            "name": STR,
            "timezone": STR,
            "description": STR,
            "entries": {"type": "array", "items": ref("CalendarEntry")},
            "job_count": {"type": "integer", "description": "Jobs that use the calendar."},
            "version": {"type": "integer", "description": "Grows with every change; scheduler nodes reload the calendar when it moves."},
            "created_at_ms": MS,
            "updated_at_ms": MS,
        }
    ),
    "CalendarCreate": object_schema(
        {
            "name": {"type": "string", "maxLength": 64, "description": "Unique; no commas."},
            "timezone": {"type": "string", "description": "IANA zone the dates are read in. Default: the admin's default_timezone."},
            "description": {"type": "string", "maxLength": 255},
            "entries": {
                "type": ["array", "string"],
                "items": {"oneOf": [ref("CalendarEntry"), {"type": "string"}]},
                "description": (
                    "Excluded dates: objects, lines such as '2026-12-24..2026-12-26 office closed', or one text with a line per entry "
                    "(blank lines and lines starting with # skipped). At most calendar_max_entries."
                ),
            },
        },
        ["name"],
    ),
    "CalendarUpdate": object_schema(
        {
            "name": STR,
            "timezone": STR,
            "description": STR,
            "entries": {"type": ["array", "string"], "description": "Replaces every entry. Refused when a job using the calendar would be left no planned time in the next 10 years."},
        },
        description="Only the given fields change.",
    ),
    "JobFireTimes": object_schema(
        {
            "fire_times_ms": {"type": "array", "items": MS},
            "jitter_ms": {
                "type": "array", "items": {"type": "integer", "minimum": 0},
                "description": "The job's jitter for each fire time, in the same order: its /run goes out that many ms later (all 0 without jitter).",
            },
            "skipped": {"type": "array", "items": ref("SkippedTime"), "description": "Planned times among them that the job's calendars skip."},
        }
    ),
    "Run": object_schema(RUN_PROPERTIES),
    "BackfillRequest": object_schema(
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
    "BackfillPreview": object_schema(
        {
            "planned": {"type": "integer", "description": "How many runs the backfill would make (one per planned time)"},
            "first_times_ms": {"type": "array", "items": MS},
            "overlap_policy": STR,
            "pace": {"type": "integer"},
        }
    ),
    "Backfill": object_schema(
        {
            "id": ID, "job_id": ID, "from_ms": MS, "to_ms": MS, "overlap_policy": STR, "pace": {"type": "integer"},
            "status": enum_of(BackfillStatus),
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
    "BackfillList": object_schema({"items": {"type": "array", "items": ref("Backfill")}}),
    "Fire": object_schema(
        {
            "id": INT,
            "job_id": INT,
            "fire_at_ms": MS,
            "trigger_type": enum_of(TriggerType),
            "status": enum_of(FireStatus),
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
            "runs": {"type": "array", "items": ref("Run")},
            "planned_at_ms": {
                **MS,
                "description": "The planned time its runs are sent (their logDateTime): fire_at_ms, except for a retry or a repair, which keeps the one of the run it re-runs.",
            },
            "resume_from_run_id": {"type": ["integer", "null"]},
        }
    ),
    "LogPage": object_schema(
        {
            "run_id": INT,
            "from_line": INT,
            "to_line": INT,
            "content": STR,
            "is_end": {"type": "boolean", "description": "The run's log is complete; stop polling."},
            "run_status": enum_of(RunStatus),
        }
    ),
    "KillResult": object_schema({"run_id": INT, "sent": {"type": "boolean", "description": "True: the executor was asked; false: marked failed here (executor gone)."}, "message": STR}),
    "CleanupRequest": object_schema(
        {
            "job_id": {**ID, "description": "Clean up this job's runs (give job_id or group_id)."},
            "group_id": {**ID, "description": "Clean up this group's runs (give job_id or group_id)."},
            "older_than_days": {"type": "integer", "minimum": 0, "maximum": 36500, "description": "Delete runs triggered more than N x 24 h ago."},
            "keep_last": {"type": "integer", "minimum": 0, "maximum": 1_000_000_000, "description": "Keep the newest N runs, delete the rest."},
        },
        description="At least one of older_than_days and keep_last; given both, a run goes when it matches both. Runs still going are never deleted.",
    )
    | {"oneOf": [{"required": ["job_id"]}, {"required": ["group_id"]}], "anyOf": [{"required": ["older_than_days"]}, {"required": ["keep_last"]}]},
    "CleanupCriteria": object_schema(
        {name: {"type": ["integer", "null"]} for name in ("job_id", "group_id", "older_than_days", "keep_last")}, description="The request, as understood (null: not given).",
    ),
    "CleanupScope": object_schema({"target": {"type": "string", "enum": ["job", "group"]}, "target_id": INT, "name": STR, "group_id": INT}),
    "CleanupPreview": object_schema({"request": ref("CleanupCriteria"), "scope": ref("CleanupScope"), "matching": {"type": "integer", "description": "Runs the clean-up would delete now."}}),
    "CleanupResult": object_schema({"request": ref("CleanupCriteria"), "scope": ref("CleanupScope"), "deleted": INT, "batches": {"type": "integer", "description": "Transactions the delete took."}}),
    "DayCounts": object_schema(
        {
            "day": {"type": "string", "format": "date"},
            "success": INT,
            "failed": INT,
            "running": INT,
            "unknown": {"type": "integer", "description": "Runs of unknown outcome (status UNKNOWN); not part of failed."},
        }
    ),
    "Counts": object_schema(
        {
            "key": {"type": "string", "description": "Group name or executor address ('—': runs never sent); empty for the totals."},
            "success": INT,
            "failed": INT,
            "running": {"type": "integer", "description": "RUNNING and PENDING runs."},
            "unknown": INT,
        }
    ),
    "RangeCounts": object_schema(
        {
            "first_day": {"type": "string", "format": "date"},
            "last_day": {"type": "string", "format": "date"},
            "daily": {"type": "array", "items": ref("DayCounts"), "description": "One bucket per day, oldest first; today's is live."},
            "totals": ref("Counts"),
            "per_group": {"type": "array", "items": ref("Counts"), "description": "Most runs first; only groups the caller may see."},
            "per_executor": {"type": "array", "items": ref("Counts"), "description": "Most runs first."},
        },
        description="Runs triggered in the range, read once: totals, per_group and per_executor are sums of the same rows as daily.",
    ),
    "Dashboard": object_schema(
        {
            "job_count": INT,
            "enabled_job_count": INT,
            "group_count": INT,
            "live_executor_count": INT,
            "live_group_count": {"type": "integer", "description": "Groups with at least one live executor."},
            "runs": ref("RangeCounts"),
            "success_rate": {"type": ["number", "null"], "description": "success / (success + failed + unknown) over the range; null before a finished run."},
            "recent_failures": {"type": "array", "items": ref("Run"), "description": "The range's latest FAILED or UNKNOWN runs, newest first."},
            "timezone": {"type": "string", "description": "The zone whose calendar days the range and its buckets are."},
            "start_ms": {"type": "integer", "description": "Where the range's first day begins, epoch ms."},
        }
    ),
    "User": object_schema(
        {
            "id": INT,
            "username": STR,
            "role": enum_of(UserRole),
            "group_ids": INT_LIST,
            "script_group_ids": {**INT_LIST, "description": "Granted groups whose script jobs the user may write (admins: every group)."},
            "has_api_token": BOOL,
            "created_at_ms": MS,
            "updated_at_ms": MS,
        }
    ),
    "UserCreate": object_schema(
        {
            "username": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$"},
            "password": {"type": "string", "minLength": 10, "maxLength": 1024},
            "role": {**enum_of(UserRole), "default": "USER"},
            "group_ids": INT_LIST,
        },
        ["username", "password"],
    ),
    "UserUpdate": object_schema(
        {
            "role": enum_of(UserRole),
            "group_ids": INT_LIST,
            "script_group_ids": {**INT_LIST, "description": "Groups (each granted to the user) whose script jobs the user may write; applied after group_ids."},
            "password": {"type": "string", "minLength": 10, "description": "An admin's reset of another user's password."},
        },
        description="Only the given fields change.",
    ),
    "PasswordChange": object_schema({"current_password": STR, "new_password": {"type": "string", "minLength": 10}}, ["current_password", "new_password"]),
    "Token": object_schema({"token": {"type": "string", "description": "Shown once; only its SHA-256 is stored."}}, ["token"]),
    "ApiToken": object_schema(
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
    "ApiTokenList": object_schema({"items": {"type": "array", "items": ref("ApiToken")}}, ["items"]),
    "ApiTokenCreate": object_schema(
        {
            "name": {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}$", "description": "Unique among the caller's tokens."},
            "expires_at_ms": {"type": ["integer", "null"], "minimum": 0, "maximum": 253402300799999, "description": "UTC epoch milliseconds, in the future; null or absent: never expires."},
        },
        ["name"],
    ),
    "ApiTokenIssued": object_schema(
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
    "AuditEntry": object_schema(
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
    SCHEMAS[f"{_name}Page"] = page_of(_name)
