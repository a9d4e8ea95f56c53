"""/api/v1/calendars: named sets of excluded dates shared by jobs (admins change them; all may read)."""

from __future__ import annotations

from flask import jsonify, request

from ..services import calendars
from ..services.paging import Page, PageRequest
from . import bp
from .context import actor, admin_ctx, json_body, now_ms
from .serialize import page_json, to_json


@bp.get("/calendars")
def list_calendars():
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        found = calendars.list_calendars(session, actor())
    items = found[page.offset : page.offset + page.per_page]
    return jsonify(page_json(Page(items, len(found), page.page, page.per_page)))


@bp.post("/calendars")
def create_calendar():
    body = json_body()
    config = admin_ctx().config
    with admin_ctx().db.session() as session:
        view = calendars.create_calendar(
            session, actor(), body, now_ms=now_ms(), default_timezone=config.default_timezone, max_entries=config.calendar_max_entries
        )
    return jsonify(to_json(view)), 201


@bp.get("/calendars/<id:calendar_id>")
def get_calendar(calendar_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(calendars.get_calendar(session, actor(), calendar_id)))


@bp.patch("/calendars/<id:calendar_id>")
def update_calendar(calendar_id: int):
    body = json_body()
    with admin_ctx().db.session() as session:
        view = calendars.update_calendar(session, actor(), calendar_id, body, now_ms=now_ms(), max_entries=admin_ctx().config.calendar_max_entries)
    return jsonify(to_json(view))


@bp.delete("/calendars/<id:calendar_id>")
def delete_calendar(calendar_id: int):
    with admin_ctx().db.session() as session:
        calendars.delete_calendar(session, actor(), calendar_id, now_ms=now_ms())
    return "", 204
