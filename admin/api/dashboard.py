"""/api/v1/dashboard: counts, the range's per-day buckets with their totals, per-group and
per-executor counts, and the latest failures (one source: see services/dashboard.py)."""

from __future__ import annotations

from flask import jsonify, request

from ..services import dashboard
from . import bp
from .context import actor, admin_ctx, now_ms
from .serialize import to_json


@bp.get("/dashboard")
def get_dashboard():
    days, start, end = dashboard.parse_range(request.args)
    timezone = request.args.get("timezone") or admin_ctx().config.default_timezone
    with admin_ctx().db.read_session() as session:
        board = dashboard.get_dashboard(session, actor(), now_ms=now_ms(), timezone=timezone, days=days, start=start, end=end)
    return jsonify(to_json(board))
