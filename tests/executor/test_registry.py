"""Registration with the admins: at start, every interval, failover, never fatal; insecure mode."""

from __future__ import annotations

import json
import logging

from tests.support.executor_calls import TOKEN, call
from tests.support.fake_admin import FakeAdmin
from tests.support.net import wait_until


def test_registers_at_start_with_the_xxljob_body(make_executor, fake_admin) -> None:
    executor = make_executor().start()
    wait_until(lambda: fake_admin.registrations(), what="registration")
    raw = fake_admin.received("/api/registry")[0]
    assert raw.token == TOKEN
    assert json.loads(raw.raw) == {"registryGroup": "EXECUTOR", "registryKey": "test-app", "registryValue": f"http://127.0.0.1:{executor.port}/"}
    assert executor.address == f"http://127.0.0.1:{executor.port}"


def test_re_registers_every_interval(make_executor, fake_admin, fake_clock) -> None:
    executor = make_executor(clock=fake_clock, registry_interval_s=30).start()
    wait_until(lambda: len(fake_admin.registrations()) == 1, what="first registration")
    fake_clock.advance(s=29)
    executor.tick()
    assert len(fake_admin.registrations()) == 1
    fake_clock.advance(s=1)
    executor.tick()
    assert len(fake_admin.registrations()) == 2
    fake_clock.advance(s=30)
    executor.tick()
    assert len(fake_admin.registrations()) == 3


def test_advertise_address_is_what_gets_registered(make_executor, fake_admin) -> None:
    make_executor(advertise_address="http://jobs.internal:31999/").start()
    wait_until(lambda: fake_admin.registrations(), what="registration")
    assert fake_admin.registrations()[0].registry_value == "http://jobs.internal:31999"


def test_unreachable_admins_are_not_fatal_and_retried(make_executor, fake_admin, fake_clock, caplog) -> None:
    fake_admin.stop()
    caplog.set_level(logging.WARNING, "shardcron.executor.registry")
    executor = make_executor(clock=fake_clock).start()
    wait_until(lambda: any("registration failed" in r.message for r in caplog.records), what="failure logged")
    assert call(executor.port, "/beat").ok  # the executor runs regardless
    fake_admin.start()
    fake_clock.advance(s=5)  # a failed registration is retried soon, not a whole interval later
    executor.tick()
    assert len(fake_admin.registrations()) == 1


def test_registration_fails_over_to_the_next_admin(make_executor, fake_admin) -> None:
    fake_admin.refuse("/api/registry")
    second = FakeAdmin(token=TOKEN).start()
    try:
        make_executor(admin_addresses=[fake_admin.url, second.url]).start()
        wait_until(lambda: second.registrations(), what="registration with the second admin")
        assert len(fake_admin.received("/api/registry")) == 1  # tried first, refused
    finally:
        second.stop()


def test_insecure_mode_accepts_calls_without_token_and_warns_loudly(make_executor, fake_admin, fake_clock, caplog) -> None:
    caplog.set_level(logging.WARNING, "shardcron.executor")
    executor = make_executor(access_token=None, insecure=True, clock=fake_clock).start()
    assert call(executor.port, "/beat", token=None).ok
    assert any(r.levelname == "WARNING" and "INSECURE executor" in r.getMessage() for r in caplog.records if r.name == "shardcron.executor")
    wait_until(lambda: len(fake_admin.received("/api/registry")) == 1, what="registration")
    fake_clock.advance(s=30)
    executor.tick()
    warnings = [r for r in caplog.records if "INSECURE executor registering" in r.getMessage()]
    assert len(warnings) == 2  # on every registration
