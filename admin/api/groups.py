"""/api/v1/groups: executor groups with their live executors."""

from __future__ import annotations

from flask import jsonify, request

from ..services import groups
from ..services.paging import Page, PageRequest
from . import bp
from .context import actor, admin_ctx, json_body, now_ms
from .serialize import page_json, to_json


@bp.get("/groups")
def list_groups():
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        found = groups.list_groups(session, actor(), now_ms())
    items = found[page.offset : page.offset + page.per_page]
    return jsonify(page_json(Page(items, len(found), page.page, page.per_page)))


@bp.post("/groups")
def create_group():
    body = json_body()
    with admin_ctx().db.session() as session:
        view = groups.create_group(session, actor(), body, now_ms=now_ms())
    return jsonify(to_json(view)), 201


@bp.get("/groups/<id:group_id>")
def get_group(group_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(groups.get_group(session, actor(), group_id, now_ms())))


@bp.patch("/groups/<id:group_id>")
def update_group(group_id: int):
    body = json_body()
    with admin_ctx().db.session() as session:
        view = groups.update_group(session, actor(), group_id, body, now_ms=now_ms())
    return jsonify(to_json(view))


@bp.delete("/groups/<id:group_id>")
def delete_group(group_id: int):
    with admin_ctx().db.session() as session:
        groups.delete_group(session, actor(), group_id, now_ms=now_ms())
    return "", 204
