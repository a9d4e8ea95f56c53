"""Calls from the executor to its admins: `POST {admin}/api/<path>`, admins tried in turn.

One keep-alive connection per admin (`keepalive.KeepAliveConnection`, a lean HTTP/1.1 client on
a plain socket): this runs for every callback batch and registration. Each loop (registration,
callbacks, progress) owns one client, so no connection is shared between threads.
"""

from __future__ import annotations

import http.client
import logging
from dataclasses import dataclass
from typing import Any

from shardcron.core.errors import ShardcronError
from shardcron.core.keepalive import KeepAliveConnection
from shardcron.core.protocol import ACCESS_TOKEN_HEADER, MAX_BODY_BYTES, Envelope, ProtocolError, decode_json, encode_json

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


class AdminClient:
    def __init__(self, admins: tuple[str, ...], access_token: str | None, timeout_s: float) -> None:
        if not admins:
            raise ValueError("an AdminClient needs at least one admin address")
        self.admins = admins
        self._connections = [KeepAliveConnection(address, connect_timeout_s=timeout_s, read_timeout_s=timeout_s) for address in admins]
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

    def _post_once(self, conn: KeepAliveConnection, path: str, data: bytes) -> Envelope:
        try:
            status, body = conn.post(f"api/{path}", data, self._headers, max_bytes=MAX_BODY_BYTES)
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
