"""The executor's HTTP face: a plain WSGI app for `/beat`, `/idleBeat`, `/run`, `/kill`, `/log`.

As XXL-JOB admins expect, every answer is HTTP 200 with the envelope `{"code", "msg", "content",
"data"}`; refusals are code 500 with the reason. Every call must carry the access token
(`XXL-JOB-ACCESS-TOKEN`, or the alias `XXL-RPC-ACCESS-TOKEN`), compared in constant time, unless
the executor runs in its explicit insecure mode. The app is served by `EmbeddedServer`
(waitress) or mounted by a host in its own WSGI server.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Iterable
from typing import Any

from .dispatcher import Dispatcher, TriggerRefused
from .joblog import RunLogStore
from shardcron.core.numbers import parse_whole
from .ops import PATHS as OPS_PATHS
from .ops import ExecutorOps
from shardcron.core.protocol import (
    ACCESS_TOKEN_HEADER_ALIASES,
    MAX_BODY_BYTES,
    Envelope,
    JobIdParam,
    LogParam,
    LogResult,
    ProtocolError,
    TriggerParam,
    decode_json,
    encode_json,
)

log = logging.getLogger("shardcron.executor.server")

_TOKEN_KEYS = tuple("HTTP_" + name.upper().replace("-", "_") for name in ACCESS_TOKEN_HEADER_ALIASES)
_HEADERS_BASE = [("Content-Type", "application/json;charset=UTF-8")]
WRONG_TOKEN = "The access token is wrong."


class ExecutorWsgiApp:
    """`app(environ, start_response)`; mount it at the URL the executor advertises."""

    def __init__(
        self, dispatcher: Dispatcher, logs: RunLogStore, access_token: str | None, *, insecure: bool = False, ops: ExecutorOps | None = None
    ) -> None:
        if not access_token and not insecure:
            raise ValueError("an executor endpoint needs an access token unless it is explicitly insecure")
        self._ops = ops
        self._dispatcher = dispatcher
        self._logs = logs
        self._token = access_token.encode("utf-8") if access_token else None
        self._routes: dict[str, Callable[[bytes], Envelope]] = {
            "/beat": self._beat,
            "/idleBeat": self._idle_beat,
            "/run": self._run,
            "/kill": self._kill,
            "/log": self._log,
        }

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        method = environ.get("REQUEST_METHOD", "GET").upper()
        if self._ops is not None and method in ("GET", "HEAD"):
            path = "/" + environ.get("PATH_INFO", "").strip("/")
            if path in OPS_PATHS:  # health and metrics: GET only, so no XXL-JOB call can land here
                status, headers, payload = self._ops.respond(path, environ)
                start_response(status, [*headers, ("Content-Length", str(len(payload)))])
                return [b"" if method == "HEAD" else payload]
        envelope = self.handle(environ)
        body = encode_json(envelope.to_wire())
        start_response("200 OK", [*_HEADERS_BASE, ("Content-Length", str(len(body)))])
        return [body]

    def handle(self, environ: dict[str, Any]) -> Envelope:
        if environ.get("REQUEST_METHOD", "GET").upper() != "POST":
            return Envelope.failure("invalid request, HttpMethod not support.")
        if not self._token_ok(environ):
            log.warning("call refused: access token missing or wrong", extra={"path": environ.get("PATH_INFO", ""), "peer": environ.get("REMOTE_ADDR")})
            return Envelope.failure(WRONG_TOKEN)
        path = "/" + environ.get("PATH_INFO", "").strip("/")
        route = self._routes.get(path)
        if route is None:
            return Envelope.failure(f"invalid request, uri-mapping({path}) not found.")
        try:
            return route(_read_body(environ))
        except (ProtocolError, TriggerRefused) as exc:
            return Envelope.failure(str(exc))
        except Exception as exc:  # answer the admin in the protocol's shape, never a bare 500
            log.exception("executor endpoint failed", extra={"path": path})
            return Envelope.failure(f"executor error in {path}: {type(exc).__name__}: {exc}")

    def _token_ok(self, environ: dict[str, Any]) -> bool:
        if self._token is None:
            return True
        ok = False
        for key in _TOKEN_KEYS:
            given = environ.get(key)
            if given is not None and hmac.compare_digest(given.encode("utf-8", errors="replace"), self._token):
                ok = True
        return ok

    # ------------------------------------------------------------------ endpoints

    def _beat(self, body: bytes) -> Envelope:
        return Envelope.success()

    def _idle_beat(self, body: bytes) -> Envelope:
        job_id = JobIdParam.from_wire(decode_json(body)).job_id
        if self._dispatcher.is_busy(job_id):
            return Envelope.failure("job thread is running or has trigger queue.")
        return Envelope.success()

    def _run(self, body: bytes) -> Envelope:
        trigger = TriggerParam.from_wire(decode_json(body))
        return Envelope.success(msg=self._dispatcher.submit(trigger))

    def _kill(self, body: bytes) -> Envelope:
        job_id = JobIdParam.from_wire(decode_json(body)).job_id
        return Envelope.success(msg=self._dispatcher.kill(job_id))

    def _log(self, body: bytes) -> Envelope:
        param = LogParam.from_wire(decode_json(body))
        # Ask "still running?" before reading, so a run that ends in between is read to its end
        # on the next call rather than reported as ended with its last lines missing.
        live = self._dispatcher.live_log(param.log_id)
        active = live is not None
        if live is not None:  # its lines may still be in memory only (joblog.RunLogFile.hold)
            page = live.read_page(param.from_line_num)
        else:
            page = self._logs.read_page(param.log_id, param.log_date_time_ms, param.from_line_num)
        # Whether this executor ever took the logId (a scheduler settling a /run it never got an
        # answer to asks this): running or queued, recently accepted, its result still in the
        # spool, or a log file on disk.
        known = active or page is not None or self._dispatcher.has_accepted(param.log_id)
        # Whether the run ended and its result waits for an admin (an admin deciding whether a
        # run is lost asks this after /idleBeat said idle: idle alone cannot tell a restarted
        # executor from one whose result is still on its way).
        pending = self._dispatcher.result_pending(param.log_id)
        if page is None:
            result = LogResult(param.from_line_num, param.from_line_num - 1, "", is_end=not active, log_id_known=known, result_pending=pending)
        else:
            result = LogResult(
                page.from_line, page.to_line, page.content, is_end=page.at_eof and not active, log_id_known=known, result_pending=pending
            )
        return Envelope.success(result.to_wire())


def _read_body(environ: dict[str, Any]) -> bytes:
    length = parse_whole(environ.get("CONTENT_LENGTH") or "0")  # ASCII digits: int() takes "١٢" too
    if length is None:
        raise ProtocolError("invalid Content-Length")
    if length > MAX_BODY_BYTES:
        raise ProtocolError(f"body of {length} bytes is over the {MAX_BODY_BYTES}-byte limit")
    if length <= 0:
        return b""
    return environ["wsgi.input"].read(length)
