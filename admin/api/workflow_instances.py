"""/api/v1/workflow-instances: the filtered list, one instance with its steps and their runs.

Each step of an instance names its runs with links to the run and its log, so a script can
follow an instance from its steps down to the executor's log lines.
"""

from __future__ import annotations

from typing import Any

from flask import jsonify, request, url_for

from ..services import workflow_instances as instances
from ..services.paging import PageRequest
from . import bp
from .context import actor, admin_ctx, now_ms
from .serialize import page_json, to_json


def _list(args: dict[str, Any], *, workflow_id: int | None = None):
    flt = instances.InstanceFilter.parse(args if workflow_id is None else {**args, "workflow_id": workflow_id})
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        if workflow_id is not None:  # a workflow that does not exist (or is not seen) is a 404, not an empty list
            instances.load_visible_workflow(session, actor(), workflow_id)
        return jsonify(page_json(instances.list_instances(session, actor(), flt, page, now_ms=now_ms())))


@bp.get("/workflow-instances")
def list_workflow_instances():
    return _list(request.args.to_dict())


@bp.get("/workflows/<id:workflow_id>/instances")
def list_instances_of_workflow(workflow_id: int):
    return _list(request.args.to_dict(), workflow_id=workflow_id)


def detail_json(detail: instances.InstanceDetail) -> dict[str, Any]:
    """The instance with its definition and steps; each run with its API links."""
    body = to_json(detail.instance)
    body.update(params=detail.params, definition=detail.definition, deadline_at_ms=detail.deadline_at_ms)
    steps = []
    for step in detail.steps:
        entry = to_json(step)
        for run in entry["runs"]:
            run["links"] = {"run": url_for("api_v1.get_run", run_id=run["id"]), "log": url_for("api_v1.run_log", run_id=run["id"])}
        entry["runs_link"] = url_for("api_v1.list_runs", step_run_id=step.step_run_id) if step.step_run_id else None
        steps.append(entry)
    body["steps"] = steps
    return body


@bp.get("/workflow-instances/<id:instance_id>")
def get_workflow_instance(instance_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(detail_json(instances.get_instance(session, actor(), instance_id, now_ms=now_ms())))

