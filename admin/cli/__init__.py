"""The `shardcron` command.

Every command reads the configuration once (`--config FILE`, `SHARDCRON_*`, its own flags) and
turns a `ShardcronError` into one line on stderr and exit status 1 — never a traceback.
"""

from __future__ import annotations

import sys
from typing import Any

import click

from shardcron.executor.errors import ShardcronError

from ..config import Config, load_config


class CliState:
    """What the top-level options gave; commands ask it for the configuration."""

    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file

    def config(self, **overrides: Any) -> Config:
        return load_config(file=self.config_file, overrides=overrides)


class ShardcronGroup(click.Group):
    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ShardcronError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


@click.group(cls=ShardcronGroup)
@click.option(
    "--config",
    "config_file",
    type=click.Path(dir_okay=False),
    default=None,
    help="TOML configuration file (default: $SHARDCRON_CONFIG).",
)
@click.version_option(package_name="shardcron")
@click.pass_context
def main(ctx: click.Context, config_file: str | None) -> None:
    """shardcron: a distributed cron scheduler that speaks XXL-JOB's protocol."""
    ctx.obj = CliState(config_file)


def _register() -> None:
    from shardcron.executor.cli import executor as executor_cmd
    from shardcron.executor.retry_tasks.cli import tasks as tasks_cmd

    from . import config_cmd, db_cmd, demo_cmd, import_cmd, scheduler_cmd, serve_cmd, user_cmd

    main.add_command(db_cmd.db)
    main.add_command(config_cmd.config)
    main.add_command(serve_cmd.admin)
    main.add_command(scheduler_cmd.scheduler)
    main.add_command(user_cmd.user)
    main.add_command(executor_cmd)
    main.add_command(tasks_cmd)
    main.add_command(import_cmd.import_xxljob)
    main.add_command(demo_cmd.demo)


_register()
