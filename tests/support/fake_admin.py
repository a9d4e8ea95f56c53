"""A real HTTP server on loopback standing in for an admin's executor-facing API.

It records every call to /api/registry, /api/registryRemove, /api/callback, /api/progress and /api/checkpoint
(parsed with shardcron's protocol module), can refuse calls (code 500) per path, and can be
taken down and brought back on the same port (open keep-alive connections are cut too, so a
"down" admin is really unreachable).
"""

from __future__ import annotations

import socket
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from shardcron.core.protocol import (
    ACCESS_TOKEN_HEADER,
    CallbackParam,
    CheckpointParam,
    Envelope,
    ProgressParam,
    ProtocolError,
    RegistryParam,
    decode_json,
    encode_json,
    parse_callback_body,
    parse_checkpoint_body,
    parse_progress_body,
)

from .net import free_port, wait_until

PATHS = ("/api/registry", "/api/registryRemove", "/api/callback", "/api/progress", "/api/checkpoint")


@dataclass(frozen=True)
class Received:
    path: str
    raw: bytes
    token: str | None
    accepted: bool
    #: Parsed body: list[CallbackParam], list[ProgressParam] or RegistryParam; None if malformed.
    parsed: Any


class FakeAdmin:
    def __init__(self, token: str | None = None) -> None:
        self.token = token
        self.port = free_port()
        self._received: list[Received] = []
        self._refusing: set[str] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._connections: set[socket.socket] = set()
        #: Called as hook(path, parsed) before a valid call is answered (to observe the executor then).
        self.hook: Callable[[str, Any], None] | None = None

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/"

    def start(self) -> FakeAdmin:
        admin = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as real admins serve it

            def setup(self) -> None:
                super().setup()
                with admin._lock:
                    admin._connections.add(self.connection)

            def finish(self) -> None:
                with admin._lock:
                    admin._connections.discard(self.connection)
                super().finish()

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                envelope = admin._answer(self.path, raw, self.headers.get(ACCESS_TOKEN_HEADER))
                body = encode_json(envelope.to_wire())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        server.daemon_threads = True
        self._server = server
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        return self

    def stop(self) -> None:
        """Go down: stop listening and cut every open connection."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.server_close()
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for conn in connections:
            try:
                conn.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def __enter__(self) -> FakeAdmin:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ behaviour

    def refuse(self, *paths: str) -> None:
        """Answer code 500 on these paths (all of them when none given)."""
        with self._lock:
            self._refusing.update(paths or PATHS)

    def accept(self, *paths: str) -> None:
        with self._lock:
            self._refusing.difference_update(paths or PATHS)

    def _answer(self, path: str, raw: bytes, token: str | None) -> Envelope:
        parsed: Any = None
        if self.token is not None and token != self.token:
            envelope = Envelope.failure("The access token is wrong.")
        elif path not in PATHS:
            envelope = Envelope.failure(f"invalid request, uri-mapping({path}) not found.")
        else:
            try:
                body = decode_json(raw)
                if path == "/api/callback":
                    parsed = parse_callback_body(body)
                elif path == "/api/progress":
                    parsed = parse_progress_body(body)
                elif path == "/api/checkpoint":
                    parsed = parse_checkpoint_body(body)
                else:
                    parsed = RegistryParam.from_wire(body)
                if self.hook is not None:
                    self.hook(path, parsed)
                with self._lock:
                    refusing = path in self._refusing
                envelope = Envelope.failure("refused by the test") if refusing else Envelope.success()
            except ProtocolError as exc:
                envelope = Envelope.failure(str(exc))
        with self._lock:
            self._received.append(Received(path, raw, token, envelope.ok, parsed))
        return envelope

    # ------------------------------------------------------------------ what it saw

    def received(self, path: str) -> list[Received]:
        with self._lock:
            return [r for r in self._received if r.path == path]

    def callbacks(self, *, accepted: bool = True) -> list[CallbackParam]:
        """Results in the order they arrived (accepted ones only, unless accepted=False)."""
        return [item for r in self.received("/api/callback") if r.accepted or not accepted for item in (r.parsed or [])]

    def callback_counts(self) -> Counter[int]:
        """How often each log id was accepted (a real admin ignores all but the first)."""
        return Counter(c.log_id for c in self.callbacks())

    def result(self, log_id: int) -> CallbackParam:
        matches = [c for c in self.callbacks() if c.log_id == log_id]
        assert matches, f"no accepted callback for logId {log_id}"
        return matches[0]

    def progress(self) -> list[ProgressParam]:
        return [item for r in self.received("/api/progress") if r.accepted for item in (r.parsed or [])]

    def checkpoints(self) -> list[CheckpointParam]:
        return [item for r in self.received("/api/checkpoint") if r.accepted for item in (r.parsed or [])]

    def registrations(self, path: str = "/api/registry") -> list[RegistryParam]:
        return [r.parsed for r in self.received(path) if r.accepted]

    def wait_for_result(self, log_id: int, timeout_s: float = 30.0) -> CallbackParam:
        wait_until(lambda: any(c.log_id == log_id for c in self.callbacks()), timeout_s=timeout_s, what=f"callback of logId {log_id}")
        return self.result(log_id)
