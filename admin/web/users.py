"""Users (admins: list, create, role, group grants, delete, revoke tokens) and everybody's own
account page (password change, named API tokens: issue with an optional expiry, list, revoke)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth import require_actor, require_admin
from ..auth.sessions import current_session_id, refresh_session_version
from ..enums import UserRole
from ..services import api_tokens, users
from ..services.errors import NotFound, ServiceError
from ..i18n import localize, localize_fields
from ..texts import _t
from . import bp
from .context import admin_ctx, now_ms
from .group_choices import group_choices, parse_group_ids

ROLE_LABELS = {UserRole.ADMIN: _l("Admin"), UserRole.USER: _l("User")}
#: The account page's expiry choices: (form value, label); days, "" for never.
EXPIRY_OPTIONS = [("", _l("Never")), ("30", _l("30 days")), ("90", _l("90 days")), ("365", _l("1 year"))]
DAY_MS = 86_400_000


def _role_options() -> list[tuple[str, str]]:
    return [(role.value, str(ROLE_LABELS[role])) for role in UserRole]


def _expires_at_ms(choice: str, now: int) -> int | None:
    if choice == "":
        return None
    if choice not in {value for value, _label in EXPIRY_OPTIONS}:
        raise ServiceError(_t("token not issued"), field_errors={"expires_in_days": _t("pick one of the offered expiries")})
    return now + int(choice) * DAY_MS


def _list_page(form: dict | None = None, errors: dict | None = None, error: str | None = None, status: int = 200):
    with admin_ctx().db.read_session() as session:
        rows = users.list_users(session, g.actor)
        groups = group_choices(session, g.actor)
    names = dict(groups)
    return (
        render_template(
            "users.html",
            users=rows,
            groups=groups,
            group_names=names,
            roles=_role_options(),
            form=form or {"username": "", "role": UserRole.USER.value, "group_ids": []},
            errors=errors or {},
            error=error,
        ),
        status,
    )


@bp.get("/users")
@require_admin
def users_list():
    return _list_page()


@bp.post("/users")
@require_admin
def user_create():
    form: dict[str, Any] = {
        "username": request.form.get("username", "").strip(),
        "role": request.form.get("role", UserRole.USER.value),
        "group_ids": request.form.getlist("group_ids"),
    }
    try:
        group_ids = parse_group_ids(form["group_ids"])
        with admin_ctx().db.session() as session:
            created = users.create_user(session, g.actor, form["username"], request.form.get("password", ""), form["role"], group_ids, now_ms=now_ms())
    except ServiceError as exc:
        return _list_page(form, localize_fields(exc.field_errors), localize(exc.message), 400)
    flash(_("User %(name)s created.", name=created.username), "success")
    return redirect(url_for("web.users_list"))


@bp.route("/users/<id:user_id>", methods=["GET", "POST"])
@require_admin
def user_edit(user_id: int):
    errors: dict[str, str] = {}
    error = None
    status = 200
    if request.method == "POST":
        action = request.form.get("action")
        try:
            with admin_ctx().db.session() as session:
                if action == "role":
                    users.set_role(session, g.actor, user_id, request.form.get("role", ""), now_ms=now_ms())
                    flash(_("Role changed; the user's open sessions have ended."), "success")
                elif action == "grants":
                    users.set_grants(session, g.actor, user_id, parse_group_ids(request.form.getlist("group_ids")), now_ms=now_ms())
                    flash(_("Group grants saved."), "success")
                elif action == "scripts":
                    users.set_script_grants(session, g.actor, user_id, parse_group_ids(request.form.getlist("script_group_ids"), "script_group_ids"), now_ms=now_ms())
                    flash(_("Script rights saved."), "success")
                elif action == "password":
                    users.change_password(session, g.actor, user_id, request.form.get("new_password", ""), now_ms=now_ms())
                    flash(_("Password reset; the user's open sessions have ended and their API tokens are revoked."), "success")
                elif action == "revoke_token":
                    api_tokens.revoke_token(session, g.actor, user_id, _token_id(request.form.get("token_id", "")), now_ms=now_ms())
                    flash(_("API token revoked."), "success")
                elif action == "delete":
                    users.delete_user(session, g.actor, user_id, now_ms=now_ms())
                    flash(_("User deleted."), "success")
                    return redirect(url_for("web.users_list"))
                else:
                    abort(400, description="unknown action")
            return redirect(url_for("web.user_edit", user_id=user_id))
        except NotFound:
            abort(404)
        except ServiceError as exc:
            errors, error, status = localize_fields(exc.field_errors), localize(exc.message), 400
    with admin_ctx().db.read_session() as session:
        try:
            user = users.get_user(session, g.actor, user_id)
        except NotFound:
            abort(404)
        groups = group_choices(session, g.actor)
        tokens = api_tokens.list_tokens(session, g.actor, user_id, now_ms=now_ms())
    return render_template("user_edit.html", user=user, groups=groups, roles=_role_options(), tokens=tokens, errors=errors, error=error), status


def _token_id(raw: str) -> int:
    if not raw.isascii() or not raw.isdigit() or len(raw) > 18:
        raise NotFound("API token", raw[:20])
    return int(raw)


@bp.route("/account", methods=["GET", "POST"])
@require_actor
def account():
    errors: dict[str, str] = {}
    error = None
    new_token = None
    token_form = {"token_name": "", "expires_in_days": ""}
    status = 200
    actor = g.actor
    if request.method == "POST":
        action = request.form.get("action")
        try:
            with admin_ctx().db.session() as session:
                if action == "password":
                    users.change_password(
                        session,
                        actor,
                        actor.own_user_id,
                        request.form.get("new_password", ""),
                        current_password=request.form.get("current_password", ""),
                        now_ms=now_ms(),
                        keep_session_id=current_session_id(),
                    )
                    version = users.session_version(session, actor.own_user_id)
                elif action == "issue_token":
                    now = now_ms()
                    token_form = {"token_name": request.form.get("token_name", "").strip(), "expires_in_days": request.form.get("expires_in_days", "")}
                    expires = _expires_at_ms(token_form["expires_in_days"], now)
                    _view, new_token = api_tokens.issue_token(session, actor, actor.own_user_id, token_form["token_name"], expires_at_ms=expires, now_ms=now)
                elif action == "revoke_token":
                    api_tokens.revoke_token(session, actor, actor.own_user_id, _token_id(request.form.get("token_id", "")), now_ms=now_ms())
                else:
                    abort(400, description="unknown action")
            if action == "password":
                # Every other session of this user has ended; this browser stays logged in.
                if version is not None:  # None: the account was deleted meanwhile
                    refresh_session_version(version)
                flash(_("Password changed. Your other sessions have ended and your API tokens are revoked."), "success")
                return redirect(url_for("web.account"))
            if action == "revoke_token":
                flash(_("API token revoked."), "success")
                return redirect(url_for("web.account"))
        except NotFound as exc:
            errors, error, status = {}, localize(exc.message), 404
        except ServiceError as exc:
            # The token's `name` is the form's `token_name` (the page has other names).
            errors = {("token_name" if field == "name" and action == "issue_token" else field): text for field, text in localize_fields(exc.field_errors).items()}
            error, status = localize(exc.message), exc.status if exc.status in (400, 409) else 400
    with admin_ctx().db.read_session() as session:
        me = users.get_user(session, actor, actor.own_user_id)
        tokens = api_tokens.list_tokens(session, actor, actor.own_user_id, now_ms=now_ms())
    return (
        render_template(
            "account.html", me=me, tokens=tokens, expiry_options=[(value, str(label)) for value, label in EXPIRY_OPTIONS],
            token_form=token_form, errors=errors, error=error, new_token=new_token,
        ),
        status,
    )
