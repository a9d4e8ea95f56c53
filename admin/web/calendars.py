"""Calendars: the list (everyone: any user may attach any calendar to a job), create/edit and
delete (admins). Entries are edited as text, one date or date range per line."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _

from ..auth import require_actor, require_admin
from ..services import calendars
from ..services.calendar_form import ENTRY_EXAMPLE
from ..services.errors import NotFound, ServiceError
from ..i18n import localize, localize_fields
from . import bp
from .context import admin_ctx, now_ms
from .job_choices import timezone_names


def entry_lines(view: calendars.CalendarView) -> str:
    return "\n".join(
        (e.start if e.start == e.end else f"{e.start}..{e.end}") + (f" {e.label}" if e.label else "") for e in view.entries
    )


@bp.get("/calendars")
@require_actor
def calendars_list():
    with admin_ctx().db.read_session() as session:
        rows = calendars.list_calendars(session, g.actor)
    return render_template("calendars.html", calendars=rows, entry_lines=entry_lines)


def _form_data() -> dict[str, str]:
    return {
        "name": request.form.get("name", "").strip(),
        "timezone": request.form.get("timezone", "").strip(),
        "description": request.form.get("description", ""),
        "entries": request.form.get("entries", "").replace("\r\n", "\n"),
    }


def _render_form(calendar, form: dict, errors: dict, error: str | None, status: int):
    page = render_template(
        "calendar_form.html", calendar=calendar, form=form, errors=errors, error=error, timezones=timezone_names(), example=ENTRY_EXAMPLE,
        max_entries=admin_ctx().config.calendar_max_entries,
    )
    return page, status


@bp.route("/calendars/new", methods=["GET", "POST"])
@require_admin
def calendar_new():
    config = admin_ctx().config
    if request.method == "GET":
        return _render_form(None, {"name": "", "timezone": config.default_timezone, "description": "", "entries": ""}, {}, None, 200)
    form = _form_data()
    try:
        with admin_ctx().db.session() as session:
            created = calendars.create_calendar(
                session, g.actor, form, now_ms=now_ms(), default_timezone=config.default_timezone, max_entries=config.calendar_max_entries
            )
    except ServiceError as exc:
        return _render_form(None, form, localize_fields(exc.field_errors), localize(exc.message), 400)
    flash(_("Calendar %(name)s created.", name=created.name), "success")
    return redirect(url_for("web.calendars_list"))


@bp.route("/calendars/<id:calendar_id>", methods=["GET", "POST"])
@require_admin
def calendar_edit(calendar_id: int):
    try:
        with admin_ctx().db.read_session() as session:
            calendar = calendars.get_calendar(session, g.actor, calendar_id)
    except NotFound:
        abort(404)
    if request.method == "GET":
        form = {"name": calendar.name, "timezone": calendar.timezone, "description": calendar.description, "entries": entry_lines(calendar)}
        return _render_form(calendar, form, {}, None, 200)
    form = _form_data()
    try:
        with admin_ctx().db.session() as session:
            calendars.update_calendar(session, g.actor, calendar_id, form, now_ms=now_ms(), max_entries=admin_ctx().config.calendar_max_entries)
    except NotFound:
        abort(404)
    except ServiceError as exc:
        return _render_form(calendar, form, localize_fields(exc.field_errors), localize(exc.message), 400)
    flash(_("Calendar %(name)s saved.", name=form["name"]), "success")
    return redirect(url_for("web.calendars_list"))


@bp.post("/calendars/<id:calendar_id>/delete")
@require_admin
def calendar_delete(calendar_id: int):
    try:
        with admin_ctx().db.session() as session:
            calendars.delete_calendar(session, g.actor, calendar_id, now_ms=now_ms())
    except NotFound:
        abort(404)
    except ServiceError as exc:
        flash(localize(exc.message), "error")
        return redirect(url_for("web.calendars_list"))
    flash(_("Calendar deleted."), "success")
    return redirect(url_for("web.calendars_list"))
