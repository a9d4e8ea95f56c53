"""The admin web app for a WSGI server: `gunicorn -c deploy/gunicorn.conf.py` (which names
`shardcron.admin.wsgi:app`), or any other server given `shardcron.admin.wsgi:app`.

Web only: the console, `/api/v1`, the executor-facing `/api` and `/healthz`, `/readyz`,
`/metrics`. No scheduler thread starts here; run `shardcron scheduler` (one or more) beside it.
Settings come from `SHARDCRON_CONFIG` and the `SHARDCRON_*` environment, read once when the
module is imported. While no user exists, each worker logs the first-run setup link (one code
for all of them). On the embedded SQLite file the schema is created or upgraded in place; on
MySQL it must be at this code's revision already (`shardcron db upgrade`, run once before the
new version starts), so several nodes starting together never race to change it.
"""

from __future__ import annotations

import logging

from shardcron.core.logfmt import configure_logging

from . import create_app
from .config import load_config
from .db import Database, require_current_schema
from .rpc.auth import describe_token_source
from .services.setup_code import ensure_setup_code, setup_code_path, setup_link

log = logging.getLogger("shardcron.admin")


def build_app():
    config = load_config()
    configure_logging(config.log_level, config.log_format)
    database = Database(config.effective_database_url, create_folder=config.creates_database_folder)
    require_current_schema(database.engine, upgrade_in_place=config.is_sqlite)
    app = create_app(config, db=database)
    log.info(describe_token_source(config))
    # Every worker runs this; they share one code (its file and its digest in the database).
    code = ensure_setup_code(database, config.instance_dir)
    if code is not None:
        log.warning(
            "no user yet: create the first admin at %s (the one-time setup code is also in %s)",
            setup_link(config.console_url, code),
            setup_code_path(config.instance_dir),
        )
    return app


app = build_app()
