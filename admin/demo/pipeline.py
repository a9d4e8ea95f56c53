"""The demo's workflow "nightly-pipeline", in a group of its own with its own executors
(shardcron.executor.examples.nightly_pipeline):

    extract (sharding broadcast) --SUCCESS--> load_orders    --SUCCESS--> report
                                 --SUCCESS--> load_customers --SUCCESS--> report
                                 --SUCCESS--> load_invoices  --ALWAYS---> report
                                                             --FAILURE--> compensate_invoices

Each loader's parameter fills `{{upstream.extract.shards}}` (every shard's `{"rows", "shard"}`)
and `{{instance.id}}`. The invoices load fails in the first instance and every third after it;
its FAILURE edge runs `compensate_invoices`, and its ALWAYS edge lets `report` (join ALL) run
either way, so the report logs what all three loaders left, the failed one's included. A failed
step with a FAILURE edge out is handled, so such an instance still ends SUCCEEDED.

The workflow is scheduled every minute (CRON, SKIP when the previous instance still runs) and
its first instance is triggered when the demo's jobs start.
"""

from __future__ import annotations

from typing import Any

import shardcron.executor.examples.nightly_pipeline as handlers

from .recipes import RecipeGroup

PIPELINE_APP = "shardcron-demo-pipeline"
PIPELINE_TARGET = "shardcron.executor.examples.nightly_pipeline:create_executor"
WORKFLOW_NAME = "nightly-pipeline"
#: Executor processes of the pipeline's group: the extract step has one shard per process.
PIPELINE_EXECUTORS = 2
EXTRACT_JOB = "pipeline: extract (broadcast)"
LOAD_JOB = "pipeline: load a table"
COMPENSATE_JOB = "pipeline: compensate a load"
REPORT_JOB = "pipeline: report"
LOADERS = ("orders", "customers", "invoices")
COMPENSATED = "invoices"


def _job(name: str, handler: str, **extra: Any) -> tuple[dict, bool, bool]:
    # Run only as workflow steps: no schedule of their own, never started nor triggered alone.
    return ({"name": name, "handler": handler, "schedule_type": "NONE", "schedule_conf": "", **extra}, False, False)


def pipeline_group() -> RecipeGroup:
    return RecipeGroup(
        PIPELINE_APP,
        "demo: the nightly-pipeline workflow",
        [
            _job(EXTRACT_JOB, handlers.EXTRACT_HANDLER, route_strategy="SHARDING_BROADCAST"),
            _job(LOAD_JOB, handlers.LOAD_HANDLER),
            _job(COMPENSATE_JOB, handlers.COMPENSATE_HANDLER),
            _job(REPORT_JOB, handlers.REPORT_HANDLER),
        ],
    )


def pipeline_definition(jobs: dict[str, int]) -> dict[str, Any]:
    """The workflow's definition, its steps naming the jobs of `jobs` (job name -> id)."""
    steps: list[dict[str, Any]] = [{"key": "extract", "job_id": jobs[EXTRACT_JOB]}]
    edges: list[dict[str, Any]] = []
    for table in LOADERS:
        key = f"load_{table}"
        param = f"table={table} instance={{{{instance.id}}}} shards={{{{upstream.extract.shards}}}}"
        steps.append({"key": key, "job_id": jobs[LOAD_JOB], "param": param})
        edges.append({"from": "extract", "to": key, "on": "SUCCESS"})
        edges.append({"from": key, "to": "report", "on": "ALWAYS" if table == COMPENSATED else "SUCCESS"})
    steps.append({"key": f"compensate_{COMPENSATED}", "job_id": jobs[COMPENSATE_JOB], "param": f"table={COMPENSATED}"})
    edges.append({"from": f"load_{COMPENSATED}", "to": f"compensate_{COMPENSATED}", "on": "FAILURE"})
    steps.append({"key": "report", "job_id": jobs[REPORT_JOB], "join": "ALL"})
    return {"steps": steps, "edges": edges}


def pipeline_fields(group_id: int, jobs: dict[str, int], author: str) -> dict[str, Any]:
    """The workflow's fields for services.workflows.create_workflow."""
    return {
        "group_id": group_id, "name": WORKFLOW_NAME, "author": author, "definition": pipeline_definition(jobs),
        "description": "demo: extract on every executor, load three tables from its result, compensate a failed load, report",
        "schedule_type": "CRON", "schedule_conf": "30 * * * * ?", "timezone": "UTC", "overlap_policy": "SKIP", "timeout_s": 300,
    }  # fmt: skip
