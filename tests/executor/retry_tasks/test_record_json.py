"""`load_json`, the drainer's fast `json.loads`: the same value, and the same error, for any input."""

from __future__ import annotations

import json
from typing import Any

import pytest

from shardcron.executor.retry_tasks.record import load_json


def _outcome(load: Any, text: Any) -> tuple[str, Any]:
    try:
        return "value", load(text)
    except Exception as exc:  # the comparison is of whatever each raises
        return type(exc).__name__, str(exc)


@pytest.mark.parametrize(
    "text",
    [
        '{"n":1}',
        '{"order": {"id": 7, "lines": [1, 2.5, null, true]}, "note": "caf\\u00e9 \u00e9"}',
        ' {"n":1}',  # a blank before: json.loads accepts it
        '{"n":1}\n',  # and after
        '{"n":1}x',  # anything else after: an error naming where
        '{"n":',
        "",
        "   ",
        "[1,2]",
        '"text"',
        "NaN",
        "1e400",
        '{"a":1}{"b":2}',
        b'{"n":1}',  # bytes: json.loads decodes them
        None,  # not text at all: the same TypeError
    ],
)
def test_load_json_gives_what_json_loads_gives(text: Any) -> None:
    assert _outcome(load_json, text) == _outcome(json.loads, text)
