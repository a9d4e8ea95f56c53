"""One keep-alive HTTP/1.1 connection to one base address, on plain `http.client`.

Both directions of the protocol use it: the executor's calls to its admins and the admin's
calls to executors. It is several times cheaper per call than a full HTTP library (measured in
docs/benchmarks.md), goes straight to the address (no proxy, no credentials from the
environment, no redirects followed) and verifies https peers against the system's CA store.
A connection is used by one thread at a time.
"""

from __future__ import annotations

import http.client
import ssl
from urllib.parse import urlsplit


class KeepAliveConnection:
    def __init__(self, address: str, *, connect_timeout_s: float, read_timeout_s: float) -> None:
        parts = urlsplit(address)
        self.address = address
        self.base_path = parts.path.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._conn: http.client.HTTPConnection | None = None

    @property
    def is_open(self) -> bool:
        return self._conn is not None

    def post(self, path: str, data: bytes, headers: dict[str, str], *, max_bytes: int) -> tuple[int, bytes]:
        """POST `data` to base path + `/` + `path`; returns the HTTP status and at most
        `max_bytes + 1` bytes of the body (more than `max_bytes` means it was cut).

        A keep-alive connection the peer closed while idle is retried once on a fresh one; every
        call of the protocol is safe to repeat (a second result or a repeated logId is refused
        by the other side). Raises OSError / http.client.HTTPException (TimeoutError on a timeout).
        """
        url = f"{self.base_path}/{path.lstrip('/')}"
        reused = self._conn is not None
        try:
            return self._exchange(url, data, headers, max_bytes)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
            return self._exchange(url, data, headers, max_bytes)

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                conn: http.client.HTTPConnection = http.client.HTTPSConnection(
                    self._host, self._port, timeout=self._connect_timeout_s, context=ssl.create_default_context()
                )
            else:
                conn = http.client.HTTPConnection(self._host, self._port, timeout=self._connect_timeout_s)
            conn.connect()
            assert conn.sock is not None
            conn.sock.settimeout(self._read_timeout_s)
            self._conn = conn
        return self._conn

    def _exchange(self, url: str, data: bytes, headers: dict[str, str], max_bytes: int) -> tuple[int, bytes]:
        try:
            conn = self._connection()
            conn.request("POST", url, body=data, headers=headers)
            response = conn.getresponse()
            body = response.read(max_bytes + 1)
            if response.will_close or len(body) > max_bytes:
                self.close()
            return response.status, body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
