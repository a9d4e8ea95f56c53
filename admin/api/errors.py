"""One error shape for the whole API: `{"error": {"message": str, "fields": {field: message}}}`.

Service errors keep their status (400 validation, 403, 404, 409, 502 for an executor that failed
a log or kill call); HTTP errors (unknown path, wrong method, oversize body) get the same shape.
Messages are in English for every client (the services' `Text` is English as a string), the
field names as the request gave them; docs/api.md says so. Unknown paths under /api/v1 are answered here (a catch-all route), so they never fall through to
the console's HTML error pages.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from flask import current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound

from ..services.errors import ServiceError
from . import bp

log = logging.getLogger("shardcron.admin.api")

ALL_METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE"]


def error_response(status: int, message: str, fields: Mapping[str, str] | None = None):
    response = jsonify(error={"message": str(message), "fields": {field: str(text) for field, text in (fields or {}).items()}})
    response.status_code = status
    return response


@bp.errorhandler(ServiceError)
def _service_error(exc: ServiceError):
    return error_response(exc.status, exc.message, exc.field_errors)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException):
    response = error_response(exc.code or 500, exc.description or exc.name)
    if isinstance(exc, MethodNotAllowed) and exc.valid_methods:
        response.headers["Allow"] = ", ".join(exc.valid_methods)
    return response


@bp.errorhandler(Exception)
def _unexpected(exc: Exception):
    log.exception("unhandled error in %s %s", request.method, request.path)
    return error_response(500, "internal error; the admin's log has the details")


@bp.route("/", defaults={"unknown": ""}, methods=ALL_METHODS)
@bp.route("/<path:unknown>", methods=ALL_METHODS)
def not_a_route(unknown: str):
    """Unknown paths (404) and known paths asked with another method (405), as JSON."""
    adapter = current_app.url_map.bind_to_environ(request.environ)
    methods = []
    for method in ALL_METHODS:
        try:
            endpoint, _ = adapter.match(request.path, method=method)
        except HTTPException:
            continue
        if endpoint != "api_v1.not_a_route":  # this catch-all allows every method itself
            methods.append(method)
    if methods:
        raise MethodNotAllowed(valid_methods=methods, description=f"{request.method} is not allowed on {request.path}; use {', '.join(methods)}")
    raise NotFound(f"no API route {request.path}; the routes are listed in /api/v1/openapi.json")
