"""Wire messages, parsed from literal bodies as XXL-JOB admins and executors send them."""

from __future__ import annotations

import json

import pytest

from shardcron.core.protocol import (
    MAX_BODY_BYTES,
    MAX_HANDLE_MSG_CHARS,
    BlockStrategy,
    CallbackParam,
    Envelope,
    JobIdParam,
    LogParam,
    LogResult,
    ProtocolError,
    RegistryParam,
    TriggerParam,
    callbacks_to_wire,
    decode_json,
    join_address,
    normalize_address,
    parse_callback_body,
)

# /run as XXL-JOB 2.4.x's admin sends it (Gson leaves out null fields such as glueSource).
TRIGGER_24 = b'{"jobId":2,"executorHandler":"demoJobHandler","executorParams":"a=1","executorBlockStrategy":"SERIAL_EXECUTION","executorTimeout":0,"logId":1042,"logDateTime":1767225600123,"glueType":"BEAN","glueUpdatetime":1767225000000,"broadcastIndex":0,"broadcastTotal":1}'
# One shard of a sharding broadcast from a 3.x admin.
TRIGGER_3X_SHARD = b'{"jobId":7,"executorHandler":"retryDrainer","executorParams":"","executorBlockStrategy":"DISCARD_LATER","executorTimeout":30,"logId":99,"logDateTime":1767225600000,"glueType":"BEAN","glueSource":"","glueUpdatetime":0,"broadcastIndex":2,"broadcastTotal":4}'


def parse(raw: bytes):
    return decode_json(raw)


def test_trigger_from_xxljob_24_admin() -> None:
    t = TriggerParam.from_wire(parse(TRIGGER_24))
    assert (t.job_id, t.log_id, t.log_date_time_ms) == (2, 1042, 1767225600123)
    assert t.executor_handler == "demoJobHandler"
    assert t.executor_params == "a=1"
    assert t.executor_block_strategy is BlockStrategy.SERIAL_EXECUTION
    assert t.glue_source == ""
    assert (t.broadcast_index, t.broadcast_total) == (0, 1)


def test_trigger_broadcast_shard_from_3x_admin() -> None:
    t = TriggerParam.from_wire(parse(TRIGGER_3X_SHARD))
    assert (t.broadcast_index, t.broadcast_total) == (2, 4)
    assert t.executor_block_strategy is BlockStrategy.DISCARD_LATER
    assert t.executor_timeout_s == 30


def test_trigger_ignores_unknown_keys_and_round_trips() -> None:
    body = parse(TRIGGER_24)
    body["someFutureKey"] = {"x": 1}
    t = TriggerParam.from_wire(body)
    again = TriggerParam.from_wire(json.loads(json.dumps(t.to_wire())))
    assert again == t
    assert t.to_wire()["executorParams"] == "a=1"


def test_unknown_block_strategy_behaves_as_serial() -> None:
    body = parse(TRIGGER_24)
    body["executorBlockStrategy"] = "SOMETHING_NEW"
    assert TriggerParam.from_wire(body).executor_block_strategy is BlockStrategy.SERIAL_EXECUTION


@pytest.mark.parametrize(
    ("change", "field", "words"),
    [
        (lambda b: b.pop("jobId"), "jobId", "missing required field 'jobId'"),
        (lambda b: b.pop("logId"), "logId", "missing required field 'logId'"),
        (lambda b: b.update(jobId="2"), "jobId", "must be an integer, got a string"),
        (lambda b: b.update(logId=True), "logId", "must be an integer, got a boolean"),
        (lambda b: b.update(executorParams=5), "executorParams", "must be a string, got a number"),
        (lambda b: b.update(broadcastIndex=4, broadcastTotal=4), "broadcastIndex", "out of range"),
        (lambda b: b.update(executorHandler=""), "executorHandler", "BEAN job"),
        (lambda b: b.update(executorParams="x" * 70_000), "executorParams", "over the limit"),
    ],
)
def test_trigger_rejects_malformed_bodies(change, field, words) -> None:
    body = parse(TRIGGER_24)
    change(body)
    with pytest.raises(ProtocolError) as err:
        TriggerParam.from_wire(body)
    assert err.value.field == field
    assert words in str(err.value)


def test_decode_rejects_oversize_empty_and_non_json() -> None:
    with pytest.raises(ProtocolError, match="over the"):
        decode_json(b"[" + b"1," * (MAX_BODY_BYTES // 2) + b"1]")
    with pytest.raises(ProtocolError, match="empty body"):
        decode_json(b"  ")
    with pytest.raises(ProtocolError, match="not valid JSON"):
        decode_json(b"{jobId: 1}")
    with pytest.raises(ProtocolError, match="expected a JSON object"):
        TriggerParam.from_wire(decode_json(b"[1,2]"))


def test_envelope_reads_content_or_data_and_writes_both() -> None:
    old = Envelope.from_wire(parse(b'{"code":200,"msg":null,"content":{"fromLineNum":1,"toLineNum":2,"logContent":"a\\nb\\n","isEnd":true}}'))
    new = Envelope.from_wire(parse(b'{"code":200,"msg":null,"data":{"fromLineNum":1,"toLineNum":2,"logContent":"a\\nb\\n","isEnd":true}}'))
    assert old == new and old.ok
    assert LogResult.from_wire(old.content) == LogResult(1, 2, "a\nb\n", True)
    failed = Envelope.from_wire(parse('{"code":500,"msg":"block strategy effect：Discard Later"}'.encode()))
    assert not failed.ok and failed.msg.startswith("block strategy")
    wire = Envelope.success({"k": 1}).to_wire()
    assert wire["content"] == wire["data"] == {"k": 1} and wire["code"] == 200
    with pytest.raises(ProtocolError, match="'code'"):
        Envelope.from_wire({"msg": "no code"})


def test_idle_beat_and_kill_bodies() -> None:
    assert JobIdParam.from_wire(parse(b'{"jobId":12}')).job_id == 12
    with pytest.raises(ProtocolError, match="jobId"):
        JobIdParam.from_wire(parse(b'{"jobid":12}'))


@pytest.mark.parametrize(
    "raw",
    [
        b'{"logDateTim":1767225600123,"logId":1042,"fromLineNum":1}',  # <= 3.4.2
        b'{"logDateTime":1767225600123,"logId":1042,"fromLineNum":1}',  # 3.5
    ],
)
def test_log_request_both_spellings(raw: bytes) -> None:
    p = LogParam.from_wire(parse(raw))
    assert (p.log_id, p.log_date_time_ms, p.from_line_num) == (1042, 1767225600123, 1)
    wire = p.to_wire()
    assert wire["logDateTim"] == wire["logDateTime"] == 1767225600123


@pytest.mark.parametrize("pending", [True, False])
def test_log_result_pending_extension_round_trips(pending: bool) -> None:
    result = LogResult(1, 0, "", True, log_id_known=True, result_pending=pending)
    wire = result.to_wire()
    assert (wire["logIdKnown"], wire["resultPending"]) == (True, pending)
    assert LogResult.from_wire(parse(json.dumps(wire).encode())) == result


def test_log_result_without_the_pending_key_says_nothing() -> None:
    """XXL-JOB's executors never send `resultPending`: unknown (None), and not sent back."""
    xxljob = LogResult.from_wire(parse(b'{"fromLineNum":1,"toLineNum":1,"logContent":"a\\n","isEnd":false}'))
    assert (xxljob.log_id_known, xxljob.result_pending) == (None, None)
    assert "resultPending" not in xxljob.to_wire() and "logIdKnown" not in xxljob.to_wire()
    assert LogResult.from_wire(parse(b'{"isEnd":true,"resultPending":null}')).result_pending is None
    with pytest.raises(ProtocolError, match="'resultPending' must be true or false"):
        LogResult.from_wire(parse(b'{"isEnd":true,"resultPending":"yes"}'))


def test_log_request_rejects_line_zero() -> None:
    with pytest.raises(ProtocolError, match="fromLineNum"):
        LogParam.from_wire(parse(b'{"logDateTim":1,"logId":1,"fromLineNum":0}'))


@pytest.mark.parametrize(
    ("value", "normalized"),
    [
        ("http://10.0.0.5:9999/", "http://10.0.0.5:9999"),
        ("http://10.0.0.5:9999", "http://10.0.0.5:9999"),
        ("HTTP://Exec-1.Example:9999//", "http://exec-1.example:9999"),
        ("https://exec.example/xxl-job-executor/", "https://exec.example/xxl-job-executor"),
        ("http://[::1]:9999/", "http://[::1]:9999"),
    ],
)
def test_registry_addresses_with_or_without_trailing_slash(value: str, normalized: str) -> None:
    body = {"registryGroup": "EXECUTOR", "registryKey": "billing", "registryValue": value, "extra": 1}
    reg = RegistryParam.from_wire(body)
    assert reg.registry_value == normalized
    assert reg.to_wire()["registryValue"] == normalized + "/"


@pytest.mark.parametrize(
    ("value", "words"),
    [
        ("file:///etc/passwd", "http:// or https://"),
        ("gopher://x:70/", "http:// or https://"),
        ("http://:9999/", "no host"),
        ("http://user:pw@host:1/", "credentials"),
        ("http://host:99999/", "invalid port"),
        ("", "empty"),
    ],
)
def test_registry_refuses_bad_addresses(value: str, words: str) -> None:
    with pytest.raises(ProtocolError) as err:
        RegistryParam.from_wire({"registryGroup": "EXECUTOR", "registryKey": "billing", "registryValue": value})
    assert words in str(err.value)
    assert err.value.field == "registryValue"


def test_registry_refuses_blank_key() -> None:
    with pytest.raises(ProtocolError, match="registryKey"):
        RegistryParam.from_wire({"registryGroup": "EXECUTOR", "registryKey": "  ", "registryValue": "http://h:1/"})


def test_join_address() -> None:
    assert join_address("http://h:9999/", "/run") == "http://h:9999/run"
    assert join_address("http://h:9999", "run") == "http://h:9999/run"
    assert normalize_address("http://h:9999/ctx/") + "/beat" == join_address("http://h:9999/ctx/", "beat")


CALLBACK_ARRAY_342 = b'[{"logId":1042,"logDateTim":1767225600123,"handleCode":200,"handleMsg":null},{"logId":1043,"logDateTim":1767225600123,"handleCode":500,"handleMsg":"java.lang.RuntimeException: boom"}]'
CALLBACK_LIST_35 = b'{"callbackList":[{"logId":1042,"logDateTime":1767225600123,"handleCode":502,"handleMsg":"job execute timeout "}]}'
CALLBACK_22 = b'[{"logId":77,"logDateTim":1767225600123,"executeResult":{"code":200,"msg":"done","content":null}}]'
CALLBACK_EXTRA_KEYS = b'[{"logId":5,"logDateTim":1,"handleCode":200,"handleMsg":"ok","executorAddress":"http://x:1/","costMs":12}]'


def test_callback_array_from_342_executor() -> None:
    items = parse_callback_body(parse(CALLBACK_ARRAY_342))
    assert [(c.log_id, c.handle_code, c.handle_msg) for c in items] == [
        (1042, 200, None),
        (1043, 500, "java.lang.RuntimeException: boom"),
    ]
    assert items[0].log_date_time_ms == 1767225600123


def test_callback_list_from_35_executor() -> None:
    (item,) = parse_callback_body(parse(CALLBACK_LIST_35))
    assert (item.log_id, item.log_date_time_ms, item.handle_code) == (1042, 1767225600123, 502)


def test_callback_execute_result_from_22_executor() -> None:
    (item,) = parse_callback_body(parse(CALLBACK_22))
    assert (item.log_id, item.handle_code, item.handle_msg) == (77, 200, "done")


def test_callback_extra_keys_ignored_and_round_trip() -> None:
    items = parse_callback_body(parse(CALLBACK_EXTRA_KEYS))
    assert parse_callback_body(json.loads(json.dumps(callbacks_to_wire(items)))) == items


def test_callback_result_data_round_trips() -> None:
    item = CallbackParam(5, 1, 200, "drained", result_data={"claimed": 3, "dead": 0})
    (back,) = parse_callback_body(callbacks_to_wire([item]))
    assert back.result_data == {"claimed": 3, "dead": 0}


def test_callback_long_message_is_capped_not_refused() -> None:
    (item,) = parse_callback_body([{"logId": 1, "logDateTim": 1, "handleCode": 500, "handleMsg": "x" * 80_000}])
    assert len(item.handle_msg) == MAX_HANDLE_MSG_CHARS
    assert item.handle_msg.endswith("more characters cut]")


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"results": []}, "callbackList"),
        ("[]", "expected a JSON array"),
        ([{"logDateTim": 1, "handleCode": 200}], "callback[0]: missing required field 'logId'"),
        ([{"logId": 1, "handleCode": "200"}], "'handleCode' must be an integer"),
        ([{"logId": 1, "handleCode": 200, "handleMsg": 5}], "'handleMsg' must be a string"),
        ([{"logId": 1}], "missing required field 'handleCode'"),
    ],
)
def test_callback_rejects_malformed(body, words: str) -> None:
    with pytest.raises(ProtocolError) as err:
        parse_callback_body(body)
    assert words in str(err.value)


def test_progress_extension_round_trips_and_validates() -> None:
    from shardcron.core.protocol import ProgressParam, parse_progress_body

    item = ProgressParam(9, 1767225600000, 40, 100, {"claimed": 40, "dead": 1})
    (back,) = parse_progress_body(json.loads(json.dumps([item.to_wire()])))
    assert back == item and back.data == {"claimed": 40, "dead": 1}
    with pytest.raises(ProtocolError, match="negative"):
        parse_progress_body([{"logId": 1, "done": -1}])
    with pytest.raises(ProtocolError, match="'total' must be an integer"):
        parse_progress_body([{"logId": 1, "done": 1, "total": "9"}])
    with pytest.raises(ProtocolError, match="expected a JSON array"):
        parse_progress_body({"logId": 1})
