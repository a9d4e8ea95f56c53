"""Calling an executor's endpoints over real HTTP, as an admin does."""

from __future__ import annotations

import json
from typing import Any

import requests

from shardcron.core.protocol import ACCESS_TOKEN_HEADER, Envelope, LogResult, TriggerParam

TOKEN = "test-token-0123456789abcdef"
LOG_DATE_MS = 1_767_225_600_000  # 2026-01-01T00:00:00Z


def call(port: int, path: str, body: Any = None, *, token: str | None = TOKEN, raw: bytes | None = None, method: str = "POST") -> Envelope:
    """POST (JSON or raw bytes) to the executor; asserts the HTTP status is 200 and returns the envelope."""
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    if token is not None:
        headers[ACCESS_TOKEN_HEADER] = token
    data = raw if raw is not None else (b"" if body is None else json.dumps(body).encode())
    response = requests.request(method, f"http://127.0.0.1:{port}{path}", data=data, headers=headers, timeout=30)
    assert response.status_code == 200, (response.status_code, response.text)
    return Envelope.from_wire(response.json())


def trigger(job_id: int, log_id: int, handler: str = "echo", **fields: Any) -> dict[str, Any]:
    """A /run body as XXL-JOB admins send it; `fields` are wire keys to change or add."""
    body = TriggerParam(job_id=job_id, log_id=log_id, log_date_time_ms=LOG_DATE_MS, executor_handler=handler).to_wire()
    body.update(fields)
    return body


def run(port: int, job_id: int, log_id: int, handler: str = "echo", **fields: Any) -> Envelope:
    return call(port, "/run", trigger(job_id, log_id, handler, **fields))


def read_log(port: int, log_id: int, from_line: int = 1) -> LogResult:
    envelope = call(port, "/log", {"logDateTim": LOG_DATE_MS, "logId": log_id, "fromLineNum": from_line})
    assert envelope.ok, envelope
    return LogResult.from_wire(envelope.content)
