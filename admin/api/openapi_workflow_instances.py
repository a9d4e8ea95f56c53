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
        "WorkflowTriggerRequest": object_schema(
            {"params": {"type": ["object", "null"], "description": "Parameters the steps' templates read as {{params.NAME}}; null or absent: none."}}
        ),
        "WorkflowRerunRequest": object_schema(
            {"from_step": {"type": ["string", "null"], "description": "Re-run from this step (and the steps after it); null or absent: from the failed steps."}}
        ),
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


def operate_paths() -> dict[str, Schema]:
    instance = path_id("instance_id")
    state_errors = ("401", "404", "409")
    return {
        "/workflows/{workflow_id}/trigger": {
            "post": operation(
                "Start an instance now (trigger type API), with parameters; audited as workflow.trigger",
                {"201": json_response("WorkflowInstanceDetail", "The instance started")},
                body="WorkflowTriggerRequest", body_required=False, params=path_id("workflow_id"), errors=("400", *state_errors), tag=TAG,
            )
        },
        "/workflow-instances/{instance_id}/cancel": {
            "post": operation(
                "Cancel a running or waiting instance: its running steps are killed; audited as workflow.cancel",
                {"200": json_response("WorkflowInstanceDetail")}, params=instance, errors=state_errors, tag=TAG,
            )
        },
        "/workflow-instances/{instance_id}/rerun": {
            "post": operation(
                "Re-run an instance from its failed steps or from one step; the steps that succeeded before them keep their results; audited as workflow.rerun",
                {"200": json_response("WorkflowInstanceDetail")},
                body="WorkflowRerunRequest", body_required=False, params=instance, errors=("400", *state_errors), tag=TAG,
            )
        },
        "/workflow-instances/{instance_id}/steps/{step_key}/skip": {
            "post": operation(
                "Skip a waiting, failed, cancelled or not-run step: it counts as succeeded and the steps after it run; audited as workflow.skip_step",
                {"200": json_response("WorkflowInstanceDetail")},
                params=[*instance, param("step_key", "path", {"type": "string", "pattern": "^[a-z0-9][a-z0-9_-]{0,63}$"})],
                errors=("400", *state_errors), tag=TAG,
            )
        },
    }


def paths() -> dict[str, Schema]:
    return read_paths()
