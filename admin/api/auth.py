"""API authentication: `Authorization: Bearer <API token>` on every route but the OpenAPI document.

Cookies are not accepted here: a console session cannot call the API, so a page on another site
cannot make a logged-in browser call it either, and the API needs no CSRF token. Tokens are
issued per user (`POST /api/v1/me/token`, the console's account page, or `shardcron user token`).
"""

from __future__ import annotations

from dataclasses import replace

from flask import g, request

from ..services import users
from . import bp
from .context import admin_ctx, now_ms
from .errors import error_response

PUBLIC_ENDPOINTS = {"api_v1.openapi_document"}


def _bearer_token() -> str | None:
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _unauthorized(message: str):
    response = error_response(401, message)
    response.headers["WWW-Authenticate"] = 'Bearer realm="shardcron"'
    return response


@bp.before_request
def _authenticate():
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    token = _bearer_token()
    if token is None:
        if request.cookies:
            return _unauthorized("the REST API does not accept console cookies; send Authorization: Bearer <API token>")
        return _unauthorized("authentication required: send Authorization: Bearer <API token>")
    with admin_ctx().db.read_session() as session:
        found = users.actor_for_token(session, token, now_ms())
    if found is None:
        return _unauthorized("invalid or revoked API token")
    g.api_actor = replace(found, client_address=request.remote_addr or None)
    return None
