"""/api/v1/export and /api/v1/import: groups and jobs as a JSON or YAML document.

The export shows what the token's user may see. The import takes the document as the request
body (JSON, or YAML with Content-Type application/yaml or text/yaml; else by its content), checks
all of it and answers the plan; `?dry_run=1` stops there. The token's user is the audited actor.
"""

from __future__ import annotations

from typing import Any

from flask import Response, request

from ..services.errors import ServiceError
from ..texts import _t
from ..transfer.document import FORMATS, read_document, write_document
from ..transfer.export import build_export
from ..transfer.importer import import_document
from ..transfer.plan import ImportOptions, ImportPlan, OnConflict
from . import bp
from .context import actor, admin_ctx, bool_arg, now_ms

MEDIA_TYPES = {"json": "application/json", "yaml": "application/yaml"}
YAML_TYPES = ("application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml")


def _format_arg() -> str:
    fmt = (request.args.get("format") or "json").lower()
    if fmt not in FORMATS:
        raise ServiceError(_t("bad query parameter %(name)s", name="format"), field_errors={"format": _t("must be json or yaml")})
    return fmt


@bp.get("/export")
def export_document():
    fmt = _format_arg()
    app_names = [name for name in request.args.getlist("group") if name] or None
    with admin_ctx().db.read_session() as session:
        document = build_export(session, app_names, actor())
    return Response(write_document(document, fmt), mimetype=MEDIA_TYPES[fmt])


def import_options() -> ImportOptions:
    raw = (request.args.get("on_conflict") or OnConflict.SKIP.value).lower()
    try:
        on_conflict = OnConflict(raw)
    except ValueError:
        raise ServiceError(
            _t("bad query parameter %(name)s", name="on_conflict"), field_errors={"on_conflict": _t("must be one of %(values)s", values="skip, update, fail")}
        ) from None
    return ImportOptions(on_conflict=on_conflict, keep_state=bool(bool_arg("keep_state")))


def plan_json(plan: ImportPlan, *, dry_run: bool) -> dict[str, Any]:
    return {
        "dry_run": dry_run,
        "on_conflict": plan.options.on_conflict.value,
        "keep_state": plan.options.keep_state,
        "groups": [
            {"app_name": step.app_name, "action": step.action.value, "id": step.target_id, "unchanged": step.unchanged} for step in plan.groups
        ],
        "calendars": [
            {"name": step.name, "action": step.action.value, "id": step.target_id, "unchanged": step.unchanged} for step in plan.calendars
        ],
        "jobs": [
            {"group": step.app_name, "name": step.name, "action": step.action.value, "id": step.target_id, "enabled": step.ends_enabled if step.action.value != "skip" else None}
            for step in plan.jobs
        ],
        "workflows": [
            {"group": step.app_name, "name": step.name, "action": step.action.value, "id": step.target_id, "enabled": step.ends_enabled if step.action.value != "skip" else None}
            for step in plan.workflows
        ],
    }


@bp.post("/import")
def import_document_route():
    dry_run = bool(bool_arg("dry_run"))
    options = import_options()
    ctx = admin_ctx()
    content_type = (request.mimetype or "").lower()
    fmt = "json" if content_type == "application/json" else "yaml" if content_type in YAML_TYPES else None
    document = read_document(request.get_data(cache=False), max_bytes=ctx.config.import_max_bytes, fmt=fmt)
    session_of = ctx.db.read_session if dry_run else ctx.db.session
    with session_of() as session:
        plan = import_document(
            session, actor(), document, options, dry_run=dry_run, now_ms=now_ms(), default_timezone=ctx.config.default_timezone, max_calendar_entries=ctx.config.calendar_max_entries,
                max_workflow_steps=ctx.config.workflow_max_steps,
        )
    return plan_json(plan, dry_run=dry_run), 200 if dry_run else 201
