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


_CLIENT_KEY = "shardcron.executor_client"


def executor_client():
    """The app's pooled client for admin -> executor calls (log tail, kill), made on first use.

    Services decide whom it may call (registered, live executors of the run's group only)."""
    from ..config import read_or_create_secret
    from ..scheduling.executor_client import ExecutorClient

    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.extensions.get(_CLIENT_KEY)
    if client is None:
        config = admin_ctx().config
        client = app.extensions.setdefault(
            _CLIENT_KEY,
            ExecutorClient(read_or_create_secret(config, "access_token"), connect_timeout_s=config.executor_timeout_s, read_timeout_s=config.executor_timeout_s),
        )
    return client
