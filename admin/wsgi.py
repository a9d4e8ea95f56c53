"""The admin web app for a WSGI server: `gunicorn -c deploy/gunicorn.conf.py` (which names
`shardcron.admin.wsgi:app`), or any other server given `shardcron.admin.wsgi:app`.

Web only: the console, `/api/v1`, the executor-facing `/api` and `/healthz`, `/readyz`,
`/metrics`. No scheduler thread starts here; run `shardcron scheduler` (one or more) beside it.
Settings come from `SHARDCRON_CONFIG` and the `SHARDCRON_*` environment, read once when the
module is imported. On the embedded SQLite file the schema is created if missing; on MySQL it
must exist (`shardcron db init`), so several nodes starting together never race to create it.
"""

from __future__ import annotations

from shardcron.executor.logfmt import configure_logging

from . import create_app
from .config import load_config
from .db import Database, DatabaseError, init_schema, redact_url, schema_is_current


def build_app():
    config = load_config()
    configure_logging(config.log_level, config.log_format)
    database = Database(config.effective_database_url)
    if config.is_sqlite:
        init_schema(database.engine)
    elif not schema_is_current(database.engine):
        raise DatabaseError(f"database {redact_url(config.effective_database_url)} has no shardcron schema yet: run `shardcron db init` first")
    return create_app(config, db=database)


app = build_app()
