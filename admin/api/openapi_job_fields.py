"""The OpenAPI properties of groups' caps, jobs (input and answer) and runs, shared by openapi_schemas.py."""

from __future__ import annotations

from ..enums import (
    CapPolicy, Delivery, MisfireStrategy,
    OverlapPolicy, RouteStrategy, RunStatus, ScheduleType, TriggerType,
)
from ..schedules.catchup import MAX_CATCHUP_WINDOW_S
from ..schedules.jitter import MAX_JITTER_S
from ..services.caps import MAX_CAP_RUNS, MAX_CAP_WAIT_S
from ..services.job_form import MAX_PAUSE_AFTER_FAILURES
from shardcron.core.protocol import BlockStrategy, GlueType

from .openapi_parts import (
    BOOL, INT, MS, MS_OR_NULL, STR, STR_OR_NULL, Schema, enum_of,
)

GROUP_CAP_PROPERTIES: dict[str, Schema] = {
    "cap_runs": {
        "type": ["integer", "null"], "minimum": 1, "maximum": MAX_CAP_RUNS, "default": None,
        "description": (
            "At most this many runs of the group's jobs active (PENDING or RUNNING) at once across the cluster; a sharding broadcast takes one "
            "per shard. null: no cap. 0 and negative numbers are refused."
        ),
    },
    "cap_policy": {
        **enum_of(CapPolicy),
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
    "schedule_type": {**enum_of(ScheduleType), "default": "CRON"},
    "schedule_conf": {"type": "string", "maxLength": 255, "description": "Cron expression (5-field Unix or 6/7-field Quartz), the FIX_RATE period in seconds, or empty for NONE."},
    "timezone": {"type": "string", "description": "IANA zone the cron is read in; default: the admin's default_timezone."},
    "misfire_strategy": {
        **enum_of(MisfireStrategy),
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
        **enum_of(Delivery),
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
        **enum_of(OverlapPolicy),
        "default": "ALLOW_ALL",
        "description": (
            "What a fire does while a run of the job is active anywhere in the cluster: ALLOW_ALL starts it (the executor's block strategy decides); "
            "SKIP drops it; BUFFER_ONE starts it when the active run ends (at most one waits, later ones are dropped); BUFFER_ALL lets every such "
            "fire wait and starts them one after another; CANCEL_OTHER asks the executor to kill the active run and starts once it has ended; "
            "TERMINATE_OTHER marks the active run failed, kills it and starts at once. The decision is recorded on the fire."
        ),
    },
    "route_strategy": {**enum_of(RouteStrategy), "default": "FIRST"},
    "handler": {"type": "string", "maxLength": 255, "description": "Handler name; required for BEAN jobs."},
    "param": {"type": ["string", "null"], "description": "At most 65,535 bytes."},
    "block_strategy": {**enum_of(BlockStrategy), "default": "SERIAL_EXECUTION"},
    "timeout_s": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 0},
    "retry_count": {"type": "integer", "minimum": 0, "maximum": 100, "default": 0},
    "retry_delay_s": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 10},
    "retry_backoff_multiplier": {"type": "integer", "minimum": 1, "maximum": 10, "default": 2},
    "retry_max_delay_s": {"type": "integer", "minimum": 0, "maximum": 604800, "default": 600},
    "glue_type": {**enum_of(GlueType), "default": "BEAN"},
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
    "trigger_type": enum_of(TriggerType),
    "fire_at_ms": {**MS, "description": "When its fire was due: the planned time, or for a retry when the retry became due."},
    "planned_at_ms": {
        **MS,
        "description": (
            "The planned time the run ran for, sent as logDateTime (the executor's ctx.trigger_time_ms): fire_at_ms, except for a "
            "retry or a repair, which keeps the planned time of the run it re-ran (a backfilled day stays that day)."
        ),
    },
    "trigger_at_ms": MS,
    "executor_address": STR_OR_NULL,
    "handler": STR,
    "param": STR_OR_NULL,
    "shard_index": INT,
    "shard_total": INT,
    "attempt": INT,
    "retry_remaining": INT,
    "status": {
        **enum_of(RunStatus),
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
    "step_run_id": {"type": ["integer", "null"], "description": "The workflow step run this run belongs to (GET /workflow-instances/{id} names it); null: none."},
}
