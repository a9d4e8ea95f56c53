"""A loopback TCP proxy in front of a MySQL/MariaDB server that counts the statements passing
through it, by shape ("UPDATE sc_fire", "SELECT sc_job", "COMMIT", ...).

Measures the database load of some processes alone on a server that others use too (the
server's global counters would count everybody). Clients connect to `port` instead of the
server's; everything is forwarded unchanged. MySQL client packets are `length (3 bytes LE),
sequence (1 byte), payload`; a command starts a new exchange, so its packet has sequence 0
(the login exchange's packets never do), and COM_QUERY (0x03) carries the statement text.
Plain connections only (PyMySQL without TLS, no compression).
"""

from __future__ import annotations

import re
import socket
import threading
from collections import Counter

from .net import free_port

COM_QUERY = 0x03
_TABLE = re.compile(r"\b(?:FROM|UPDATE|INTO)\s+`?(\w+)`?", re.IGNORECASE)


def statement_shape(sql: str) -> str:
    """The statement's verb and the first table it names."""
    text = sql.lstrip(" \t\r\n(")
    verb = text.split(None, 1)[0].upper() if text else "?"
    table = _TABLE.search(text)
    return f"{verb} {table.group(1)}" if table else verb


class StatementCounter:
    def __init__(self, upstream_host: str, upstream_port: int) -> None:
        self.upstream = (upstream_host, upstream_port)
        self.port = free_port()
        self._counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._closed = threading.Event()
        self._sockets: list[socket.socket] = []

    def start(self) -> StatementCounter:
        threading.Thread(target=self._accept, name="statement-counter", daemon=True).start()
        return self

    def take(self) -> Counter[str]:
        """The counts since the previous take."""
        with self._lock:
            counts, self._counts = self._counts, Counter()
        return counts

    def stop(self) -> None:
        self._closed.set()
        self._listener.close()
        for sock in list(self._sockets):
            try:
                sock.close()
            except OSError:
                pass

    def _accept(self) -> None:
        while not self._closed.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            server = socket.create_connection(self.upstream, timeout=10)
            server.settimeout(None)
            self._sockets += [client, server]
            threading.Thread(target=self._pipe, args=(client, server, True), daemon=True).start()
            threading.Thread(target=self._pipe, args=(server, client, False), daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, from_client: bool) -> None:
        pending = bytearray()
        try:
            while data := source.recv(65536):
                sink.sendall(data)
                if from_client:
                    pending += data
                    self._count(pending)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def _count(self, pending: bytearray) -> None:
        """Counts the whole packets at the front of `pending` and removes them."""
        while len(pending) >= 4:
            length = pending[0] | pending[1] << 8 | pending[2] << 16
            if len(pending) < 4 + length:
                return
            seq, payload = pending[3], bytes(pending[4:4 + min(length, 512)])
            del pending[:4 + length]
            if seq != 0 or not payload:
                continue
            shape = statement_shape(payload[1:].decode("utf-8", "replace")) if payload[0] == COM_QUERY else f"command 0x{payload[0]:02x}"
            with self._lock:
                self._counts[shape] += 1
