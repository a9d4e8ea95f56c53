"""`current_actor()` and the `require_actor` / `require_admin` view decorators.

A request is authenticated either by an `Authorization: Bearer <token>` header (scripts; no
cookie, so no CSRF check is needed) or by the console's session cookie (then every
state-changing request must carry the CSRF token, for the REST API too). Console pages answer an
anonymous request with a redirect to the login page; JSON endpoints with 401.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from functools import wraps
from typing import Any, TypeVar

from flask import abort, current_app, g, jsonify, redirect, request, url_for

from ..enums import ActorKind
from ..services import users
from ..services.actor import Actor
from .csrf import check_csrf
from .sessions import actor_from_session

F = TypeVar("F", bound=Callable[..., Any])
_UNSET = object()


def _bearer_token() -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()


def _resolve() -> tuple[Actor | None, str | None]:
    token = _bearer_token()
    if token is not None:
        ctx = current_app.extensions["shardcron"]
        with ctx.db.read_session() as db_session:
            found = users.actor_for_token(db_session, token, ctx.clock.now_ms())
        return (None if found is None else replace(found, client_address=request.remote_addr or None)), "token"
    if request.headers.get("Authorization"):
        return None, None
    actor = actor_from_session()
    if actor is None:
        return None, None
    # Who and from where, for the audit trail (the peer address: a reverse proxy's, behind one).
    return replace(actor, kind=ActorKind.CONSOLE, client_address=request.remote_addr or None), "session"


def current_actor() -> Actor | None:
    """The actor of this request, or None; looked up once per request."""
    cached = g.get("_shardcron_actor", _UNSET)
    if cached is _UNSET:
        actor, how = _resolve()
        g._shardcron_actor = actor
        g.auth_method = how
        return actor
    return cached


def _wants_json() -> bool:
    return request.path.startswith("/api/") or request.accept_mimetypes.best == "application/json"


def _refuse_anonymous():
    if _wants_json():
        response = jsonify(error={"message": "authentication required: log in, or send Authorization: Bearer <API token>", "fields": {}})
        response.status_code = 401
        response.headers["WWW-Authenticate"] = 'Bearer realm="shardcron"'
        return response
    target = request.full_path if request.method == "GET" else None
    return redirect(url_for("web.login", next=target.rstrip("?") if target else None))


def require_actor(view: F) -> F:
    """Let the view run only for a logged-in actor (available as `g.actor`)."""

    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        actor = current_actor()
        if actor is None:
            return _refuse_anonymous()
        if g.auth_method == "session":
            check_csrf()
        g.actor = actor
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]


def require_admin(view: F) -> F:
    """Like `require_actor`, for admins only (403 for other users)."""

    @require_actor
    @wraps(view)
    def wrapper(*args: Any, **kwargs: Any):
        if not g.actor.is_admin:
            abort(403, description="Only an admin may do this.")
        return view(*args, **kwargs)

    return wrapper  # type: ignore[return-value]
