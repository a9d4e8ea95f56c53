"""The `shardcron` command.

Every command reads the configuration once (`--config FILE`, `SHARDCRON_*`, its own flags) and
turns a `ShardcronError` into one line on stderr and exit status 1 — never a traceback.

Commands are imported only when chosen (`COMMANDS`), so `shardcron executor run` loads the
executor and click, not the admin's Flask app, ORM or web server; `shardcron --help` imports
them all to list them with their own help. tests/test_packaging.py enforces it.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

import click

from shardcron.core.errors import ShardcronError

if TYPE_CHECKING:
    from ..config import Config

#: Command name -> "module:attribute" of its click command, imported on first use.
COMMANDS = {
    "admin": "shardcron.admin.cli.serve_cmd:admin",
    "backfill": "shardcron.admin.cli.backfill_cmd:backfill",
    "config": "shardcron.admin.cli.config_cmd:config",
    "db": "shardcron.admin.cli.db_cmd:db",
    "demo": "shardcron.admin.cli.demo_cmd:demo",
    "executor": "shardcron.executor.cli:executor",
    "export": "shardcron.admin.cli.export_cmd:export",
    "import": "shardcron.admin.cli.transfer_cmd:import_",
    "import-xxljob": "shardcron.admin.cli.import_cmd:import_xxljob",
    "scheduler": "shardcron.admin.cli.scheduler_cmd:scheduler",
    "tasks": "shardcron.executor.retry_tasks.cli:tasks",
    "user": "shardcron.admin.cli.user_cmd:user",
}


class CliState:
    """What the top-level options gave; commands ask it for the configuration."""

    def __init__(self, config_file: str | None) -> None:
        self.config_file = config_file

    def config(self, **overrides: Any) -> Config:
        from ..config import load_config

        return load_config(file=self.config_file, overrides=overrides)


class ShardcronGroup(click.Group):
    """The commands of `COMMANDS`, each imported when it is chosen (or listed by --help)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module_name, _, attr = target.partition(":")
        command = getattr(importlib.import_module(module_name), attr)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

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

