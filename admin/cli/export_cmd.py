"""`shardcron export`: executor groups and jobs as a versioned JSON or YAML document."""

from __future__ import annotations

import click

from ..db import Database, check_server, require_current_schema
from ..transfer.document import write_document
from ..transfer.export import build_export


@click.command("export")
@click.option("--groups", default=None, metavar="APP,APP", help="Only these executor groups, by app name (default: all).")
@click.option("-o", "--output", "output", type=click.Path(dir_okay=False, writable=True), default=None, help="Write to FILE instead of standard output.")
@click.option("--format", "fmt", type=click.Choice(["json", "yaml"]), default="json", show_default=True, help="Document format.")
@click.option("--url", default=None, help="Admin database to read (default: the configured database_url, else the embedded SQLite file).")
@click.pass_obj
def export(state, groups: str | None, output: str | None, fmt: str, url: str | None) -> None:
    """Print groups and jobs as JSON or YAML; jobs name their group and child jobs instead of database ids."""
    config = state.config(database_url=url)
    app_names = [name.strip() for name in groups.split(",") if name.strip()] if groups is not None else None
    database = Database(config.effective_database_url, pool_size=1, create_folder=config.creates_database_folder)
    try:
        check_server(database.engine)
        require_current_schema(database.engine, upgrade_in_place=False)
        with database.read_session() as session:
            document = build_export(session, app_names)
    finally:
        database.dispose()
    text = write_document(document, fmt)
    if output is None:
        click.echo(text, nl=False)
    else:
        with open(output, "w", encoding="utf-8") as handle:
            handle.write(text)
        click.echo(f"exported {len(document['groups'])} groups, {len(document['calendars'])} calendars and {len(document['jobs'])} jobs to {output}", err=True)
