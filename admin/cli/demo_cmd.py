"""`shardcron demo`: everything on this machine, with jobs that show what shardcron does."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click

from shardcron.core.errors import ShardcronError


@click.command("demo")
@click.option("--port", default=8080, show_default=True, type=click.IntRange(1, 65535), help="Port of the console on 127.0.0.1.")
@click.option("--executors", default=2, show_default=True, type=click.IntRange(2, 8), help="Executor processes to start.")
@click.option(
    "--dir",
    "workdir",
    default=None,
    type=click.Path(file_okay=False),
    help="Empty or new folder for the demo's files, kept after it stops (default: a new temporary folder, deleted at stop).",
)
@click.option(
    "--shift-after",
    "shift_after_s",
    default=60,
    show_default=True,
    type=click.IntRange(5, 3600),
    help="Seconds after the jobs start until somebody comes on shift in the work-orders recipe.",
)
def demo(port: int, executors: int, workdir: str | None, shift_after_s: int) -> None:
    """Run a demo: the admin on a fresh SQLite file, executor processes, demo jobs and a login,
    and two recipes: work orders until someone is on shift, and a long batch whose executor the
    console's Demo page can kill.

    Prints the console URL, a login and a REST API token made for this run; Ctrl-C stops every
    process (and deletes the demo's temporary folder; a --dir folder is kept).
    """
    from ..demo.supervisor import run_demo

    if workdir is None:
        folder = Path(tempfile.mkdtemp(prefix="shardcron-demo-"))
    else:
        folder = Path(workdir)
        if folder.exists() and any(folder.iterdir()):
            raise ShardcronError(f"--dir {folder} is not empty: the demo starts from a fresh folder")
        folder.mkdir(parents=True, exist_ok=True)
    sys.exit(run_demo(folder.resolve(), port, executors, lambda line: click.echo(line), removes_workdir=workdir is None, shift_after_s=shift_after_s))
