"""The executor's endpoints for machines: `GET /healthz`, `GET /readyz`, `GET /metrics`.

They sit beside the XXL-JOB endpoints on the same server (which only answer POST) and need no
access token, so they say nothing an outsider could use: no addresses, paths, tokens or job
names. `/metrics` requires `Authorization: Bearer <metrics_token>` when that setting is set.

- `/healthz`: the process answers HTTP (200 `{"status": "ok"}`).
- `/readyz`: 200 when the executor is running, its last registration with an admin was
  accepted, and its callback spool folder is writable; else 503 with the failed checks.
"""

from __future__ import annotations

import hmac
import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .metrics import CONTENT_TYPE, ExecutorCollector, render

PATHS = ("/healthz", "/readyz", "/metrics")
_JSON = "application/json;charset=UTF-8"


@dataclass(frozen=True)
class ReadinessInputs:
    running: Callable[[], bool]
    registered: Callable[[], bool]
    spool_dir: Path


class ExecutorOps:
    def __init__(self, inputs: ReadinessInputs, collector: ExecutorCollector, metrics_token: str | None) -> None:
        self._inputs = inputs
        self._collector = collector
        self._token = metrics_token.encode("utf-8") if metrics_token else None

    def readiness(self) -> dict[str, str]:
        """Check name -> "ok" or the reason it failed."""
        checks = {
            "running": "ok" if self._inputs.running() else "executor is not running (starting or stopping)",
            "admin": "ok" if self._inputs.registered() else "the last registration was not accepted by any admin",
        }
        spool = self._inputs.spool_dir
        checks["spool"] = "ok" if spool.is_dir() and os.access(spool, os.W_OK) else "callback spool folder is missing or not writable"
        return checks

    def respond(self, path: str, environ: dict[str, Any]) -> tuple[str, list[tuple[str, str]], bytes]:
        if path == "/healthz":
            return "200 OK", [("Content-Type", _JSON)], b'{"status":"ok"}'
        if path == "/readyz":
            checks = self.readiness()
            ready = all(v == "ok" for v in checks.values())
            body = json.dumps({"status": "ready" if ready else "not ready", "checks": checks}).encode()
            return ("200 OK" if ready else "503 Service Unavailable"), [("Content-Type", _JSON)], body
        if self._token is not None:
            scheme, _, value = environ.get("HTTP_AUTHORIZATION", "").partition(" ")
            if scheme.lower() != "bearer" or not hmac.compare_digest(value.strip().encode("utf-8", errors="replace"), self._token):
                return "401 Unauthorized", [("Content-Type", "text/plain"), ("WWW-Authenticate", "Bearer")], b"metrics need Authorization: Bearer <metrics_token>\n"
        return "200 OK", [("Content-Type", CONTENT_TYPE)], render(self._collector)
