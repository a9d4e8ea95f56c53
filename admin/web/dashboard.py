"""The dashboard: counts, the per-day success/failure chart (7 or 30 days), recent failures."""

from __future__ import annotations

from flask import g, render_template, request

from ..auth import require_actor
from ..schedules.zones import is_known_zone
from ..services import dashboard as dashboard_service
from ..services.errors import ServiceError
from ..i18n import localize
from . import bp
from .charts import daily_bars
from .context import admin_ctx, now_ms


@bp.get("/")
@require_actor
def dashboard():
    days = 30 if request.args.get("days") == "30" else 7
    # The viewer's zone decides where "today" starts: console.js keeps it in the `tz` cookie
    # (until it has run once, or with JavaScript off, "today" is the UTC day).
    zone = request.args.get("tz") or request.cookies.get("tz") or "UTC"
    if not is_known_zone(zone):
        zone = "UTC"
    error = None
    with admin_ctx().db.read_session() as session:
        try:
            board = dashboard_service.get_dashboard(
                session, g.actor, now_ms=now_ms(), timezone=zone, days=days, report_timezone=admin_ctx().config.default_timezone
            )
        except ServiceError as exc:
            board, error = None, localize(exc.message)
    chart = daily_bars(board.daily) if board else None
    return render_template("dashboard.html", board=board, chart=chart, days=days, error=error)
