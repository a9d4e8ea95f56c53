"""shardcron's admin: web console, REST API, executor-facing API and scheduler.

`create_app()` builds the Flask app for one configuration and binds the database; like Flask's
own factory pattern, it starts nothing: threads (the scheduler, monitors) start only from the
command line runners.

This package is also the parent of the `shardcron` command (`shardcron.admin.cli`), which
`shardcron executor run` goes through; so importing it loads nothing: `create_app`,
`admin_context` and `AdminContext` live in `factory` and are imported on first use (Flask,
SQLAlchemy's ORM and the blueprints come with them). tests/test_packaging.py enforces it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .context import AdminContext, admin_context
    from .factory import create_app

__all__ = ["AdminContext", "admin_context", "create_app"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import factory  # deferred on purpose: importing the package loads nothing (docstring)

        return getattr(factory, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
