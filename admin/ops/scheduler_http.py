"""A small HTTP endpoint for `shardcron scheduler` processes, which serve no web app:
`GET /healthz` and `GET /metrics` (the fire loop's counters live in the scheduler process).

Started only when `scheduler_metrics_bind` is set; `/metrics` takes the same Bearer token as the
web's (`metrics_token`, or the one generated into instance_dir; none with `metrics_open`).
"""

from __future__ import annotations

import hmac
import logging
import threading
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import generate_latest

from shardcron.core.errors import ShardcronError

from ..config import Config, metrics_token
from ..metrics import CONTENT_TYPE, REGISTRY

log = logging.getLogger("shardcron.admin.ops")


def scheduler_wsgi_app(config: Config, alive: Callable[[], bool]) -> Callable[..., Iterable[bytes]]:
    required = metrics_token(config)
    token = required.encode() if required is not None else None

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "")
        if environ.get("REQUEST_METHOD") != "GET" or path not in ("/healthz", "/metrics"):
            start_response("404 Not Found", [("Content-Type", "text/plain")])
            return [b"only GET /healthz and GET /metrics are served here\n"]
        if path == "/healthz":
            ok = alive()
            start_response("200 OK" if ok else "503 Service Unavailable", [("Content-Type", "application/json")])
            return [b'{"status":"ok"}' if ok else b'{"status":"scheduler loops stopped"}']
        if token is not None:
            scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode(), token):
                start_response("401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")])
                return [b"metrics need Authorization: Bearer <metrics_token>\n"]
        start_response("200 OK", [("Content-Type", CONTENT_TYPE)])
        return [generate_latest(REGISTRY)]

    return app


class SchedulerHttp:
    """The waitress server of that app, on its own thread."""

    def __init__(self, config: Config, alive: Callable[[], bool]) -> None:
        from waitress import create_server

        assert config.scheduler_metrics_bind
        host, _, port = config.scheduler_metrics_bind.rpartition(":")
        try:
            self._server = create_server(scheduler_wsgi_app(config, alive), host=host, port=int(port), threads=2, ident="shardcron-scheduler")
        except OSError as exc:
            raise ShardcronError(f"cannot listen on {config.scheduler_metrics_bind} (scheduler_metrics_bind): {exc.strerror}") from None
        self.port = self._server.effective_port
        self._thread = threading.Thread(target=self._server.run, name="shardcron-scheduler-http", daemon=True)

    def start(self) -> SchedulerHttp:
        self._thread.start()
        log.info("scheduler metrics served", extra={"bind": f"{self._server.effective_host}:{self.port}"})
        return self

    def close(self) -> None:
        self._server.close()
        self._thread.join(timeout=5)
