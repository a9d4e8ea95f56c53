"""The OpenAPI entries of workflows (api/workflows.py), added to openapi.py's document.

Kept as small functions, one per group of routes, so the instance routes (api/workflow_instances.py)
add theirs beside these without touching them.
"""

from __future__ import annotations

from ..enums import WORKFLOW_OVERLAP_POLICIES, EdgeCondition, JoinMode, RunStatus, ScheduleType, StepStatus, TriggerType, WorkflowStatus
from ..services.job_form import MAX_TIMEOUT_S
from ..services.workflow_form import WORKFLOW_MISFIRE_STRATEGIES
from ..workflows.graph import KEY_PATTERN
from .openapi_parts import (
    BOOL, ID, INT, MS, MS_OR_NULL, MS_PARAM, NO_CONTENT, PAGING, STR, STR_OR_NULL, Schema, enum_of, json_response, object_schema, operation, page_of,
    param, path_id, ref,
)

NUMBER: Schema = {"type": "number"}


def definition_schemas() -> dict[str, Schema]:
    """A definition: steps and the edges between them (docs/workflows.md)."""
    return {
        "WorkflowStep": object_schema(
            {
                "key": {"type": "string", "pattern": KEY_PATTERN.pattern, "description": "What edges and templates name the step by."},
                "job_id": {**ID, "description": "The job the step runs (in a group the caller may see)."},
                "param": {
                    "type": ["string", "null"], "maxLength": 65535,
                    "description": "Parameter override; templates {{upstream.STEP.FIELD}}, {{params.NAME}}, {{instance.id}}, {{instance.planned_at_ms}}. null: the job's own.",
                },
                "join": {"type": "string", "enum": [j.value for j in JoinMode], "default": "ALL", "description": "With several inbound edges: wait for all, or run on the first taken."},
            },
            ["key", "job_id"],
        ),
        "WorkflowEdge": object_schema(
            {
                "from": STR,
                "to": STR,
                "on": {"type": "string", "enum": [c.value for c in EdgeCondition], "default": "SUCCESS", "description": "When the edge is taken, from how its source step ended."},
            },
            ["from", "to"],
        ),
        "WorkflowDefinition": object_schema(
            {"steps": {"type": "array", "items": ref("WorkflowStep"), "minItems": 1}, "edges": {"type": "array", "items": ref("WorkflowEdge")}},
            ["steps"],
            "A DAG of steps; at most workflow_max_steps steps. Problems are named by their place: steps[2].job_id, edges[0].to, edges (a cycle).",
        ),
    }


def _input_properties() -> dict[str, Schema]:
    return {
        "group_id": {**ID, "description": "The group the workflow is listed under; its users see it."},
        "name": {"type": "string", "minLength": 1, "maxLength": 128, "description": "Unique among workflows."},
        "description": {"type": "string", "maxLength": 512, "default": ""},
        "author": {"type": "string", "maxLength": 64, "default": ""},
        "definition": ref("WorkflowDefinition"),
        "schedule_type": {"type": "string", "enum": [t.value for t in ScheduleType], "default": "NONE"},
        "schedule_conf": {"type": "string", "maxLength": 255, "default": "", "description": "Cron expression or fixed rate in seconds, as for jobs."},
        "timezone": {"type": "string", "maxLength": 64, "description": "IANA zone of the schedule; default_timezone when left out."},
        "misfire_strategy": {"type": "string", "enum": [m.value for m in WORKFLOW_MISFIRE_STRATEGIES], "default": "DO_NOTHING"},
        "overlap_policy": {"type": "string", "enum": [p.value for p in WORKFLOW_OVERLAP_POLICIES], "default": "ALLOW_ALL", "description": "Between this workflow's instances."},
        "timeout_s": {"type": "integer", "minimum": 0, "maximum": MAX_TIMEOUT_S, "default": 0, "description": "An instance still running this long ends TIMED_OUT; 0: never."},
        "alarm_emails": {
            "oneOf": [{"type": "array", "items": STR}, STR],
            "description": "Told when an instance ends FAILED or TIMED_OUT (one e-mail per instance): addresses, a list or one text separated by , ; or spaces; empty: none.",
        },
        "alarm_webhook": {
            "type": "string",
            "maxLength": 512,
            "description": "http(s) URL that receives a JSON POST per instance that ends FAILED or TIMED_OUT; empty: none. "
            "Only an ADMIN may set a new one (the admin POSTs to it); a USER may keep or clear it.",
        },
    }


def workflow_schemas() -> dict[str, Schema]:
    inputs = _input_properties()
    return {
        **definition_schemas(),
        "Workflow": object_schema(
            {
                "id": INT, "group_id": INT, "group_app_name": STR, "name": STR, "description": STR, "author": STR, "definition": ref("WorkflowDefinition"),
                "step_count": INT, "version": {"type": "integer", "description": "Grows by 1 with every save; each instance keeps the version it ran."},
                "schedule_type": inputs["schedule_type"], "schedule_conf": STR, "timezone": STR, "misfire_strategy": inputs["misfire_strategy"],
                "overlap_policy": inputs["overlap_policy"], "timeout_s": INT, "alarm_emails": {"type": "array", "items": STR}, "alarm_webhook": STR,
                "enabled": BOOL, "next_fire_at_ms": MS, "last_fire_at_ms": MS, "created_at_ms": MS, "updated_at_ms": MS,
            }
        ),
        "WorkflowPage": page_of("Workflow"),
        "WorkflowCreate": object_schema(inputs, ["group_id", "name", "definition"]),
        "WorkflowUpdate": object_schema(inputs, description="Only the given fields change (the definition is replaced whole); version + 1."),
        "WorkflowCopy": object_schema({"name": {"type": "string", "minLength": 1, "maxLength": 128, "description": "Default: the name + \" (copy)\"."}}),
        "WorkflowPreviewRequest": object_schema(
            {"definition": {"description": "A definition as typed, even one with problems."}, "schedule_type": STR, "schedule_conf": STR, "timezone": STR},
            ["definition"],
        ),
        "WorkflowPreview": object_schema(
            {
                "problems": {"type": "object", "additionalProperties": STR, "description": "Field -> what is wrong; empty when the definition and schedule would save."},
                "layout": _layout_schema(),
                "job_names": {"type": "object", "additionalProperties": STR, "description": "Step key -> the name of its job (jobs the caller may see)."},
                "fire_times_ms": {"type": "array", "items": MS, "description": "The next planned times; empty for schedule NONE or a bad schedule."},
            },
            ["problems", "layout", "job_names", "fire_times_ms"],
        ),
    }


def _layout_schema() -> Schema:
    node = object_schema({"key": STR, "x": NUMBER, "y": NUMBER, "width": NUMBER, "height": NUMBER, "layer": INT, "order": INT})
    edge = object_schema(
        {"from": STR, "to": STR, "on": STR, "d": {"type": "string", "description": "SVG path data"}, "label_x": NUMBER, "label_y": NUMBER,
         "backward": {"type": "boolean", "description": "The edge closes a cycle (drawn against the flow)."}}
    )  # fmt: skip
    return object_schema(
        {"width": NUMBER, "height": NUMBER, "nodes": {"type": "array", "items": node}, "edges": {"type": "array", "items": edge}},
        description="Positions for drawing: layers top to bottom by longest path from a root.",
    )


def workflow_paths() -> dict[str, Schema]:
    wid = path_id("workflow_id")
    return {
        "/workflows": {
            "get": operation(
                "Workflows the caller may see, paged", {"200": json_response("WorkflowPage")},
                params=[param("group_id", "query", ID), param("name", "query", {"type": "string", "maxLength": 128}, "Part of the name."), *PAGING],
                errors=("400", "401"), tag="workflows",
            ),
            "post": operation("Create a workflow (stopped, version 1)", {"201": json_response("Workflow", "Created")}, body="WorkflowCreate", errors=("400", "401"), tag="workflows"),
        },
        "/workflows/preview": {
            "post": operation(
                "Check a definition and schedule being edited, lay its graph out, list its next fire times (nothing saved)",
                {"200": json_response("WorkflowPreview")}, body="WorkflowPreviewRequest", errors=("400", "401"), tag="workflows",
            ),
        },
        "/workflows/{workflow_id}": {
            "get": operation("One workflow with its definition", {"200": json_response("Workflow")}, params=wid, tag="workflows"),
            "put": operation("Change a workflow", {"200": json_response("Workflow")}, body="WorkflowUpdate", params=wid, errors=("400", "401", "404"), tag="workflows"),
            "delete": operation("Delete a workflow (its instances stay as history)", {"204": NO_CONTENT}, params=wid, errors=("401", "404", "409"), tag="workflows"),
        },
        "/workflows/{workflow_id}/start": {"post": operation("Start: schedule the next instance", {"200": json_response("Workflow")}, params=wid, errors=("400", "401", "404"), tag="workflows")},
        "/workflows/{workflow_id}/stop": {"post": operation("Stop: no further scheduled instance", {"200": json_response("Workflow")}, params=wid, tag="workflows")},
        "/workflows/{workflow_id}/copy": {
            "post": operation("Copy a workflow (stopped)", {"201": json_response("Workflow", "Created")}, body="WorkflowCopy", body_required=False, params=wid,
                              errors=("400", "401", "404"), tag="workflows"),
        },
    }


# ---------------------------------------------------------------------------------------------
# Instances (api/workflow_instances.py, api/workflow_operations.py)


_INSTANCE_PROPERTIES: dict[str, Schema] = {
    "id": INT,
    "workflow_id": INT,
    "workflow_name": {"type": ["string", "null"], "description": "Null when the workflow has been deleted since (admins only see such instances)."},
    "workflow_version": {"type": "integer", "description": "The workflow's version the instance runs (its definition is copied into the instance)."},
    "status": enum_of(WorkflowStatus),
    "trigger_type": enum_of(TriggerType),
    "planned_at_ms": {"type": "integer", "description": "The planned time (scheduled), or when it was asked for (by hand)."},
    "triggered_by": STR,
    "message": {"type": ["string", "null"], "description": "Why it ended as it did, or why it waits or was skipped."},
    "created_at_ms": MS,
    "started_at_ms": MS_OR_NULL,
    "finished_at_ms": MS_OR_NULL,
    "duration_ms": {"type": ["integer", "null"], "description": "Finished (while it runs: now) minus started; null before it starts."},
}

_STEP_RUN_PROPERTIES: dict[str, Schema] = {
    "id": INT,
    "status": enum_of(RunStatus),
    "shard_index": INT,
    "shard_total": INT,
    "attempt": INT,
    "trigger_at_ms": MS,
    "handle_msg": STR_OR_NULL,
    "executor_address": STR_OR_NULL,
    "links": object_schema({"run": STR, "log": STR}, ["run", "log"], "GET these for the run and its log."),
}

_STEP_PROPERTIES: dict[str, Schema] = {
    "key": STR,
    "job_id": INT,
    "job_name": {"type": ["string", "null"], "description": "Null when the job has been deleted."},
    "status": {**enum_of(StepStatus), "type": ["string", "null"], "description": "The current state (the highest generation); null before the instance starts."},
    "generation": {"type": "integer", "description": "0, then one more for each re-run or skip of the step."},
    "step_run_id": {"type": ["integer", "null"], "description": "The current generation's row; its runs carry it (GET /runs?step_run_id=)."},
    "fire_id": {"type": ["integer", "null"]},
    "param": {"type": ["string", "null"], "description": "The parameter it was sent with, templates filled in; null: the job's own."},
    "message": STR_OR_NULL,
    "started_at_ms": MS_OR_NULL,
    "finished_at_ms": MS_OR_NULL,
    "duration_ms": {"type": ["integer", "null"]},
    "result": {"description": "Its result data (a broadcast's: {\"shards\": [...]}); null: none."},
    "upstream": {"description": "What it was sent as ctx.upstream: {step key: result data}; null: none."},
    "runs": {"type": "array", "items": ref("WorkflowInstanceStepRun"), "description": "The current generation's runs, by shard and attempt."},
    "runs_link": {"type": ["string", "null"], "description": "The run-log query listing these runs."},
}


def instance_schemas() -> dict[str, Schema]:
    return {
        "WorkflowTriggerRequest": object_schema(
            {
                "params": {"type": ["object", "null"], "description": "Parameters the steps' templates read as {{params.NAME}}; null or absent: none."},
                "request_id": {
                    "type": ["integer", "null"], "minimum": 1, "maximum": 2**62,
                    "description": "Your id for this request: the same id sent again (a retry) answers the instance it started instead of starting another.",
                },
            }
        ),
        "WorkflowRerunRequest": object_schema(
            {"from_step": {"type": ["string", "null"], "description": "Re-run from this step (and the steps after it); null or absent: from the failed steps."}}
        ),
        "WorkflowInstance": object_schema(_INSTANCE_PROPERTIES),
        "WorkflowInstancePage": page_of("WorkflowInstance"),
        "WorkflowInstanceStepRun": object_schema(_STEP_RUN_PROPERTIES),
        "WorkflowInstanceStep": object_schema(_STEP_PROPERTIES),
        "WorkflowInstanceDetail": object_schema(
            {
                **_INSTANCE_PROPERTIES,
                "params": {"description": "The parameters it was started with (a JSON object), or null."},
                "definition": {"type": "object", "description": "The definition it runs: {\"steps\": [...], \"edges\": [...]}."},
                "deadline_at_ms": {"type": "integer", "description": "When it times out; 0: never."},
                "steps": {"type": "array", "items": ref("WorkflowInstanceStep"), "description": "Every step after the steps with an edge into it."},
            }
        ),
    }


def _list_params() -> list[Schema]:
    return [
        param("status", "query", enum_of(WorkflowStatus)),
        param("from_ms", "query", MS_PARAM, "Created at >= from_ms."),
        param("to_ms", "query", MS_PARAM, "Created at < to_ms."),
        *PAGING,
    ]


def instance_read_paths() -> dict[str, Schema]:
    return {
        "/workflow-instances": {
            "get": operation(
                "Workflow instances, newest first, filtered and paged",
                {"200": json_response("WorkflowInstancePage")},
                params=[param("workflow_id", "query", ID), *_list_params()],
                errors=("400", "401"),
                tag="workflows",
            )
        },
        "/workflows/{workflow_id}/instances": {
            "get": operation(
                "One workflow's instances, newest first, filtered and paged",
                {"200": json_response("WorkflowInstancePage")},
                params=[*path_id("workflow_id"), *_list_params()],
                errors=("400", "401", "404"),
                tag="workflows",
            )
        },
        "/workflow-instances/{instance_id}": {
            "get": operation(
                "One instance: its definition, each step's current state, result and runs (with links to them and their logs)",
                {"200": json_response("WorkflowInstanceDetail")},
                params=path_id("instance_id"),
                tag="workflows",
            )
        },
    }


def instance_operate_paths() -> dict[str, Schema]:
    instance = path_id("instance_id")
    state_errors = ("401", "404", "409")
    return {
        "/workflows/{workflow_id}/trigger": {
            "post": operation(
                "Start an instance now (trigger type API), with parameters; audited as workflow.trigger",
                {"201": json_response("WorkflowInstanceDetail", "The instance started")},
                body="WorkflowTriggerRequest", body_required=False, params=path_id("workflow_id"), errors=("400", *state_errors), tag="workflows",
            )
        },
        "/workflow-instances/{instance_id}/cancel": {
            "post": operation(
                "Cancel a running or waiting instance: its running steps are killed; audited as workflow.cancel",
                {"200": json_response("WorkflowInstanceDetail")}, params=instance, errors=state_errors, tag="workflows",
            )
        },
        "/workflow-instances/{instance_id}/rerun": {
            "post": operation(
                "Re-run an instance from its failed steps or from one step; the steps that succeeded before them keep their results; audited as workflow.rerun",
                {"200": json_response("WorkflowInstanceDetail")},
                body="WorkflowRerunRequest", body_required=False, params=instance, errors=("400", *state_errors), tag="workflows",
            )
        },
        "/workflow-instances/{instance_id}/steps/{step_key}/skip": {
            "post": operation(
                "Skip a waiting, failed, cancelled or not-run step: it counts as succeeded and the steps after it run; audited as workflow.skip_step",
                {"200": json_response("WorkflowInstanceDetail")},
                params=[*instance, param("step_key", "path", {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"})],
                errors=("400", *state_errors), tag="workflows",
            )
        },
    }

