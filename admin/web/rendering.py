"""What every console template can use, and the console's error pages.

Times are rendered as `<time datetime="...Z">` in UTC and turned into the viewer's local time by
console.js; the `when` macro in _macros.html writes them from epoch milliseconds.
"""

from __future__ import annotations

from datetime import datetime, UTC

from flask import Flask, jsonify, render_template, request
from werkzeug.exceptions import HTTPException

from ..auth import csrf_token, current_actor


def iso_utc(at_ms: int | None) -> str:
    if not at_ms:
        return ""
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def utc_text(at_ms: int | None) -> str:
    if not at_ms:
        return ""
    return datetime.fromtimestamp(at_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def _handle_http_error(exc: HTTPException):
    if request.path.startswith("/api/"):
        response = jsonify(error={"message": exc.description or exc.name, "fields": {}})
        response.status_code = exc.code or 500
        return response
    return render_template("error.html", code=exc.code, title=exc.name, message=exc.description), exc.code or 500


def install(app: Flask) -> None:
    app.jinja_env.globals.update(csrf_token=csrf_token, current_actor=current_actor)
    app.jinja_env.filters.update(iso_utc=iso_utc, utc_text=utc_text)
    app.register_error_handler(HTTPException, _handle_http_error)
