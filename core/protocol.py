"""The admin <-> executor wire protocol, as XXL-JOB 2.x/3.x speaks it.

Every message is a typed dataclass with `from_wire(obj)` (tolerant of the variants real XXL-JOB
admins and executors send, strict about types and sizes) and `to_wire()` (what we send, shaped so
that both old and new XXL-JOB peers understand it). camelCase lives only in this module.

Variants accepted:
  * response envelope payload under `content` (<= 3.2) or `data` (>= 3.3); we send both;
  * `logDateTim` (<= 3.4.2) or `logDateTime` (3.5); we send both;
  * callbacks as a JSON array (<= 3.4.2) or `{"callbackList": [...]}` (3.5), each result as
    `handleCode`/`handleMsg` (>= 2.3) or as `executeResult: {code, msg}` (2.1-2.2);
  * executor addresses with or without a trailing slash;
  * unknown keys, which are ignored; absent optional keys (Gson omits nulls).
"""

from __future__ import annotations

import builtins
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import IntEnum, StrEnum
from typing import Any, overload
from urllib.parse import urlsplit, urlunsplit

from .errors import ShardcronError
from .numbers import BIGINT_MAX, BIGINT_MIN, EPOCH_MS_MAX, EPOCH_MS_MIN, INT_MAX, INT_MIN

ACCESS_TOKEN_HEADER = "XXL-JOB-ACCESS-TOKEN"
#: Some clients send the token under the older RPC name; it is accepted as an alias.
ACCESS_TOKEN_HEADER_ALIASES = ("XXL-JOB-ACCESS-TOKEN", "XXL-RPC-ACCESS-TOKEN")
APPNAME_HEADER = "XXL-JOB-APPNAME"

#: Largest request or response body read from a peer (XXL-JOB's executor limit too).
MAX_BODY_BYTES = 5 * 1024 * 1024
MAX_HANDLER_CHARS = 255
MAX_PARAM_CHARS = 65_535
MAX_GLUE_SOURCE_CHARS = 1_048_576
MAX_ADDRESS_CHARS = 255
MAX_APP_NAME_CHARS = 64
#: Callback messages longer than this are cut (with a marker), never refused: a result must not
#: be lost because its message was long.
MAX_HANDLE_MSG_CHARS = 50_000
MAX_CALLBACK_BATCH = 1_000
#: A checkpoint (`ctx.checkpoint(state)`) is at most this many bytes of compact UTF-8 JSON: it
#: travels in every /run that resumes from it and is stored on the run row.
MAX_CHECKPOINT_BYTES = 16 * 1024

REGISTRY_GROUP_EXECUTOR = "EXECUTOR"


class ProtocolError(ShardcronError):
    """A body that is not a valid protocol message. `field` names the culprit when there is one."""

    def __init__(self, message: str, field: str | None = None) -> None:
        self.field = field
        super().__init__(message)


class ResultCode(IntEnum):
    """Trigger and handle codes, shared by the wire and the admin database."""

    PENDING = 0  # in the database only: not known yet
    SUCCESS = 200
    FAIL = 500
    TIMEOUT = 502


class BlockStrategy(StrEnum):
    SERIAL_EXECUTION = "SERIAL_EXECUTION"
    DISCARD_LATER = "DISCARD_LATER"
    COVER_EARLY = "COVER_EARLY"

    @classmethod
    def from_wire(cls, value: str | None) -> BlockStrategy:
        """Unknown or missing values behave as SERIAL_EXECUTION, as XXL-JOB executors do."""
        return _BLOCK_STRATEGIES.get(value, cls.SERIAL_EXECUTION) if value else cls.SERIAL_EXECUTION


_BLOCK_STRATEGIES: dict[Any, BlockStrategy] = {s.value: s for s in BlockStrategy}  # without Enum's slower lookup


class GlueType(StrEnum):
    BEAN = "BEAN"
    GLUE_GROOVY = "GLUE_GROOVY"
    GLUE_SHELL = "GLUE_SHELL"
    GLUE_PYTHON = "GLUE_PYTHON"
    GLUE_PYTHON2 = "GLUE_PYTHON2"
    GLUE_NODEJS = "GLUE_NODEJS"
    GLUE_POWERSHELL = "GLUE_POWERSHELL"
    GLUE_PHP = "GLUE_PHP"


# --------------------------------------------------------------------------- decoding helpers


def decode_json(raw: bytes | str, *, max_bytes: int = MAX_BODY_BYTES) -> Any:
    """Parse a request or response body, refusing oversize and non-JSON bodies."""
    size = len(raw.encode("utf-8")) if isinstance(raw, str) else len(raw)
    if size > max_bytes:
        raise ProtocolError(f"body of {size} bytes is over the {max_bytes}-byte limit")
    if not raw or not raw.strip():
        raise ProtocolError("empty body, expected JSON")
    try:
        return json.loads(raw, parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError) as exc:
        raise ProtocolError(f"body is not valid JSON: {exc}") from None
    except RecursionError:  # `[[[[...]]]]` thousands deep: no message nests like that
        raise ProtocolError("body is not valid JSON: nested too deeply") from None


def _refuse_constant(name: str) -> Any:
    # Python's json reads NaN and Infinity, which are not JSON (no Java peer sends them).
    raise ValueError(f"{name} is not a JSON number")


#: One encoder for every message (json.dumps with options builds a new one per call).
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


def encode_json(obj: Any) -> bytes:
    return _ENCODER.encode(obj).encode("utf-8")


class _Fields:
    """Typed access to one JSON object; every error names the message and the key."""

    def __init__(self, obj: Any, what: str) -> None:
        if type(obj) is not dict and not isinstance(obj, Mapping):  # a dict is the usual case
            raise ProtocolError(f"{what}: expected a JSON object, got {_json_type(obj)}")
        self.obj = obj
        self.what = what

    def _get(self, names: tuple[str, ...]) -> tuple[str, Any]:
        get = self.obj.get
        for name in names:
            value = get(name)
            if value is not None:
                return name, value
        return names[0], None

    # Each accessor answers the usual case (a value of exactly the expected type) first: a /run
    # body is parsed by these a dozen times per trigger.

    def int(self, *names: str, default: int | None = None, low: int = BIGINT_MIN, high: int = BIGINT_MAX) -> int:
        """An integer in `low..high` (default: a Java `long`, which every id and instant fits);
        a number beyond it is refused by name, before it can overflow a database column."""
        name, value = self._get(names)
        if type(value) is int and low <= value <= high:
            return value
        if value is None:
            if default is None:
                raise ProtocolError(f"{self.what}: missing required field {name!r}", name)
            return default
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value != int(value):
            raise ProtocolError(f"{self.what}: field {name!r} must be an integer, got {_json_type(value)}", name)
        if not low <= value <= high:
            raise ProtocolError(f"{self.what}: field {name!r} must be between {low} and {high}", name)
        return int(value)

    def str(self, *names: builtins.str, default: builtins.str | None = None, max_chars: builtins.int | None = None) -> builtins.str:
        name, value = self._get(names)
        if type(value) is str and (max_chars is None or len(value) <= max_chars):
            return value
        if value is None:
            if default is None:
                raise ProtocolError(f"{self.what}: missing required field {name!r}", name)
            return default
        if not isinstance(value, str):
            raise ProtocolError(f"{self.what}: field {name!r} must be a string, got {_json_type(value)}", name)
        if max_chars is not None and len(value) > max_chars:
            raise ProtocolError(f"{self.what}: field {name!r} is {len(value)} characters, over the limit of {max_chars}", name)
        return value

    def bool(self, *names: builtins.str, default: builtins.bool) -> builtins.bool:
        value = self.optional_bool(*names)
        return default if value is None else value

    def optional_bool(self, *names: builtins.str) -> builtins.bool | None:
        name, value = self._get(names)
        if value is None:
            return None
        if not isinstance(value, bool):
            raise ProtocolError(f"{self.what}: field {name!r} must be true or false, got {_json_type(value)}", name)
        return value


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


@overload
def cap_message(msg: str, max_chars: int = ...) -> str: ...


@overload
def cap_message(msg: None, max_chars: int = ...) -> None: ...


@overload
def cap_message(msg: str | None, max_chars: int = ...) -> str | None: ...


def cap_message(msg: str | None, max_chars: int = MAX_HANDLE_MSG_CHARS) -> str | None:
    """Cut a result message to `max_chars`, saying how much was dropped."""
    if msg is None or len(msg) <= max_chars:
        return msg
    marker = f"... [{len(msg) - max_chars} more characters cut]"
    return msg[: max_chars - len(marker)] + marker


# --------------------------------------------------------------------------- addresses


def normalize_address(value: str) -> str:
    """An executor or admin base URL in canonical form: http(s), host present, no trailing slash.

    `http://10.0.0.5:9999/` and `http://10.0.0.5:9999` are the same executor. A context path
    (`http://host/xxl-job-admin/`) is kept. Anything but http/https is refused: these addresses
    are called by the other side, and other schemes are how SSRF starts.
    """
    if not isinstance(value, str) or not value.strip():
        raise ProtocolError("address is empty", "address")
    text = value.strip()
    if len(text) > MAX_ADDRESS_CHARS:
        raise ProtocolError(f"address is over {MAX_ADDRESS_CHARS} characters", "address")
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise ProtocolError(f"address {text!r} must start with http:// or https://", "address")
    try:
        port = parts.port
    except ValueError:
        raise ProtocolError(f"address {text!r} has an invalid port", "address") from None
    if not parts.hostname:
        raise ProtocolError(f"address {text!r} has no host", "address")
    if parts.query or parts.fragment or parts.username or parts.password:
        raise ProtocolError(f"address {text!r} must not carry credentials, a query or a fragment", "address")
    host = parts.hostname.lower()
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    return urlunsplit((parts.scheme.lower(), netloc, parts.path.rstrip("/"), "", ""))


def join_address(address: str, path: str) -> str:
    """`address` + `path` with exactly one slash between them."""
    return address.rstrip("/") + "/" + path.lstrip("/")


# --------------------------------------------------------------------------- envelope


# Slots, not frozen (read-only by convention): built per fire on the hot path (docs/benchmarks.md).
@dataclass(slots=True)
class Envelope:
    """`{"code", "msg", "content"|"data"}`: the answer to every call."""

    code: int
    msg: str | None = None
    content: Any = None

    @property
    def ok(self) -> bool:
        return self.code == ResultCode.SUCCESS

    @classmethod
    def success(cls, content: Any = None, msg: str | None = None) -> Envelope:
        return cls(int(ResultCode.SUCCESS), msg, content)

    @classmethod
    def failure(cls, msg: str, code: int = ResultCode.FAIL) -> Envelope:
        return cls(int(code), msg, None)

    def to_wire(self) -> dict[str, Any]:
        # Both payload names, so that XXL-JOB peers before and after 3.3 read it.
        return {"code": self.code, "msg": self.msg, "content": self.content, "data": self.content}

    @classmethod
    def from_wire(cls, obj: Any) -> Envelope:
        f = _Fields(obj, "response")
        content = obj.get("content")
        if content is None:
            content = obj.get("data")
        return cls(code=f.int("code"), msg=f.str("msg", default="") or None, content=content)


# --------------------------------------------------------------------------- admin -> executor


# Slots, not frozen (read-only by convention): built from every /run an executor receives.
@dataclass(slots=True)
class TriggerParam:
    """Body of `/run`: one trigger of one job (one shard of a broadcast)."""

    job_id: int
    log_id: int
    log_date_time_ms: int
    executor_handler: str = ""
    executor_params: str = ""
    executor_block_strategy: BlockStrategy = BlockStrategy.SERIAL_EXECUTION
    executor_timeout_s: int = 0
    glue_type: str = GlueType.BEAN.value
    glue_source: str = ""
    glue_updatetime_ms: int = 0
    broadcast_index: int = 0
    broadcast_total: int = 1
    #: shardcron's own optional keys: the checkpoint this run resumes from (`resumeFrom`) and the
    #: run that saved it (`resumeFromLogId`). XXL-JOB executors ignore them.
    resume_from: Any = field(default=None, compare=False)
    resume_from_log_id: int | None = None
    #: shardcron's own optional key `upstream`: a workflow step's {step key: result data} of the
    #: steps before it that left data (None: not a workflow step, or none left any).
    upstream: dict[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def from_wire(cls, obj: Any) -> TriggerParam:
        f = _Fields(obj, "trigger")
        index = f.int("broadcastIndex", default=0, low=INT_MIN, high=INT_MAX)
        total = f.int("broadcastTotal", default=1, low=INT_MIN, high=INT_MAX)
        if total == 0 and index == 0:
            total = 1  # an admin that left the pair unset means "not sharded"
        if total < 1 or not 0 <= index < total:
            raise ProtocolError(f"trigger: shard {index}/{total} is out of range", "broadcastIndex")
        glue_type = f.str("glueType", default=GlueType.BEAN.value, max_chars=32)
        handler = f.str("executorHandler", default="", max_chars=MAX_HANDLER_CHARS)
        if glue_type == GlueType.BEAN and not handler.strip():
            raise ProtocolError("trigger: missing required field 'executorHandler' for a BEAN job", "executorHandler")
        return cls(
            job_id=f.int("jobId"),
            log_id=f.int("logId"),
            log_date_time_ms=f.int("logDateTime", "logDateTim", low=EPOCH_MS_MIN, high=EPOCH_MS_MAX),
            executor_handler=handler,
            executor_params=f.str("executorParams", "executorParam", default="", max_chars=MAX_PARAM_CHARS),
            executor_block_strategy=BlockStrategy.from_wire(f.str("executorBlockStrategy", default="", max_chars=64)),
            executor_timeout_s=max(0, f.int("executorTimeout", default=0, low=INT_MIN, high=INT_MAX)),
            glue_type=glue_type,
            glue_source=f.str("glueSource", default="", max_chars=MAX_GLUE_SOURCE_CHARS),
            glue_updatetime_ms=f.int("glueUpdatetime", "glueUpdateTime", default=0),
            broadcast_index=index,
            broadcast_total=total,
            resume_from=obj.get("resumeFrom"),
            resume_from_log_id=f.int("resumeFromLogId", default=0) or None,
            upstream=_upstream(obj.get("upstream")),
        )

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "jobId": self.job_id,
            "executorHandler": self.executor_handler,
            "executorParams": self.executor_params,
            "executorBlockStrategy": str(self.executor_block_strategy),
            "executorTimeout": self.executor_timeout_s,
            "logId": self.log_id,
            "logDateTime": self.log_date_time_ms,
            "glueType": self.glue_type,
            "glueSource": self.glue_source,
            "glueUpdatetime": self.glue_updatetime_ms,
            "broadcastIndex": self.broadcast_index,
            "broadcastTotal": self.broadcast_total,
        }
        if self.resume_from_log_id is not None:
            body["resumeFrom"] = self.resume_from
            body["resumeFromLogId"] = self.resume_from_log_id
        if self.upstream is not None:
            body["upstream"] = self.upstream
        return body


def _upstream(value: Any) -> dict[str, Any] | None:
    """The `upstream` key of a /run: an object, or nothing (anything else is an admin's mistake
    a handler should not see as data)."""
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ProtocolError("trigger: 'upstream' must be an object of step results", "upstream")
    return value


@dataclass(frozen=True)
class JobIdParam:
    """Body of `/idleBeat` and `/kill`."""

    job_id: int

    @classmethod
    def from_wire(cls, obj: Any) -> JobIdParam:
        return cls(job_id=_Fields(obj, "request").int("jobId"))

    def to_wire(self) -> dict[str, Any]:
        return {"jobId": self.job_id}


@dataclass(frozen=True)
class LogParam:
    """Body of `/log`: page a run's log from `from_line_num` (1-based)."""

    log_id: int
    log_date_time_ms: int
    from_line_num: int = 1

    @classmethod
    def from_wire(cls, obj: Any) -> LogParam:
        f = _Fields(obj, "log request")
        from_line = f.int("fromLineNum", default=1)
        if not 1 <= from_line <= INT_MAX:
            raise ProtocolError(f"log request: 'fromLineNum' must be 1 or more (at most {INT_MAX})", "fromLineNum")
        return cls(log_id=f.int("logId"), log_date_time_ms=f.int("logDateTim", "logDateTime", low=EPOCH_MS_MIN, high=EPOCH_MS_MAX), from_line_num=from_line)

    def to_wire(self) -> dict[str, Any]:
        return {
            "logDateTim": self.log_date_time_ms,
            "logDateTime": self.log_date_time_ms,
            "logId": self.log_id,
            "fromLineNum": self.from_line_num,
        }


@dataclass(frozen=True)
class LogResult:
    """Answer to `/log`: lines `from_line_num`..`to_line_num` inclusive; `is_end` once the run ended.

    `log_id_known` (wire `logIdKnown`, shardcron's extension; None when the executor does not
    say): whether the executor has ever accepted this logId, so that a scheduler can settle a
    `/run` whose answer it never got.

    `result_pending` (wire `resultPending`, shardcron's extension; None when the executor does
    not say): True from the moment the run ended there until an admin accepted its result (also
    a result replayed from the executor's spool after a restart), so that an admin does not take
    an executor that answers `/idleBeat` idle for a lost run while the result is on its way.
    False: no result of this logId waits there (the run is still going, its result was
    accepted, or the executor never had it). XXL-JOB admins ignore both keys."""

    from_line_num: int
    to_line_num: int
    log_content: str
    is_end: bool
    log_id_known: bool | None = None
    result_pending: bool | None = None

    @classmethod
    def from_wire(cls, obj: Any) -> LogResult:
        f = _Fields(obj, "log result")
        return cls(
            from_line_num=f.int("fromLineNum", default=1),
            to_line_num=f.int("toLineNum", default=0),
            log_content=f.str("logContent", default="", max_chars=MAX_BODY_BYTES),
            is_end=f.bool("isEnd", "end", default=False),
            log_id_known=f.optional_bool("logIdKnown"),
            result_pending=f.optional_bool("resultPending"),
        )

    def to_wire(self) -> dict[str, Any]:
        wire: dict[str, Any] = {
            "fromLineNum": self.from_line_num,
            "toLineNum": self.to_line_num,
            "logContent": self.log_content,
            "isEnd": self.is_end,
        }
        if self.log_id_known is not None:
            wire["logIdKnown"] = self.log_id_known
        if self.result_pending is not None:
            wire["resultPending"] = self.result_pending
        return wire


# --------------------------------------------------------------------------- executor -> admin


@dataclass(frozen=True)
class RegistryParam:
    """Body of `/api/registry` and `/api/registryRemove`. `registry_value` is normalized."""

    registry_key: str
    registry_value: str
    registry_group: str = REGISTRY_GROUP_EXECUTOR

    @classmethod
    def from_wire(cls, obj: Any) -> RegistryParam:
        f = _Fields(obj, "registry")
        group = f.str("registryGroup", max_chars=32).strip()
        key = f.str("registryKey", max_chars=MAX_APP_NAME_CHARS).strip()
        value = f.str("registryValue", max_chars=MAX_ADDRESS_CHARS)
        if not group:
            raise ProtocolError("registry: 'registryGroup' is blank", "registryGroup")
        if not key:
            raise ProtocolError("registry: 'registryKey' is blank", "registryKey")
        try:
            address = normalize_address(value)
        except ProtocolError as exc:
            raise ProtocolError(f"registry: 'registryValue' {exc}", "registryValue") from None
        return cls(registry_key=key, registry_value=address, registry_group=group)

    def to_wire(self) -> dict[str, Any]:
        # XXL-JOB executors register with a trailing slash; send the same shape.
        return {
            "registryGroup": self.registry_group,
            "registryKey": self.registry_key,
            "registryValue": self.registry_value.rstrip("/") + "/",
        }


@dataclass(frozen=True)
class CallbackParam:
    """One run's result, as an executor reports it."""

    log_id: int
    log_date_time_ms: int
    handle_code: int
    handle_msg: str | None = None
    #: shardcron's own optional key: structured result data (e.g. a drainer's counts).
    result_data: Mapping[str, Any] | None = field(default=None, compare=False)
    #: shardcron's own optional key: the run's last checkpoint, sent with its result so that a
    #: retry resumes from it even when the last `/api/checkpoint` had not arrived yet.
    checkpoint: CheckpointParam | None = field(default=None, compare=False)

    @classmethod
    def from_wire(cls, obj: Any, where: str = "callback") -> CallbackParam:
        f = _Fields(obj, where)
        result = f
        if obj.get("handleCode") is None and isinstance(obj.get("executeResult"), Mapping):
            result = _Fields(obj["executeResult"], f"{where}.executeResult")  # XXL-JOB 2.1-2.2
            code, msg_key = result.int("code", low=INT_MIN, high=INT_MAX), "msg"
        else:
            code, msg_key = f.int("handleCode", low=INT_MIN, high=INT_MAX), "handleMsg"
        handle_msg = result.obj.get(msg_key)
        if handle_msg is not None and not isinstance(handle_msg, str):
            raise ProtocolError(f"{where}: field {msg_key!r} must be a string, got {_json_type(handle_msg)}", msg_key)
        result_data = obj.get("resultData")
        if result_data is not None and not isinstance(result_data, Mapping):
            raise ProtocolError(f"{where}: field 'resultData' must be an object", "resultData")
        return cls(
            log_id=f.int("logId"),
            log_date_time_ms=f.int("logDateTim", "logDateTime", default=0, low=EPOCH_MS_MIN, high=EPOCH_MS_MAX),
            handle_code=code,
            handle_msg=cap_message(handle_msg),
            result_data=result_data,
            checkpoint=None if obj.get("checkpoint") is None else CheckpointParam.from_wire(obj["checkpoint"], f"{where}.checkpoint"),
        )

    def to_wire(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "logId": self.log_id,
            "logDateTim": self.log_date_time_ms,
            "logDateTime": self.log_date_time_ms,
            "handleCode": self.handle_code,
            "handleMsg": self.handle_msg,
        }
        if self.result_data is not None:
            body["resultData"] = dict(self.result_data)
        if self.checkpoint is not None:
            body["checkpoint"] = self.checkpoint.to_wire()
        return body


def parse_callback_body(obj: Any) -> list[CallbackParam]:
    """A callback body: a JSON array (XXL-JOB <= 3.4.2) or `{"callbackList": [...]}` (3.5)."""
    if isinstance(obj, Mapping):
        if "callbackList" not in obj:
            raise ProtocolError("callback: expected a JSON array or an object with 'callbackList'", "callbackList")
        obj = obj["callbackList"]
    if not isinstance(obj, list):
        raise ProtocolError(f"callback: expected a JSON array, got {_json_type(obj)}", "callbackList")
    if len(obj) > MAX_CALLBACK_BATCH:
        raise ProtocolError(f"callback: batch of {len(obj)} results is over the limit of {MAX_CALLBACK_BATCH}")
    return [CallbackParam.from_wire(item, f"callback[{i}]") for i, item in enumerate(obj)]


@dataclass(frozen=True)
class ProgressParam:
    """shardcron's own extension: how far a running run is (`POST {admin}/api/progress`).

    Best effort and never spooled: the final callback carries the result that matters. The body
    is a JSON array of these. XXL-JOB admins do not know the path; executors ignore their answer.
    """

    log_id: int
    log_date_time_ms: int
    done: int
    total: int | None = None
    data: Mapping[str, Any] | None = field(default=None, compare=False)

    @classmethod
    def from_wire(cls, obj: Any, where: str = "progress") -> ProgressParam:
        f = _Fields(obj, where)
        done = f.int("done", low=INT_MIN, high=INT_MAX)
        total = obj.get("total")
        if total is not None and (isinstance(total, bool) or not isinstance(total, int) or not INT_MIN <= total <= INT_MAX):
            raise ProtocolError(f"{where}: field 'total' must be an integer (at most {INT_MAX}) or null", "total")
        if done < 0 or (total is not None and total < 0):
            raise ProtocolError(f"{where}: progress counts cannot be negative", "done")
        data = obj.get("data")
        if data is not None and not isinstance(data, Mapping):
            raise ProtocolError(f"{where}: field 'data' must be an object", "data")
        return cls(f.int("logId"), f.int("logDateTime", "logDateTim", default=0, low=EPOCH_MS_MIN, high=EPOCH_MS_MAX), done, total, data)

    def to_wire(self) -> dict[str, Any]:
        return {
            "logId": self.log_id,
            "logDateTime": self.log_date_time_ms,
            "done": self.done,
            "total": self.total,
            "data": None if self.data is None else dict(self.data),
        }


class CheckpointTooLarge(ShardcronError):
    """A checkpoint over MAX_CHECKPOINT_BYTES (or not JSON at all): refused, nothing stored."""


def encode_checkpoint(state: Any) -> bytes:
    """`state` as compact JSON, checked against MAX_CHECKPOINT_BYTES; raises CheckpointTooLarge
    (too big) or ValueError (not JSON: a set, NaN, an object key that is not a string...)."""
    try:
        raw = json.dumps(state, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode("utf-8")
    except TypeError as exc:
        raise ValueError(f"checkpoint is not JSON-serialisable: {exc}") from None
    except RecursionError:
        raise ValueError("checkpoint is not JSON-serialisable: nested too deeply") from None
    if len(raw) > MAX_CHECKPOINT_BYTES:
        raise CheckpointTooLarge(f"checkpoint is {len(raw)} bytes as JSON, over the limit of {MAX_CHECKPOINT_BYTES}; keep a position, not the data")
    return raw


@dataclass(frozen=True)
class CheckpointParam:
    """shardcron's own extension: a run's latest checkpoint (`POST {admin}/api/checkpoint`, a JSON
    array of these, and the `checkpoint` key of a callback). `seq` counts the run's checkpoints
    from 1: the admin keeps the highest, so a late or replayed one never overwrites a newer one."""

    log_id: int
    seq: int
    state: Any = field(compare=False)

    @classmethod
    def from_wire(cls, obj: Any, where: str = "checkpoint") -> CheckpointParam:
        f = _Fields(obj, where)
        seq = f.int("seq", low=1, high=BIGINT_MAX)
        if "state" not in obj:
            raise ProtocolError(f"{where}: missing required field 'state'", "state")
        try:
            encode_checkpoint(obj["state"])
        except (CheckpointTooLarge, ValueError) as exc:
            raise ProtocolError(f"{where}: {exc}", "state") from None
        return cls(f.int("logId"), seq, obj["state"])

    def to_wire(self) -> dict[str, Any]:
        return {"logId": self.log_id, "seq": self.seq, "state": self.state}


def parse_checkpoint_body(obj: Any) -> list[CheckpointParam]:
    if not isinstance(obj, list):
        raise ProtocolError(f"checkpoint: expected a JSON array, got {_json_type(obj)}")
    if len(obj) > MAX_CALLBACK_BATCH:
        raise ProtocolError(f"checkpoint: batch of {len(obj)} is over the limit of {MAX_CALLBACK_BATCH}")
    return [CheckpointParam.from_wire(item, f"checkpoint[{i}]") for i, item in enumerate(obj)]


def parse_progress_body(obj: Any) -> list[ProgressParam]:
    if not isinstance(obj, list):
        raise ProtocolError(f"progress: expected a JSON array, got {_json_type(obj)}")
    if len(obj) > MAX_CALLBACK_BATCH:
        raise ProtocolError(f"progress: batch of {len(obj)} is over the limit of {MAX_CALLBACK_BATCH}")
    return [ProgressParam.from_wire(item, f"progress[{i}]") for i, item in enumerate(obj)]


def callbacks_to_wire(items: Iterable[CallbackParam]) -> list[dict[str, Any]]:
    """The array form, which every shardcron admin and XXL-JOB admin up to 3.4.2 accepts."""
    return [item.to_wire() for item in items]
