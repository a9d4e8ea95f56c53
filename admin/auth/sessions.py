"""Console sessions: what the signed cookie holds and when it stops being valid.

The cookie (Flask's signed session) carries `uid`, `sid` (a random session id whose SHA-256 is
a row of sc_console_session), `sv` (the user's session_version at login), `iat` (login time, ms)
and `seen` (last use, ms), all from the injected clock so tests drive expiry with a FakeClock.
A session is void when it has been idle longer than `session_lifetime_minutes`, is older than
`session_max_age_hours`, its row is gone (logged out, password or role changed) or its `sv` no
longer equals the user's session_version — and of course when the user is gone. Because the
row decides, a copy of the cookie taken before logout is worth nothing after it.
"""

from __future__ import annotations

from flask import current_app, session

from ..config import Config
from ..services import console_sessions, users
from ..services.actor import Actor
from .csrf import SESSION_KEY as CSRF_SESSION_KEY
from .csrf import new_csrf_token

#: `seen` is rewritten at most this often, so a busy page does not re-sign the cookie on every poll.
SEEN_GRANULARITY_MS = 60_000


def _ctx():
    return current_app.extensions["shardcron"]


def start_session(actor: Actor, session_version: int, session_id: str) -> None:
    """Log `actor` in on this browser: a fresh session (no fixation) with a fresh CSRF token.
    `session_id` comes from `console_sessions.open_session`, in the login's transaction."""
    now_ms = _ctx().clock.now_ms()
    session.clear()
    session.permanent = True
    session.update(
        {"uid": actor.user_id, "sid": session_id, "sv": session_version, "iat": now_ms, "seen": now_ms, CSRF_SESSION_KEY: new_csrf_token()}
    )


def current_session_id() -> str | None:
    value = session.get("sid")
    return value if isinstance(value, str) else None


def refresh_session_version(session_version: int) -> None:
    """After the user changed their own password: this browser stays logged in, others end."""
    session["sv"] = session_version


def end_session() -> None:
    """Forget the session in this browser only (the server-side row stays; see `logout`)."""
    session.clear()


def logout() -> None:
    """End this session on the server (its row is deleted) and in this browser."""
    session_id = session.get("sid")
    if session_id is not None:
        with _ctx().db.session() as db_session:
            console_sessions.close_session(db_session, session_id)
    session.clear()


def session_is_fresh(config: Config, now_ms: int) -> bool:
    issued, seen = session.get("iat"), session.get("seen")
    if not isinstance(issued, int) or not isinstance(seen, int):
        return False
    if now_ms - seen > config.session_lifetime_minutes * 60_000:
        return False
    return now_ms - issued <= config.session_max_age_hours * 3_600_000


def actor_from_session() -> Actor | None:
    """The logged-in actor of this request's cookie, or None (and the session is cleared when it
    has expired or been invalidated)."""
    user_id = session.get("uid")
    if not isinstance(user_id, int):
        return None
    ctx = _ctx()
    now_ms = ctx.clock.now_ms()
    if not session_is_fresh(ctx.config, now_ms):
        end_session()
        return None
    with ctx.db.read_session() as db_session:
        version = users.session_version(db_session, user_id)
        is_open = version == session.get("sv") and console_sessions.session_is_open(db_session, session.get("sid"), user_id)
        actor = users.actor_for_user(db_session, user_id) if is_open else None
    if actor is None:
        end_session()
        return None
    if now_ms - session["seen"] >= SEEN_GRANULARITY_MS:
        session["seen"] = now_ms
    return actor
