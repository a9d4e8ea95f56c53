"""The executor-facing API under attack: every malformed, mistyped or oversized body is answered
with HTTP 200 and the protocol's envelope `{"code": 500, "msg": ...}` naming what is wrong, and
nothing is written. Never a bare HTTP 500 (issue 17: a huge logId in /api/callback got one)."""

from __future__ import annotations

import json
import random

import pytest
import sqlalchemy as sa

from shardcron.admin.enums import RunStatus
from shardcron.admin.models import ExecutorRegistry
from tests.admin.rpc.conftest import TOKEN
from tests.support.run_rows import T0, add_group, add_job, add_run, run_row

PATHS = ("/api/registry", "/api/registryRemove", "/api/callback", "/api/progress")


def call(client, path: str, body: str | bytes) -> dict:
    response = client.post(path, data=body, headers={"Content-Type": "application/json", "XXL-JOB-ACCESS-TOKEN": TOKEN})
    assert response.status_code == 200, (path, body[:200], response.status_code, response.data[:300])
    envelope = response.get_json()
    assert set(envelope) == {"code", "msg", "content", "data"}, envelope
    return envelope


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ('[{"logId": 100000000000000000000000000000, "logDateTim": 1, "handleCode": 200}]', "logId"),
        ('[{"logId": 9223372036854775808, "handleCode": 200}]', "logId"),
        ('[{"logId": -9223372036854775809, "handleCode": 200}]', "logId"),
        ('[{"logId": 1e300, "handleCode": 200}]', "logId"),
        ('[{"logId": NaN, "handleCode": 200}]', "NaN"),
        ('[{"logId": Infinity, "handleCode": 200}]', "Infinity"),
        ('[{"logId": 1, "handleCode": 2147483648}]', "handleCode"),
        ('[{"logId": 1, "handleCode": 200, "logDateTim": 99999999999999999999}]', "logDateTim"),
        ('[{"logId": "12", "handleCode": 200}]', "logId"),
        ('[{"logId": "١٢", "handleCode": 200}]', "logId"),
        ('[{"logId": true, "handleCode": 200}]', "logId"),
    ],
)
def test_a_callback_with_a_number_beyond_its_column_is_refused_in_the_envelope(client, db, body, named) -> None:
    run = add_run(db, add_job(db, add_group(db)))
    envelope = call(client, "/api/callback", body)
    assert envelope["code"] == 500 and named in envelope["msg"], envelope
    assert run_row(db, run).status == RunStatus.RUNNING  # nothing written


def test_huge_progress_counts_are_refused_in_the_envelope(client, db) -> None:
    run = add_run(db, add_job(db, add_group(db)))
    for item in ({"logId": run, "done": 2**31}, {"logId": run, "done": 1, "total": 2**63}, {"logId": 2**64, "done": 1}):
        envelope = call(client, "/api/progress", json.dumps([item]))
        assert envelope["code"] == 500, (item, envelope)
    assert run_row(db, run).progress_done is None


def test_a_batch_with_one_bad_result_writes_none_of_it(client, db) -> None:
    run = add_run(db, add_job(db, add_group(db)))
    envelope = call(client, "/api/callback", json.dumps([{"logId": run, "logDateTim": T0, "handleCode": 200}, {"logId": 2**70, "handleCode": 200}]))
    assert envelope["code"] == 500 and "callback[1]" in envelope["msg"]
    assert run_row(db, run).status == RunStatus.RUNNING


HOSTILE_VALUES: list[object] = [
    None, True, 0, -1, 2**31, 2**63, -(2**63) - 1, 10**40, 1.5, 1e308, "", "x", "١٢٣", "\x00", "A" * 70_000,
    [], {}, [1], {"a": 1}, "http://", "ftp://h/", "http://h:99999/",
]
FIELDS = {
    "/api/registry": ["registryGroup", "registryKey", "registryValue"],
    "/api/registryRemove": ["registryGroup", "registryKey", "registryValue"],
    "/api/callback": ["logId", "logDateTim", "logDateTime", "handleCode", "handleMsg", "executeResult", "resultData"],
    "/api/progress": ["logId", "logDateTime", "done", "total", "data"],
}
VALID = {
    "/api/registry": {"registryGroup": "EXECUTOR", "registryKey": "fuzz", "registryValue": "http://127.0.0.1:9999/"},
    "/api/registryRemove": {"registryGroup": "EXECUTOR", "registryKey": "fuzz", "registryValue": "http://127.0.0.1:9999/"},
    "/api/callback": {"logId": 1, "logDateTim": T0, "handleCode": 200, "handleMsg": "ok"},
    "/api/progress": {"logId": 1, "logDateTime": T0, "done": 1, "total": 2},
}
RAW_BODIES = [b"", b" ", b"{", b"[", b"null", b"1", b'"x"', b"\xff\xfe", b"[" * 5000 + b"]" * 5000, b"{}", b"[]", b'{"callbackList": 5}', b"NaN"]


def _fuzz_bodies(path: str, rng: random.Random, count: int) -> list[str | bytes]:
    bodies: list[str | bytes] = list(RAW_BODIES)
    for _ in range(count):
        item = dict(VALID[path])
        for name in rng.sample(FIELDS[path], rng.randint(1, 2)):
            item[name] = rng.choice(HOSTILE_VALUES)
        body: object = item if path.startswith("/api/registry") else [item]
        bodies.append(json.dumps(body, allow_nan=True))
    return bodies


@pytest.mark.parametrize("path", PATHS)
def test_fuzzed_bodies_always_get_the_envelope(client, db, path) -> None:
    """Valid bodies with one or two fields swapped for hostile values, plus raw junk: every answer
    is HTTP 200 with the envelope; a refusal (code 500) always says why. Seeded, so a failure
    replays."""
    add_run(db, add_job(db, add_group(db)))  # logId 1 exists, so some fuzzed results apply
    rng = random.Random(f"rpc-fuzz-{path}")
    for body in _fuzz_bodies(path, rng, 60):
        envelope = call(client, path, body)
        assert envelope["code"] in (200, 500), envelope
        if envelope["code"] == 500:
            assert envelope["msg"], (body, envelope)


def test_registrations_from_the_fuzz_are_only_valid_addresses(client, db) -> None:
    rng = random.Random("rpc-fuzz-registry-rows")
    for body in _fuzz_bodies("/api/registry", rng, 60):
        call(client, "/api/registry", body)
    with db.session() as s:
        addresses = s.scalars(sa.select(ExecutorRegistry.address)).all()
    assert addresses and all(a.startswith("http://") and len(a) <= 255 for a in addresses), addresses
