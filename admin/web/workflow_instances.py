"""Workflow instances in the console: the filtered list, and one instance's page (its graph
coloured by each step's state, the steps with durations and links to their runs and logs),
refreshed while the instance runs the way the run pages are (data-autorefresh, console.js)."""

from __future__ import annotations

from flask import abort, g, render_template, request

from ..auth import require_actor
from ..enums import StepStatus, WorkflowStatus
from ..i18n import localize, localize_fields
from ..services import workflow_instances as instances
from ..services.errors import NotFound, ServiceError
from ..services.paging import PageRequest
from . import bp
from .context import admin_ctx, now_ms
from .instance_graph import LEGEND, MARKS, draw_instance
from .times import utc_input_to_ms

REFRESH_MS = 2000
#: Steps a person may skip (a FIRED one must be cancelled or waited for first).
SKIPPABLE = tuple(s.value for s in (StepStatus.WAITING, StepStatus.FAILED, StepStatus.CANCELLED, StepStatus.NOT_RUN))
FILTER_KEYS = ("workflow_id", "status", "from", "to", "per_page")


@bp.get("/workflow-instances")
@require_actor
def workflow_instances_list():
    args = {key: request.args[key] for key in FILTER_KEYS if request.args.get(key)}
    errors: dict[str, str] = {}
    values: dict[str, str | None] = {"workflow_id": args.get("workflow_id"), "status": args.get("status")}
    values["from_ms"] = utc_input_to_ms(args.get("from", ""), "from", errors)
    values["to_ms"] = utc_input_to_ms(args.get("to", ""), "to", errors)
    page = None
    with admin_ctx().db.read_session() as session:
        workflows = instances.workflow_choices(session, g.actor)
        if not errors:
            try:
                flt = instances.InstanceFilter.parse(values)
                page = instances.list_instances(session, g.actor, flt, PageRequest.parse(request.args.get("page"), args.get("per_page")), now_ms=now_ms())
            except ServiceError as exc:
                errors = localize_fields(exc.field_errors) or {"filter": localize(exc.message)}
    active = page is not None and any(item.status in instances.ACTIVE for item in page.items)
    return (
        render_template(
            "workflow_instances.html",
            page=page,
            args=args,
            errors=errors,
            workflows=workflows,
            statuses=[s.value for s in WorkflowStatus],
            refresh_ms=REFRESH_MS if active else None,
        ),
        400 if errors else 200,
    )


@bp.get("/workflow-instances/<id:instance_id>")
@require_actor
def workflow_instance_page(instance_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            detail = instances.get_instance(session, g.actor, instance_id, now_ms=now_ms())
    except NotFound:
        abort(404)
    graph = draw_instance(detail.graph(), {step.key: step.status for step in detail.steps})
    return render_template(
        "workflow_instance.html",
        detail=detail,
        inst=detail.instance,
        graph=graph,
        legend=LEGEND,
        marks=MARKS,
        skippable=SKIPPABLE,
        refresh_ms=REFRESH_MS if detail.active else None,
    )

