"""Small helpers the page modules share: the AdminContext, form values, safe redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app

from ..context import AdminContext
from ..api.context import executor_client  # noqa: F401  (one pooled client per app, shared with the REST API)


def admin_ctx() -> AdminContext:
    return current_app.extensions["shardcron"]


def now_ms() -> int:
    return admin_ctx().clock.now_ms()


def safe_next(target: str | None, default: str) -> str:
    """Only local paths: a login link must not send the user to another site afterwards."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc:
        return default
    return target

