"""Named REST API tokens: issue, list, revoke, expire, and find the actor of a presented token.

A user holds any number of tokens, each with a name unique for that user and an optional expiry.
A token is shown once when issued; only its SHA-256 is stored (`passwords.api_token_digest`).
Revoking deletes the row. A password reset or a role change revokes every token of the user
(`revoke_all_tokens`, called by `users`), so a compromised account's scripts stop with it.
Users manage their own tokens; admins may list and revoke (not read) anyone's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..enums import AuditAction, AuditTarget
from ..db import changed_rows
from ..models import ApiToken, User
from . import audit, passwords
from .actor import Actor
from ..texts import _t
from .errors import Conflict, FieldErrors, NotFound

TOKEN_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._@-]{0,63}")
#: The name of the token `POST /api/v1/me/token`, the account page's old button and
#: `shardcron user token` replace, and of every token that existed before named tokens.
DEFAULT_TOKEN_NAME = "default"
#: Far enough for any real expiry, and inside a signed 64-bit column.
MAX_EXPIRES_AT_MS = 253_402_300_799_999  # 9999-12-31T23:59:59.999Z
#: Ids are signed 64-bit in the database; a bigger one names nothing (and must not reach the driver).
MAX_ID = 2**63 - 1
#: Longer strings are not tokens (ours are 47 characters); refuse them before hashing.
MAX_TOKEN_LENGTH = 200


@dataclass(frozen=True)
class TokenView:
    id: int
    user_id: int
    name: str
    created_at_ms: int
    #: None: never expires.
    expires_at_ms: int | None
    expired: bool


def _view(row: ApiToken, now_ms: int) -> TokenView:
    expires = row.expires_at_ms or None
    return TokenView(
        id=row.id,
        user_id=row.user_id,
        name=row.name,
        created_at_ms=row.created_at_ms,
        expires_at_ms=expires,
        expired=expires is not None and expires <= now_ms,
    )


def _owner(session: Session, actor: Actor, user_id: int) -> User:
    """The user whose tokens `actor` may manage (their own; an admin: anyone's)."""
    if (actor.user_id != user_id and not actor.is_admin) or not 0 < user_id <= MAX_ID:
        raise NotFound("user", user_id)
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def _audit(session: Session, actor: Actor, action: AuditAction, user: User, row: ApiToken, *, now_ms: int, **values: object) -> None:
    """An entry about one token: never its value or hash, only its name, owner and expiry."""
    audit.record(session, actor, action, AuditTarget.TOKEN, target_id=row.id, target_name=f"{user.username}: {row.name}", now_ms=now_ms, **values)  # type: ignore[arg-type]


def _facts(user: User, row: ApiToken) -> dict[str, object]:
    return {"user_id": user.id, "username": user.username, "name": row.name, "expires_at_ms": row.expires_at_ms or None}


def check_token_fields(name: object, expires_at_ms: object, now_ms: int, errors: FieldErrors) -> None:
    if not isinstance(name, str) or not TOKEN_NAME_RE.fullmatch(name):
        errors.add("name", _t("1-64 characters: letters, digits, spaces and . _ @ - (starting with a letter or digit)"))
    if expires_at_ms is None:
        return
    if not isinstance(expires_at_ms, int) or isinstance(expires_at_ms, bool):
        errors.add("expires_at_ms", _t("must be an integer (UTC epoch milliseconds) or null for no expiry"))
    elif expires_at_ms <= now_ms:
        errors.add("expires_at_ms", _t("must be in the future"))
    elif expires_at_ms > MAX_EXPIRES_AT_MS:
        errors.add("expires_at_ms", _t("must be at most %(max)s (year 9999)", max=MAX_EXPIRES_AT_MS))


def issue_token(
    session: Session, actor: Actor, user_id: int, name: object, *, expires_at_ms: object = None, now_ms: int, replace: bool = False
) -> tuple[TokenView, str]:
    """A new token for the user; the token itself is returned once, with its view. `name` and
    `expires_at_ms` (UTC ms, None: never) come as sent and are checked here (400 naming the field).
    A name the user already uses is a 409 unless `replace`, which revokes the old one first."""
    owner = _owner(session, actor, user_id)
    errors = FieldErrors()
    check_token_fields(name, expires_at_ms, now_ms, errors)
    errors.raise_if_any(_t("token not issued"))
    name, expires = str(name), int(expires_at_ms) if isinstance(expires_at_ms, int) else 0
    existing = session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.name == name))
    if existing is not None:
        if not replace:
            raise Conflict(_t("token not issued: you already have a token named %(name)s; revoke it first or pick another name", name=repr(name)))
        _audit(session, actor, AuditAction.TOKEN_REVOKE, owner, existing, before=_facts(owner, existing), after={"replaced": True}, now_ms=now_ms)
        session.delete(existing)
        session.flush()
    token = passwords.new_api_token()
    row = ApiToken(
        user_id=user_id, name=name, token_hash=passwords.api_token_digest(token), created_at_ms=now_ms, expires_at_ms=expires
    )
    try:
        with session.begin_nested():
            session.add(row)
            session.flush()
    except IntegrityError:
        raise Conflict(_t("token not issued: a token named %(name)s was issued a moment ago", name=repr(name))) from None
    _audit(session, actor, AuditAction.TOKEN_CREATE, owner, row, after=_facts(owner, row), now_ms=now_ms)
    return _view(row, now_ms), token


def list_tokens(session: Session, actor: Actor, user_id: int, *, now_ms: int) -> list[TokenView]:
    _owner(session, actor, user_id)
    rows = session.scalars(sa.select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.name, ApiToken.id))
    return [_view(row, now_ms) for row in rows]


def revoke_token(session: Session, actor: Actor, user_id: int, token_id: int, *, now_ms: int) -> None:
    """Revoke one token of the user (404 when the user has no token of that id)."""
    owner = _owner(session, actor, user_id)
    row = session.get(ApiToken, token_id) if 0 < token_id <= MAX_ID else None
    if row is None or row.user_id != user_id:
        raise NotFound("API token", token_id)
    _audit(session, actor, AuditAction.TOKEN_REVOKE, owner, row, before=_facts(owner, row), now_ms=now_ms)
    session.delete(row)
    session.flush()


def revoke_named_token(session: Session, actor: Actor, user_id: int, name: str, *, now_ms: int) -> bool:
    """Revoke the user's token of that name; False when there was none."""
    owner = _owner(session, actor, user_id)
    row = session.scalar(sa.select(ApiToken).where(ApiToken.user_id == user_id, ApiToken.name == name))
    if row is None:
        return False
    _audit(session, actor, AuditAction.TOKEN_REVOKE, owner, row, before=_facts(owner, row), now_ms=now_ms)
    session.delete(row)
    session.flush()
    return True


def revoke_all_tokens(session: Session, user_id: int) -> int:
    """Every token of the user stops working (password reset, role change). Returns how many."""
    return changed_rows(session.execute(sa.delete(ApiToken).where(ApiToken.user_id == user_id))) or 0


def count_tokens(session: Session, user_id: int) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(ApiToken).where(ApiToken.user_id == user_id)) or 0


def user_for_token(session: Session, token: str, now_ms: int) -> User | None:
    """The user whose live (unexpired, unrevoked) token this is, or None.

    A locked account (login throttling) does not lock its tokens: scripts keep running during a
    guessing attack on the password."""
    found = live_token(session, token, now_ms)
    return None if found is None else found[1]


def live_token(session: Session, token: str, now_ms: int) -> tuple[ApiToken, User] | None:
    """The live token row and its user (`user_for_token`, with the token's name for the audit trail)."""
    if not isinstance(token, str) or not token.startswith(passwords.API_TOKEN_PREFIX) or len(token) > MAX_TOKEN_LENGTH:
        return None
    row = session.scalar(sa.select(ApiToken).where(ApiToken.token_hash == passwords.api_token_digest(token)))
    if row is None or (row.expires_at_ms and row.expires_at_ms <= now_ms):
        return None
    user = session.get(User, row.user_id)
    return None if user is None else (row, user)
