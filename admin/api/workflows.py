"""/api/v1/workflows: list, create, get, replace, delete, start, stop, copy, and the editor's preview."""

from __future__ import annotations

from flask import jsonify, request

from ..services import workflows
from ..services.errors import ServiceError
from ..services.numbers import ID_MAX, ID_MIN
from ..services.paging import PageRequest
from ..services.workflow_preview import preview_workflow
from ..texts import _t
from . import bp
from .context import actor, admin_ctx, int_arg, json_body, now_ms
from .serialize import page_json, to_json


def _max_steps() -> int:
    return admin_ctx().config.workflow_max_steps


@bp.get("/workflows")
def list_workflows():
    flt = workflows.WorkflowFilter(group_id=int_arg("group_id", ID_MIN, ID_MAX, what=_t("an id")), name=request.args.get("name") or None)
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        return jsonify(page_json(workflows.list_workflows(session, actor(), flt, page)))


@bp.post("/workflows")
def create_workflow():
    body = json_body()
    with admin_ctx().db.session() as session:
        view = workflows.create_workflow(session, actor(), body, now_ms=now_ms(), max_steps=_max_steps(), default_timezone=admin_ctx().config.default_timezone)
    return jsonify(to_json(view)), 201


@bp.post("/workflows/preview")
def preview_workflow_definition():
    """The definition's problems (`fields` as in errors, empty when it would save), its layout,
    its steps' job names and the next fire times. Always 200 for a JSON object body."""
    body = json_body()
    with admin_ctx().db.read_session() as session:
        result = preview_workflow(session, actor(), body, now_ms=now_ms(), max_steps=_max_steps())
    return jsonify(problems=dict(result.problems), layout=result.layout.to_obj(), job_names=result.job_names, fire_times_ms=result.fire_times_ms)


@bp.get("/workflows/<id:workflow_id>")
def get_workflow(workflow_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(workflows.get_workflow(session, actor(), workflow_id)))


@bp.put("/workflows/<id:workflow_id>")
def update_workflow(workflow_id: int):
    """Change the fields given; the others keep their value (the definition is replaced whole)."""
    body = json_body()
    with admin_ctx().db.session() as session:
        return jsonify(to_json(workflows.update_workflow(session, actor(), workflow_id, body, now_ms=now_ms(), max_steps=_max_steps())))


@bp.delete("/workflows/<id:workflow_id>")
def delete_workflow(workflow_id: int):
    with admin_ctx().db.session() as session:
        workflows.delete_workflow(session, actor(), workflow_id, now_ms=now_ms())
    return "", 204


@bp.post("/workflows/<id:workflow_id>/start")
def start_workflow(workflow_id: int):
    with admin_ctx().db.session() as session:
        return jsonify(to_json(workflows.start_workflow(session, actor(), workflow_id, now_ms=now_ms())))


@bp.post("/workflows/<id:workflow_id>/stop")
def stop_workflow(workflow_id: int):
    with admin_ctx().db.session() as session:
        return jsonify(to_json(workflows.stop_workflow(session, actor(), workflow_id, now_ms=now_ms())))


@bp.post("/workflows/<id:workflow_id>/copy")
def copy_workflow(workflow_id: int):
    body = json_body(required=False)
    unknown = sorted(set(body) - {"name"})
    if unknown:
        raise ServiceError(_t("workflow not copied"), field_errors={name: _t("unknown field") for name in unknown})
    with admin_ctx().db.session() as session:
        view = workflows.copy_workflow(session, actor(), workflow_id, now_ms=now_ms(), max_steps=_max_steps(), name=body.get("name"))
    return jsonify(to_json(view)), 201
