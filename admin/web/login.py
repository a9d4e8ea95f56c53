"""Login, logout and the one-time setup page (shown only while no user exists)."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l

from ..auth import current_actor, logout as end_server_session, start_session
from ..auth.csrf import check_csrf
from ..enums import UserRole
from ..services import console_sessions, login_throttle, setup_code, users
from ..services.actor import setup_actor
from ..services.errors import Forbidden, ServiceError
from ..i18n import localize, localize_fields
from ..texts import Text, _t
from . import bp
from .context import admin_ctx, now_ms, safe_next

#: users.LOGIN_FAILED_MESSAGE, in the page's language.
LOGIN_FAILED = _l("wrong username or password (repeated failures make further attempts from your address wait)")


def _no_user_yet() -> bool:
    with admin_ctx().db.read_session() as session:
        return users.count_users(session) == 0


def _client_address() -> str:
    # The peer address: behind a reverse proxy that is the proxy's (docs/security.md).
    return request.remote_addr or ""


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
    policy = login_throttle.ThrottlePolicy(free_failures=ctx.config.login_max_failures, max_delay_s=ctx.config.login_lockout_s)
    address = _client_address()
    now = ctx.clock.now_ms()
    actor = session_id = version = None
    # Failures are recorded in this transaction, so it commits whatever the answer.
    with ctx.db.session() as session:
        wait = login_throttle.wait_ms(session, username, address, now, policy)
        if not wait:
            actor = users.authenticate(session, username, password, now)
            if actor is None:
                login_throttle.record_failure(session, username, address, now, policy)
            else:
                login_throttle.record_success(session, username, address, policy)
                version = users.session_version(session, actor.own_user_id)
                session_id = console_sessions.open_session(session, actor.own_user_id, now_ms=now, max_age_ms=ctx.config.session_max_age_hours * 3_600_000)
    if wait:
        seconds = -(-wait // 1000)
        error = _("too many failed logins from your address: wait %(seconds)s s before the next attempt", seconds=seconds)
        response = render_template("login.html", next=target, username=username, error=error), 429, {"Retry-After": str(seconds)}
        return response
    if actor is None or version is None or session_id is None:
        return render_template("login.html", next=target, username=username, error=str(LOGIN_FAILED)), 401
    start_session(actor, version, session_id)
    return redirect(target)


@bp.post("/logout")
def logout():
    check_csrf()
    end_server_session()
    flash(_("You are logged out."), "info")
    return redirect(url_for("web.login"))


def _setup_page(code: str, username: str = "", errors: dict | None = None, error: str | None = None, status: int = 200):
    code_file = setup_code.setup_code_path(admin_ctx().config.instance_dir)
    return render_template("setup.html", code=code, code_file=str(code_file), username=username, errors=errors or {}, error=error), status


@bp.route("/setup", methods=["GET", "POST"])
def setup():
    if request.method == "POST":
        check_csrf()
    if not _no_user_yet():
        abort(404)
    code = request.values.get("code", "").strip()
    if request.method == "GET":
        return _setup_page(code)
    username = request.form.get("username", "").strip()
    password = request.form.get("password", "")
    errors: dict[str, Text] = {}
    if password != request.form.get("password_again", ""):
        errors["password_again"] = _t("the two passwords differ")
    ctx = admin_ctx()
    try:
        with ctx.db.session() as session:
            # Checked in the transaction that creates the admin (which deletes every code).
            if not setup_code.code_is_valid(session, code):
                raise Forbidden(
                    _t(
                        "the setup code is missing or wrong: use the link the admin printed at start, or the code in %(path)s",
                        path=str(setup_code.setup_code_path(ctx.config.instance_dir)),
                    )
                )
            if errors:
                raise ServiceError(_t("first admin not created"), field_errors=errors)
            created = users.create_user(session, setup_actor(_client_address()), username, password, UserRole.ADMIN, now_ms=now_ms())
            # The person who just chose the password is logged in at once, as a login would.
            actor = users.actor_for_user(session, created.id)
            version = users.session_version(session, created.id)
            session_id = console_sessions.open_session(session, created.id, now_ms=now_ms(), max_age_ms=ctx.config.session_max_age_hours * 3_600_000)
    except Forbidden as exc:
        if not _no_user_yet():  # someone completed setup a moment ago
            abort(404)
        return _setup_page("", username, {"code": _("wrong or missing")}, localize(exc.message), 403)
    except ServiceError as exc:
        if exc.status == 403:
            abort(404)
        return _setup_page(code, username, localize_fields(exc.field_errors), localize(exc.message), 400)
    setup_code.remove_setup_code_file(ctx.config.instance_dir)
    if actor is None or version is None:  # deleted in the same instant: log in as usual
        flash(_("Admin %(name)s created. Log in to continue.", name=username), "success")
        return redirect(url_for("web.login"))
    start_session(actor, version, session_id)
    flash(_("Admin %(name)s created; you are logged in. Next: create an executor group for your executors.", name=username), "success")
    return redirect(url_for("web.groups_list"))
