"""Workflows: the list, the editor (the fields, steps and edges as form rows, the graph drawn
beside them and redrawn as the user edits), start/stop, copy, delete.

The steps are posted as parallel lists (`step_key`, `step_job`, `step_param`, `step_join`; one
entry per row), the edges likewise (`edge_from`, `edge_to`, `edge_on`). Blank rows are left
out; the problems the service names by definition index (`steps[2].job_id`) are shown at the
row they came from.
"""

from __future__ import annotations

import re
from typing import Any

import sqlalchemy as sa
from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from ..auth import require_actor
from ..enums import WORKFLOW_OVERLAP_POLICIES, WorkflowStatus
from ..i18n import localize, localize_fields
from ..models import ExecutorGroup, Job, WorkflowInstance
from ..services import workflows
from ..services.access import scope_to_groups
from ..services.errors import NotFound, ServiceError
from ..services.numbers import optional_id
from ..services.paging import PageRequest
from ..services.workflow_form import WORKFLOW_MISFIRE_STRATEGIES
from ..services.workflow_preview import preview_workflow
from ..workflows.layout import layout_graph
from . import bp
from .context import admin_ctx, now_ms
from .group_choices import group_choices
from .job_choices import choices_for, schedule_help, timezone_names

#: The job picker lists at most this many jobs (the caller's, by group and name).
MAX_JOB_CHOICES = 5000
#: A select per step row repeats every job: beyond this many options in all, the rows take a
#: job id with one shared list of choices instead (the page stays small with many steps).
MAX_SELECT_OPTIONS = 100_000
_FIELDS = ("name", "group_id", "description", "author", "schedule_type", "schedule_conf", "timezone", "misfire_strategy", "overlap_policy", "timeout_s", "alarm_emails", "alarm_webhook")
_INDEXED = re.compile(r"^(steps|edges)\[(\d+)\](.*)$")


@bp.get("/workflows")
@require_actor
def workflows_list():
    args = {key: request.args[key] for key in ("group_id", "q", "per_page") if request.args.get(key)}
    errors: dict[str, str] = {}
    page = None
    last: dict[int, str] = {}
    with admin_ctx().db.read_session() as session:
        groups = group_choices(session, g.actor)
        try:
            flt = workflows.WorkflowFilter(group_id=optional_id(args.get("group_id"), "group_id"), name=args.get("q") or None)
            page = workflows.list_workflows(session, g.actor, flt, PageRequest.parse(request.args.get("page"), args.get("per_page")))
            last = _last_statuses(session, [w.id for w in page.items])
        except ServiceError as exc:
            errors = localize_fields(exc.field_errors) or {"q": localize(exc.message)}
    return render_template("workflows.html", page=page, args=args, groups=groups, errors=errors, last=last), (400 if errors else 200)


def _last_statuses(session: Session, ids: list[int]) -> dict[int, str]:
    """Each workflow's latest instance's status (none for a workflow never run)."""
    if not ids:
        return {}
    latest = sa.select(sa.func.max(WorkflowInstance.id)).where(WorkflowInstance.workflow_id.in_(ids)).group_by(WorkflowInstance.workflow_id)
    rows = session.execute(sa.select(WorkflowInstance.workflow_id, WorkflowInstance.status).where(WorkflowInstance.id.in_(latest)))
    return {workflow_id: WorkflowStatus(status).value for workflow_id, status in rows}


def _job_choices(session: Session) -> tuple[list[tuple[int, str]], dict[int, str]]:
    """The picker's (id, "group / name (#id)") of the caller's jobs, and their names by id."""
    stmt = scope_to_groups(sa.select(Job.id, Job.name, ExecutorGroup.app_name).join(ExecutorGroup, ExecutorGroup.id == Job.group_id), Job.group_id, g.actor)
    rows = list(session.execute(stmt.order_by(ExecutorGroup.app_name, Job.name, Job.id).limit(MAX_JOB_CHOICES)))
    return [(job_id, f"{app_name} / {name} (#{job_id})") for job_id, name, app_name in rows], {job_id: name for job_id, name, _app in rows}


def _rows(prefix: str, names: tuple[str, ...]) -> list[dict[str, str]]:
    columns = [request.form.getlist(f"{prefix}_{name}") for name in names]
    count = max((len(column) for column in columns), default=0)
    return [{name: (column[i] if i < len(column) else "") for name, column in zip(names, columns, strict=True)} for i in range(count)]


def _form_from_request() -> dict[str, Any]:
    form: dict[str, Any] = {name: request.form.get(name, "") for name in _FIELDS}
    form["steps"] = _rows("step", ("key", "job", "param", "join"))
    form["edges"] = _rows("edge", ("from", "to", "on"))
    return form


def _definition(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    """The definition object from the form's rows, and for steps/edges: definition index -> row."""
    steps: list[dict[str, Any]] = []
    edges: list[dict[str, str]] = []
    rows: dict[str, list[int]] = {"steps": [], "edges": []}
    for i, row in enumerate(form["steps"]):
        if not any(v.strip() for k, v in row.items() if k != "join"):
            continue
        job = row["job"].strip()
        step: dict[str, Any] = {"key": row["key"].strip(), "job_id": int(job) if job.isascii() and job.isdigit() and len(job) < 20 else job}
        if row["param"]:
            step["param"] = row["param"]
        step["join"] = row["join"] or "ALL"
        steps.append(step)
        rows["steps"].append(i)
    for i, row in enumerate(form["edges"]):
        if not (row["from"].strip() or row["to"].strip()):
            continue
        edges.append({"from": row["from"].strip(), "to": row["to"].strip(), "on": row["on"] or "SUCCESS"})
        rows["edges"].append(i)
    return {"steps": steps, "edges": edges}, rows


def _at_rows(errors: dict[str, str], rows: dict[str, list[int]]) -> dict[str, str]:
    """Problems named by definition index, renamed to the form row they came from."""
    out: dict[str, str] = {}
    for field, message in errors.items():
        match = _INDEXED.match(field)
        if match and int(match.group(2)) < len(rows[match.group(1)]):
            field = f"{match.group(1)}[{rows[match.group(1)][int(match.group(2))]}]{match.group(3)}"
        out[field] = message
    return out


def _data(form: dict[str, Any]) -> tuple[dict[str, Any], dict[str, list[int]]]:
    definition, rows = _definition(form)
    data = {name: form[name] for name in _FIELDS}
    data["definition"] = definition
    return data, rows


def _form_of(view: workflows.WorkflowView) -> dict[str, Any]:
    form: dict[str, Any] = {name: getattr(view, name) for name in _FIELDS if name != "alarm_emails"}
    form["alarm_emails"] = ", ".join(view.alarm_emails)
    form["steps"] = [{"key": s["key"], "job": str(s["job_id"]), "param": s.get("param") or "", "join": s.get("join", "ALL")} for s in view.definition["steps"]]
    form["edges"] = [{"from": e["from"], "to": e["to"], "on": e.get("on", "SUCCESS")} for e in view.definition.get("edges", [])]
    return form


def _render(workflow: workflows.WorkflowView | None, form: dict[str, Any], errors: dict[str, str], error: str | None, status: int):
    definition, _rows_of = _definition(form)
    keys = [s["key"] for s in definition["steps"] if isinstance(s["key"], str)]
    layout = layout_graph(keys, [(e["from"], e["to"], e["on"]) for e in definition["edges"]])
    with admin_ctx().db.read_session() as session:
        groups = group_choices(session, g.actor)
        jobs, job_names = _job_choices(session)
    labels = {s["key"]: job_names.get(s["job_id"], "") for s in definition["steps"] if isinstance(s["job_id"], int)}
    choices = choices_for()
    page = render_template(
        "workflow_form.html", workflow=workflow, form=form, errors=errors, error=error, groups=groups, jobs=jobs, layout=layout, labels=labels,
        schedule_types=choices["schedule_type"], schedule_help=schedule_help(), timezones=timezone_names(),
        misfire_strategies=[c for c in choices["misfire_strategy"] if c[0] in WORKFLOW_MISFIRE_STRATEGIES],
        overlap_policies=[c for c in choices["overlap_policy"] if c[0] in WORKFLOW_OVERLAP_POLICIES],
        max_steps=admin_ctx().config.workflow_max_steps, job_list=len(jobs) * max(len(form["steps"]), 1) > MAX_SELECT_OPTIONS,
    )  # fmt: skip
    return page, status


def _new_form() -> dict[str, Any]:
    form: dict[str, Any] = dict.fromkeys(_FIELDS, "")
    form.update(schedule_type="NONE", timezone=admin_ctx().config.default_timezone, misfire_strategy="DO_NOTHING", overlap_policy="ALLOW_ALL", timeout_s="0")
    form["steps"] = [{"key": "", "job": "", "param": "", "join": "ALL"}]
    form["edges"] = []
    return form


@bp.route("/workflows/new", methods=["GET", "POST"])
@require_actor
def workflow_new():
    if request.method == "GET":
        return _render(None, _new_form(), {}, None, 200)
    form = _form_from_request()
    data, rows = _data(form)
    config = admin_ctx().config
    try:
        with admin_ctx().db.session() as session:
            created = workflows.create_workflow(session, g.actor, data, now_ms=now_ms(), max_steps=config.workflow_max_steps, default_timezone=config.default_timezone)
    except ServiceError as exc:
        return _render(None, form, _at_rows(localize_fields(exc.field_errors), rows), localize(exc.message), 400)
    flash(_("Workflow %(name)s created (stopped).", name=created.name), "success")
    return redirect(url_for("web.workflow_edit", workflow_id=created.id))


@bp.route("/workflows/<id:workflow_id>", methods=["GET", "POST"])
@require_actor
def workflow_edit(workflow_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            workflow = workflows.get_workflow(session, g.actor, workflow_id)
    except NotFound:
        abort(404)
    if request.method == "GET":
        return _render(workflow, _form_of(workflow), {}, None, 200)
    form = _form_from_request()
    data, rows = _data(form)
    try:
        with admin_ctx().db.session() as session:
            saved = workflows.update_workflow(session, g.actor, workflow_id, data, now_ms=now_ms(), max_steps=admin_ctx().config.workflow_max_steps)
    except NotFound:
        abort(404)
    except ServiceError as exc:
        return _render(workflow, form, _at_rows(localize_fields(exc.field_errors), rows), localize(exc.message), 400)
    flash(_("Workflow %(name)s saved (version %(version)s).", name=saved.name, version=saved.version), "success")
    return redirect(url_for("web.workflow_edit", workflow_id=workflow_id))


def _act(workflow_id: int, action, done: str, *, back_to_list: bool = False):
    try:
        with admin_ctx().db.session() as session:
            result = action(session)
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(localize(exc.message), "error")
        return redirect(url_for("web.workflow_edit", workflow_id=workflow_id))
    flash(done, "success")
    if back_to_list:
        return redirect(url_for("web.workflows_list"))
    return redirect(url_for("web.workflow_edit", workflow_id=result.id if result is not None else workflow_id))


@bp.post("/workflows/<id:workflow_id>/start")
@require_actor
def workflow_start(workflow_id: int):
    return _act(workflow_id, lambda s: workflows.start_workflow(s, g.actor, workflow_id, now_ms=now_ms()), _("Workflow started."))


@bp.post("/workflows/<id:workflow_id>/stop")
@require_actor
def workflow_stop(workflow_id: int):
    return _act(workflow_id, lambda s: workflows.stop_workflow(s, g.actor, workflow_id, now_ms=now_ms()), _("Workflow stopped."))


@bp.post("/workflows/<id:workflow_id>/copy")
@require_actor
def workflow_copy(workflow_id: int):
    max_steps = admin_ctx().config.workflow_max_steps
    return _act(workflow_id, lambda s: workflows.copy_workflow(s, g.actor, workflow_id, now_ms=now_ms(), max_steps=max_steps), _("Workflow copied (stopped)."))


@bp.post("/workflows/<id:workflow_id>/delete")
@require_actor
def workflow_delete(workflow_id: int):
    return _act(workflow_id, lambda s: workflows.delete_workflow(s, g.actor, workflow_id, now_ms=now_ms()), _("Workflow deleted."), back_to_list=True)


@bp.post("/workflows/preview")
@require_actor
def workflow_preview():
    """The editor's live graph: the form (posted by console.js as it is edited) -> the SVG and
    the problems at their rows (JSON). Nothing is saved."""
    form = _form_from_request()
    definition, rows = _definition(form)
    data = {"definition": definition, "schedule_type": form["schedule_type"] or "NONE", "schedule_conf": form["schedule_conf"], "timezone": form["timezone"] or "UTC"}
    with admin_ctx().db.read_session() as session:
        result = preview_workflow(session, g.actor, data, now_ms=now_ms(), max_steps=admin_ctx().config.workflow_max_steps)
    svg = render_template("_workflow_graph_fragment.html", layout=result.layout, labels=result.job_names)
    problems = _at_rows(localize_fields(result.problems), rows)
    return jsonify(svg=svg, problems=problems, steps=len(result.layout.nodes), edges=len(result.layout.edges))

