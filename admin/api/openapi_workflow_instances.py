"""OpenAPI of workflow instances (api/workflow_instances.py): paths and components, joined into
the document by openapi.py. Small functions, one per part, so the workflow pieces merge apart."""

from __future__ import annotations

from ..enums import RunStatus, StepStatus, TriggerType, WorkflowStatus
from .openapi_parts import ID, INT, MS, MS_OR_NULL, MS_PARAM, PAGING, STR, STR_OR_NULL, Schema, enum_of, json_response, object_schema, operation, page_of, param, path_id, ref

TAG = "workflows"

INSTANCE_PROPERTIES: dict[str, Schema] = {
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

STEP_RUN_PROPERTIES: dict[str, Schema] = {
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

STEP_PROPERTIES: dict[str, Schema] = {
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
    "runs": {"type": "array", "items": ref("WorkflowStepRunBrief"), "description": "The current generation's runs, by shard and attempt."},
    "runs_link": {"type": ["string", "null"], "description": "The run-log query listing these runs."},
}


def schemas() -> dict[str, Schema]:
    return {
        "WorkflowInstance": object_schema(INSTANCE_PROPERTIES),
        "WorkflowInstancePage": page_of("WorkflowInstance"),
        "WorkflowStepRunBrief": object_schema(STEP_RUN_PROPERTIES),
        "WorkflowStep": object_schema(STEP_PROPERTIES),
        "WorkflowInstanceDetail": object_schema(
            {
                **INSTANCE_PROPERTIES,
                "params": {"description": "The parameters it was started with (a JSON object), or null."},
                "definition": {"type": "object", "description": "The definition it runs: {\"steps\": [...], \"edges\": [...]}."},
                "deadline_at_ms": {"type": "integer", "description": "When it times out; 0: never."},
                "steps": {"type": "array", "items": ref("WorkflowStep"), "description": "Every step after the steps with an edge into it."},
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


def read_paths() -> dict[str, Schema]:
    return {
        "/workflow-instances": {
            "get": operation(
                "Workflow instances, newest first, filtered and paged",
                {"200": json_response("WorkflowInstancePage")},
                params=[param("workflow_id", "query", ID), *_list_params()],
                errors=("400", "401"),
                tag=TAG,
            )
        },
        "/workflows/{workflow_id}/instances": {
            "get": operation(
                "One workflow's instances, newest first, filtered and paged",
                {"200": json_response("WorkflowInstancePage")},
                params=[*path_id("workflow_id"), *_list_params()],
                errors=("400", "401", "404"),
                tag=TAG,
            )
        },
        "/workflow-instances/{instance_id}": {
            "get": operation(
                "One instance: its definition, each step's current state, result and runs (with links to them and their logs)",
                {"200": json_response("WorkflowInstanceDetail")},
                params=path_id("instance_id"),
                tag=TAG,
            )
        },
    }


def paths() -> dict[str, Schema]:
    return read_paths()
