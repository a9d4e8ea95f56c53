"""The executor's endpoints under attack: numbers beyond a Java long, Unicode digits, NaN, deep
nesting. Each is refused in the envelope with the field named, before anything runs or is
written (a logId of 10**30 must not reach the run log's file name or the callback spool)."""

from __future__ import annotations

import io
import json

import pytest

from shardcron.core.protocol import ResultCode
from tests.support.executor_calls import LOG_DATE_MS, TOKEN, call, trigger


@pytest.fixture
def executor(make_executor):
    return make_executor().start()


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        ("/run", trigger(1, 10**30), "logId"),
        ("/run", trigger(1, 2**63), "logId"),
        ("/run", trigger(2**63, 5), "jobId"),
        ("/run", trigger(1, 5, logDateTime=10**20), "logDateTime"),
        ("/run", trigger(1, 5, executorTimeout=2**40), "executorTimeout"),
        ("/run", trigger(1, 5, broadcastIndex=2**40, broadcastTotal=2**41), "broadcastIndex"),
        ("/run", trigger(1, 5, logId="١٢"), "logId"),
        ("/log", {"logId": 10**30, "logDateTim": LOG_DATE_MS, "fromLineNum": 1}, "logId"),
        ("/log", {"logId": 5, "logDateTim": LOG_DATE_MS, "fromLineNum": 2**31}, "fromLineNum"),
        ("/log", {"logId": 5, "logDateTim": -(10**30), "fromLineNum": 1}, "logDateTim"),
        ("/kill", {"jobId": 10**30}, "jobId"),
        ("/idleBeat", {"jobId": -(2**63) - 1}, "jobId"),
    ],
)
def test_a_number_beyond_its_range_is_refused_by_name(executor, fake_admin, path, body, named) -> None:
    envelope = call(executor.port, path, body)
    assert envelope.code == ResultCode.FAIL and named in (envelope.msg or ""), envelope
    assert "executor error" not in (envelope.msg or "")  # a refusal, not an exception caught late
    assert fake_admin.received("/api/callback") == []  # nothing ran


@pytest.mark.parametrize("raw", [b'{"jobId": NaN}', b'{"jobId": Infinity}', b'{"jobId": -Infinity}', b"[" * 100_000 + b"]" * 100_000])
def test_json_that_is_not_json_is_refused(executor, raw) -> None:
    envelope = call(executor.port, "/kill", raw=raw)
    assert envelope.code == ResultCode.FAIL and "not valid JSON" in (envelope.msg or ""), envelope


def test_a_content_length_in_unicode_digits_is_refused(executor) -> None:
    """Waitress parses Content-Length itself; a host that mounts the WSGI app may not, so the app
    reads it strictly too (`int("١٠")` would be 10)."""
    body = json.dumps({"jobId": 1}).encode()
    environ = {
        "REQUEST_METHOD": "POST",
        "PATH_INFO": "/idleBeat",
        "CONTENT_LENGTH": "١٠",
        "HTTP_XXL_JOB_ACCESS_TOKEN": TOKEN,
        "wsgi.input": io.BytesIO(body),
    }
    statuses: list[str] = []
    answer = json.loads(b"".join(executor.wsgi_app(environ, lambda status, headers: statuses.append(status))))
    assert statuses == ["200 OK"]
    assert (answer["code"], answer["msg"]) == (ResultCode.FAIL, "invalid Content-Length")
