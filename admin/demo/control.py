"""The demo supervisor's control endpoint: how the console's Demo page reaches the supervisor.

It listens on 127.0.0.1 only and answers only a request carrying the token the supervisor made
for this run (the console gets both through `demo_control_url` / `demo_control_token`). It has
one action, `POST /kill-batch-executor`, and the request names nothing: the supervisor looks up
which of its own executor children runs the batch recipe's run and kills that one, so no caller
can point it at another process.
"""

from __future__ import annotations

import hmac
import json
import secrets
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

KILL_PATH = "/kill-batch-executor"


@dataclass(frozen=True)
class KillDone:
    """The batch's executor got SIGKILL: which child, and the run it was running."""

    run_id: int
    job_id: int
    executor: str
    pid: int
    address: str
    restart_in_s: int


@dataclass(frozen=True)
class KillRefused:
    """Nothing was killed; `reason` is one of the REFUSALS keys."""

    reason: str


#: Why a kill is refused (the console words each one in the reader's language).
REFUSALS = ("no_running_batch", "executor_not_ours", "executor_gone")

KillOutcome = KillDone | KillRefused


class ControlServer:
    def __init__(self, kill_batch_executor: Callable[[], KillOutcome]) -> None:
        self.token = secrets.token_urlsafe(32)
        token = self.token

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                sent = self.headers.get("Authorization") or ""
                if not hmac.compare_digest(sent.encode(), f"Bearer {token}".encode()):
                    self._answer(401, {"error": "token"})
                elif self.path != KILL_PATH:
                    self._answer(404, {"error": "path"})
                else:
                    outcome = kill_batch_executor()
                    self._answer(200 if isinstance(outcome, KillDone) else 409, asdict(outcome))

            def _answer(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        self._thread = threading.Thread(target=self._server.serve_forever, name="shardcron-demo-control", daemon=True)

    def start(self) -> ControlServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
