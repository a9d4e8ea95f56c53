"""/api/v1: trigger a workflow, cancel or re-run an instance, skip a step. Each answers the
instance as it is afterwards (the same body as GET /workflow-instances/{id}); the services check
access, audit the change and refuse a wrong state with a 409 naming it."""

from __future__ import annotations

from typing import Any

from flask import jsonify

from ..enums import TriggerType
from ..services import workflow_instances as instances
from ..services import workflow_runs
from ..services.errors import ServiceError
from ..texts import Text, _t
from . import bp
from .context import actor, admin_ctx, executor_client, json_body, now_ms
from .workflow_instances import detail_json


def _instance_json(instance_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(detail_json(instances.get_instance(session, actor(), instance_id, now_ms=now_ms())))


def _refuse_unknown(body: dict[str, Any], allowed: tuple[str, ...], message: Text) -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise ServiceError(message, field_errors={name: _t("unknown field") for name in unknown})


@bp.post("/workflows/<id:workflow_id>/trigger")
def trigger_workflow(workflow_id: int):
    """Start an instance now with `params` (a JSON object, optional); 201 with the instance. The
    same `request_id` sent again (a client's retry) answers the instance it started."""
    body = json_body(required=False)
    _refuse_unknown(body, ("params", "request_id"), _t("workflow %(id)s not triggered", id=workflow_id))
    instance_id = workflow_runs.trigger_workflow(
        admin_ctx().db, actor(), workflow_id, body.get("params"), body.get("request_id"),
        now_ms=now_ms(), client=executor_client(), trigger_type=TriggerType.API,
    )
    response = _instance_json(instance_id)
    response.status_code = 201
    return response


@bp.post("/workflow-instances/<id:instance_id>/cancel")
def cancel_workflow_instance(instance_id: int):
    _refuse_unknown(json_body(required=False), (), _t("workflow instance %(id)s not cancelled", id=instance_id))
    workflow_runs.cancel_instance(admin_ctx().db, actor(), instance_id, now_ms=now_ms(), client=executor_client())
    return _instance_json(instance_id)


@bp.post("/workflow-instances/<id:instance_id>/rerun")
def rerun_workflow_instance(instance_id: int):
    """Re-run from the failed steps (`from_step` null or absent) or from one step."""
    body = json_body(required=False)
    _refuse_unknown(body, ("from_step",), _t("workflow instance %(id)s not re-run", id=instance_id))
    workflow_runs.rerun_instance(admin_ctx().db, actor(), instance_id, body.get("from_step"), now_ms=now_ms())
    return _instance_json(instance_id)


@bp.post("/workflow-instances/<id:instance_id>/steps/<step_key>/skip")
def skip_workflow_step(instance_id: int, step_key: str):
    _refuse_unknown(json_body(required=False), (), _t("step %(step)s not skipped", step=step_key))
    workflow_runs.skip_step(admin_ctx().db, actor(), instance_id, step_key, now_ms=now_ms())
    return _instance_json(instance_id)
