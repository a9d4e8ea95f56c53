"""The console's languages (English and 简体中文) through Flask-Babel's gettext catalogs.

The language of a request: the signed-in user's saved choice (`sc_user.locale`), else the
`lang` cookie the language switch sets (for anyone, signed in or not), else the best of the
browser's Accept-Language between zh and en, else English. Catalogs live in
`admin/translations/<lang>/LC_MESSAGES/messages.po`; the compiled `.mo` is committed beside its
`.po`, so a checkout needs no build step (tests/admin/web/test_translations.py checks that it is
current and that every marked console string has a Chinese entry). Extraction: `babel.cfg`.

The services' messages (validation errors, refusals) are `Text` (admin/texts.py): English as
strings, shown in the viewer's language by the console through `localize`. What stays English:
the REST API's and the executor API's JSON errors, log lines, the command line, and what the
executor reports (run messages, logs). Alarms are written in the `alarm_language` setting's
language (admin/alarms/message.py), with the same catalogs.
"""

from __future__ import annotations

from collections.abc import Mapping

from flask import Flask, current_app, g, has_request_context, request
from flask_babel import Babel, get_translations

from . import texts

SUPPORTED_LOCALES = ("en", "zh")
DEFAULT_LOCALE = "en"
#: The cookie the language switch sets; one year, like the time-zone cookie of console.js.
LOCALE_COOKIE = "lang"
LOCALE_COOKIE_MAX_AGE_S = 365 * 24 * 3600
#: The `<html lang>` value of each locale.
HTML_LANG = {"en": "en", "zh": "zh-CN"}
#: Each language named in itself, for the switch.
LANGUAGE_NAMES = {"en": "English", "zh": "中文"}
TRANSLATIONS_DIR = texts.TRANSLATIONS_DIR

_CACHE_KEY = "_shardcron_locale"


def known_locale(value: str | None) -> str | None:
    """`value` if it names a supported locale, else None."""
    return value if value in SUPPORTED_LOCALES else None


def _saved_locale() -> str | None:
    from .auth import current_actor
    from .services import user_locale

    actor = current_actor()
    if actor is None or actor.user_id is None:
        return None
    with current_app.extensions["shardcron"].db.read_session() as session:
        return known_locale(user_locale.saved_locale(session, actor.user_id))


def select_locale() -> str:
    """The language of this request (cached for the request)."""
    if not has_request_context():
        return DEFAULT_LOCALE
    if request.path.startswith("/api/"):
        return DEFAULT_LOCALE  # JSON answers speak English to every client (docs/api.md)
    cached = g.get(_CACHE_KEY)
    if cached is None:
        cached = (
            _saved_locale()
            or known_locale(request.cookies.get(LOCALE_COOKIE))
            or request.accept_languages.best_match(SUPPORTED_LOCALES)
            or DEFAULT_LOCALE
        )
        setattr(g, _CACHE_KEY, cached)
    return cached


def localize(value: str) -> str:
    """A service's message (`Text`) in this request's language; a plain string as it is."""
    return texts.render(value, get_translations())


def localize_fields(field_errors: Mapping[str, str]) -> dict[str, str]:
    """A service error's per-field messages in this request's language; the field names as they are."""
    catalog = get_translations()
    return {field: texts.render(message, catalog) for field, message in field_errors.items()}


def forget_selected_locale() -> None:
    """After a switch: the rest of this request asks again."""
    g.pop(_CACHE_KEY, None)


def install(app: Flask) -> None:
    app.config["BABEL_DEFAULT_LOCALE"] = DEFAULT_LOCALE
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS_DIR)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.globals.update(
        current_locale=select_locale, html_lang=lambda: HTML_LANG[select_locale()], language_names=LANGUAGE_NAMES
    )
