"""Structured one-line log events, as text and as JSON."""

from __future__ import annotations

import io
import json
import logging

import pytest

from shardcron.core.logfmt import configure_logging


@pytest.fixture(autouse=True)
def _restore_root_logger():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    for h in list(root.handlers):
        root.removeHandler(h)
    for h in handlers:
        root.addHandler(h)
    root.setLevel(level)


def _emit(fmt: str) -> str:
    stream = io.StringIO()
    configure_logging("INFO", fmt, stream)
    log = logging.getLogger("shardcron.test")
    log.info("fire dispatched", extra={"job_id": 7, "log_id": 1042, "shard": "2/4", "msg_text": "two words"})
    log.debug("not shown")
    return stream.getvalue()


def test_key_value_lines() -> None:
    out = _emit("text")
    assert out.count("\n") == 1
    assert "INFO shardcron.test fire dispatched job_id=7 log_id=1042 shard=2/4 msg_text=\"two words\"" in out


def test_json_lines() -> None:
    line = json.loads(_emit("json"))
    assert line["msg"] == "fire dispatched"
    assert (line["job_id"], line["log_id"], line["shard"]) == (7, 1042, "2/4")
    assert line["level"] == "INFO" and line["ts"].endswith("Z")


def test_exceptions_stay_on_one_line() -> None:
    stream = io.StringIO()
    configure_logging("INFO", "text", stream)
    try:
        raise ValueError("boom")
    except ValueError:
        logging.getLogger("shardcron.test").exception("handler failed", extra={"log_id": 5})
    assert stream.getvalue().count("\n") == 1
    assert "ValueError: boom" in stream.getvalue()
