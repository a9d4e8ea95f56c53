"""A loopback HTTP peer that answers each request with bytes a test scripted, byte for byte.

For client tests that need answers no well-behaved server library sends on demand: chunked
bodies with extensions and trailers, HTTP/1.0, interim 100 answers, bodies that run to the
close, truncated or malformed answers, a peer that hangs up. Each answer is a callable taking
the request and returning the bytes to send and whether to close the connection afterwards.
"""

from __future__ import annotations

import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class Request:
    connection: int  # 0 for the first connection accepted, 1 for the next, …
    line: str
    headers: dict[str, str]  # names lower-cased
    body: bytes


Answer = Callable[[Request], tuple[bytes, bool]]


def ok(body: bytes = b'{"code":200}', *, extra: str = "") -> Answer:
    """A plain HTTP/1.1 200 with Content-Length, the connection kept open."""
    return lambda _: (f"HTTP/1.1 200 OK\r\nContent-Length: {len(body)}\r\n{extra}\r\n".encode() + body, False)


class ScriptedPeer:
    def __init__(self, answers: list[Answer], *, ssl_context: ssl.SSLContext | None = None) -> None:
        self._answers = list(answers)
        self._ssl_context = ssl_context
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self.requests: list[Request] = []
        self.connections = 0
        self.closed = 0  # connections this peer has closed
        self.handshake_errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._open: list[socket.socket] = []
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> ScriptedPeer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        try:
            self._listener.shutdown(socket.SHUT_RDWR)  # wakes the blocked accept() on Linux
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            for sock in self._open:
                sock.close()
        self._thread.join(timeout=10)

    def url(self, path: str = "/", scheme: str = "http") -> str:
        return f"{scheme}://127.0.0.1:{self.port}{path}"

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError:
                return
            with self._lock:
                index = self.connections
                self.connections += 1
            if self._ssl_context is not None:
                try:
                    sock = self._ssl_context.wrap_socket(sock, server_side=True)
                except (ssl.SSLError, OSError) as exc:
                    self.handshake_errors.append(exc)
                    sock.close()
                    continue
            with self._lock:
                self._open.append(sock)
            threading.Thread(target=self._serve, args=(sock, index), daemon=True).start()

    def _serve(self, sock: socket.socket, index: int) -> None:
        reader = sock.makefile("rb")
        try:
            while True:
                line = reader.readline()
                if not line:
                    return
                headers: dict[str, str] = {}
                while (header := reader.readline()) not in (b"\r\n", b""):
                    name, _, value = header.decode("latin-1").partition(":")
                    headers[name.strip().lower()] = value.strip()
                body = reader.read(int(headers.get("content-length", "0")))
                request = Request(index, line.decode("latin-1").rstrip("\r\n"), headers, body)
                with self._lock:
                    self.requests.append(request)
                    answer = self._answers.pop(0) if self._answers else None
                if answer is None:
                    return
                data, close = answer(request)
                sock.sendall(data)
                if close:
                    return
        except OSError:
            return
        finally:
            reader.close()
            sock.close()
            with self._lock:
                self.closed += 1
