"""Users, passwords, group grants and the checks of a login or an API token.

Roles: an ADMIN acts on everything and manages users; a USER sees and acts only on the groups
granted to them. There is no built-in user: the first admin comes from `shardcron user create
--admin` (the system actor) or from the console's one-time setup page, which calls
`create_user(actor=None, ...)` — allowed only while no user exists.

Every function runs inside the caller's session/transaction. Login throttling lives in
`login_throttle` (per account and address), API tokens in `api_tokens`, console sessions in
`console_sessions`; a password or role change here ends the user's sessions and tokens.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from ..enums import ActorKind, AuditAction, AuditTarget, UserRole
from ..models import ExecutorGroup, Meta, User, UserGroupGrant
from . import api_tokens, audit, console_sessions, passwords
from .actor import Actor, setup_actor
from ..texts import Text, _t
from .errors import Conflict, FieldErrors, Forbidden, NotFound, ServiceError
from .numbers import parse_id_list

USERNAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}")
MIN_PASSWORD_LENGTH = 10
#: Longer "passwords" are someone testing how long our KDF takes, not a password.
MAX_PASSWORD_LENGTH = 1024
#: What a failed login says, whatever the reason (unknown name, wrong password), so that the
#: answer does not tell which names exist.
LOGIN_FAILED_MESSAGE = "wrong username or password (repeated failures make further attempts from your address wait)"
#: A sc_meta row written in the same transaction as the first admin made by the setup page: two
#: setup requests racing each other cannot both succeed.
_SETUP_MARKER = "first_user_created"
#: sc_meta rows named with this prefix hold SHA-256 digests of live first-run setup codes
#: (`setup_code`); creating the first user deletes them.
SETUP_CODE_PREFIX = "setup_code:"


@dataclass(frozen=True)
class UserView:
    id: int
    username: str
    role: UserRole
    group_ids: list[int]
    #: Granted groups whose script jobs this user may write (an admin may in every group).
    script_group_ids: list[int]
    has_api_token: bool
    created_at_ms: int
    updated_at_ms: int


def _view(user: User) -> UserView:
    session = object_session(user)
    return UserView(
        id=user.id,
        username=user.username,
        role=UserRole(user.role),
        group_ids=sorted(grant.group_id for grant in user.grants),
        script_group_ids=sorted(grant.group_id for grant in user.grants if grant.may_run_scripts),
        has_api_token=session is not None and api_tokens.count_tokens(session, user.id) > 0,
        created_at_ms=user.created_at_ms,
        updated_at_ms=user.updated_at_ms,
    )


def _actor(user: User) -> Actor:
    return Actor(
        user_id=user.id,
        username=user.username,
        role=UserRole(user.role),
        group_ids=frozenset(grant.group_id for grant in user.grants),
        script_group_ids=frozenset(grant.group_id for grant in user.grants if grant.may_run_scripts),
    )


def _audit(session: Session, actor: Actor, action: AuditAction, user: User, *, now_ms: int, **values: Any) -> None:
    audit.record(session, actor, action, AuditTarget.USER, target_id=user.id, target_name=user.username, now_ms=now_ms, **values)


def _require_admin(actor: Actor | None, refusal: Text) -> None:
    if actor is None or not actor.is_admin:
        raise Forbidden(refusal)


def _get(session: Session, user_id: int) -> User:
    user = session.get(User, user_id)
    if user is None:
        raise NotFound("user", user_id)
    return user


def check_password_rules(password: object, username: str | None, errors: FieldErrors, field: str = "password") -> None:
    if not isinstance(password, str):
        errors.add(field, _t("a password is required"))
    elif len(password) < MIN_PASSWORD_LENGTH:
        errors.add(field, _t("must be at least %(min)s characters long", min=MIN_PASSWORD_LENGTH))
    elif len(password) > MAX_PASSWORD_LENGTH:
        errors.add(field, _t("must be at most %(max)s characters long", max=MAX_PASSWORD_LENGTH))
    elif not password.strip():
        errors.add(field, _t("must not be only spaces"))
    elif username and password.casefold() == username.casefold():
        errors.add(field, _t("must not be the username"))


def _listed(group_ids: object) -> object:
    """A generator of ids as a list; anything else (a JSON number, text, an object) as it came,
    for `_check_group_ids` to refuse by name rather than fail on `list(5)`."""
    if isinstance(group_ids, Iterable) and not isinstance(group_ids, (str, bytes, dict, list, tuple, set, frozenset)):
        return list(group_ids)
    return group_ids


def _check_group_ids(session: Session, group_ids: object, errors: FieldErrors) -> list[int]:
    if group_ids is None:
        return []
    # Ids beyond 64 bits are no group's id (and no database's integer).
    if not isinstance(group_ids, (list, tuple, set, frozenset)) or not all(isinstance(g, int) and not isinstance(g, bool) and 0 < g < 2**63 for g in group_ids):
        errors.add("group_ids", _t("must be a list of group ids"))
        return []
    wanted = sorted(set(parse_id_list(errors, "group_ids", group_ids)))
    if wanted:
        found = set(session.scalars(sa.select(ExecutorGroup.id).where(ExecutorGroup.id.in_(wanted))))
        missing = [g for g in wanted if g not in found]
        if missing:
            errors.add("group_ids", _t("no such group: %(ids)s", ids=", ".join(map(str, missing))))
    return wanted


def count_users(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User)) or 0


def _count_admins(session: Session) -> int:
    return session.scalar(sa.select(sa.func.count()).select_from(User).where(User.role == UserRole.ADMIN)) or 0


def create_user(
    session: Session,
    actor: Actor | None,
    username: object,  # as the request gave them: checked here
    password: object,
    role: object,
    group_ids: Iterable[int] | None = None,
    *,
    now_ms: int,
) -> UserView:
    """Create a user. `actor=None` (or the setup page's `setup_actor`) is the one-time setup:
    allowed only while no user exists, and only for an ADMIN."""
    if actor is not None and actor.kind is ActorKind.SETUP:
        setup = actor
        actor = None
    else:
        setup = setup_actor(None)
    if actor is not None:
        _require_admin(actor, _t("only an admin may create users"))
    elif count_users(session):
        raise Forbidden(_t("setup is over: a user exists already; an admin creates further users"))
    first = count_users(session) == 0
    errors = FieldErrors()
    if not isinstance(username, str) or not USERNAME_RE.fullmatch(username):
        errors.add("username", _t("1-64 characters: letters, digits and . _ @ - (starting with a letter or digit)"))
    checked_role = UserRole(role) if isinstance(role, str) and role in {r.value for r in UserRole} else None
    if checked_role is None:
        errors.add("role", _t("must be one of %(values)s", values=", ".join(r.value for r in UserRole)))
    elif actor is None and checked_role != UserRole.ADMIN:
        errors.add("role", _t("the first user must be an ADMIN"))
    check_password_rules(password, username if isinstance(username, str) else None, errors)
    grants = _check_group_ids(session, _listed(group_ids), errors)
    if "username" not in errors and session.scalar(sa.select(User.id).where(User.username == username)) is not None:
        errors.add("username", _t("%(name)s is taken", name=repr(username)))
    errors.raise_if_any(_t("user not created"))
    assert isinstance(username, str) and isinstance(password, str) and checked_role is not None  # checked above
    user = User(
        username=username,
        password_hash=passwords.hash_password(password),
        role=checked_role,
        created_at_ms=now_ms,
        updated_at_ms=now_ms,
    )
    user.grants = [UserGroupGrant(group_id=g) for g in grants]
    try:
        with session.begin_nested():
            session.add(user)
            if actor is None:
                session.add(Meta(name=_SETUP_MARKER, value=username))
            if first:  # the first-run setup codes die with the first user, however it was made
                session.execute(sa.delete(Meta).where(Meta.name.startswith(SETUP_CODE_PREFIX, autoescape=True)))
            session.flush()
    except IntegrityError:
        raise Conflict(_t("user %(name)s not created: the name was taken, or setup was completed, a moment ago", name=repr(username))) from None
    _audit(session, actor or setup, AuditAction.USER_CREATE, user, after={"username": user.username, "role": checked_role, "group_ids": grants}, now_ms=now_ms)
    return _view(user)


def get_user(session: Session, actor: Actor, user_id: int) -> UserView:
    if not actor.is_admin and actor.user_id != user_id:
        raise NotFound("user", user_id)
    return _view(_get(session, user_id))


def list_users(session: Session, actor: Actor) -> list[UserView]:
    _require_admin(actor, _t("only an admin may list users"))
    return [_view(u) for u in session.scalars(sa.select(User).order_by(User.username))]


def set_grants(session: Session, actor: Actor, user_id: int, group_ids: Iterable[int], *, now_ms: int) -> UserView:
    _require_admin(actor, _t("only an admin may grant groups"))
    user = _get(session, user_id)
    errors = FieldErrors()
    wanted = _check_group_ids(session, _listed(group_ids), errors)
    errors.raise_if_any(_t("grants not changed"), object_id=user_id)
    before = sorted(grant.group_id for grant in user.grants)
    # A kept grant keeps its script right; a removed one loses it with it.
    user.grants = [grant for grant in user.grants if grant.group_id in wanted]
    have = {grant.group_id for grant in user.grants}
    user.grants.extend(UserGroupGrant(group_id=g, may_run_scripts=False) for g in wanted if g not in have)
    user.updated_at_ms = now_ms
    session.flush()
    if before != wanted:
        _audit(session, actor, AuditAction.GRANT_CHANGE, user, before={"group_ids": before}, after={"group_ids": wanted}, now_ms=now_ms)
    return _view(user)


def set_script_grants(session: Session, actor: Actor, user_id: int, group_ids: Iterable[int], *, now_ms: int) -> UserView:
    """Set the groups whose script jobs the user may write: each must be one the user is granted.
    Admins only; an admin user writes scripts everywhere whatever is stored here."""
    _require_admin(actor, _t("only an admin may grant the right to run scripts"))
    user = _get(session, user_id)
    errors = FieldErrors()
    wanted = _check_group_ids(session, list(group_ids), errors)
    granted = {grant.group_id for grant in user.grants}
    outside = [g for g in wanted if g not in granted]
    if outside and "script_group_ids" not in errors and "group_ids" not in errors:
        errors.add("script_group_ids", _t("not granted to %(name)s: %(ids)s; grant the group first", name=user.username, ids=", ".join(map(str, outside))))
    if "group_ids" in errors:
        errors.add("script_group_ids", errors.errors.pop("group_ids"))
    errors.raise_if_any(_t("script rights not changed"), object_id=user_id)
    before = sorted(grant.group_id for grant in user.grants if grant.may_run_scripts)
    for grant in user.grants:
        grant.may_run_scripts = grant.group_id in wanted
    user.updated_at_ms = now_ms
    session.flush()
    if before != wanted:
        _audit(session, actor, AuditAction.SCRIPT_GRANT_CHANGE, user, before={"script_group_ids": before}, after={"script_group_ids": wanted}, now_ms=now_ms)
    return _view(user)


def set_role(session: Session, actor: Actor, user_id: int, role: UserRole | str, *, now_ms: int) -> UserView:
    _require_admin(actor, _t("only an admin may change roles"))
    user = _get(session, user_id)
    try:
        role = UserRole(role)
    except ValueError:
        raise ServiceError(
            _t("role not changed"), field_errors={"role": _t("must be one of %(values)s", values=", ".join(r.value for r in UserRole))}, object_id=user_id
        ) from None
    if user.role == UserRole.ADMIN and role != UserRole.ADMIN and _count_admins(session) <= 1:
        raise Conflict(_t("user %(name)s is the last admin; make another user admin first", name=repr(user.username)), object_id=user_id)
    before = UserRole(user.role)
    user.role = role
    # A demoted admin's open sessions and scripts must not keep admin rights (a promoted user's
    # old tokens must not gain them unnoticed either): all of them end.
    user.session_version += 1
    console_sessions.close_user_sessions(session, user.id)
    revoked = api_tokens.revoke_all_tokens(session, user.id)
    user.updated_at_ms = now_ms
    session.flush()
    if before != role:
        _audit(session, actor, AuditAction.USER_ROLE, user, before={"role": before}, after={"role": role, "tokens_revoked": revoked}, now_ms=now_ms)
    return _view(user)


def delete_user(session: Session, actor: Actor, user_id: int, *, now_ms: int) -> None:
    _require_admin(actor, _t("only an admin may delete users"))
    user = _get(session, user_id)
    if user.role == UserRole.ADMIN and _count_admins(session) <= 1:
        raise Conflict(_t("user %(name)s is the last admin and cannot be deleted", name=repr(user.username)), object_id=user_id)
    view = _view(user)
    before = {"username": user.username, "role": view.role, "group_ids": view.group_ids, "script_group_ids": view.script_group_ids}
    _audit(session, actor, AuditAction.USER_DELETE, user, before=before, now_ms=now_ms)
    session.delete(user)
    session.flush()


def change_password(
    session: Session,
    actor: Actor,
    user_id: int,
    new_password: object,  # as the request gave them: checked here
    *,
    current_password: object = None,
    now_ms: int,
    keep_session_id: str | None = None,
) -> None:
    """Set a new password. A user changing their own password must give the current one; an admin
    may reset anyone else's. Every API token of the user is revoked and every console session
    ends, but `keep_session_id` (the browser of a user changing their own password)."""
    own = actor.user_id == user_id
    if not own:
        if not actor.is_admin:
            raise NotFound("user", user_id)
    user = _get(session, user_id)
    errors = FieldErrors()
    if own and not (isinstance(current_password, str) and passwords.verify_password(current_password, user.password_hash)):
        errors.add("current_password", _t("is not your current password"))
    check_password_rules(new_password, user.username, errors, field="new_password")
    errors.raise_if_any(_t("password not changed"), object_id=user_id)
    assert isinstance(new_password, str)  # checked above
    user.password_hash = passwords.hash_password(new_password)
    user.session_version += 1
    console_sessions.close_user_sessions(session, user.id, keep_session_id=keep_session_id if own else None)
    revoked = api_tokens.revoke_all_tokens(session, user.id)
    user.updated_at_ms = now_ms
    session.flush()
    # Only that it happened: the password (and its hash) never reach the trail.
    action = AuditAction.USER_PASSWORD_CHANGE if own else AuditAction.USER_PASSWORD_RESET
    _audit(session, actor, action, user, after={"other_sessions_ended": True, "tokens_revoked": revoked}, now_ms=now_ms)


def authenticate(session: Session, username: str, password: str, now_ms: int) -> Actor | None:
    """The actor for a correct username and password, else None (say LOGIN_FAILED_MESSAGE).

    Only the credentials are checked here; the login page throttles attempts around this call
    (`login_throttle`). Unknown names cost the same scrypt work as known ones. `now_ms` is the
    instant of the attempt (kept for the callers' symmetry with `actor_for_token`).
    """
    if not isinstance(password, str) or len(password) > MAX_PASSWORD_LENGTH or not isinstance(username, str):
        return None
    user = session.scalar(sa.select(User).where(User.username == username))
    if user is None:
        passwords.burn_password_work(password)
        return None
    if not passwords.verify_password(password, user.password_hash):
        return None
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
    """A new token named "default" for the user, replacing an earlier one of that name; returned
    once (only its SHA-256 is stored). Users issue their own; admins may issue anyone's."""
    _, token = api_tokens.issue_token(session, actor, user_id, api_tokens.DEFAULT_TOKEN_NAME, now_ms=now_ms, replace=True)
    return token


def revoke_api_token(session: Session, actor: Actor, user_id: int, *, now_ms: int) -> None:
    """Revoke the user's token named "default" (if any)."""
    api_tokens.revoke_named_token(session, actor, user_id, api_tokens.DEFAULT_TOKEN_NAME, now_ms=now_ms)


def actor_for_token(session: Session, token: str, now_ms: int) -> Actor | None:
    """The actor whose live API token this is, or None (unknown, revoked or expired); it names
    the token (what the audit trail records)."""
    found = api_tokens.live_token(session, token, now_ms)
    if found is None:
        return None
    row, user = found
    return replace(_actor(user), kind=ActorKind.API_TOKEN, token_name=row.name)
