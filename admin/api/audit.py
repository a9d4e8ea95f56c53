"""/api/v1/audit: the audit trail, filtered and paged, scoped to the caller's groups."""

from __future__ import annotations

from flask import jsonify, request

from ..services import audit_query
from ..services.paging import PageRequest
from . import bp
from .context import actor, admin_ctx
from .serialize import page_json


@bp.get("/audit")
def list_audit():
    flt = audit_query.AuditFilter.parse(request.args.to_dict())
    page = PageRequest.parse(request.args.get("page"), request.args.get("per_page"))
    with admin_ctx().db.read_session() as session:
        return jsonify(page_json(audit_query.list_entries(session, actor(), flt, page)))
