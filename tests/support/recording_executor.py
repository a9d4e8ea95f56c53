"""A stub executor on loopback: answers every POST with an envelope and records what it got.

For monitor tests that only need to see the admin's calls (`/kill`, `/beat`); `answers` sets the
envelope code per path (default 200), `contents` the envelope's content per path (default none).
"""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler
from collections.abc import Callable
from typing import Any

from .net import LoopbackHTTPServer


class RecordingExecutor:
    def __init__(self) -> None:
        self.calls: list[tuple[str, Any, str | None]] = []  # (path, JSON body or None, token)
        self.answers: dict[str, int] = {}
        #: The envelope's content (and data) per path, e.g. a `/log` page; None when not set.
        self.contents: dict[str, Any] = {}
        #: When set: the envelope code for a body (overrides `answers`).
        self.answer_for: Callable[[Any], int] | None = None
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with stub._lock:
                    stub.calls.append((self.path, json.loads(raw) if raw else None, self.headers.get("XXL-JOB-ACCESS-TOKEN")))
                    body_json = json.loads(raw) if raw else None
                    code = stub.answer_for(body_json) if stub.answer_for else stub.answers.get(self.path, 200)
                    content = stub.contents.get(self.path)
                body = json.dumps({"code": code, "msg": None if code == 200 else "refused", "content": content, "data": content}).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        self._http = LoopbackHTTPServer(Handler)
        self.port = self._http.port

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> RecordingExecutor:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()

    def paths(self) -> list[str]:
        with self._lock:
            return [path for path, _, _ in self.calls]
