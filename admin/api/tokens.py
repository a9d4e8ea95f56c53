"""/api/v1/me/tokens (the caller's named API tokens) and /api/v1/users/<id>/tokens (admins).

A token's value is in the answer of the POST that issues it and nowhere else; lists show names,
creation and expiry only. Revoking deletes the token: the next request bearing it gets 401.
"""

from __future__ import annotations

from flask import jsonify

from ..texts import _t
from ..services import api_tokens
from ..services.errors import NotFound, ServiceError
from . import bp
from .context import actor, admin_ctx, json_body, now_ms
from .serialize import to_json

ISSUE_FIELDS = {"name", "expires_at_ms"}


def _my_id() -> int:
    user_id = actor().user_id
    if user_id is None:  # only the command line's system actor has no id, and it has no token
        raise NotFound("user", None)
    return user_id


def _issue(user_id: int):
    body = json_body()
    unknown = sorted(set(body) - ISSUE_FIELDS)
    if unknown:
        raise ServiceError(_t("token not issued"), field_errors={name: _t("unknown field") for name in unknown})
    with admin_ctx().db.session() as session:
        view, token = api_tokens.issue_token(session, actor(), user_id, body.get("name"), expires_at_ms=body.get("expires_at_ms"), now_ms=now_ms())
    return jsonify({**to_json(view), "token": token}), 201


def _list(user_id: int):
    with admin_ctx().db.read_session() as session:
        views = api_tokens.list_tokens(session, actor(), user_id, now_ms=now_ms())
    return jsonify(items=[to_json(view) for view in views])


def _revoke(user_id: int, token_id: int):
    with admin_ctx().db.session() as session:
        api_tokens.revoke_token(session, actor(), user_id, token_id, now_ms=now_ms())
    return "", 204


@bp.get("/me/tokens")
def list_my_tokens():
    return _list(_my_id())


@bp.post("/me/tokens")
def issue_my_named_token():
    return _issue(_my_id())


@bp.delete("/me/tokens/<id:token_id>")
def revoke_my_named_token(token_id: int):
    return _revoke(_my_id(), token_id)


@bp.get("/users/<id:user_id>/tokens")
def list_user_tokens(user_id: int):
    """Admins see anyone's token names; a user sees their own."""
    return _list(user_id)


@bp.delete("/users/<id:user_id>/tokens/<id:token_id>")
def revoke_user_token(user_id: int, token_id: int):
    return _revoke(user_id, token_id)
