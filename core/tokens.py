"""Shared tokens and the token-less mode, the same rules for the admin and the executor.

Every shared token (access tokens, /metrics bearer tokens) must be long enough to resist guessing
and able to travel in an HTTP header; the insecure (token-less) modes — the executor's `insecure`,
the admin's `insecure_no_token` — are refused unless the process serves on a loopback address.
"""

from __future__ import annotations

import ipaddress

from .errors import ConfigError
from .keepalive import header_value_problem

MIN_TOKEN_CHARS = 16


def check_token(value: str | None) -> str | None:
    """The problem with a token setting's value, or None when it is acceptable (or unset)."""
    if value is not None and len(value) < MIN_TOKEN_CHARS:
        return f"must be at least {MIN_TOKEN_CHARS} characters (a short shared token can be guessed)"
    return None if value is None else header_value_problem(value)


def split_host_port(value: str) -> tuple[str, int]:
    """`HOST:PORT` (IPv6 as `[::1]:9999`) -> (host, port); raises ValueError."""
    host, sep, port = value.strip().rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 <= int(port) < 65536:
        raise ValueError(value)
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, int(port)


def refuse_insecure_off_loopback(key: str, address: str) -> None:
    """Refuse an insecure (token-less) mode, naming the setting `key`, unless `address`
    (HOST:PORT, the address served on) is a loopback address."""
    try:
        host, _ = split_host_port(address)
    except ValueError:
        host = ""
    if not is_loopback(host):
        raise ConfigError(key, True, f"insecure mode is for local use only; listen on a loopback address, not {address}")


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False
