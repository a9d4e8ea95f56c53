"""The REST API `/api/v1`: JSON over the service layer, for scripts and CI.

Authentication is an API token only (`Authorization: Bearer <token>`, see auth.py); cookies are
ignored, so no request here can be forged by another site and no CSRF token is needed.
Every error is `{"error": {"message": ..., "fields": {...}}}` (errors.py); lists are paged with
`?page=&per_page=` and answer `{"items", "page", "per_page", "total", "total_exact", "pages"}`.
The OpenAPI 3.1 document at `/api/v1/openapi.json` describes every route (openapi.py; a test
keeps it equal to the routes).
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("api_v1", __name__, url_prefix="/api/v1")


def _register_routes() -> None:
    from . import audit, auth, backfills, calendars, dashboard, errors, glue_versions, groups, jobs, openapi, runs, tokens, transfer, users, workflows  # noqa: F401  (after bp exists: they add routes to it)


_register_routes()
