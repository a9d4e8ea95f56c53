"""The token rules and the loopback-only insecure mode the admin and the executor share."""

from __future__ import annotations

import pytest

from shardcron.core.errors import ConfigError
from shardcron.core.tokens import check_token, is_loopback, refuse_insecure_off_loopback, split_host_port


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        (None, None),
        ("x" * 16, None),
        ("x" * 15, "must be at least 16 characters (a short shared token can be guessed)"),
    ],
)
def test_a_token_is_long_enough_or_unset(value: str | None, problem: str | None) -> None:
    assert check_token(value) == problem


def test_a_token_that_cannot_travel_in_a_header_is_refused() -> None:
    problem = check_token("x" * 16 + "\r\nX-Injected: 1")
    assert problem is not None and "header" in problem


@pytest.mark.parametrize(
    ("value", "expected"),
    [("0.0.0.0:9999", ("0.0.0.0", 9999)), ("[::1]:0", ("::1", 0)), (" localhost:8080 ", ("localhost", 8080))],
)
def test_host_and_port_are_split_ipv6_included(value: str, expected: tuple[str, int]) -> None:
    assert split_host_port(value) == expected


@pytest.mark.parametrize("value", ["9999", ":9999", "host:", "host:65536", "host:９９"])
def test_a_malformed_address_is_a_value_error(value: str) -> None:
    with pytest.raises(ValueError):
        split_host_port(value)


@pytest.mark.parametrize(("address", "allowed"), [("127.0.0.1:0", True), ("[::1]:9", True), ("localhost:9", True), ("0.0.0.0:9", False), ("nonsense", False)])
def test_insecure_mode_only_on_loopback(address: str, allowed: bool) -> None:
    if allowed:
        refuse_insecure_off_loopback("insecure", address)
        assert is_loopback(split_host_port(address)[0])
        return
    with pytest.raises(ConfigError) as refusal:
        refuse_insecure_off_loopback("insecure", address)
    assert "insecure mode is for local use only" in str(refusal.value)
    assert "insecure" in str(refusal.value).split(":")[0]
