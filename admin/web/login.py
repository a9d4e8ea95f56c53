"""Login, logout and the one-time setup page (shown only while no user exists)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for

from ..auth import current_actor, end_session, start_session
from ..auth.csrf import check_csrf
from ..enums import UserRole
from ..services import users
from ..services.errors import ServiceError
from . import bp
from .context import admin_ctx, now_ms, safe_next


def _no_user_yet() -> bool:
    with admin_ctx().db.read_session() as session:
        return users.count_users(session) == 0


@bp.route("/login", methods=["GET", "POST"])
def login():
    if _no_user_yet():
        return redirect(url_for("web.setup"))
    target = safe_next(request.values.get("next"), url_for("web.dashboard"))
    if request.method == "GET":
        if current_actor() is not None:
            return redirect(target)
        return render_template("login.html", next=target, username="")
    check_csrf()
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    ctx = admin_ctx()
    # authenticate() records failures in the session, so this transaction commits either way.
    with ctx.db.session() as session:
        actor = users.authenticate(
            session,
            username,
            password,
            ctx.clock.now_ms(),
            max_failures=ctx.config.login_max_failures,
            lockout_s=ctx.config.login_lockout_s,
        )
        version = users.session_version(session, actor.user_id) if actor else None
    if actor is None or version is None:
        return render_template("login.html", next=target, username=username, error=users.LOGIN_FAILED_MESSAGE), 401
    start_session(actor, version)
    return redirect(target)


@bp.post("/logout")
def logout():
    check_csrf()
    end_session()
    flash("You are logged out.", "info")
    return redirect(url_for("web.login"))


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if request.method == "POST":
        check_csrf()
    if not _no_user_yet():
        abort(404)
    if request.method == "GET":
        return render_template("setup.html", username="", errors={})
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    errors: dict[str, str] = {}
    if password != request.form.get("password_again", ""):
        errors["password_again"] = "the two passwords differ"
    try:
        if errors:
            raise ServiceError("first admin not created", field_errors=errors)
        with admin_ctx().db.session() as session:
            users.create_user(session, None, username, password, UserRole.ADMIN, now_ms=now_ms())
    except ServiceError as exc:
        if exc.status == 403:  # someone completed setup a moment ago
            abort(404)
        return render_template("setup.html", username=username, errors=exc.field_errors, error=exc.message), 400
    flash(f"Admin {username} created. Log in to continue.", "success")
    return redirect(url_for("web.login"))
