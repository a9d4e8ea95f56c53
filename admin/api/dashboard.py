"""/api/v1/dashboard: counts, the per-day series (7 or 30 days) and the latest failures."""

from __future__ import annotations

from flask import jsonify, request

from ..services import dashboard
from . import bp
from .context import actor, admin_ctx, int_arg, now_ms
from .serialize import to_json


@bp.get("/dashboard")
def get_dashboard():
    days = int_arg("days", min(dashboard.SERIES_DAYS), max(dashboard.SERIES_DAYS))
    timezone = request.args.get("timezone") or admin_ctx().config.default_timezone
    with admin_ctx().db.read_session() as session:
        board = dashboard.get_dashboard(
            session, actor(), now_ms=now_ms(), timezone=timezone, days=7 if days is None else days,
            report_timezone=admin_ctx().config.default_timezone,
        )
    return jsonify(to_json(board))
