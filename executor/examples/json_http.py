"""A small threaded JSON-over-HTTP server on loopback, for the examples' two parties."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

#: (method, path) -> handler(path, body) -> (HTTP status, JSON body)
Route = Callable[[str, Any], tuple[int, Any]]

MAX_BODY_BYTES = 1024 * 1024


class JsonServer:
    """Serves `route(method, path, body)` on 127.0.0.1 in a background thread until `close()`."""

    def __init__(self, route: Callable[[str, str, Any], tuple[int, Any]], *, port: int = 0) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_BODY_BYTES:
                    status, body = 413, {"error": f"body over {MAX_BODY_BYTES} bytes"}
                else:
                    raw = self.rfile.read(length) if length else b""
                    try:
                        data = json.loads(raw) if raw else None
                    except ValueError:
                        status, body = 400, {"error": "body is not JSON"}
                    else:
                        status, body = outer.route(method, self.path, data)
                encoded = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)

            def do_GET(self) -> None:  # noqa: N802 - the http.server naming
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

            def log_message(self, format: str, *args: Any) -> None:  # the examples print their own story
                return None

        self.route = route
        self.httpd = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.httpd.daemon_threads = True
        # A short poll interval: close() waits for the serving loop to notice the shutdown.
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, name="json-http", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
