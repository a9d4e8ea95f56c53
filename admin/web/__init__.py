"""The HTML console: server-rendered pages (Jinja2, autoescaped) with the package's own CSS/JS.

Every page calls the service layer (`shardcron.admin.services`) with the request's actor, so the
console and the REST API obey the same rules. Pages are registered from one module per area
(login.py, dashboard.py, groups.py, jobs.py, runs.py, users.py) on the blueprint `web`.
"""

from __future__ import annotations

from flask import Blueprint, Flask

from ..auth.headers import configure_session_cookie
from . import rendering

bp = Blueprint("web", __name__, template_folder="templates", static_folder="static", static_url_path="/assets")


@bp.record_once
def _configure_app(state) -> None:
    app: Flask = state.app
    configure_session_cookie(app, app.extensions["shardcron"].config)
    rendering.install(app)


def _register_pages() -> None:
    from . import audit, backfills, calendars, dashboard, groups, jobs, language, login, run_cleanup, runs, transfer, users, workflows  # noqa: F401  (they add routes to bp)


_register_pages()
