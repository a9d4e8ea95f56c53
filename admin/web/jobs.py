"""Jobs: the filtered, sorted, paginated list; create/edit with every field and a live preview of
the next fire times; start/stop, copy, delete; the trigger dialog (whole job or one shard)."""

from __future__ import annotations

from urllib.parse import urlsplit

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext

from ..auth import require_actor
from ..enums import ScheduleType
from ..schedules.catchup import MAX_CATCHUP_WINDOW_S
from ..schedules.jitter import MAX_JITTER_S, jitter_ms
from ..schedules.zones import is_known_zone
from ..services import glue_versions, groups, jobs, triggers
from ..services.errors import Forbidden, NotFound, ServiceError
from ..services.job_calendars import calendar_names
from ..services.job_form import JOB_FIELDS, MAX_PAUSE_AFTER_FAILURES
from ..services.numbers import ID_MAX, ID_MIN, optional_id, whole_in_range
from ..services.paging import PageRequest
from ..services.script_rights import SCRIPT_FIELDS
from ..i18n import localize, localize_fields
from . import bp
from .context import admin_ctx, now_ms
from .backfills import section_context
from .diff_rows import diff_rows
from .group_choices import group_choices
from .job_choices import DELIVERY_HELP, OVERLAP_HELP, choices_for, schedule_help, timezone_names
from .times import format_instant

#: The State filter: any, started, stopped (paused ones included), paused on failure.
STATE_FILTERS: dict[str, tuple[bool | None, bool | None]] = {"": (None, None), "1": (True, None), "0": (False, None), "paused": (None, True)}


def _list_args() -> dict[str, str]:
    return {key: request.args[key] for key in ("group_id", "q", "owner", "enabled", "sort", "per_page") if request.args.get(key)}


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
                group_id=optional_id(args.get("group_id"), "group_id"),
                search=args.get("q") or None,
                owner=args.get("owner") or None,
                enabled=STATE_FILTERS.get(args.get("enabled", ""), (None, None))[0],
                paused=STATE_FILTERS.get(args.get("enabled", ""), (None, None))[1],
                sort=sort.lstrip("-"),
                descending=sort.startswith("-"),
            )
            page = jobs.list_jobs(session, g.actor, flt, PageRequest.parse(request.args.get("page"), args.get("per_page")))
        except ServiceError as exc:
            errors = localize_fields(exc.field_errors) or {"q": localize(exc.message)}
    return render_template("jobs.html", page=page, args=args, sort=sort, groups=group_options, errors=errors), (400 if errors else 200)


#: Fields added after forms were scripted: a post without one keeps the job's value (a new job's default).
_KEPT_WHEN_ABSENT = ("pause_after_failures",)
#: Fields added after clients posting the whole form existed: absent, they take their default
#: (a form without them keeps working as before the field existed).
DEFAULT_WHEN_ABSENT = ("catchup_window_s",)


def _form_from_request(job=None) -> dict[str, Any]:
    """The posted job fields. The script fields are posted only by a form that lets the actor
    edit them; absent, the job keeps its script (a new job is a BEAN job). Posted by someone who
    may not write scripts, they reach the service, which refuses a change with a 403."""
    form: dict[str, Any] = {name: request.form.get(name, "") for name in JOB_FIELDS}
    for name in DEFAULT_WHEN_ABSENT:
        if name not in request.form:
            form[name] = str(JOB_FIELDS[name][0])
    current = _form_from_view(job) if job is not None else _empty_form()
    # A multi-select with nothing chosen posts nothing: the hidden `calendars_posted` tells "none
    # chosen" from "a form without the field" (which keeps the job's calendars).
    form["calendars"] = request.form.getlist("calendars") if "calendars_posted" in request.form else current["calendars"]
    for name in (*SCRIPT_FIELDS, *_KEPT_WHEN_ABSENT):
        if name not in request.form:
            form[name] = current[name]
    if "glue_source" in request.form:
        # Browsers post a textarea's lines ending in CRLF; a shell script ending its lines in
        # "\r" fails to run (and would show as a change on every save).
        form["glue_source"] = form["glue_source"].replace("\r\n", "\n")
    form["glue_remark"] = request.form.get("glue_remark", "")
    return form


def _service_data(form: dict[str, Any]) -> dict[str, Any]:
    """What goes to the service: the script fields and the calendars only when they were posted."""
    data = {k: v for k, v in form.items() if k not in SCRIPT_FIELDS or k in request.form}
    if "calendars_posted" not in request.form:
        data.pop("calendars", None)
    return data


def _can_edit_script(job) -> bool:
    return job.can_edit_script if job is not None else g.actor.writes_scripts_somewhere


def _refusal_status(exc: ServiceError) -> int:
    return 403 if isinstance(exc, Forbidden) else 400


def _form_from_view(view) -> dict[str, Any]:
    form: dict[str, Any] = {"calendars": list(view.calendars)}
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
        calendar_options = sorted(calendar_names(session).values())
    return (
        render_template(
            "job_form.html",
            calendar_options=calendar_options,
            job=job,
            form=form,
            errors=errors,
            error=error,
            groups=group_options,
            choices=choices_for(),
            schedule_help=schedule_help(),
            delivery_help=str(DELIVERY_HELP),
            overlap_help=str(OVERLAP_HELP),
            max_jitter_s=MAX_JITTER_S,
            max_pause_after_failures=MAX_PAUSE_AFTER_FAILURES,
            max_catchup_window_s=MAX_CATCHUP_WINDOW_S,
            timezones=timezone_names(),
            can_edit_script=_can_edit_script(job),
            **(section_context(job.id) if job is not None else {}),
        ),
        status,
    )


def _empty_form() -> dict[str, Any]:
    form: dict[str, Any] = {name: "" if default is None else str(getattr(default, "value", default)) for name, (default, _rule) in JOB_FIELDS.items()}
    form["calendars"] = []
    form["timezone"] = admin_ctx().config.default_timezone
    group_id = whole_in_range(request.args.get("group_id", ""), ID_MIN, ID_MAX)
    if group_id is not None:  # a preselection only; the form checks the group on save
        form["group_id"] = str(group_id)
    return form


@bp.route("/jobs/new", methods=["GET", "POST"])
@require_actor
def job_new():
    if request.method == "GET":
        return _render_form(None, _empty_form(), {}, None, 200)
    form = _form_from_request()
    try:
        with admin_ctx().db.session() as session:
            created = jobs.create_job(session, g.actor, _service_data(form), now_ms=now_ms(), default_timezone=admin_ctx().config.default_timezone)
    except ServiceError as exc:
        return _render_form(None, form, localize_fields(exc.field_errors), localize(exc.message), _refusal_status(exc))
    flash(_("Job %(name)s created (stopped: start it when ready).", name=created.name), "success")
    return redirect(url_for("web.job_edit", job_id=created.id))


def _load(job_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            return jobs.get_job(session, g.actor, job_id)
    except NotFound:
        abort(404)


@bp.route("/jobs/<id:job_id>", methods=["GET", "POST"])
@require_actor
def job_edit(job_id: int):
    job = _load(job_id)
    if request.method == "GET":
        return _render_form(job, _form_from_view(job), {}, None, 200)
    form = _form_from_request(job)
    try:
        with admin_ctx().db.session() as session:
            saved = jobs.update_job(session, g.actor, job_id, _service_data(form), now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        return _render_form(job, form, localize_fields(exc.field_errors), localize(exc.message), _refusal_status(exc))
    flash(_("Job %(name)s saved.", name=saved.name), "success")
    return redirect(url_for("web.job_edit", job_id=job_id))


def _act(job_id: int, action, done: Callable[[Any], str]):
    try:
        with admin_ctx().db.session() as session:
            view = action(session)
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(localize(exc.message), "error")
        return redirect(request.referrer if _local_referrer() else url_for("web.jobs_list"))
    flash(done(view), "success")
    return None


def _local_referrer() -> bool:
    ref = request.referrer or ""
    return ref.startswith(request.host_url)


def _back():
    return redirect(request.referrer if _local_referrer() else url_for("web.jobs_list"))


@bp.post("/jobs/<id:job_id>/start")
@require_actor
def job_start(job_id: int):
    return _act(job_id, lambda s: jobs.start_job(s, g.actor, job_id, now_ms=now_ms()), lambda view: _("Job %(name)s started.", name=view.name)) or _back()


@bp.post("/jobs/<id:job_id>/stop")
@require_actor
def job_stop(job_id: int):
    return _act(job_id, lambda s: jobs.stop_job(s, g.actor, job_id, now_ms=now_ms()), lambda view: _("Job %(name)s stopped.", name=view.name)) or _back()


@bp.post("/jobs/<id:job_id>/copy")
@require_actor
def job_copy(job_id: int):
    try:
        with admin_ctx().db.session() as session:
            copy = jobs.copy_job(session, g.actor, job_id, now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(localize(exc.message), "error")
        return _back()
    flash(_("Copied to %(name)s (stopped).", name=copy.name), "success")
    return redirect(url_for("web.job_edit", job_id=copy.id))


@bp.get("/jobs/<id:job_id>/versions")
@require_actor
def job_versions(job_id: int):
    """The job's kept script versions; `?version=` shows one with its diff (default: the newest)."""
    return _versions_page(job_id, request.args.get("version", ""))


def _versions_page(job_id: int, wanted: str, *, error: str | None = None, status: int = 200):
    job = _load(job_id)
    if wanted and whole_in_range(wanted.strip(), ID_MIN, ID_MAX) is None:
        abort(404)
    try:
        with admin_ctx().db.read_session() as session:
            versions = glue_versions.list_versions(session, g.actor, job_id)
            shown_id = int(wanted.strip()) if wanted else (versions[0].id if versions else None)
            shown = glue_versions.get_version(session, g.actor, job_id, shown_id) if shown_id is not None else None
    except NotFound:
        abort(404)
    rows = diff_rows(shown.diff) if shown is not None else []
    page = render_template(
        "job_versions.html", job=job, versions=versions, shown=shown, diff_rows=rows, keep=glue_versions.KEEP_VERSIONS, error=error
    )
    return page, status


@bp.post("/jobs/<id:job_id>/versions/<id:version_id>/rollback")
@require_actor
def job_version_rollback(job_id: int, version_id: int):
    try:
        with admin_ctx().db.session() as session:
            jobs.rollback_script(session, g.actor, job_id, version_id, now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        return _versions_page(job_id, request.args.get("version", ""), error=localize(exc.message), status=_refusal_status(exc))
    flash(_("Version %(version)s put back; the rollback is kept as a new version.", version=version_id), "success")
    return redirect(url_for("web.job_versions", job_id=job_id))


@bp.post("/jobs/<id:job_id>/delete")
@require_actor
def job_delete(job_id: int):
    response = _act(job_id, lambda s: jobs.delete_job(s, g.actor, job_id, now_ms=now_ms()), lambda view: _("Job deleted."))
    return response or _back_to_list()


def _back_to_list():
    """Back to the jobs list the delete came from, its filter and page kept (not to the job's own
    page, which is gone)."""
    ref = request.referrer or ""
    if _local_referrer() and urlsplit(ref).path == url_for("web.jobs_list"):
        return redirect(ref)
    return redirect(url_for("web.jobs_list"))


@bp.route("/jobs/<id:job_id>/trigger", methods=["GET", "POST"])
@require_actor
def job_trigger(job_id: int):
    job = _load(job_id)
    with admin_ctx().db.read_session() as session:
        live = groups.get_group(session, g.actor, job.group_id, now_ms()).live_executors
    form = {"param": job.param or "", "target": "whole", "shard_index": "", "shard_total": "", "address": "", "resume_from_run_id": request.args.get("resume_from_run_id", "")}
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
                    resume_from_run_id=form["resume_from_run_id"].strip() or None,
                )
        except NotFound:
            abort(404)
        except ServiceError as exc:
            errors, error = localize_fields(exc.field_errors), localize(exc.message)
        else:
            if result.shard_index is not None:
                done = _(
                    "Triggered shard %(index)s of %(total)s of %(name)s (fire %(fire)s); its runs appear below.",
                    index=result.shard_index, total=result.shard_total, name=job.name, fire=result.fire_id,
                )
            else:
                done = _("Triggered the whole job %(name)s (fire %(fire)s); its runs appear below.", name=job.name, fire=result.fire_id)
            flash(done, "success")
            return redirect(url_for("web.runs_list", job_id=job_id, fire_id=result.fire_id))
    return render_template("job_trigger.html", job=job, live=live, form=form, errors=errors, error=error), (400 if errors or error else 200)


def _whole_arg(name: str, low: int, high: int) -> int | None:
    """A whole-number query argument within [low, high]; None when absent or not one."""
    value = request.args.get(name, "").strip()
    if not value.isdigit() or not low <= int(value) <= high:
        return None
    return int(value)


@bp.get("/jobs/preview")
@require_actor
def job_preview():
    """Next fire times of the schedule being edited, for the form's live preview (JSON)."""
    zone = request.args.get("timezone", "")
    try:
        with admin_ctx().db.read_session() as session:
            times, skipped = jobs.preview_schedule_calendars(
                session, request.args.get("schedule_type", ""), request.args.get("schedule_conf", ""), zone, request.args.get("calendars", ""), now_ms=now_ms()
            )
    except ServiceError as exc:
        message = "; ".join(localize_fields(exc.field_errors).values()) or localize(exc.message)
        return jsonify(error=message, fire_times=[]), 400
    tz = ZoneInfo(zone) if is_known_zone(zone) else UTC
    jitter_s = _whole_arg("jitter_s", 0, MAX_JITTER_S) or 0
    job_id = _whole_arg("job_id", ID_MIN, ID_MAX)
    items: list[dict[str, Any]] = []
    for at_ms in times:
        moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
        local = f"{format_instant(at_ms, tz)} ({zone})"
        if jitter_s and job_id is not None:
            local = _("%(time)s (+%(seconds)s s jitter)", time=local, seconds=round(jitter_ms(job_id, at_ms, jitter_s) / 1000, 1))
        elif jitter_s:  # a job not saved yet: its id, and so its delays, are not known
            local = _("%(time)s (+0 to %(seconds)s s jitter)", time=local, seconds=jitter_s)
        items.append({"at_ms": at_ms, "utc": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "local": local})
    items += [_skipped_item(at_ms, name, tz, zone) for at_ms, name in skipped]
    items.sort(key=lambda item: int(item["at_ms"]))
    if items and skipped:
        return jsonify(fire_times=items, note=None, skipped_note=_skipped_note(skipped))
    note = None if items else (_("schedule type NONE fires only by hand") if request.args.get("schedule_type") == ScheduleType.NONE else _("the schedule never fires again"))
    return jsonify(fire_times=items, note=note)



def _skipped_item(at_ms: int, calendar: str, tz, zone: str) -> dict[str, Any]:
    moment = datetime.fromtimestamp(at_ms / 1000, tz=UTC)
    local = _("%(time)s: skipped (calendar %(name)s)", time=f"{format_instant(at_ms, tz)} ({zone})", name=calendar)
    return {"at_ms": at_ms, "utc": moment.strftime("%Y-%m-%dT%H:%M:%SZ"), "local": local, "skipped": True}


def _skipped_note(skipped: list[tuple[int, str]]) -> str:
    """"3 planned times skipped by calendar holidays", one clause per calendar."""
    counts: dict[str, int] = {}
    for _at, name in skipped:
        counts[name] = counts.get(name, 0) + 1
    return "; ".join(
        ngettext("%(num)d planned time skipped by calendar %(name)s", "%(num)d planned times skipped by calendar %(name)s", n, name=name)
        for name, n in counts.items()
    )
