"""`shardcron db ...`: the admin database."""

from __future__ import annotations

import click

from ..db import check_server, create_db_engine, init_schema, redact_url


@click.group()
def db() -> None:
    """Manage the admin database."""


@db.command("init")
@click.option("--url", default=None, help="Database URL (default: the configured database_url, else the embedded SQLite file).")
@click.pass_obj
def init(state, url: str | None) -> None:
    """Create the admin schema. Safe to run again: it changes nothing when the schema is there."""
    config = state.config(database_url=url)
    database_url = config.effective_database_url
    engine = create_db_engine(database_url, pool_size=1)
    try:
        server = check_server(engine)
        result = init_schema(engine)
    finally:
        engine.dispose()
    where = redact_url(database_url)
    if result.changed:
        click.echo(f"created {len(result.created)} tables in {where} ({server}, schema version {result.version})")
        if result.existing:
            click.echo(f"kept {len(result.existing)} tables that were already there")
    else:
        click.echo(f"schema already up to date in {where} ({len(result.existing)} tables, schema version {result.version}); nothing changed")
