"""A local receiver for the demo's webhook alarms: it prints each alarm as it arrives."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class AlarmReceiver:
    def __init__(self, on_alarm: Callable[[dict[str, Any]], None]) -> None:
        self.received: list[dict[str, Any]] = []
        self._on_alarm = on_alarm
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                length = min(int(self.headers.get("Content-Length") or 0), 1_000_000)
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    body = {"unreadable": True}
                receiver._record(body if isinstance(body, dict) else {"body": body})
                self.send_response(204)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/alarm"
        self._thread = threading.Thread(target=self._server.serve_forever, name="shardcron-demo-webhook", daemon=True)

    def _record(self, body: dict[str, Any]) -> None:
        with self._lock:
            self.received.append(body)
        self._on_alarm(body)

    def start(self) -> AlarmReceiver:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)
