"""Blocking calls from the admin to executors: the console's `/log` and `/kill`, the monitors'.

The scheduler's own calls (`/run`, the probes, the settling `/log`) go through its one transport
instead (multiplex.py); this client also carries the timeouts and headers that transport uses.
A pool of keep-alive connections per executor address (up to `pool_size` idle ones kept;
`shardcron.core.keepalive`, a lean HTTP/1.1 client on a plain socket), every call bounded by
a connect timeout and a read timeout for its whole answer, so a dead or slow executor costs its
own caller at most `connect_timeout_s + read_timeout_s` and never holds anyone else up.
Thread-safe: each call takes a connection of its own from the pool. Transport failures and
malformed answers come back as a failure `Envelope` with a readable message; nothing here
raises for a peer's misbehaviour.
"""

from __future__ import annotations

import http.client
import threading
from collections import defaultdict

from shardcron.core.keepalive import KeepAliveConnection
from shardcron.core.protocol import (
    ACCESS_TOKEN_HEADER,
    Envelope,
    JobIdParam,
    LogParam,
    LogResult,
    ProtocolError,
    TriggerParam,
    decode_json,
    encode_json,
)

from .outcome import MAX_ANSWER_BYTES


class ExecutorClient:
    def __init__(
        self,
        access_token: str | None,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
        pool_size: int = 32,
    ) -> None:
        self.access_token = access_token
        self.connect_timeout_s = connect_timeout_s
        self.read_timeout_s = read_timeout_s
        self.pool_size = pool_size
        self._headers = {"Content-Type": "application/json"}
        if access_token:
            self._headers[ACCESS_TOKEN_HEADER] = access_token
        self._idle: defaultdict[str, list[KeepAliveConnection]] = defaultdict(list)
        self._lock = threading.Lock()

    def close(self) -> None:
        with self._lock:
            idle, self._idle = self._idle, defaultdict(list)
        for connections in idle.values():
            for conn in connections:
                conn.close()

    def run(self, address: str, trigger: TriggerParam) -> Envelope:
        return self.run_encoded(address, encode_json(trigger.to_wire()))

    def run_encoded(self, address: str, body: bytes) -> Envelope:
        """`/run` with its body encoded already (the dispatcher's are: run_body)."""
        return self.run_once(address, body)[0]

    def run_once(self, address: str, body: bytes) -> tuple[Envelope, bool]:
        """`/run` sent at most once: the answer, and whether the outcome is unknown (the whole
        request was written, but no complete answer came back: the executor may have taken it).
        Unlike other calls, a reset after the request was written is not retried."""
        conn = self._checkout(address)
        try:
            status, raw = conn.post("run", body, self._headers, max_bytes=MAX_ANSWER_BYTES, repeatable=False)
        except (OSError, http.client.HTTPException) as exc:
            return self.transport_failure(address, "run", exc), conn.request_sent
        finally:
            self._checkin(address, conn)
        return answer_envelope(address, "run", status, raw), False

    def beat(self, address: str) -> Envelope:
        return self._call(address, "beat", None)

    def idle_beat(self, address: str, job_id: int) -> Envelope:
        return self._call(address, "idleBeat", JobIdParam(job_id).to_wire())

    def kill(self, address: str, job_id: int) -> Envelope:
        return self._call(address, "kill", JobIdParam(job_id).to_wire())

    def log(self, address: str, log_date_ms: int, log_id: int, from_line: int = 1) -> LogResult | Envelope:
        """The page of the run's log, or a failure Envelope saying why it could not be read."""
        answer = self._call(address, "log", LogParam(log_id, log_date_ms, from_line).to_wire())
        if not answer.ok:
            return answer
        try:
            return LogResult.from_wire(answer.content)
        except ProtocolError as exc:
            return Envelope.failure(f"executor {address} sent a malformed log page: {exc}")

    def result_pending(self, address: str, log_date_ms: int, log_id: int) -> bool | None:
        """Whether the run `log_id` ended on `address` and its result is still on its way to an
        admin (`/log`'s `resultPending`, shardcron's extension). None when the executor does not
        say: an XXL-JOB executor (Java, pyxxl) or an older shardcron one, or `/log` failed."""
        answer = self.log(address, log_date_ms, log_id)
        return None if isinstance(answer, Envelope) else answer.result_pending

    def _call(self, address: str, path: str, body: object) -> Envelope:
        return self._post(address, path, b"" if body is None else encode_json(body))

    def _post(self, address: str, path: str, data: bytes) -> Envelope:
        conn = self._checkout(address)
        try:
            status, raw = conn.post(path, data, self._headers, max_bytes=MAX_ANSWER_BYTES)
        except (OSError, http.client.HTTPException) as exc:
            return self.transport_failure(address, path, exc)
        finally:
            self._checkin(address, conn)
        return answer_envelope(address, path, status, raw)

    @property
    def headers(self) -> dict[str, str]:
        """The headers of every call (content type, access token)."""
        return dict(self._headers)

    def transport_failure(self, address: str, path: str, exc: BaseException) -> Envelope:
        """The failure for a call that got no answer (timeout, refused, reset, malformed HTTP)."""
        if isinstance(exc, TimeoutError):
            return Envelope.failure(f"executor {address} did not answer /{path} within {self.connect_timeout_s + self.read_timeout_s:g} s")
        return Envelope.failure(f"executor {address} is unreachable for /{path}: {_reason(exc)}")

    def _checkout(self, address: str) -> KeepAliveConnection:
        with self._lock:
            idle = self._idle.get(address)
            if idle:
                return idle.pop()
        return KeepAliveConnection(address, connect_timeout_s=self.connect_timeout_s, read_timeout_s=self.read_timeout_s)

    def _checkin(self, address: str, conn: KeepAliveConnection) -> None:
        if conn.is_open:
            with self._lock:
                idle = self._idle[address]
                if len(idle) < self.pool_size:
                    idle.append(conn)
                    return
            conn.close()


def answer_envelope(address: str, path: str, status: int, raw: bytes) -> Envelope:
    """The executor's answer as an Envelope, or a failure saying what was wrong with it."""
    if len(raw) > MAX_ANSWER_BYTES:
        return Envelope.failure(f"executor {address} answered /{path} with more than {MAX_ANSWER_BYTES} bytes")
    try:
        return Envelope.from_wire(decode_json(raw))
    except ProtocolError as exc:
        return Envelope.failure(f"executor {address} answered /{path} with HTTP {status} and no valid envelope: {exc}")


def _reason(exc: BaseException) -> str:
    """Short and readable: 'Connection refused' rather than '[Errno 111] Connection refused'."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return text[:300] or type(exc).__name__
