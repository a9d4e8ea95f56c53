"""`shardcron executor run module:attr`: run an application's executor in the foreground.

`attr` names an `Executor` (or a function returning one) in an importable module; the current
directory is importable, as with gunicorn. Flags override the executor's settings; SIGTERM or
Ctrl-C stop it gracefully (deregister, refuse triggers, wait for running jobs, flush callbacks).
"""

from __future__ import annotations

import importlib
import os
import sys

import click

from .app import Executor
from shardcron.core.errors import ShardcronError
from shardcron.core.logfmt import configure_logging


def load_executor(target: str) -> Executor:
    """`package.module:attr` -> the Executor it names (calling `attr` if it is a factory)."""
    module_name, sep, attr_path = target.partition(":")
    if not sep or not module_name or not attr_path:
        raise ShardcronError(f"executor target {target!r} must look like package.module:attribute")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        obj: object = importlib.import_module(module_name)
    except ImportError as exc:
        raise ShardcronError(f"cannot import module {module_name!r} of {target!r}: {exc}") from None
    for part in attr_path.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise ShardcronError(f"module {module_name!r} has no attribute {attr_path!r}") from None
    if not isinstance(obj, Executor) and callable(obj):
        obj = obj()
    if not isinstance(obj, Executor):
        raise ShardcronError(f"{target} is a {type(obj).__name__}, not a shardcron Executor")
    return obj


@click.group("executor")
def executor() -> None:
    """Run executors: the job handlers of an application."""


@executor.command("run")
@click.argument("target")
@click.option("--listen", default=None, help="HOST:PORT to bind (default: the executor's `listen` setting, 0.0.0.0:9999).")
@click.option("--advertise-address", default=None, help="URL the admins call this executor at (containers, NAT).")
@click.option("--log-level", default=None, type=click.Choice(["DEBUG", "INFO", "WARNING", "ERROR"], case_sensitive=False))
@click.option("--log-format", default=None, type=click.Choice(["text", "json"], case_sensitive=False))
def run(target: str, listen: str | None, advertise_address: str | None, log_level: str | None, log_format: str | None) -> None:
    """Run the executor TARGET (package.module:attribute) until SIGTERM or Ctrl-C."""
    instance = load_executor(target)
    instance.configure(
        listen=listen,
        advertise_address=advertise_address,
        log_level=log_level.upper() if log_level else None,
        log_format=log_format.lower() if log_format else None,
    )
    configure_logging(instance.config.log_level, instance.config.log_format)
    instance.run()
