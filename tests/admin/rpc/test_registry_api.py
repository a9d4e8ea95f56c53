"""/api/registry and /api/registryRemove with the bodies XXL-JOB 2.x/3.x executors send."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from threading import Barrier

import pytest
import sqlalchemy as sa

from shardcron.admin import create_app
from shardcron.admin.config import load_config
from shardcron.admin.models import ExecutorGroup, ExecutorRegistry
from shardcron.admin.rpc.registry_store import record_heartbeat
from shardcron.admin.registry_view import live_addresses
from shardcron.core.protocol import RegistryParam
from tests.admin.rpc.conftest import TOKEN
from tests.support.run_rows import T0, add_group

XXL_24_REGISTRY = '{"registryGroup":"EXECUTOR","registryKey":"billing","registryValue":"http://10.0.0.7:9999/"}'


def post(client, path: str, body: str | bytes, *, token: str | None = TOKEN, header: str = "XXL-JOB-ACCESS-TOKEN") -> dict:
    headers = {"Content-Type": "application/json;charset=UTF-8"}
    if token is not None:
        headers[header] = token
    response = client.post(path, data=body, headers=headers)
    assert response.status_code == 200, response.data
    return response.get_json()


def registrations(db) -> list[tuple]:
    with db.session() as s:
        rows = s.execute(sa.select(ExecutorRegistry.registry_group, ExecutorRegistry.app_name, ExecutorRegistry.address,
                                   ExecutorRegistry.registered_at_ms, ExecutorRegistry.heartbeat_at_ms)).all()
    return [tuple(row) for row in rows]


def test_registration_is_stored_normalized_and_answered_in_both_envelope_forms(client, db) -> None:
    answer = post(client, "/api/registry", XXL_24_REGISTRY)
    assert answer == {"code": 200, "msg": None, "content": None, "data": None}
    assert registrations(db) == [("EXECUTOR", "billing", "http://10.0.0.7:9999", T0, T0)]


def test_heartbeat_moves_only_the_heartbeat(client, db, fake_clock) -> None:
    post(client, "/api/registry", XXL_24_REGISTRY)
    fake_clock.advance(s=30)
    # the same executor without the trailing slash and with keys a newer executor adds
    body = {"registryGroup": "EXECUTOR", "registryKey": "billing", "registryValue": "http://10.0.0.7:9999", "extra": {"x": 1}}
    assert post(client, "/api/registry/", json.dumps(body))["code"] == 200
    assert registrations(db) == [("EXECUTOR", "billing", "http://10.0.0.7:9999", T0, T0 + 30_000)]


def test_registered_executor_is_live_for_its_group(client, db, fake_clock) -> None:
    add_group(db, "billing")
    post(client, "/api/registry", XXL_24_REGISTRY)
    post(client, "/api/registry", XXL_24_REGISTRY.replace("10.0.0.7", "10.0.0.3"))
    with db.session() as s:
        group = s.scalars(sa.select(ExecutorGroup)).one()
        assert live_addresses(s, group, fake_clock.now_ms()) == ["http://10.0.0.3:9999", "http://10.0.0.7:9999"]
        assert live_addresses(s, group, fake_clock.now_ms() + 90_000) == []


def test_registry_remove_deletes_and_tolerates_unknown(client, db) -> None:
    post(client, "/api/registry", XXL_24_REGISTRY)
    assert post(client, "/api/registryRemove", XXL_24_REGISTRY) == {"code": 200, "msg": None, "content": None, "data": None}
    assert registrations(db) == []
    again = post(client, "/api/registryRemove", XXL_24_REGISTRY)
    assert again["code"] == 200 and again["msg"] == "not registered"


@pytest.mark.parametrize(
    ("token", "header"),
    [(None, "XXL-JOB-ACCESS-TOKEN"), ("wrong-token-0123456789", "XXL-JOB-ACCESS-TOKEN"), (TOKEN[:-1], "XXL-JOB-ACCESS-TOKEN"), ("", "XXL-JOB-ACCESS-TOKEN")],
)
def test_wrong_or_missing_token_is_refused_and_writes_nothing(client, db, token, header) -> None:
    answer = post(client, "/api/registry", XXL_24_REGISTRY, token=token, header=header)
    assert answer["code"] == 500
    assert answer["msg"] == "The access token is wrong."
    assert registrations(db) == []


def test_rpc_token_header_alias_is_accepted(client, db) -> None:
    assert post(client, "/api/registry", XXL_24_REGISTRY, header="XXL-RPC-ACCESS-TOKEN")["code"] == 200
    assert len(registrations(db)) == 1


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b"", "empty body"),
        (b"registryKey=billing", "not valid JSON"),
        (b"[]", "expected a JSON object"),
        (b'{"registryGroup":"EXECUTOR","registryKey":"  ","registryValue":"http://h:1/"}', "'registryKey' is blank"),
        (b'{"registryGroup":"EXECUTOR","registryValue":"http://h:1/"}', "missing required field 'registryKey'"),
        (b'{"registryGroup":"EXECUTOR","registryKey":"billing","registryValue":"file:///etc/passwd"}', "must start with http"),
        (b'{"registryGroup":"EXECUTOR","registryKey":"billing","registryValue":9999}', "must be a string"),
    ],
)
def test_malformed_registration_is_refused_with_a_clear_message(client, db, body, words) -> None:
    answer = post(client, "/api/registry", body)
    assert answer["code"] == 500
    assert words in answer["msg"]
    assert registrations(db) == []


def test_generated_token_is_required_when_none_is_configured(tmp_path, db, fake_clock) -> None:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": db.url})
    client = create_app(config, db=db, clock=fake_clock).test_client()
    assert post(client, "/api/registry", XXL_24_REGISTRY, token=None)["code"] == 500
    generated = (tmp_path / "access_token").read_text().strip()
    assert post(client, "/api/registry", XXL_24_REGISTRY, token=generated)["code"] == 200


def test_insecure_mode_accepts_calls_without_token(tmp_path, db, fake_clock, caplog) -> None:
    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": db.url, "insecure_no_token": True})
    client = create_app(config, db=db, clock=fake_clock).test_client()
    assert any("INSECURE admin" in r.getMessage() for r in caplog.records)
    assert post(client, "/api/registry", XXL_24_REGISTRY, token=None)["code"] == 200
    assert len(registrations(db)) == 1


def test_oversize_body_is_refused_with_the_limit(client, db) -> None:
    body = b'{"registryGroup":"EXECUTOR","registryKey":"billing","registryValue":"http://10.0.0.7:9999/","pad":"' + b"x" * (5 * 1024 * 1024) + b'"}'
    answer = post(client, "/api/registry", body)
    assert answer["code"] == 500
    assert answer["msg"] == f"body is over the {5 * 1024 * 1024}-byte limit"
    assert registrations(db) == []


def test_concurrent_first_registrations_make_one_row(db) -> None:
    param = RegistryParam.from_wire(json.loads(XXL_24_REGISTRY))
    barrier = Barrier(4)

    def register_once(i: int) -> None:
        barrier.wait(timeout=10)
        with db.session() as s:
            record_heartbeat(s, param, T0 + i)

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(register_once, range(4)))  # re-raises any unique-key error
    [(_, _, address, registered, beat)] = registrations(db)
    assert address == "http://10.0.0.7:9999" and registered in range(T0, T0 + 4) and beat in range(T0, T0 + 4)


def _groups(db) -> list[tuple]:
    with db.session() as s:
        return [tuple(r) for r in s.execute(sa.select(ExecutorGroup.app_name, ExecutorGroup.address_type, ExecutorGroup.title)).all()]


def test_an_unknown_app_name_makes_no_group_by_default(client, db, caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level("WARNING", logger="shardcron.admin.rpc"):
        assert post(client, "/api/registry", XXL_24_REGISTRY)["code"] == 200
        assert post(client, "/api/registry", XXL_24_REGISTRY)["code"] == 200
    assert _groups(db) == []
    assert len(registrations(db)) == 1  # registered, but nothing targets it until the group exists
    warnings = [r.getMessage() for r in caplog.records if "no executor group has" in r.getMessage()]
    assert len(warnings) <= 1 and all("'billing'" in w for w in warnings)


def test_auto_create_groups_makes_an_audited_auto_group_on_first_registration(tmp_path, db, fake_clock) -> None:
    from shardcron.admin.models import AuditEntry

    config = load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": db.url, "access_token": TOKEN, "auto_create_groups": True})
    client = create_app(config, db=db, clock=fake_clock).test_client()
    assert post(client, "/api/registry", XXL_24_REGISTRY)["code"] == 200
    assert post(client, "/api/registry", XXL_24_REGISTRY.replace("10.0.0.7", "10.0.0.8"))["code"] == 200
    assert _groups(db) == [("billing", "AUTO", "billing")]  # once, for both executors
    with db.session() as s:
        entries = s.execute(sa.select(AuditEntry.actor_kind, AuditEntry.actor_name, AuditEntry.action, AuditEntry.target_name)).all()
        live = live_addresses(s, s.scalar(sa.select(ExecutorGroup)), fake_clock.now_ms())
    assert [tuple(e) for e in entries] == [("SYSTEM", "system", "group.create", "billing")]
    assert sorted(live) == ["http://10.0.0.7:9999", "http://10.0.0.8:9999"]
    bad_name = '{"registryGroup":"EXECUTOR","registryKey":"no spaces allowed","registryValue":"http://10.0.0.9:9999/"}'
    assert post(client, "/api/registry", bad_name)["code"] == 200  # still registered; no group for a name a group cannot have
    assert len(_groups(db)) == 1
