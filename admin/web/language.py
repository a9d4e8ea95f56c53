"""The language switch in the console header: POST /account/language with `locale` (en, zh).

A signed-in user's choice is saved on the account (and follows them to any browser); everyone
also gets the `lang` cookie, so the login page keeps the language after a logout. An unknown
value is a 400 with a message. Not audited: a preference, not a change (services/user_locale.py).
"""

from __future__ import annotations

from flask import abort, redirect, request, url_for
from flask_babel import gettext as _

from ..auth import current_actor
from ..auth.csrf import check_csrf
from ..i18n import LOCALE_COOKIE, LOCALE_COOKIE_MAX_AGE_S, SUPPORTED_LOCALES, forget_selected_locale, known_locale
from ..services import user_locale
from . import bp
from .context import admin_ctx, safe_next


@bp.post("/account/language")
def account_language():
    check_csrf()
    locale = known_locale(request.form.get("locale", ""))
    if locale is None:
        abort(400, description=_("Unknown language: choose one of %(choices)s.", choices=", ".join(SUPPORTED_LOCALES)))
    actor = current_actor()
    if actor is not None and actor.user_id is not None:
        with admin_ctx().db.session() as session:
            user_locale.save_locale(session, actor.user_id, locale)
    forget_selected_locale()
    response = redirect(safe_next(request.form.get("next"), url_for("web.dashboard") if actor else url_for("web.login")))
    response.set_cookie(LOCALE_COOKIE, locale, max_age=LOCALE_COOKIE_MAX_AGE_S, samesite="Lax", secure=request.is_secure, httponly=True)
    return response
