"""`shardcron config ...`: what the configuration resolves to."""

from __future__ import annotations

import dataclasses
import enum

import click

from ..config import settings_table
from ..db import redact_url


@click.group()
def config() -> None:
    """Inspect the configuration."""


@config.command("show")
@click.pass_obj
def show(state) -> None:
    """Print every setting's effective value (secrets masked) and where it can be set."""
    cfg = state.config()
    secret = {row.name for row in dataclasses.fields(cfg) if row.metadata.get("secret")}
    for row in settings_table():
        value = getattr(cfg, row["key"])
        if isinstance(value, enum.Enum):
            value = value.value
        shown = "(generated)" if value is None and row["key"] in ("secret_key", "access_token") else value
        if row["key"] in secret and value:
            shown = "********"
        if row["key"] == "database_url":
            shown = redact_url(value) if value else f"(embedded) {cfg.effective_database_url}"
        click.echo(f"{row['key']:<26} {'' if shown is None else shown}")
