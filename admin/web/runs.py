"""Runs: the filtered list (one row per shard), run detail with the live log tail, and kill.

The log tail and kill go through the runs service, which calls only a live, registered executor
of the run's group; the console never calls an address itself.
"""

from __future__ import annotations

from flask import abort, flash, g, jsonify, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth import require_actor
from ..enums import FireStatus, RunStatus, TriggerType
from ..services import job_names, repair, runs, triggers, workflow_instances
from ..services.errors import NotFound, ServiceError
from ..services.numbers import ID_MAX, ID_MIN, whole, whole_in_range
from ..texts import _t
from ..services.paging import PageRequest
from ..i18n import localize, localize_fields
from . import bp
from .context import admin_ctx, executor_client, now_ms
from .group_choices import group_choices
from .times import utc_input_to_ms

#: The "last ..." choices of the time filter, in milliseconds.
RANGES = {"1h": 3_600_000, "24h": 86_400_000, "7d": 7 * 86_400_000, "30d": 30 * 86_400_000}
ACTIVE = (RunStatus.PENDING, RunStatus.RUNNING)
REFRESH_MS = 2000
FILTER_KEYS = ("group_id", "job", "job_id", "step_run_id", "status", "trigger_type", "range", "from", "to", "order", "per_page")


def _filter_args(args: dict[str, str]) -> tuple[dict[str, str | None], dict[str, str]]:
    errors: dict[str, str] = {}
    values: dict[str, str | None] = {k: args.get(k) for k in ("group_id", "job_id", "step_run_id", "status", "trigger_type", "order")}
    # The job field takes a job's name (picked from the suggestions) or, typed, its id.
    job = (args.get("job") or "").strip()
    if job:
        values[job_names.job_field_key(job)] = job
    if args.get("range"):
        if args["range"] not in RANGES:
            errors["range"] = _("must be one of %(choices)s", choices=", ".join(RANGES))
        else:
            values["from_ms"] = str(now_ms() - RANGES[args["range"]])
    else:
        values["from_ms"] = utc_input_to_ms(args.get("from", ""), "from", errors)
        values["to_ms"] = utc_input_to_ms(args.get("to", ""), "to", errors)
    return values, errors


@bp.get("/runs")
@require_actor
def runs_list():
    args = {key: request.args[key] for key in FILTER_KEYS if request.args.get(key)}
    page = None
    values, errors = _filter_args(args)
    # Asked before the list is read: asked after, a fire whose runs were written in between would
    # look settled while the list shows none of them, and the page would never refresh.
    awaiting, fire_note = _awaited_fire(request.args.get("fire_id"))
    with admin_ctx().db.read_session() as session:
        group_options = group_choices(session, g.actor)
        if not errors:
            try:
                flt = runs.RunFilter.parse(values)
                page = runs.list_runs(session, g.actor, flt, PageRequest.parse(request.args.get("page"), args.get("per_page")))
            except ServiceError as exc:
                errors = localize_fields(exc.field_errors) or {"filter": localize(exc.message)}
    live_ids = [run.id for run in page.items if run.status in ACTIVE] if page else []
    return (
        render_template(
            "runs.html",
            page=page,
            args=args,
            errors=errors,
            groups=group_options,
            statuses=[s.value for s in RunStatus],
            trigger_types=[t.value for t in TriggerType],
            ranges=list(RANGES),
            # Runs on the page still going: console.js polls their state (runs_live) and reloads
            # the list when one changes. A fire whose runs are not written yet: the list itself.
            live_url=url_for("web.runs_live", ids=",".join(map(str, live_ids))) if live_ids and not awaiting else None,
            refresh_ms=REFRESH_MS if awaiting or live_ids else None,
            fire_note=fire_note,
            can_clean_up=g.actor.is_admin,
        ),
        400 if errors else 200,
    )


#: Runs one poll asks about: a page's worth (the largest page size).
MAX_LIVE_IDS = 100


@bp.get("/runs/live")
@require_actor
def runs_live():
    """The state of the runs listed by id (`ids=1,2,3`, the active runs of a page), for the list's
    live refresh: small enough to ask every two seconds. Runs the viewer may not see are left out."""
    raw = [part for part in (request.args.get("ids") or "").split(",") if part]
    ids = [whole_in_range(part, ID_MIN, ID_MAX) for part in raw]
    if not raw or len(raw) > MAX_LIVE_IDS or None in ids:
        return jsonify(error={"message": _("ids: 1 to %(num)s run ids, separated by commas", num=MAX_LIVE_IDS)}), 400
    with admin_ctx().db.read_session() as session:
        states = runs.run_states(session, g.actor, [i for i in ids if i is not None])
    return jsonify(
        runs=[{"id": s.id, "status": s.status.value, "progress_done": s.progress_done, "progress_total": s.progress_total} for s in states],
        active=any(s.status in ACTIVE for s in states),
        refresh_ms=REFRESH_MS,
    )


@bp.get("/runs/job-names")
@require_actor
def runs_job_names():
    """Job names containing `q`, for the job field's suggestions (the viewer's groups only)."""
    group_id = whole_in_range(request.args.get("group_id") or "", ID_MIN, ID_MAX)
    try:
        with admin_ctx().db.read_session() as session:
            found = job_names.suggest_job_names(session, g.actor, request.args.get("q") or "", group_id=group_id)
    except ServiceError as exc:
        return jsonify(error={"message": exc.message, "fields": exc.field_errors}), exc.status
    return jsonify(jobs=[{"id": j.id, "name": j.name, "group": j.group_app_name} for j in found])


def _awaited_fire(fire_id: str | None) -> tuple[bool, str | None]:
    """Right after a trigger the list names its fire: keep refreshing until its runs exist (the
    scheduler dispatches a manual fire within a tick or two) or it ended without any (skipped by
    its overlap policy or a concurrency cap). Also returns the fire's note: why it waits, or was
    skipped."""
    number = whole_in_range(fire_id or "", ID_MIN, ID_MAX)
    if number is None:  # only a hint for the refresh, so junk is ignored rather than refused
        return False, None
    try:
        with admin_ctx().db.read_session() as session:
            fire = triggers.get_fire(session, g.actor, number)
    except NotFound:
        return False, None
    note = _("Fire %(id)s: %(note)s", id=fire.id, note=fire.overlap_note) if fire.overlap_note else None
    return not fire.runs and fire.status != FireStatus.DONE, note


@bp.get("/runs/<id:run_id>")
@require_actor
def run_detail(run_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            run = runs.get_run(session, g.actor, run_id)
            shards = runs.list_fire_runs(session, g.actor, run.fire_id) if run.fire_id is not None else [run]
            workflow_step = workflow_instances.step_of_run(session, g.actor, run.step_run_id) if run.step_run_id is not None else None
    except NotFound:
        abort(404)
    active = run.status in ACTIVE or any(s.status in ACTIVE for s in shards)
    return render_template(
        "run_detail.html", run=run, shards=shards, refresh_ms=REFRESH_MS if active else None, can_kill=runs.may_kill(run),
        can_repair=run.status == RunStatus.RUNNING,
        unknown_note=str(UNKNOWN_NOTE) if run.status == RunStatus.UNKNOWN else None,
        workflow_step=workflow_step,
    )


#: Shown next to the trigger message of an UNKNOWN run.
UNKNOWN_NOTE = _l(
    "Whether the executor received this run could not be confirmed after a scheduler failure; it was not sent again "
    "(the job delivers at most once). If the executor reports a result, the run finishes with it."
)

#: Shown when the executor has no line at all for a finished run.
EMPTY_LOG_NOTE = _l(
    "The executor has no log lines for this run: a run that succeeds without logging anything "
    "keeps no log file, and older logs are removed after the executor's log retention."
)


@bp.get("/runs/<id:run_id>/log")
@require_actor
def run_log(run_id: int):
    """One page of the run's log from its executor (JSON for the live tail)."""
    try:
        from_line = whole(request.args.get("from_line", "1"), "from_line", 1, runs.MAX_LOG_LINE, message=_t("bad log request"))
        page = runs.read_run_log(admin_ctx().db, g.actor, run_id, executor_client(), from_line=from_line, now_ms=now_ms())
    except ServiceError as exc:
        return jsonify(error={"message": localize(exc.message), "fields": localize_fields(exc.field_errors)}), exc.status
    # Nothing at all, and the executor says there will be nothing more: say why that can be.
    empty = page.is_end and page.from_line == 1 and not page.content
    return jsonify(
        run_id=page.run_id,
        from_line=page.from_line,
        to_line=page.to_line,
        content=page.content,
        is_end=page.is_end,
        run_status=page.run_status.value,
        note=str(EMPTY_LOG_NOTE) if empty else None,
    )


@bp.post("/runs/<id:run_id>/kill")
@require_actor
def run_kill(run_id: int):
    try:
        result = runs.kill_run(admin_ctx().db, g.actor, run_id, executor_client(), now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(localize(exc.message), "error")
    else:
        flash(localize(result.message), "success")
    return redirect(url_for("web.run_detail", run_id=run_id))


@bp.post("/runs/<id:run_id>/repair")
@require_actor
def run_repair(run_id: int):
    try:
        result = repair.repair_run(admin_ctx().db, g.actor, run_id, executor_client(), now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(localize(exc.message), "error")
        return redirect(url_for("web.run_detail", run_id=run_id))
    flash(localize(result.message), "success")
    return redirect(url_for("web.runs_list", job_id=_job_of(run_id), fire_id=result.fire_id))


def _job_of(run_id: int) -> int:
    with admin_ctx().db.read_session() as session:
        return runs.get_run(session, g.actor, run_id).job_id
