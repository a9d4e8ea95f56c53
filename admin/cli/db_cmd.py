"""`shardcron db ...`: the admin database and its schema revisions."""

from __future__ import annotations

import click

from ..db import DatabaseError, check_server, create_db_engine, read_schema_status, redact_url
from .serve_cmd import refuse_missing_sqlite_file

URL_HELP = "Database URL (default: the configured database_url, else the embedded SQLite file)."
LOCK_HELP = "On MySQL/MariaDB and PostgreSQL, wait at most this long for another node's upgrade of the same database to finish."


def _url(state, url: str | None) -> str:
    return state.config(database_url=url).effective_database_url


def _url_and_folder(state, url: str | None) -> tuple[str, bool]:
    """The URL, and whether its folder may be created (the embedded default's only)."""
    config = state.config(database_url=url)
    return config.effective_database_url, config.creates_database_folder


@click.group()
def db() -> None:
    """Manage the admin database: create it, upgrade it, show its schema revision."""


def _upgrade(database_url: str, lock_timeout_s: float, *, create_folder: bool) -> None:
    from shardcron.core.schema_versions.commands import run_upgrade

    from ..schema import ADMIN_SCHEMA

    engine = create_db_engine(database_url, pool_size=1, create_folder=create_folder)
    try:
        server = check_server(engine)
        run_upgrade(ADMIN_SCHEMA, engine, lock_timeout_s=lock_timeout_s, error=DatabaseError, server=server)
    finally:
        engine.dispose()


@db.command("init")
@click.option("--url", default=None, help=URL_HELP)
@click.option("--lock-timeout", "lock_timeout_s", type=float, default=300.0, show_default=True, help=LOCK_HELP)
@click.pass_obj
def init(state, url: str | None, lock_timeout_s: float) -> None:
    """Create the admin schema; on an existing database, upgrade it or say it is current."""
    database_url, create_folder = _url_and_folder(state, url)
    _upgrade(database_url, lock_timeout_s, create_folder=create_folder)


@db.command("upgrade")
@click.option("--url", default=None, help=URL_HELP)
@click.option("--sql", "as_sql", is_flag=True, help="Print the DDL instead of running it (for DBAs); changes nothing.")
@click.option(
    "--from",
    "start",
    default=None,
    metavar="REVISION",
    help="With --sql: the revision to start from instead of reading it from the database ('base': empty, '0.1.0': made by 0.1.0).",
)
@click.option("--lock-timeout", "lock_timeout_s", type=float, default=300.0, show_default=True, help=LOCK_HELP)
@click.pass_obj
def upgrade(state, url: str | None, as_sql: bool, start: str | None, lock_timeout_s: float) -> None:
    """Bring the admin database to this shardcron's schema revision (safe on several nodes at once)."""
    database_url, create_folder = _url_and_folder(state, url)
    if start is not None and not as_sql:
        raise DatabaseError("--from goes with --sql: a real upgrade reads the revision from the database")
    if not as_sql:
        _upgrade(database_url, lock_timeout_s, create_folder=create_folder)
        return
    from shardcron.core.schema_versions.commands import print_upgrade_sql

    from ..schema import ADMIN_SCHEMA

    if start is None:
        refuse_missing_sqlite_file(database_url)
    engine = create_db_engine(database_url, pool_size=1)
    try:
        print_upgrade_sql(ADMIN_SCHEMA, engine, start, lambda: read_schema_status(engine), DatabaseError)
    finally:
        engine.dispose()


@db.command("current")
@click.option("--url", default=None, help=URL_HELP)
@click.option("--check", is_flag=True, help="Exit with status 1 unless the schema is at this shardcron's revision.")
@click.pass_obj
def current(state, url: str | None, check: bool) -> None:
    """Show the database's schema revision and whether it needs an upgrade."""
    from shardcron.core.schema_versions.commands import print_current

    from ..schema import ADMIN_SCHEMA

    database_url = _url(state, url)
    refuse_missing_sqlite_file(database_url)
    engine = create_db_engine(database_url, pool_size=1)
    try:
        status = read_schema_status(engine)
    finally:
        engine.dispose()
    print_current(ADMIN_SCHEMA, status, redact_url(database_url), check=check, error=DatabaseError)


@db.command("history")
def history() -> None:
    """List the admin schema's revisions, newest first."""
    from shardcron.core.schema_versions.commands import print_history

    from ..schema import ADMIN_SCHEMA

    print_history(ADMIN_SCHEMA)
