"""Calls from the admin to executors: `/run`, `/beat`, `/idleBeat`, `/kill`, `/log`.

One pooled, keep-alive HTTP session per process (per address, up to `pool_size` open
connections), every call bounded by a connect and a read timeout, so a dead or slow executor costs
its own caller at most `connect_timeout_s + read_timeout_s` and never holds anyone else up.
Transport failures and malformed answers come back as a failure `Envelope` with a readable
message (the message lands on the run's row); nothing here raises for a peer's misbehaviour.
"""

from __future__ import annotations

import requests
from requests.adapters import HTTPAdapter

from shardcron.executor.protocol import (
    ACCESS_TOKEN_HEADER,
    Envelope,
    JobIdParam,
    LogParam,
    LogResult,
    ProtocolError,
    TriggerParam,
    decode_json,
    encode_json,
    join_address,
)

#: Longest answer body read from an executor (a `/log` page is the big one).
MAX_ANSWER_BYTES = 5 * 1024 * 1024


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
        self.timeout = (connect_timeout_s, read_timeout_s)
        self.session = requests.Session()
        adapter = HTTPAdapter(pool_connections=64, pool_maxsize=pool_size, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        # Executors are called by address only; proxies and .netrc from the environment must not
        # redirect the call or attach credentials to it.
        self.session.trust_env = False

    def close(self) -> None:
        self.session.close()

    def run(self, address: str, trigger: TriggerParam) -> Envelope:
        return self._call(address, "run", trigger.to_wire())

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

    def _call(self, address: str, path: str, body: object) -> Envelope:
        url = join_address(address, path)
        headers = {"Content-Type": "application/json"}
        if self.access_token:
            headers[ACCESS_TOKEN_HEADER] = self.access_token
        data = b"" if body is None else encode_json(body)
        try:
            with self.session.post(url, data=data, headers=headers, timeout=self.timeout, stream=True, allow_redirects=False) as resp:
                raw = resp.raw.read(MAX_ANSWER_BYTES + 1, decode_content=True)
                status = resp.status_code
        except requests.Timeout:
            return Envelope.failure(f"executor {address} did not answer /{path} within {self.timeout[0] + self.timeout[1]:g} s")
        except requests.RequestException as exc:
            return Envelope.failure(f"executor {address} is unreachable for /{path}: {_reason(exc)}")
        if len(raw) > MAX_ANSWER_BYTES:
            return Envelope.failure(f"executor {address} answered /{path} with more than {MAX_ANSWER_BYTES} bytes")
        try:
            envelope = Envelope.from_wire(decode_json(raw))
        except ProtocolError as exc:
            return Envelope.failure(f"executor {address} answered /{path} with HTTP {status} and no valid envelope: {exc}")
        return envelope


def _reason(exc: requests.RequestException) -> str:
    """The innermost cause, short: 'Connection refused' rather than a urllib3 repr."""
    cause: BaseException = exc
    while cause.__cause__ is not None or (cause.args and isinstance(cause.args[0], BaseException)):
        cause = cause.__cause__ or cause.args[0]
    text = str(cause)
    if "] " in text:
        text = text.split("] ", 1)[1]
    return text[:300] or type(cause).__name__
