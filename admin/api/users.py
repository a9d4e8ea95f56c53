"""/api/v1/users (admins) and /api/v1/me (any user: own account, password, API token)."""

from __future__ import annotations

from flask import jsonify, request

from ..texts import Text, _t
from ..services import users
from ..services.access import require_admin
from ..services.errors import ServiceError
from ..services.paging import Page, PageRequest
from . import bp
from .context import actor, admin_ctx, json_body, now_ms
from .serialize import page_json, to_json

CREATE_FIELDS = {"username", "password", "role", "group_ids"}
UPDATE_FIELDS = {"role", "group_ids", "script_group_ids", "password"}


def _unknown(body: dict, allowed: set[str], what: Text) -> None:
    unknown = sorted(set(body) - allowed)
    if unknown:
        raise ServiceError(what, field_errors={name: _t("unknown field") for name in unknown})


@bp.get("/users")
def list_users():
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        found = users.list_users(session, actor())
    return jsonify(page_json(Page(found[page.offset : page.offset + page.per_page], len(found), page.page, page.per_page)))


@bp.post("/users")
def create_user():
    body = json_body()
    _unknown(body, CREATE_FIELDS, _t("user not created"))
    with admin_ctx().db.session() as session:
        view = users.create_user(
            session, actor(), body.get("username"), body.get("password"), body.get("role", "USER"), body.get("group_ids") or [], now_ms=now_ms()
        )
    return jsonify(to_json(view)), 201


@bp.get("/users/<id:user_id>")
def get_user(user_id: int):
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(users.get_user(session, actor(), user_id)))


@bp.patch("/users/<id:user_id>")
def update_user(user_id: int):
    """Role, group grants, script rights and (admin reset) password, in one transaction."""
    body = json_body()
    _unknown(body, UPDATE_FIELDS, _t("user %(id)s not changed", id=user_id))
    if "password" in body and user_id == actor().user_id:
        raise ServiceError(
            _t("change your own password with POST /api/v1/me/password (it needs the current one)"), field_errors={"password": _t("use /me/password for your own")}
        )
    with admin_ctx().db.session() as session:
        require_admin(actor(), _t("only an admin may change users"))
        if "group_ids" in body:
            if not isinstance(body["group_ids"], list):
                raise ServiceError(_t("user %(id)s not changed", id=user_id), field_errors={"group_ids": _t("must be a list of group ids")})
            users.set_grants(session, actor(), user_id, body["group_ids"], now_ms=now_ms())
        if "script_group_ids" in body:
            # After the group grants: one request may grant a group and its script right.
            if not isinstance(body["script_group_ids"], list):
                raise ServiceError(_t("user %(id)s not changed", id=user_id), field_errors={"script_group_ids": _t("must be a list of group ids")})
            users.set_script_grants(session, actor(), user_id, body["script_group_ids"], now_ms=now_ms())
        if "role" in body:
            users.set_role(session, actor(), user_id, body["role"], now_ms=now_ms())
        if "password" in body:
            users.change_password(session, actor(), user_id, body["password"], now_ms=now_ms())
        view = users.get_user(session, actor(), user_id)
    return jsonify(to_json(view))


@bp.delete("/users/<id:user_id>")
def delete_user(user_id: int):
    with admin_ctx().db.session() as session:
        users.delete_user(session, actor(), user_id, now_ms=now_ms())
    return "", 204


@bp.get("/me")
def me():
    with admin_ctx().db.read_session() as session:
        return jsonify(to_json(users.get_user(session, actor(), actor().own_user_id)))


@bp.post("/me/password")
def change_my_password():
    body = json_body()
    _unknown(body, {"current_password", "new_password"}, _t("password not changed"))
    with admin_ctx().db.session() as session:
        users.change_password(session, actor(), actor().own_user_id, body.get("new_password"), current_password=body.get("current_password"), now_ms=now_ms())
    return "", 204


@bp.post("/me/token")
def issue_my_token():
    """A new API token for the caller; the one used for this request stops working."""
    with admin_ctx().db.session() as session:
        token = users.issue_api_token(session, actor(), actor().own_user_id, now_ms=now_ms())
    return jsonify(token=token), 201


@bp.delete("/me/token")
def revoke_my_token():
    with admin_ctx().db.session() as session:
        users.revoke_api_token(session, actor(), actor().own_user_id, now_ms=now_ms())
    return "", 204
