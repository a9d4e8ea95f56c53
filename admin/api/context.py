"""What the API's route modules share: the AdminContext, the actor, the request's JSON body."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request

from ..config import read_or_create_secret
from ..context import AdminContext
from ..texts import Text, _t
from ..services.actor import Actor
from ..services.errors import ServiceError
from ..services.numbers import A_WHOLE_NUMBER, whole
from ..transport.executor_client import ExecutorClient

_CLIENT_KEY = "shardcron.executor_client"


def admin_ctx() -> AdminContext:
    return current_app.extensions["shardcron"]


def now_ms() -> int:
    return admin_ctx().clock.now_ms()


def actor() -> Actor:
    return g.api_actor


def json_body(*, required: bool = True) -> dict[str, Any]:
    """The request's JSON object; a 400 ServiceError for a missing or malformed body."""
    if not request.data and not required:
        return {}
    if not request.is_json:
        raise ServiceError(_t("send a JSON object with Content-Type: application/json"))
    try:
        body = request.get_json(silent=True)
    except RecursionError:  # `silent` covers ValueError only; `[[[[...]]]]` thousands deep is not JSON we read
        raise ServiceError(_t("the request body nests too deeply")) from None
    if not isinstance(body, dict):
        raise ServiceError(_t("the request body must be a JSON object"))
    return body


def int_arg(name: str, low: int, high: int, *, what: Text = A_WHOLE_NUMBER) -> int | None:
    """A query parameter in ASCII digits within `low..high`; absent or blank is None; anything
    else is a 400 naming the parameter."""
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    return whole(raw, name, low, high, what=what, message=_t("bad query parameter"))


def bool_arg(name: str) -> bool | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return None
    lowered = raw.lower()
    if lowered in ("true", "1", "yes"):
        return True
    if lowered in ("false", "0", "no"):
        return False
    raise ServiceError(_t("bad query parameter %(name)s", name=name), field_errors={name: _t("must be true or false")})


def executor_client():
    """The app's pooled client for admin -> executor calls (log tail, kill), made on first use and
    shared with the console (same extension key). Services decide whom it may call."""
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    client = app.extensions.get(_CLIENT_KEY)
    if client is None:
        config = admin_ctx().config
        client = app.extensions.setdefault(
            _CLIENT_KEY,
            ExecutorClient(read_or_create_secret(config, "access_token"), connect_timeout_s=config.executor_timeout_s, read_timeout_s=config.executor_timeout_s),
        )
    return client
