"""`AdminContext`: what every request handler, service and loop of the admin needs.

It lives apart from the app factory so that the blueprints, the metrics and the monitors can name
it without importing the factory that registers them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from shardcron.core.clock import Clock

from .config import Config
from .db import Database

if TYPE_CHECKING:
    from flask import Flask


@dataclass
class AdminContext:
    """What every request handler and service needs: configuration, database, clock."""

    config: Config
    db: Database
    clock: Clock


def admin_context(app: Flask) -> AdminContext:
    return app.extensions["shardcron"]
