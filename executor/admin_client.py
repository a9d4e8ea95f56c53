"""Calls from the executor to its admins: `POST {admin}/api/<path>`, admins tried in turn.

Plain `http.client` with one keep-alive connection per admin: this runs for every callback batch
and registration, and is several times cheaper per call than a full HTTP library. Calls go
straight to the admin (no proxy); https admins are verified against the system's CA store.
Each loop (registration, callbacks, progress) owns one client, so no connection is shared
between threads.
"""

from __future__ import annotations

import http.client
import logging
import ssl
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .errors import ShardcronError
from .protocol import ACCESS_TOKEN_HEADER, MAX_BODY_BYTES, Envelope, ProtocolError, decode_json, encode_json

log = logging.getLogger("shardcron.executor.admin_client")


class AdminUnavailable(ShardcronError):
    """No admin accepted a call; `reasons` says what each one answered."""

    def __init__(self, path: str, reasons: list[str]) -> None:
        self.reasons = reasons
        super().__init__(f"no admin accepted {path}: " + "; ".join(reasons))


@dataclass(frozen=True)
class Accepted:
    admin: str
    envelope: Envelope


class _AdminConnection:
    """One admin's keep-alive connection, reopened when the admin closed it."""

    def __init__(self, address: str, timeout_s: float) -> None:
        parts = urlsplit(address)
        self.address = address
        self.base_path = parts.path.rstrip("/")
        self._https = parts.scheme == "https"
        self._host = parts.hostname or ""
        self._port = parts.port
        self._timeout_s = timeout_s
        self._conn: http.client.HTTPConnection | None = None

    def _connection(self) -> http.client.HTTPConnection:
        if self._conn is None:
            if self._https:
                self._conn = http.client.HTTPSConnection(self._host, self._port, timeout=self._timeout_s, context=ssl.create_default_context())
            else:
                self._conn = http.client.HTTPConnection(self._host, self._port, timeout=self._timeout_s)
        return self._conn

    def post(self, path: str, data: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        url = f"{self.base_path}/api/{path}"
        reused = self._conn is not None
        try:
            return self._exchange(url, data, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            self.close()
            if not reused:
                raise
            # The admin closed the idle keep-alive connection; one retry on a fresh one. Every
            # executor -> admin call is harmless to repeat (the admin ignores a second result).
            return self._exchange(url, data, headers)

    def _exchange(self, url: str, data: bytes, headers: dict[str, str]) -> tuple[int, bytes]:
        conn = self._connection()
        try:
            conn.request("POST", url, body=data, headers=headers)
            response = conn.getresponse()
            body = response.read(MAX_BODY_BYTES + 1)
            if response.will_close or len(body) > MAX_BODY_BYTES:
                self.close()
            return response.status, body
        except BaseException:
            self.close()
            raise

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


class AdminClient:
    def __init__(self, admins: tuple[str, ...], access_token: str | None, timeout_s: float) -> None:
        if not admins:
            raise ValueError("an AdminClient needs at least one admin address")
        self.admins = admins
        self._connections = [_AdminConnection(address, timeout_s) for address in admins]
        self._headers = {"Content-Type": "application/json;charset=UTF-8"}
        if access_token:
            self._headers[ACCESS_TOKEN_HEADER] = access_token

    def post(self, path: str, body: Any) -> Accepted:
        """Send `body` (as JSON) to each admin in turn until one answers code 200; raises
        AdminUnavailable otherwise."""
        return self.post_raw(path, encode_json(body))

    def post_raw(self, path: str, data: bytes) -> Accepted:
        """`post` for a body that is already encoded JSON."""
        reasons: list[str] = []
        for conn in self._connections:
            try:
                return Accepted(conn.address, self._post_once(conn, path, data))
            except AdminUnavailable as exc:
                reasons.extend(exc.reasons)
        raise AdminUnavailable(path, reasons)

    def _post_once(self, conn: _AdminConnection, path: str, data: bytes) -> Envelope:
        try:
            status, body = conn.post(path, data, self._headers)
        except TimeoutError:
            raise AdminUnavailable(path, [f"{conn.address}: timed out"]) from None
        except (OSError, http.client.HTTPException) as exc:
            raise AdminUnavailable(path, [f"{conn.address}: connection failed ({type(exc).__name__})"]) from None
        if status != 200:
            raise AdminUnavailable(path, [f"{conn.address}: HTTP {status}"])
        try:
            envelope = Envelope.from_wire(decode_json(body))
        except ProtocolError as exc:
            raise AdminUnavailable(path, [f"{conn.address}: {exc}"]) from None
        if not envelope.ok:
            raise AdminUnavailable(path, [f"{conn.address}: code {envelope.code} {envelope.msg or ''}".rstrip()])
        return envelope

    def close(self) -> None:
        for conn in self._connections:
            conn.close()
