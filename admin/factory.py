"""`create_app()`: the admin's Flask app for one configuration, bound to its database.

Like Flask's own factory pattern, it starts nothing: threads (the scheduler, monitors) start only
from the command line runners. `shardcron.admin` re-exports these names lazily (see there).
"""

from __future__ import annotations

from flask import Flask, jsonify

from shardcron.core.clock import SYSTEM_CLOCK, Clock

from . import i18n, nul_guard, ops, rpc
from .api import bp as api_v1_blueprint
from .config import Config, load_config, read_or_create_secret
from .context import AdminContext, admin_context
from .db import Database
from .id_converter import IdConverter
from .web import bp as web_blueprint

__all__ = ["AdminContext", "admin_context", "create_app"]


def create_app(config: Config | None = None, *, db: Database | None = None, clock: Clock | None = None) -> Flask:
    config = config or load_config()
    # The instance folder is ours (config.instance_dir); Flask cannot find one by itself for a
    # package mapped into the `shardcron` namespace.
    # Named after the package, as when the factory lived in its __init__: the name is the app's
    # logger and its root path (the package folder).
    app = Flask("shardcron.admin", instance_path=str(config.instance_dir.resolve()))
    app.config["SECRET_KEY"] = read_or_create_secret(config, "secret_key")
    app.config["MAX_CONTENT_LENGTH"] = 5 * 1024 * 1024
    ctx = AdminContext(config=config, db=db or Database(config.effective_database_url, create_folder=config.creates_database_folder), clock=clock or SYSTEM_CLOCK)
    app.extensions["shardcron"] = ctx
    app.url_map.converters["id"] = IdConverter  # before any blueprint adds a route that uses it
    nul_guard.install(app)
    i18n.install(app)
    app.register_blueprint(rpc.blueprint, url_prefix="/api")

    app.register_blueprint(api_v1_blueprint)
    app.register_blueprint(web_blueprint)
    app.register_blueprint(ops.blueprint)
    if config.demo_control_url:  # only the admin `shardcron demo` starts has the Demo page
        from .web.demo import bp as demo_blueprint

        app.register_blueprint(demo_blueprint)

    @app.get("/healthz")
    def healthz():
        return jsonify(status="ok")

    return app
