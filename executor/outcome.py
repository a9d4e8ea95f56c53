"""What a finished (or stopped) run reports: the handler's return value or error -> code + message.

  return None / "text"       -> 200, message "text"
  return JobResult(...)      -> its code (200, 500 or 502), message and data
  raise JobCancelled         -> 500 "job killed: <reason>"
  raise anything else        -> 500 "<ExceptionType>: <message>" (traceback in the run log)

Messages are cut to `protocol.MAX_HANDLE_MSG_CHARS` (50,000 characters, with a marker saying how
much was cut); `resultData` must be JSON-serialisable and at most `MAX_RESULT_DATA_BYTES`.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .context import JobCancelled, JobResult
from shardcron.core.protocol import ResultCode, cap_message, encode_json

#: Largest `resultData` (as JSON) sent with a result; larger data is dropped with a note.
MAX_RESULT_DATA_BYTES = 64 * 1024
VALID_CODES = (int(ResultCode.SUCCESS), int(ResultCode.FAIL), int(ResultCode.TIMEOUT))


@dataclass(frozen=True)
class Outcome:
    code: int
    msg: str | None = None
    data: Mapping[str, Any] | None = None
    #: Lines for the run log (a traceback, a note about dropped data).
    log_lines: tuple[str, ...] = ()

    @classmethod
    def fail(cls, msg: str, *log_lines: str) -> Outcome:
        return cls(int(ResultCode.FAIL), msg, None, log_lines)

    @classmethod
    def timeout(cls, msg: str) -> Outcome:
        return cls(int(ResultCode.TIMEOUT), msg)


def outcome_of_return(value: Any) -> Outcome:
    if value is None:
        return Outcome(int(ResultCode.SUCCESS))
    if isinstance(value, str):
        return Outcome(int(ResultCode.SUCCESS), cap_message(value))
    if isinstance(value, JobResult):
        code = int(value.code) if isinstance(value.code, int) and not isinstance(value.code, bool) else None
        if code not in VALID_CODES:
            return Outcome.fail(cap_message(f"handler returned an invalid result code {value.code!r} (use 200, 500 or 502): {value.msg or ''}".rstrip(": ")))
        if value.data is not None and not isinstance(value.data, Mapping):
            return Outcome.fail(f"handler returned JobResult.data of type {type(value.data).__name__}, expected a mapping")
        return Outcome(code, cap_message(value.msg), value.data)
    return Outcome.fail(f"handler returned a {type(value).__name__}, expected None, a str or a JobResult")


def outcome_of_error(exc: BaseException) -> Outcome:
    if isinstance(exc, JobCancelled):
        return Outcome.fail(f"job killed: {exc.reason}")
    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)).rstrip()
    return Outcome.fail(cap_message(f"{type(exc).__name__}: {exc}"), "handler raised an error:\n" + text)


def merge_result_data(context_data: Mapping[str, Any], outcome: Outcome) -> tuple[dict[str, Any] | None, str | None]:
    """ctx.result_data updated with the outcome's data; None when empty. Returns (data, note);
    the note says why data was dropped (not JSON-serialisable, too large)."""
    merged = dict(context_data)
    if outcome.data:
        merged.update(outcome.data)
    if not merged:
        return None, None
    try:
        size = len(encode_json(merged))
    except (TypeError, ValueError) as exc:
        return None, f"resultData dropped, it is not JSON-serialisable: {exc}"
    if size > MAX_RESULT_DATA_BYTES:
        return None, f"resultData dropped, {size} bytes is over the limit of {MAX_RESULT_DATA_BYTES}"
    return merged, None
