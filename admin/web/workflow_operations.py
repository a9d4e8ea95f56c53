"""What a person does to workflow instances from the console: trigger a workflow with
parameters, cancel an instance, re-run it (from its failed steps or from one step), skip a step.
Each form posts with the CSRF token and a confirm (console.js); the services check access, audit
the change and refuse a wrong state (shown as a flash on the instance page)."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..auth import require_actor
from ..i18n import localize, localize_fields
from ..services import workflow_instances as instances
from ..services import workflow_runs
from ..services.errors import NotFound, ServiceError
from ..texts import _t
from . import bp
from .context import admin_ctx, executor_client, now_ms

#: The largest parameters text the trigger form reads (the API bounds its body the same way).
MAX_PARAMS_CHARS = 65_536


def parse_params(text: str) -> dict[str, Any] | None:
    """The trigger form's parameters: empty (none) or a JSON object; else a 400 naming `params`."""
    if not text.strip():
        return None
    problem = None
    if len(text) > MAX_PARAMS_CHARS:
        problem = _t("at most %(num)s characters", num=MAX_PARAMS_CHARS)
    else:
        try:
            value = json.loads(text)
        except (ValueError, RecursionError):
            problem = _t("not JSON: write an object such as {\"day\": \"2026-01-01\"}")
        else:
            if isinstance(value, dict):
                return value
            problem = _t("must be a JSON object such as {\"day\": \"2026-01-01\"}")
    raise ServiceError(_t("workflow not triggered"), field_errors={"params": problem})


@bp.route("/workflows/<id:workflow_id>/trigger", methods=["GET", "POST"])
@require_actor
def workflow_trigger(workflow_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            workflow = instances.load_visible_workflow(session, g.actor, workflow_id)
            name = workflow.name
    except NotFound:
        abort(404)
    form = {"params": request.form.get("params", "") if request.method == "POST" else ""}
    errors: dict[str, str] = {}
    error = None
    if request.method == "POST":
        try:
            instance_id = workflow_runs.trigger_workflow(
                admin_ctx().db, g.actor, workflow_id, parse_params(form["params"]), now_ms=now_ms(), client=executor_client()
            )
        except ServiceError as exc:  # NotFound too: a step's job in a group not granted to the viewer
            errors, error = localize_fields(exc.field_errors), localize(exc.message)
        else:
            flash(_("Triggered workflow %(name)s: instance #%(id)s.", name=name, id=instance_id), "success")
            return redirect(url_for("web.workflow_instance_page", instance_id=instance_id))
    return render_template("workflow_trigger.html", workflow_id=workflow_id, name=name, form=form, errors=errors, error=error), (400 if errors or error else 200)


def _operate(instance_id: int, operation, done: str):
    try:
        operation()
    except ServiceError as exc:
        # A NotFound too: the instance page answers 404 itself for an instance the viewer may not
        # see; one they see but may not operate on (a step's job in a group not granted to them)
        # is refused there with this message.
        detail = "; ".join(f"{field}: {message}" for field, message in localize_fields(exc.field_errors).items())
        flash(localize(exc.message) + (f" ({detail})" if detail else ""), "error")
    else:
        flash(done, "success")
    return redirect(url_for("web.workflow_instance_page", instance_id=instance_id))


@bp.post("/workflow-instances/<id:instance_id>/cancel")
@require_actor
def workflow_instance_cancel(instance_id: int):
    return _operate(
        instance_id,
        lambda: workflow_runs.cancel_instance(admin_ctx().db, g.actor, instance_id, now_ms=now_ms(), client=executor_client()),
        _("Instance #%(id)s cancelled; its running steps are being stopped.", id=instance_id),
    )


@bp.post("/workflow-instances/<id:instance_id>/rerun")
@require_actor
def workflow_instance_rerun(instance_id: int):
    from_step = request.form.get("from_step", "").strip() or None
    done = (
        _("Instance #%(id)s re-run from step %(step)s.", id=instance_id, step=from_step)
        if from_step
        else _("Instance #%(id)s re-run from its failed steps.", id=instance_id)
    )
    return _operate(instance_id, lambda: workflow_runs.rerun_instance(admin_ctx().db, g.actor, instance_id, from_step, now_ms=now_ms()), done)


@bp.post("/workflow-instances/<id:instance_id>/steps/<step_key>/skip")
@require_actor
def workflow_step_skip(instance_id: int, step_key: str):
    return _operate(
        instance_id,
        lambda: workflow_runs.skip_step(admin_ctx().db, g.actor, instance_id, step_key, now_ms=now_ms()),
        _("Step %(step)s of instance #%(id)s skipped.", step=step_key, id=instance_id),
    )
