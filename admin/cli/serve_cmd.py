"""`shardcron admin`: the console, the APIs and the scheduler in one process."""

from __future__ import annotations

import logging
import signal

import click

from shardcron.executor.errors import ShardcronError
from shardcron.executor.logfmt import configure_logging

from ..db import Database, DatabaseError, check_server, init_schema, redact_url, schema_is_current

log = logging.getLogger("shardcron.admin")


def prepare_database(config) -> Database:
    """Open the database; on the embedded SQLite file, create the schema if it is missing.

    On MySQL the schema is the operator's to create (`shardcron db init`), so several nodes
    starting at once never race to create tables.
    """
    database = Database(config.effective_database_url)
    check_server(database.engine)
    if config.is_sqlite:
        init_schema(database.engine)
    elif not schema_is_current(database.engine):
        raise DatabaseError(f"database {redact_url(config.effective_database_url)} has no shardcron schema yet: run `shardcron db init` first")
    return database


@click.command("admin")
@click.option("--bind", default=None, help="HOST:PORT to serve on (default: the `bind` setting, 127.0.0.1:8080).")
@click.option("--database-url", default=None, help="Admin database URL (default: the configured one, else the embedded SQLite file).")
@click.option("--no-scheduler", is_flag=True, help="Serve the web console and APIs only (run `shardcron scheduler` elsewhere).")
@click.pass_obj
def admin(state, bind: str | None, database_url: str | None, no_scheduler: bool) -> None:
    """Run the admin: web console, APIs and scheduler, on the embedded SQLite default unless configured."""
    from waitress import create_server

    from .. import admin_context, create_app
    from ..scheduling.runner import SchedulerRunner

    config = state.config(bind=bind, database_url=database_url)
    configure_logging(config.log_level, config.log_format)
    database = prepare_database(config)
    app = create_app(config, db=database)
    host, _, port = config.bind.rpartition(":")
    try:
        server = create_server(app, host=host, port=int(port), threads=16, ident="shardcron")
    except OSError as exc:
        raise ShardcronError(f"cannot listen on {config.bind}: {exc.strerror}") from None
    runner = None if no_scheduler else SchedulerRunner(admin_context(app))
    click.echo(f"shardcron admin on http://{config.bind}/ (database {redact_url(config.effective_database_url)})")
    if runner is not None:
        click.echo(f"scheduler {runner.node_id} running in this process")
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops as cleanly as Ctrl-C
    try:
        if runner is not None:
            runner.start()
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        server.close()
        if runner is not None:
            runner.stop()
        database.dispose()


def _interrupt(_signum, _frame) -> None:
    raise KeyboardInterrupt
