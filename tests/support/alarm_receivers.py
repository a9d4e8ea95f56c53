"""Real local receivers for alarm tests: an SMTP server (aiosmtpd) and an HTTP webhook endpoint."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from typing import Any

from aiosmtpd.controller import Controller

from .net import LoopbackHTTPServer, free_port


class SmtpReceiver:
    """A plain SMTP server on loopback that keeps every message it accepts."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], str]] = []  # (mail from, rcpt tos, content)
        receiver = self

        class Handler:
            async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:  # noqa: N802 (aiosmtpd's name)
                receiver.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content.decode("utf-8", "replace")))
                return "250 Message accepted"

        self.port = free_port()
        self._controller = Controller(Handler(), hostname="127.0.0.1", port=self.port)

    def start(self) -> SmtpReceiver:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()


class WebhookReceiver:
    """An HTTP endpoint that records JSON POSTs and answers with `status` (200 by default)."""

    def __init__(self) -> None:
        self.received: list[Any] = []
        self.status = 200
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                receiver.received.append({"content_type": self.headers.get("Content-Type"), "body": json.loads(raw)})
                self.send_response(receiver.status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self._http = LoopbackHTTPServer(Handler)
        self.port = self._http.port

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks/shardcron"

    def start(self) -> WebhookReceiver:
        self._http.start()
        return self

    def stop(self) -> None:
        self._http.stop()
