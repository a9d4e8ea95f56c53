"""`shardcron admin`: the console, the APIs and the scheduler in one process."""

from __future__ import annotations

import logging
import signal

import click

from shardcron.core.errors import ShardcronError
from shardcron.core.logfmt import configure_logging
from shardcron.core.sqlengine import missing_sqlite_file

from ..db import Database, DatabaseError, check_server, parse_database_url, redact_url, require_current_schema

log = logging.getLogger("shardcron.admin")


def prepare_database(config, *, must_exist: bool = False) -> Database:
    """Open the database and make sure its schema is this code's.

    `must_exist`: for commands that only read (`user list`), a missing SQLite file is an error
    naming `shardcron db init`, not a new file (and folder) left behind.

    The embedded SQLite file is upgraded in place (one node, one transaction: a failed upgrade
    leaves the file as it was). On MySQL the schema is the operator's to upgrade (`shardcron db
    upgrade`, once, before the new version starts); a node refuses to start on a schema older or
    newer than itself, in one line naming the command to run.
    """
    if must_exist:
        refuse_missing_sqlite_file(config.effective_database_url)
    database = Database(config.effective_database_url, create_folder=config.creates_database_folder)
    check_server(database.engine)
    result = require_current_schema(database.engine, upgrade_in_place=config.is_sqlite)
    if result is not None and result.changed:
        from shardcron.core.schema_versions.messages import describe_upgrade
        from shardcron.core.schema_versions.status import SchemaState

        from ..schema import ADMIN_SCHEMA

        # An upgrade of existing data is logged (a new file is not news). Logged, not printed:
        # commands such as `user token` print only what a script captures.
        if result.before.state is not SchemaState.EMPTY:
            for line in describe_upgrade(ADMIN_SCHEMA, result, redact_url(config.effective_database_url)):
                log.info(line)
    return database


def refuse_missing_sqlite_file(database_url: str) -> None:
    """Commands that only read must not create an empty SQLite file where none was."""
    parsed = parse_database_url(database_url)
    if missing_sqlite_file(parsed) is not None:
        raise DatabaseError(f"admin database {redact_url(parsed)}: no such SQLite file: run `shardcron db init` first")


@click.command("admin")
@click.option("--bind", default=None, help="HOST:PORT to serve on (default: the `bind` setting, 127.0.0.1:8080).")
@click.option("--database-url", default=None, help="Admin database URL (default: the configured one, else the embedded SQLite file).")
@click.option("--no-scheduler", is_flag=True, help="Serve the web console and APIs only (run `shardcron scheduler` elsewhere).")
@click.pass_obj
def admin(state, bind: str | None, database_url: str | None, no_scheduler: bool) -> None:
    """Run the admin: web console, APIs and scheduler, on the embedded SQLite default unless configured."""
    from waitress import create_server

    from .. import admin_context, create_app
    from ..rpc.auth import describe_token_source
    from ..scheduling.runner import SchedulerRunner
    from ..services.setup_code import ensure_setup_code, setup_code_path, setup_link

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
    click.echo(describe_token_source(config))
    code = ensure_setup_code(database, config.instance_dir)
    if code is not None:
        click.echo(f"no user yet: create the first admin at {setup_link(config.console_url, code)}")
        click.echo(f"(the one-time setup code is also in {setup_code_path(config.instance_dir)}; or run `shardcron user create NAME --admin`)")
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
