"""Refuse NUL characters in any request before it reaches a handler.

No shardcron field can hold one, and PostgreSQL refuses them in text outright (a query with one
fails), so a NUL in a query string, a form or a JSON body is a 400 for every backend alike: the
REST API answers with its error body, the executor-facing API with the protocol's envelope, the
console with a plain 400.
"""

from __future__ import annotations

from flask import Flask, abort, current_app, jsonify, request
from werkzeug.exceptions import RequestEntityTooLarge

from shardcron.core.protocol import Envelope

from .api.errors import error_response

MESSAGE = "NUL characters are not accepted in any field"


def _over_the_limit() -> bool:
    limit = current_app.config.get("MAX_CONTENT_LENGTH")
    return limit is not None and request.content_length is not None and request.content_length > limit


def _has_nul() -> bool:
    if any("\x00" in key or "\x00" in value for key, value in request.args.items(multi=True)):
        return True
    if _over_the_limit():
        # Not read here: each surface refuses an oversize body in its own way (the executor-facing
        # API with the protocol's envelope naming the limit, the rest with a 413).
        return False
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        return any("\x00" in key or "\x00" in value for key, value in request.form.items(multi=True))
    if request.mimetype == "application/json" or request.path.startswith("/api/"):
        try:
            body = request.get_data(cache=True)
        except RequestEntityTooLarge:
            # A body without a length that runs past the limit: the surfaces below refuse it
            # as they refuse one announced oversize, after their own checks.
            return False
        return b"\x00" in body or b"\\u0000" in body
    return False


def _refuse():
    if not _has_nul():
        return None
    if request.path.startswith("/api/v1/"):
        return error_response(400, MESSAGE)
    if request.path.startswith("/api/"):
        return jsonify(Envelope.failure(MESSAGE).to_wire()), 200
    abort(400, description=MESSAGE)


def install(app: Flask) -> None:
    app.before_request(_refuse)
