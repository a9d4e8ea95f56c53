"""Console: a job's backfills — the form (with a preview of how many runs), the list with
progress, cancel. Times are typed in the job's time zone."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..auth import require_actor
from ..enums import BACKFILL_POLICIES
from ..i18n import localize, localize_fields
from ..schedules.zones import is_known_zone
from ..services import backfills, jobs
from ..services.errors import NotFound, ServiceError
from . import bp
from .context import admin_ctx, now_ms

FORM_FIELDS = ("from", "to", "overlap_policy", "pace")
EMPTY_FORM = {"from": "", "to": "", "overlap_policy": "ALLOW_ALL", "pace": "1"}


def section_context(job_id: int, form: dict[str, str] | None = None, errors: dict[str, str] | None = None, preview=None) -> dict[str, object]:
    """What the backfill section (_backfills.html) shows for a job the actor may see."""
    with admin_ctx().db.read_session() as session:
        items = backfills.list_backfills(session, g.actor, job_id)
    return {
        "bf_form": form or dict(EMPTY_FORM), "bf_errors": errors or {}, "bf_preview": preview, "bf_items": items,
        "policies": [p.value for p in BACKFILL_POLICIES], "max_pace": backfills.MAX_PACE,
    }


def _local_ms(text: str, zone: ZoneInfo) -> int | None:
    """`YYYY-MM-DDTHH:MM[:SS]` (a datetime-local input) in `zone` as epoch ms; None if not one."""
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    if moment.tzinfo is not None:
        return None
    try:
        return int(moment.replace(tzinfo=zone).timestamp() * 1000)
    except (OverflowError, ValueError):  # year 1 or 9999 pushed past the calendar by the zone's offset
        return None


def _body(form: dict[str, str], zone: ZoneInfo, errors: dict[str, str]) -> dict[str, object]:
    body: dict[str, object] = {"overlap_policy": form["overlap_policy"], "pace": form["pace"]}
    for field, key in (("from", "from_ms"), ("to", "to_ms")):
        at_ms = _local_ms(form[field], zone)
        if at_ms is None:
            errors[field] = _("must be a date and time (YYYY-MM-DD HH:MM)")
        body[key] = at_ms
    return body


@bp.route("/jobs/<id:job_id>/backfills", methods=["GET", "POST"])
@require_actor
def job_backfills(job_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            job = jobs.get_job(session, g.actor, job_id)
    except NotFound:
        abort(404)
    zone = ZoneInfo(job.timezone if is_known_zone(job.timezone) else "UTC")
    form = dict(EMPTY_FORM)
    errors: dict[str, str] = {}
    error = None
    preview = None
    if request.method == "POST":
        form = {key: request.form.get(key, "") for key in FORM_FIELDS}
        body = _body(form, zone, errors)
        if not errors:
            try:
                if request.form.get("action") == "create":
                    with admin_ctx().db.session() as session:
                        created = backfills.create_backfill(session, g.actor, job_id, body, now_ms=now_ms(), max_runs=admin_ctx().config.backfill_max_runs)
                    flash(_("Backfill %(id)s started: %(count)s runs.", id=created.id, count=created.planned), "success")
                    return redirect(url_for("web.job_backfills", job_id=job_id))
                with admin_ctx().db.read_session() as session:
                    preview = backfills.preview_backfill(session, g.actor, job_id, body, now_ms=now_ms(), max_runs=admin_ctx().config.backfill_max_runs)
            except NotFound:
                abort(404)
            except ServiceError as exc:
                found = localize_fields(exc.field_errors)
                errors = {("from" if k == "from_ms" else "to" if k == "to_ms" else k): v for k, v in found.items()}
                error = localize(exc.message)
    status = 400 if errors or error else 200
    return render_template("job_backfills.html", job=job, error=error, **section_context(job_id, form, errors, preview)), status


@bp.post("/backfills/<id:backfill_id>/cancel")
@require_actor
def backfill_cancel(backfill_id: int):
    try:
        with admin_ctx().db.session() as session:
            view = backfills.cancel_backfill(session, g.actor, backfill_id, now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(localize(exc.message), "error")
        with admin_ctx().db.read_session() as session:
            view = backfills.get_backfill(session, g.actor, backfill_id)
    else:
        flash(_("Backfill %(id)s cancelled: nothing more is started.", id=view.id), "success")
    return redirect(url_for("web.job_backfills", job_id=view.job_id))
