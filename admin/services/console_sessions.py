"""Server-side records of console logins, so that a session really ends.

The cookie carries a random session id; sc_console_session holds its SHA-256 and the user. A
request whose id has no row is anonymous. Logout deletes the row (a copy of the cookie taken
before logout is refused afterwards); a password reset or role change deletes all of the user's
rows but, for a user changing their own password, the one they are using.
"""

from __future__ import annotations

import hashlib
import secrets

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..db import changed_rows
from ..models import ConsoleSession

#: The cookie's id is 256 random bits; longer values are not ours.
MAX_SESSION_ID_LENGTH = 100


def _digest(session_id: str) -> str:
    return hashlib.sha256(session_id.encode("utf-8")).hexdigest()


def open_session(session: Session, user_id: int, *, now_ms: int, max_age_ms: int) -> str:
    """Record a new login of the user and return its id (for the cookie). The user's rows older
    than `max_age_ms` are removed on the way: their cookies are expired already."""
    session.execute(sa.delete(ConsoleSession).where(ConsoleSession.user_id == user_id, ConsoleSession.created_at_ms < now_ms - max_age_ms))
    session_id = secrets.token_urlsafe(32)
    session.add(ConsoleSession(id_hash=_digest(session_id), user_id=user_id, created_at_ms=now_ms))
    session.flush()
    return session_id


def session_is_open(session: Session, session_id: object, user_id: int) -> bool:
    if not isinstance(session_id, str) or not session_id or len(session_id) > MAX_SESSION_ID_LENGTH:
        return False
    owner = session.scalar(sa.select(ConsoleSession.user_id).where(ConsoleSession.id_hash == _digest(session_id)))
    return owner == user_id


def close_session(session: Session, session_id: object) -> None:
    if isinstance(session_id, str) and session_id and len(session_id) <= MAX_SESSION_ID_LENGTH:
        session.execute(sa.delete(ConsoleSession).where(ConsoleSession.id_hash == _digest(session_id)))


def close_user_sessions(session: Session, user_id: int, *, keep_session_id: str | None = None) -> int:
    """End every console session of the user (but `keep_session_id`'s). Returns how many."""
    query = sa.delete(ConsoleSession).where(ConsoleSession.user_id == user_id)
    if keep_session_id:
        query = query.where(ConsoleSession.id_hash != _digest(keep_session_id))
    return changed_rows(session.execute(query)) or 0
