"""Users (admins: list, create, role, group grants, delete) and everybody's own account page
(password change, API token issue/revoke)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for

from ..auth import require_actor, require_admin
from ..auth.sessions import refresh_session_version
from ..enums import UserRole
from ..services import users
from ..services.errors import NotFound, ServiceError
from . import bp
from .context import admin_ctx, now_ms
from .group_choices import group_choices, parse_group_ids

ROLE_OPTIONS = [(role.value, role.value.title()) for role in UserRole]


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
            roles=ROLE_OPTIONS,
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
    form = {
        "username": request.form.get("username", "").strip(),
        "role": request.form.get("role", UserRole.USER.value),
        "group_ids": request.form.getlist("group_ids"),
    }
    try:
        group_ids = parse_group_ids(form["group_ids"])
        with admin_ctx().db.session() as session:
            created = users.create_user(session, g.actor, form["username"], request.form.get("password", ""), form["role"], group_ids, now_ms=now_ms())
    except ServiceError as exc:
        return _list_page(form, exc.field_errors, exc.message, 400)
    flash(f"User {created.username} created.", "success")
    return redirect(url_for("web.users_list"))


@bp.route("/users/<int:user_id>", methods=["GET", "POST"])
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
                    flash("Role changed; the user's open sessions have ended.", "success")
                elif action == "grants":
                    users.set_grants(session, g.actor, user_id, parse_group_ids(request.form.getlist("group_ids")), now_ms=now_ms())
                    flash("Group grants saved.", "success")
                elif action == "password":
                    users.change_password(session, g.actor, user_id, request.form.get("new_password", ""), now_ms=now_ms())
                    flash("Password reset; the user's open sessions have ended.", "success")
                elif action == "delete":
                    users.delete_user(session, g.actor, user_id)
                    flash("User deleted.", "success")
                    return redirect(url_for("web.users_list"))
                else:
                    abort(400, description="unknown action")
            return redirect(url_for("web.user_edit", user_id=user_id))
        except NotFound:
            abort(404)
        except ServiceError as exc:
            errors, error, status = exc.field_errors, exc.message, 400
    with admin_ctx().db.read_session() as session:
        try:
            user = users.get_user(session, g.actor, user_id)
        except NotFound:
            abort(404)
        groups = group_choices(session, g.actor)
    return render_template("user_edit.html", user=user, groups=groups, roles=ROLE_OPTIONS, errors=errors, error=error), status


@bp.route("/account", methods=["GET", "POST"])
@require_actor
def account():
    errors: dict[str, str] = {}
    error = None
    new_token = None
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
                        actor.user_id,
                        request.form.get("new_password", ""),
                        current_password=request.form.get("current_password", ""),
                        now_ms=now_ms(),
                    )
                    version = users.session_version(session, actor.user_id)
                elif action == "issue_token":
                    new_token = users.issue_api_token(session, actor, actor.user_id, now_ms=now_ms())
                elif action == "revoke_token":
                    users.revoke_api_token(session, actor, actor.user_id, now_ms=now_ms())
                else:
                    abort(400, description="unknown action")
            if action == "password":
                # Every other session of this user has ended; this browser stays logged in.
                refresh_session_version(version)
                flash("Password changed. Your other sessions have ended.", "success")
                return redirect(url_for("web.account"))
            if action == "revoke_token":
                flash("API token revoked.", "success")
                return redirect(url_for("web.account"))
        except ServiceError as exc:
            errors, error, status = exc.field_errors, exc.message, 400
    with admin_ctx().db.read_session() as session:
        me = users.get_user(session, actor, actor.user_id)
    return render_template("account.html", me=me, errors=errors, error=error, new_token=new_token), status
