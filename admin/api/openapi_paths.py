"""The OpenAPI paths of /api/v1 (openapi.py's `paths`): every route and method, with its parameters, body and answers."""

from __future__ import annotations

from ..enums import (
    ActorKind, AuditAction, AuditTarget, RunStatus, ScheduleType, TriggerType,
)
from ..services.backfills import MAX_PACE
from shardcron.core.numbers import INT_MAX

from .openapi_parts import (
    BOOL, ERRORS, ID, MS, MS_PARAM, NO_CONTENT, PAGING, PREVIEW_COUNT, STR, Schema, enum_of, error_response, json_response, operation, param, path_id,
)
from .openapi_transfer import transfer_paths

PATHS: dict[str, Schema] = {
    "/openapi.json": {
        "get": {"summary": "This document", "tags": ["meta"], "security": [], "responses": {"200": {"description": "The OpenAPI 3.1 document", "content": {"application/json": {}}}}}
    },
    "/groups": {
        "get": operation("Executor groups the caller may see, with live executors", {"200": json_response("GroupPage")}, params=PAGING, errors=("400", "401"), tag="groups"),
        "post": operation("Create a group (admin)", {"201": json_response("Group", "Created")}, body="GroupCreate", errors=("400", "401", "403", "409"), tag="groups"),
    },
    "/groups/{group_id}": {
        "get": operation("One group with its live executors", {"200": json_response("Group")}, params=path_id("group_id"), tag="groups"),
        "patch": operation("Change a group (admin)", {"200": json_response("Group")}, body="GroupUpdate", params=path_id("group_id"), errors=("400", "401", "403", "404", "409"), tag="groups"),
        "delete": operation("Delete a group without jobs (admin)", {"204": NO_CONTENT}, params=path_id("group_id"), errors=("401", "403", "404", "409"), tag="groups"),
    },
    "/calendars": {
        "get": operation("Calendars (every user may read and use them)", {"200": json_response("CalendarPage")}, params=PAGING, errors=("400", "401"), tag="calendars"),
        "post": operation("Create a calendar (admin)", {"201": json_response("Calendar", "Created")}, body="CalendarCreate", errors=("400", "401", "403", "409"), tag="calendars"),
    },
    "/calendars/{calendar_id}": {
        "get": operation("One calendar with its entries", {"200": json_response("Calendar")}, params=path_id("calendar_id"), tag="calendars"),
        "patch": operation(
            "Change a calendar (admin)", {"200": json_response("Calendar")}, body="CalendarUpdate", params=path_id("calendar_id"), errors=("400", "401", "403", "404", "409"), tag="calendars"
        ),
        "delete": operation("Delete a calendar no job uses (admin)", {"204": NO_CONTENT}, params=path_id("calendar_id"), errors=("401", "403", "404", "409"), tag="calendars"),
    },
    "/jobs": {
        "get": operation(
            "Jobs, filtered, sorted and paged",
            {"200": json_response("JobPage")},
            params=[
                param("group_id", "query", ID),
                param("search", "query", STR, "Part of the name or handler."),
                param("owner", "query", {"type": "string", "maxLength": 64}, "Part of the owner (the job's author)."),
                param("enabled", "query", BOOL),
                param("paused", "query", BOOL, "true: only jobs paused on failure; false: only the others."),
                param("sort", "query", {"type": "string", "enum": ["id", "name", "next_fire_at_ms", "updated_at_ms"], "default": "id"}),
                param("order", "query", {"type": "string", "enum": ["asc", "desc"], "default": "asc"}),
                *PAGING,
            ],
            errors=("400", "401"),
            tag="jobs",
        ),
        "post": operation("Create a job (stopped)", {"201": json_response("Job", "Created")}, body="JobCreate", errors=("400", "401", "403"), tag="jobs"),
    },
    "/jobs/{job_id}": {
        "get": operation("One job", {"200": json_response("Job")}, params=path_id("job_id"), tag="jobs"),
        "patch": operation("Change a job", {"200": json_response("Job")}, body="JobUpdate", params=path_id("job_id"), errors=("400", "401", "403", "404"), tag="jobs"),
        "delete": operation("Delete a job and its undispatched fires", {"204": NO_CONTENT}, params=path_id("job_id"), errors=("401", "404", "409"), tag="jobs"),
    },
    "/jobs/{job_id}/start": {"post": operation("Start: schedule the next fire", {"200": json_response("Job")}, params=path_id("job_id"), errors=("400", "401", "404"), tag="jobs")},
    "/jobs/{job_id}/stop": {"post": operation("Stop: no further scheduled fires", {"200": json_response("Job")}, params=path_id("job_id"), tag="jobs")},
    "/jobs/{job_id}/copy": {
        "post": operation(
            "Copy a job (the copy is stopped)",
            {"201": json_response("Job", "Created")},
            body="JobCopy",
            body_required=False,
            params=path_id("job_id"),
            errors=("400", "401", "403", "404"),
            tag="jobs",
        )
    },
    "/jobs/{job_id}/glue-versions": {
        "get": operation("The job's kept script versions, newest first", {"200": json_response("GlueVersionList")}, params=path_id("job_id"), tag="jobs")
    },
    "/jobs/{job_id}/glue-versions/{version_id}": {
        "get": operation(
            "One script version, its source and the diff from the version before",
            {"200": json_response("GlueVersionDetail")},
            params=[*path_id("job_id"), *path_id("version_id")],
            tag="jobs",
        )
    },
    "/jobs/{job_id}/glue-versions/{version_id}/rollback": {
        "post": operation(
            "Put a version's script back on the job (script rights needed; kept as a new version)",
            {"200": json_response("Job")},
            params=[*path_id("job_id"), *path_id("version_id")],
            errors=("400", "401", "403", "404"),
            tag="jobs",
        )
    },
    "/jobs/{job_id}/trigger": {
        "post": operation(
            "Trigger now: the whole job, or one shard i/n, optionally with a parameter or a chosen live executor",
            {"202": json_response("TriggerResult", "Recorded; the scheduler dispatches it at once. Follow it with GET /fires/{fire_id}.")},
            body="TriggerRequest",
            body_required=False,
            params=path_id("job_id"),
            errors=("400", "401", "404"),
            tag="jobs",
        )
    },
    "/jobs/{job_id}/preview": {
        "get": operation(
            "The next fire times of a saved job, with its jitter and the times its calendars skip",
            {"200": json_response("JobFireTimes")}, params=[*path_id("job_id"), PREVIEW_COUNT], errors=("400", "401", "404"), tag="jobs",
        )
    },
    "/schedule-preview": {
        "get": operation(
            "The next fire times of a schedule being edited",
            {"200": json_response("FireTimes")},
            params=[
                param("schedule_type", "query", enum_of(ScheduleType), required=True),
                param("schedule_conf", "query", STR),
                param("timezone", "query", STR, "Default: the admin's default_timezone."),
                param("calendars", "query", STR, "Calendar names, comma-separated: their excluded dates are skipped."),
                PREVIEW_COUNT,
            ],
            errors=("400", "401"),
            tag="jobs",
        )
    },
    "/jobs/{job_id}/backfills": {
        "get": operation("The job's backfills, newest first, with progress", {"200": json_response("BackfillList")}, params=path_id("job_id"), tag="jobs"),
        "post": operation(
            "Backfill: run the job once for every planned time of its schedule between from_ms and to_ms; each run's trigger time is its planned time",
            {"201": json_response("Backfill", "Created; the scheduler starts its runs at its pace")},
            body="BackfillRequest", params=path_id("job_id"), errors=("400", "401", "404"), tag="jobs",
        ),
    },
    "/jobs/{job_id}/backfills/preview": {
        "get": operation(
            "How many runs a backfill would make (nothing written)", {"200": json_response("BackfillPreview")},
            params=[*path_id("job_id"), param("from_ms", "query", MS, required=True), param("to_ms", "query", MS, required=True),
                    param("overlap_policy", "query", STR), param("pace", "query", {"type": "integer", "minimum": 1, "maximum": MAX_PACE})],
            errors=("400", "401", "404"), tag="jobs",
        )
    },
    "/backfills/{backfill_id}": {"get": operation("One backfill with its progress", {"200": json_response("Backfill")}, params=path_id("backfill_id"), tag="jobs")},
    "/backfills/{backfill_id}/cancel": {
        "post": operation(
            "Cancel: start nothing more (fires not yet claimed are closed); runs already started run to their end",
            {"200": json_response("Backfill")}, params=path_id("backfill_id"), errors=("401", "404", "409"), tag="jobs",
        )
    },
    "/fires/{fire_id}": {"get": operation("A fire and the runs it produced (one per shard)", {"200": json_response("Fire")}, params=path_id("fire_id"), tag="runs")},
    "/runs": {
        "get": operation(
            "Run log, newest first, filtered and paged (one row per shard)",
            {"200": json_response("RunPage")},
            params=[
                param("group_id", "query", ID),
                param("job_id", "query", ID),
                param("step_run_id", "query", ID, "The runs of one workflow step run (its shards and retries)."),
                param("status", "query", enum_of(RunStatus)),
                param("trigger_type", "query", enum_of(TriggerType)),
                param("from_ms", "query", MS_PARAM, "Trigger time >= from_ms."),
                param("to_ms", "query", MS_PARAM, "Trigger time < to_ms."),
                param("sort", "query", {"type": "string", "enum": ["trigger_at_ms"], "default": "trigger_at_ms"}),
                param("order", "query", {"type": "string", "enum": ["asc", "desc"], "default": "desc"}),
                *PAGING,
            ],
            errors=("400", "401"),
            tag="runs",
        )
    },
    "/runs/cleanup": {
        "get": operation(
            "Count the runs a clean-up would delete now (admins); nothing is deleted",
            {"200": json_response("CleanupPreview")},
            params=[
                param("job_id", "query", ID),
                param("group_id", "query", ID),
                param("older_than_days", "query", {"type": "integer", "minimum": 0, "maximum": 36500}),
                param("keep_last", "query", {"type": "integer", "minimum": 0, "maximum": 1_000_000_000}),
            ],
            errors=("400", "401", "403", "404"),
            tag="runs",
        ),
        "post": operation(
            "Delete a job's or a group's old runs (admins), in batches; audited as run.cleanup",
            {"200": json_response("CleanupResult")},
            body="CleanupRequest",
            errors=("400", "401", "403", "404"),
            tag="runs",
        ),
    },
    "/runs/{run_id}": {"get": operation("One run", {"200": json_response("Run")}, params=path_id("run_id"), tag="runs")},
    "/runs/{run_id}/log": {
        "get": operation(
            "A page of the run's log, read from its executor (only a live executor of the run's group is called)",
            {"200": json_response("LogPage"), "409": error_response("The run has no live executor to read from."), "502": error_response("The executor failed the call.")},
            params=[*path_id("run_id"), param("from_line", "query", {"type": "integer", "minimum": 1, "maximum": INT_MAX, "default": 1})],
            errors=("400", "401", "404"),
            tag="runs",
        )
    },
    "/runs/{run_id}/kill": {
        "post": operation(
            "Kill a pending or running run, or one of unknown outcome (through its live executor only)",
            {
                "202": json_response("KillResult", "The executor was asked to stop it; the run ends when it reports back."),
                "200": json_response("KillResult", "Its executor is gone: the run was marked failed here."),
                "409": error_response("The run has finished, or its outcome is unknown and it has no live executor to ask."),
                "502": error_response("The executor failed the call."),
            },
            params=path_id("run_id"),
            tag="runs",
        )
    },
    "/runs/{run_id}/repair": {
        "post": operation(
            "Repair now: fail a running run whose executor is lost and re-run it at once, resuming from its checkpoint",
            {
                "202": json_response("RepairResult", "The run was marked failed and a fire re-runs it (the same shard of a broadcast)."),
                "409": error_response(
                    "The run is not RUNNING, or it is still alive (its executor answers /beat and runs the job), or it has ended and its executor "
                    "says its result is on its way (resultPending)."
                ),
            },
            params=path_id("run_id"),
            tag="runs",
        )
    },
    "/dashboard": {
        "get": operation(
            "Counts, the per-day buckets over a date range, per-group and per-executor counts, and the latest failures",
            {"200": json_response("Dashboard")},
            params=[
                param("days", "query", {"type": "integer", "enum": [1, 7, 30], "default": 7}, "The last N days ending today (1: today); ignored when from is given."),
                param("from", "query", {"type": "string", "format": "date"}, "First day of a custom range (at most 90 days)."),
                param("to", "query", {"type": "string", "format": "date"}, "Last day of a custom range, not after today; default: today."),
                param("timezone", "query", STR, "Whose calendar days; default: default_timezone."),
            ],
            errors=("400", "401"),
            tag="dashboard",
        )
    },
    "/audit": {
        "get": operation(
            "The audit trail, newest first, filtered and paged (admins: every entry; users: their groups' entries)",
            {"200": json_response("AuditEntryPage")},
            params=[
                param("actor", "query", {"type": "string", "maxLength": 64}, "The actor's name, exactly."),
                param("actor_kind", "query", enum_of(ActorKind)),
                param(
                    "action", "query",
                    {"type": "string", "enum": sorted([a.value for a in AuditAction] + sorted({a.value.split(".")[0] for a in AuditAction}))},
                    "One action, or every action on a kind of target (e.g. job).",
                ),
                param("target_type", "query", enum_of(AuditTarget)),
                param("target_id", "query", ID, "Needs target_type."),
                param("group_id", "query", ID),
                param("from_ms", "query", MS_PARAM, "Entry time >= from_ms."),
                param("to_ms", "query", MS_PARAM, "Entry time < to_ms."),
                *PAGING,
            ],
            errors=("400", "401"),
            tag="audit",
        )
    },
    "/users": {
        "get": operation("Users (admin)", {"200": json_response("UserPage")}, params=PAGING, errors=("400", "401", "403"), tag="users"),
        "post": operation("Create a user (admin)", {"201": json_response("User", "Created")}, body="UserCreate", errors=("400", "401", "403", "409"), tag="users"),
    },
    "/users/{user_id}": {
        "get": operation("One user (admin, or the user themself)", {"200": json_response("User")}, params=path_id("user_id"), tag="users"),
        "patch": operation(
            "Change role, grants or password (admin)",
            {"200": json_response("User")},
            body="UserUpdate",
            params=path_id("user_id"),
            errors=("400", "401", "403", "404", "409"),
            tag="users",
        ),
        "delete": operation("Delete a user (admin; never the last admin)", {"204": NO_CONTENT}, params=path_id("user_id"), errors=("401", "403", "404", "409"), tag="users"),
    },
    "/me": {"get": operation("The caller's own account", {"200": json_response("User")}, errors=("401",), tag="users")},
    "/me/password": {"post": operation("Change the caller's password", {"204": NO_CONTENT}, body="PasswordChange", errors=("400", "401"), tag="users")},
    "/me/token": {
        "post": operation("A new API token named \"default\" for the caller (replaces the one of that name)", {"201": json_response("Token", "Created")}, errors=("401",), tag="users"),
        "delete": operation("Revoke the caller's API token named \"default\"", {"204": NO_CONTENT}, errors=("401",), tag="users"),
    },
    "/me/tokens": {
        "get": operation("The caller's API tokens (names, creation, expiry; never the values)", {"200": json_response("ApiTokenList")}, errors=("401",), tag="users"),
        "post": operation("Issue a named API token, optionally expiring", {"201": json_response("ApiTokenIssued", "Created")}, body="ApiTokenCreate", errors=("400", "401", "409"), tag="users"),
    },
    "/me/tokens/{token_id}": {
        "delete": operation("Revoke one of the caller's API tokens", {"204": NO_CONTENT}, params=path_id("token_id"), tag="users"),
    },
    "/users/{user_id}/tokens": {
        "get": operation("A user's API tokens (admin, or the user themself)", {"200": json_response("ApiTokenList")}, params=path_id("user_id"), tag="users"),
    },
    "/users/{user_id}/tokens/{token_id}": {
        "delete": operation("Revoke a user's API token (admin, or the user themself)", {"204": NO_CONTENT}, params=path_id("user_id") + path_id("token_id"), tag="users"),
    },
}
PATHS.update(transfer_paths(operation, param, ERRORS))
