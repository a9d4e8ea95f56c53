"""The OpenAPI 3.1 document of /api/v1, written by hand and served at /api/v1/openapi.json.

It is data, not generated from the code, so it says what clients may rely on; a test walks the
Flask url_map and keeps the two equal (every route and method documented, nothing documented
that does not exist, documented required fields really required, documented response properties
really returned).

The document is put together here from openapi_parts.py (building blocks), openapi_job_fields.py
and openapi_schemas.py (components), openapi_paths.py (routes), openapi_transfer.py
(export/import) and openapi_workflows.py (workflows and their instances).
"""

from __future__ import annotations

from flask import jsonify

from . import bp
from .openapi_parts import Schema
from .openapi_paths import PATHS
from .openapi_schemas import SCHEMAS
from .openapi_transfer import SCHEMAS as TRANSFER_SCHEMAS
from .openapi_workflows import workflow_paths, workflow_schemas

SCHEMAS.update(TRANSFER_SCHEMAS)
SCHEMAS.update(workflow_schemas())
PATHS.update(workflow_paths())

DOCUMENT: Schema = {
    "openapi": "3.1.0",
    "info": {
        "title": "shardcron REST API",
        "version": "1",
        "description": (
            "Everything the console does, for scripts and CI. Authenticate with a per-user API token: "
            "`Authorization: Bearer <token>`. Console cookies are NOT accepted on /api/v1 (so there is no CSRF token to send). "
            "Errors are `{\"error\": {\"message\", \"fields\"}}`; lists take `page` and `per_page` (at most 200). "
            "Instants are UTC epoch milliseconds (`*_ms`). A user sees and acts on the groups granted to them only; "
            "objects of other groups answer 404."
        ),
    },
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearerToken": []}],
    "tags": [{"name": t} for t in ("groups", "calendars", "jobs", "workflows", "runs", "dashboard", "users", "audit", "transfer", "meta")],
    "paths": PATHS,
    "components": {
        "securitySchemes": {
            "bearerToken": {
                "type": "http",
                "scheme": "bearer",
                "description": "A user's API token (POST /me/token, the console's account page, or `shardcron user token NAME`). Cookies are ignored.",
            }
        },
        "schemas": SCHEMAS,
    },
}


@bp.get("/openapi.json")
def openapi_document():
    return jsonify(DOCUMENT)
