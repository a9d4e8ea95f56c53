"""Small helpers the page modules share: the AdminContext, form values, safe redirects."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import current_app, request

from .. import AdminContext


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


def form_text(name: str, default: str = "") -> str:
    value = request.form.get(name)
    return default if value is None else value.strip()
