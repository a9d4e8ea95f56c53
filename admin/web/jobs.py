"""Jobs: the filtered, sorted, paginated list; create/edit with every field and a live preview of
the next fire times; start/stop, copy, delete; the trigger dialog (whole job or one shard)."""

from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for

from ..auth import require_actor
from ..enums import ScheduleType
from ..scheduling.zones import is_known_zone
from ..services import groups, jobs, triggers
from ..services.errors import NotFound, ServiceError
from ..services.job_form import JOB_FIELDS
from ..services.paging import PageRequest
from . import bp
from .context import admin_ctx, now_ms
from .group_choices import group_choices, parse_optional_id
from .job_choices import SCHEDULE_HELP, choices_for, timezone_names

ENABLED_FILTERS = {"": None, "1": True, "0": False}


def _list_args() -> dict[str, str]:
    return {key: request.args[key] for key in ("group_id", "q", "enabled", "sort", "per_page") if request.args.get(key)}


@bp.get("/jobs")
@require_actor
def jobs_list():
    args = _list_args()
    sort = args.get("sort", "id")
    errors: dict[str, str] = {}
    page = None
    with admin_ctx().db.read_session() as session:
        group_options = group_choices(session, g.actor)
        try:
            flt = jobs.JobFilter(
                group_id=parse_optional_id(args.get("group_id"), "group_id"),
                search=args.get("q") or None,
                enabled=ENABLED_FILTERS.get(args.get("enabled", ""), None),
                sort=sort.lstrip("-"),
                descending=sort.startswith("-"),
            )
            page = jobs.list_jobs(session, g.actor, flt, PageRequest.parse(request.args.get("page"), args.get("per_page")))
        except ServiceError as exc:
            errors = exc.field_errors or {"q": exc.message}
    return render_template("jobs.html", page=page, args=args, sort=sort, groups=group_options, errors=errors), (400 if errors else 200)


def _form_from_request() -> dict[str, str]:
    return {name: request.form.get(name, "") for name in JOB_FIELDS}


def _form_from_view(view) -> dict[str, str]:
    form = {}
    for name in JOB_FIELDS:
        value = getattr(view, name)
        if name == "child_job_ids":
            value = ", ".join(map(str, value))
        elif name == "alarm_emails":
            value = ", ".join(value)
        form[name] = "" if value is None else str(value.value if hasattr(value, "value") else value)
    return form


def _render_form(job, form: dict, errors: dict, error: str | None, status: int):
    with admin_ctx().db.read_session() as session:
        group_options = group_choices(session, g.actor)
    return (
        render_template(
            "job_form.html",
            job=job,
            form=form,
            errors=errors,
            error=error,
            groups=group_options,
            choices=choices_for(),
            schedule_help=SCHEDULE_HELP,
            timezones=timezone_names(),
        ),
        status,
    )


def _empty_form() -> dict[str, str]:
    form = {name: "" if default is None else str(getattr(default, "value", default)) for name, (default, _) in JOB_FIELDS.items()}
    form["timezone"] = admin_ctx().config.default_timezone
    if request.args.get("group_id", "").isdigit():
        form["group_id"] = request.args["group_id"]
    return form


@bp.route("/jobs/new", methods=["GET", "POST"])
@require_actor
def job_new():
    if request.method == "GET":
        return _render_form(None, _empty_form(), {}, None, 200)
    form = _form_from_request()
    try:
        with admin_ctx().db.session() as session:
            created = jobs.create_job(session, g.actor, form, now_ms=now_ms(), default_timezone=admin_ctx().config.default_timezone)
    except ServiceError as exc:
        return _render_form(None, form, exc.field_errors, exc.message, 400)
    flash(f"Job {created.name} created (stopped: start it when ready).", "success")
    return redirect(url_for("web.job_edit", job_id=created.id))


def _load(job_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            return jobs.get_job(session, g.actor, job_id)
    except NotFound:
        abort(404)


@bp.route("/jobs/<int:job_id>", methods=["GET", "POST"])
@require_actor
def job_edit(job_id: int):
    job = _load(job_id)
    if request.method == "GET":
        return _render_form(job, _form_from_view(job), {}, None, 200)
    form = _form_from_request()
    try:
        with admin_ctx().db.session() as session:
            saved = jobs.update_job(session, g.actor, job_id, form, now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        return _render_form(job, form, exc.field_errors, exc.message, 400)
    flash(f"Job {saved.name} saved.", "success")
    return redirect(url_for("web.job_edit", job_id=job_id))


def _act(job_id: int, action, done: str):
    try:
        with admin_ctx().db.session() as session:
            view = action(session)
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(exc.message, "error")
        return redirect(request.referrer if _local_referrer() else url_for("web.jobs_list"))
    flash(done.format(view=view), "success")
    return None


def _local_referrer() -> bool:
    ref = request.referrer or ""
    return ref.startswith(request.host_url)


def _back():
    return redirect(request.referrer if _local_referrer() else url_for("web.jobs_list"))


@bp.post("/jobs/<int:job_id>/start")
@require_actor
def job_start(job_id: int):
    return _act(job_id, lambda s: jobs.start_job(s, g.actor, job_id, now_ms=now_ms()), "Job {view.name} started.") or _back()


@bp.post("/jobs/<int:job_id>/stop")
@require_actor
def job_stop(job_id: int):
    return _act(job_id, lambda s: jobs.stop_job(s, g.actor, job_id, now_ms=now_ms()), "Job {view.name} stopped.") or _back()


@bp.post("/jobs/<int:job_id>/copy")
@require_actor
def job_copy(job_id: int):
    try:
        with admin_ctx().db.session() as session:
            copy = jobs.copy_job(session, g.actor, job_id, now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(exc.message, "error")
        return _back()
    flash(f"Copied to {copy.name} (stopped).", "success")
    return redirect(url_for("web.job_edit", job_id=copy.id))


@bp.post("/jobs/<int:job_id>/delete")
@require_actor
def job_delete(job_id: int):
    response = _act(job_id, lambda s: jobs.delete_job(s, g.actor, job_id), "Job deleted.")
    return response or redirect(url_for("web.jobs_list"))


@bp.route("/jobs/<int:job_id>/trigger", methods=["GET", "POST"])
@require_actor
def job_trigger(job_id: int):
    job = _load(job_id)
    with admin_ctx().db.read_session() as session:
        live = groups.get_group(session, g.actor, job.group_id, now_ms()).live_executors
    form = {"param": job.param or "", "target": "whole", "shard_index": "", "shard_total": "", "address": ""}
    errors: dict[str, str] = {}
    error = None
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in form}
        one_shard = form["target"] == "shard"
        try:
            with admin_ctx().db.session() as session:
                result = triggers.trigger_job(
                    session,
                    g.actor,
                    job_id,
                    now_ms=now_ms(),
                    param=form["param"],
                    shard_index=form["shard_index"] if one_shard else None,
                    shard_total=form["shard_total"] if one_shard else None,
                    address=form["address"] or None,
                )
        except NotFound:
            abort(404)
        except ServiceError as exc:
            errors, error = exc.field_errors, exc.message
        else:
            what = f"shard {result.shard_index} of {result.shard_total}" if result.shard_index is not None else "the whole job"
            flash(f"Triggered {what} of {job.name} (fire {result.fire_id}); its runs appear below.", "success")
            return redirect(url_for("web.runs_list", job_id=job_id, fire_id=result.fire_id))
    return render_template("job_trigger.html", job=job, live=live, form=form, errors=errors, error=error), (400 if errors or error else 200)


@bp.get("/jobs/preview")
@require_actor
def job_preview():
    """Next fire times of the schedule being edited, for the form's live preview (JSON)."""
    zone = request.args.get("timezone", "")
    try:
        times = jobs.preview_schedule(request.args.get("schedule_type", ""), request.args.get("schedule_conf", ""), zone, now_ms=now_ms())
    except ServiceError as exc:
        message = "; ".join(exc.field_errors.values()) or exc.message
        return jsonify(error=message, fire_times=[]), 400
    tz = ZoneInfo(zone) if is_known_zone(zone) else timezone.utc
    items = []
    for at_ms in times:
        moment = datetime.fromtimestamp(at_ms / 1000, tz=timezone.utc)
        items.append({"at_ms": at_ms, "utc": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "local": moment.astimezone(tz).strftime("%Y-%m-%d %H:%M:%S %z") + f" ({zone})"})
    note = None if items else ("schedule type NONE fires only by hand" if request.args.get("schedule_type") == ScheduleType.NONE else "the schedule never fires again")
    return jsonify(fire_times=items, note=note)

