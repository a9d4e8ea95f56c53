"""The executor-facing API's access token: required, compared in constant time.

XXL-JOB fails open when no token is configured; shardcron does not: the token is the configured
`access_token` or, when empty, the random one generated into the instance folder. Only
`insecure_no_token = true` turns the check off (and that is logged loudly at start).
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Mapping

from werkzeug.datastructures import Headers

from shardcron.core.protocol import ACCESS_TOKEN_HEADER_ALIASES

from ..config import Config, read_or_create_secret

log = logging.getLogger("shardcron.admin.rpc")

WRONG_TOKEN_MSG = "The access token is wrong."


def expected_token(config: Config) -> str | None:
    """The token executors must send, or None in insecure mode."""
    if config.insecure_no_token:
        log.warning("INSECURE admin: executor-facing /api accepts calls without an access token (insecure_no_token = true)")
        return None
    return read_or_create_secret(config, "access_token")


def describe_token_source(config: Config) -> str:
    """One line for the admin's start: where executors get the access token.

    It names the file (or the setting), never the token: start-up lines end up in terminals,
    journals and log shippers, while the file is readable only by the admin's own account."""
    if config.insecure_no_token:
        return "executor access token: none (insecure_no_token = true): executors connect without one"
    if config.access_token:
        return "executor access token: the configured access_token setting (executors send the same value)"
    path = (config.instance_dir / "access_token").resolve()
    return f"executor access token: in {path} (executors send it: SHARDCRON_EXECUTOR_ACCESS_TOKEN)"


def token_accepted(expected: str | None, headers: Mapping[str, str] | Headers) -> bool:
    if expected is None:
        return True
    wanted = expected.encode("utf-8")
    accepted = False
    for name in ACCESS_TOKEN_HEADER_ALIASES:  # every alias is compared, so timing says nothing
        sent = headers.get(name)
        if sent is not None and hmac.compare_digest(sent.encode("utf-8"), wanted):
            accepted = True
    return accepted
