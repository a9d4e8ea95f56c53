"""Calls from the executor to its admins: `POST {admin}/api/<path>`, admins tried in turn.

Each loop (registration, callbacks, progress) owns one client, so each keeps its own pool of
keep-alive connections and no `requests.Session` is shared between threads.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import requests

from .errors import ShardcronError
from .protocol import ACCESS_TOKEN_HEADER, Envelope, ProtocolError, decode_json, encode_json, join_address

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
        self._timeout_s = timeout_s
        self._session = requests.Session()
        self._session.headers["Content-Type"] = "application/json;charset=UTF-8"
        if access_token:
            self._session.headers[ACCESS_TOKEN_HEADER] = access_token

    def post_once(self, admin: str, path: str, body: Any) -> Envelope:
        """One call to one admin; raises AdminUnavailable with the reason when it fails."""
        url = join_address(join_address(admin, "api"), path)
        try:
            response = self._session.post(url, data=encode_json(body), timeout=self._timeout_s)
        except requests.RequestException as exc:
            raise AdminUnavailable(path, [f"{admin}: {_short(exc)}"]) from None
        if response.status_code != 200:
            raise AdminUnavailable(path, [f"{admin}: HTTP {response.status_code}"])
        try:
            envelope = Envelope.from_wire(decode_json(response.content))
        except ProtocolError as exc:
            raise AdminUnavailable(path, [f"{admin}: {exc}"]) from None
        if not envelope.ok:
            raise AdminUnavailable(path, [f"{admin}: code {envelope.code} {envelope.msg or ''}".rstrip()])
        return envelope

    def post(self, path: str, body: Any) -> Accepted:
        """Send to each admin in turn until one answers code 200; raises AdminUnavailable otherwise."""
        reasons: list[str] = []
        for admin in self.admins:
            try:
                return Accepted(admin, self.post_once(admin, path, body))
            except AdminUnavailable as exc:
                reasons.extend(exc.reasons)
        raise AdminUnavailable(path, reasons)

    def close(self) -> None:
        self._session.close()


def _short(exc: BaseException) -> str:
    """A one-line reason: requests' messages nest the whole urllib3 chain."""
    if isinstance(exc, requests.Timeout):
        return "timed out"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return type(exc).__name__
