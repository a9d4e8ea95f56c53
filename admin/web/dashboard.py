"""The dashboard: counts, the per-day chart over a date range (today, 7 or 30 days, or a custom
from-to in the viewer's zone), per-group and per-executor counts, recent failures."""

from __future__ import annotations

from flask import g, render_template, request

from ..auth import require_actor
from ..i18n import localize, localize_fields
from ..schedules.zones import is_known_zone
from ..services import dashboard as dashboard_service
from ..services.errors import ServiceError
from . import bp
from .charts import daily_bars
from .context import admin_ctx, now_ms


@bp.get("/")
@require_actor
def dashboard():
    # The viewer's zone decides where days start: console.js keeps it in the `tz` cookie
    # (until it has run once, or with JavaScript off, days are UTC days).
    zone = request.args.get("tz") or request.cookies.get("tz") or "UTC"
    if not is_known_zone(zone):
        zone = "UTC"
    board, error, field_errors, days, start, end = None, None, {}, None, None, None
    with admin_ctx().db.read_session() as session:
        try:
            days, start, end = dashboard_service.parse_range(request.args)
            board = dashboard_service.get_dashboard(session, g.actor, now_ms=now_ms(), timezone=zone, days=days, start=start, end=end)
        except ServiceError as exc:
            error, field_errors = localize(exc.message), localize_fields(exc.field_errors)
    chart = daily_bars(board.runs.daily) if board else None
    custom = bool(start or end)
    return render_template(
        "dashboard.html", board=board, chart=chart, days=None if custom else days, error=error, field_errors=field_errors,
        range_from=request.args.get("from", ""), range_to=request.args.get("to", ""),
    ), 400 if error else 200
