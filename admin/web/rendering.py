"""What every console template can use, and the console's error pages.

Times are rendered as `<time datetime="...Z">` holding the viewer's time in the console's one
format (times.py), which console.js keeps in the browser's zone; the `when` macro in
_macros.html writes them from epoch milliseconds.
"""

from __future__ import annotations

from flask import Flask, jsonify, render_template, request
from flask_babel import gettext as _
from flask_babel import lazy_gettext as _l
from werkzeug.exceptions import HTTPException

from ..auth import csrf_token, current_actor
from .labels import code_label
from .times import duration_text, iso_utc, time_text


def js_texts() -> dict[str, str]:
    """What console.js may show, in the page's language (`<body data-texts>`)."""
    return {
        "no_upcoming_fire": _("no upcoming fire"),
        "preview_unavailable": _("preview unavailable"),
        "log_unavailable": _("log unavailable"),
        "log_complete": _("Log complete."),
        "log_following": _("Following the log… (line {line})"),
        "log_retrying": _("log unavailable; retrying"),
    }


#: Titles of the error pages, by status (werkzeug's names are English only).
HTTP_TITLES = {
    400: _l("Bad Request"),
    403: _l("Forbidden"),
    404: _l("Not Found"),
    405: _l("Method Not Allowed"),
    413: _l("Request Entity Too Large"),
    429: _l("Too Many Requests"),
}


def _handle_http_error(exc: HTTPException):
    if request.path.startswith("/api/"):
        response = jsonify(error={"message": exc.description or exc.name, "fields": {}})
        response.status_code = exc.code or 500
        return response
    title = HTTP_TITLES.get(exc.code or 500)
    return render_template("error.html", code=exc.code, title=str(title) if title else exc.name, message=exc.description), exc.code or 500


def install(app: Flask) -> None:
    app.jinja_env.globals.update(csrf_token=csrf_token, current_actor=current_actor, js_texts=js_texts)
    app.jinja_env.filters.update(iso_utc=iso_utc, time_text=time_text, code_label=code_label, duration_text=duration_text)
    app.register_error_handler(HTTPException, _handle_http_error)
