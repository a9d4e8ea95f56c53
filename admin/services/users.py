"""Users, passwords, group grants, login throttling and API tokens.

Roles: an ADMIN acts on everything and manages users; a USER sees and acts only on the groups
granted to them. There is no built-in user: the first admin comes from `shardcron user create
--admin` (the system actor) or from the console's one-time setup page, which calls
`create_user(actor=None, ...)` — allowed only while no user exists.

Every function runs inside the caller's session/transaction. `authenticate` writes the failure
counter even when the login fails, so its caller must commit in both cases (it returns None
rather than raising for exactly that reason).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from ..enums import UserRole
from ..models import ExecutorGroup, Meta, User, UserGroupGrant
from . import passwords
from .actor import Actor
from .errors import Conflict, FieldErrors, Forbidden, NotFound, ServiceError

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 10
#: Longer "passwords" are someone testing how long our KDF takes, not a password.
MAX_PASSWORD_LENGTH = 1024
#: Defaults of the config settings login_max_failures / login_lockout_s.
DEFAULT_MAX_FAILURES = 5
DEFAULT_LOCKOUT_S = 300
#: What a failed login says, whatever the reason (unknown name, wrong password, locked account),
#: so that the answer does not tell which names exist.
LOGIN_FAILED_MESSAGE = "wrong username or password (after repeated failures an account is locked for a few minutes)"
#: A sc_meta row written in the same transaction as the first admin made by the setup page: two
#: setup requests racing each other cannot both succeed.
_SETUP_MARKER = "first_user_created"


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: UserRole
    group_ids: list[int]
    has_api_token: bool
    locked_until_ms: int
    created_at_ms: int
    updated_at_ms: int


def _view(user: User) -> UserView:
    return UserView(
        id=user.id,
        username=user.username,
        role=UserRole(user.role),
        group_ids=sorted(grant.group_id for grant in user.grants),
        has_api_token=user.api_token_hash is not None,
        locked_until_ms=user.locked_until_ms,
        created_at_ms=user.created_at_ms,
        updated_at_ms=user.updated_at_ms,
    )


def _actor(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=UserRole(user.role),
        group_ids=frozenset(grant.group_id for grant in user.grants),
    )


def _require_admin(actor: Actor | None, what: str) -> None:
    if actor is None or not actor.is_admin:
        raise Forbidden(f"only an admin may {what}")


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def check_password_rules(password: object, username: str | None, errors: FieldErrors, field: str = "password") -> None:
    if not isinstance(password, str):
        errors.add(field, "a password is required")
    elif len(password) < MIN_PASSWORD_LENGTH:
        errors.add(field, f"must be at least {MIN_PASSWORD_LENGTH} characters long")
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add(field, f"must be at most {MAX_PASSWORD_LENGTH} characters long")
    elif not password.strip():
        errors.add(field, "must not be only spaces")
    elif username and password.casefold() == username.casefold():
        errors.add(field, "must not be the username")


def _check_group_ids(session: Session, group_ids: object, errors: FieldErrors) -> list[int]:
    if group_ids is None:
        return []
    if not isinstance(group_ids, (list, tuple, set, frozenset)) or not all(isinstance(g, int) and not isinstance(g, bool) for g in group_ids):
        errors.add("group_ids", "must be a list of group ids")
        return []
    wanted = sorted(set(group_ids))
    if wanted:
        found = set(session.scalars(sa.select(ExecutorGroup.id).where(ExecutorGroup.id.in_(wanted))))
        missing = [g for g in wanted if g not in found]
        if missing:
            errors.add("group_ids", f"no such group: {', '.join(map(str, missing))}")
    return wanted


def count_users(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User)) or 0


def _count_admins(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User).where(User.role == UserRole.ADMIN)) or 0


def create_user(
    session: Session,
    actor: Actor | None,
    username: str,
    password: str,
    role: UserRole | str,
    group_ids: Iterable[int] | None = None,
    *,
    now_ms: int,
) -> UserView:
    """Create a user. `actor=None` is the one-time setup: allowed only while no user exists, and
    only for an ADMIN."""
    if actor is not None:
        _require_admin(actor, "create users")
    elif count_users(session):
        raise Forbidden("setup is over: a user exists already; an admin creates further users")
    errors = FieldErrors()
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        errors.add("username", "1-64 characters: letters, digits and . _ @ - (starting with a letter or digit)")
    try:
        role = UserRole(role)
    except ValueError:
        errors.add("role", f"must be one of {', '.join(r.value for r in UserRole)}")
    if actor is None and role != UserRole.ADMIN and "role" not in errors:
        errors.add("role", "the first user must be an ADMIN")
    check_password_rules(password, username if isinstance(username, str) else None, errors)
    grants = _check_group_ids(session, list(group_ids) if group_ids is not None else None, errors)
    if "username" not in errors and session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        errors.add("username", f"{username!r} is taken")
    errors.raise_if_any("user not created")
    user = User(
        username=username,
        password_hash=passwords.hash_password(password),
        role=role,
        created_at_ms=now_ms,
        updated_at_ms=now_ms,
    )
    user.grants = [UserGroupGrant(group_id=g) for g in grants]
    try:
        with session.begin_nested():
            session.add(user)
            if actor is None:
                session.add(Meta(name=_SETUP_MARKER, value=username))
            session.flush()
    except IntegrityError:
        raise Conflict(f"user {username!r} not created: the name was taken, or setup was completed, a moment ago") from None
    return _view(user)


def get_user(session: Session, actor: Actor, user_id: int) -> UserView:
    if not actor.is_admin and actor.user_id != user_id:
        raise NotFound("user", user_id)
    return _view(_get(session, user_id))


def list_users(session: Session, actor: Actor) -> list[UserView]:
    _require_admin(actor, "list users")
    return [_view(u) for u in session.scalars(sa.select(User).order_by(User.username))]


def set_grants(session: Session, actor: Actor, user_id: int, group_ids: Iterable[int], *, now_ms: int) -> UserView:
    _require_admin(actor, "grant groups")
    user = _get(session, user_id)
    errors = FieldErrors()
    wanted = _check_group_ids(session, list(group_ids), errors)
    errors.raise_if_any("grants not changed", object_id=user_id)
    user.grants = [grant for grant in user.grants if grant.group_id in wanted]
    have = {grant.group_id for grant in user.grants}
    user.grants.extend(UserGroupGrant(group_id=g) for g in wanted if g not in have)
    user.updated_at_ms = now_ms
    session.flush()
    return _view(user)


def set_role(session: Session, actor: Actor, user_id: int, role: UserRole | str, *, now_ms: int) -> UserView:
    _require_admin(actor, "change roles")
    user = _get(session, user_id)
    try:
        role = UserRole(role)
    except ValueError:
        raise ServiceError("role not changed", field_errors={"role": f"must be one of {', '.join(r.value for r in UserRole)}"}, object_id=user_id) from None
    if user.role == UserRole.ADMIN and role != UserRole.ADMIN and _count_admins(session) <= 1:
        raise Conflict(f"user {user.username!r} is the last admin; make another user admin first", object_id=user_id)
    user.role = role
    user.session_version += 1  # a demoted admin's open sessions must not keep admin rights
    user.updated_at_ms = now_ms
    session.flush()
    return _view(user)


def delete_user(session: Session, actor: Actor, user_id: int) -> None:
    _require_admin(actor, "delete users")
    user = _get(session, user_id)
    if user.role == UserRole.ADMIN and _count_admins(session) <= 1:
        raise Conflict(f"user {user.username!r} is the last admin and cannot be deleted", object_id=user_id)
    session.delete(user)
    session.flush()


def change_password(
    session: Session,
    actor: Actor,
    user_id: int,
    new_password: str,
    *,
    current_password: str | None = None,
    now_ms: int,
) -> None:
    """Set a new password. A user changing their own password must give the current one; an admin
    may reset anyone else's. Open sessions of the user end (session_version is bumped)."""
    own = actor.user_id == user_id
    if not own:
        if not actor.is_admin:
            raise NotFound("user", user_id)
    user = _get(session, user_id)
    errors = FieldErrors()
    if own and not (isinstance(current_password, str) and passwords.verify_password(current_password, user.password_hash)):
        errors.add("current_password", "is not your current password")
    check_password_rules(new_password, user.username, errors, field="new_password")
    errors.raise_if_any("password not changed", object_id=user_id)
    user.password_hash = passwords.hash_password(new_password)
    user.session_version += 1
    user.failed_logins = 0
    user.locked_until_ms = 0
    user.updated_at_ms = now_ms
    session.flush()


def authenticate(
    session: Session,
    username: str,
    password: str,
    now_ms: int,
    *,
    max_failures: int = DEFAULT_MAX_FAILURES,
    lockout_s: int = DEFAULT_LOCKOUT_S,
) -> Actor | None:
    """The actor for a correct username and password, else None (say LOGIN_FAILED_MESSAGE).

    `max_failures` wrong passwords in a row lock the account for `lockout_s`; a locked account
    refuses even the right password until then. Unknown names cost the same scrypt work as known
    ones. Commit the session whatever the answer: the failure counter lives in it.
    """
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH or not isinstance(username, str):
        return None
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        passwords.burn_password_work(password)
        return None
    if user.locked_until_ms > now_ms:
        passwords.burn_password_work(password)
        return None
    if not passwords.verify_password(password, user.password_hash):
        # One atomic UPDATE, so parallel guesses all count.
        session.execute(sa.update(User).where(User.id == user.id).values(failed_logins=User.failed_logins + 1))
        session.refresh(user, ["failed_logins"])
        if user.failed_logins >= max_failures:
            user.locked_until_ms = now_ms + lockout_s * 1000
            user.failed_logins = 0
        session.flush()
        return None
    user.failed_logins = 0
    user.locked_until_ms = 0
    if passwords.needs_rehash(user.password_hash):
        user.password_hash = passwords.hash_password(password)
    session.flush()
    return _actor(user)


def actor_for_user(session: Session, user_id: int) -> Actor | None:
    user = session.get(User, user_id)
    return None if user is None else _actor(user)


def session_version(session: Session, user_id: int) -> int | None:
    """The user's current session version (None for a deleted user): a console session that
    carries an older one is over (password changed, role changed)."""
    return session.scalar(sa.select(User.session_version).where(User.id == user_id))


def issue_api_token(session: Session, actor: Actor, user_id: int, *, now_ms: int) -> str:
    """A new API token for the user, replacing any earlier one. It is returned once and only its
    SHA-256 is stored. Users issue their own; admins may issue anyone's."""
    if actor.user_id != user_id and not actor.is_admin:
        raise NotFound("user", user_id)
    user = _get(session, user_id)
    token = passwords.new_api_token()
    user.api_token_hash = passwords.api_token_digest(token)
    user.updated_at_ms = now_ms
    session.flush()
    return token


def revoke_api_token(session: Session, actor: Actor, user_id: int, *, now_ms: int) -> None:
    if actor.user_id != user_id and not actor.is_admin:
        raise NotFound("user", user_id)
    user = _get(session, user_id)
    user.api_token_hash = None
    user.updated_at_ms = now_ms
    session.flush()


def actor_for_token(session: Session, token: str, now_ms: int) -> Actor | None:
    """The actor whose API token this is, or None. Tokens last until revoked or replaced, so
    `now_ms` decides nothing today; it keeps this call shaped like `authenticate`. A locked
    account (login throttling) does not lock its token: scripts keep running during a guessing
    attack on the password."""
    if not isinstance(token, str) or not token.startswith(passwords.API_TOKEN_PREFIX) or len(token) > 200:
        return None
    user = session.scalar(sa.select(User).where(User.api_token_hash == passwords.api_token_digest(token)))
    return None if user is None else _actor(user)
