"""The one error base of shardcron; both packages derive their errors from it."""

from __future__ import annotations


class ShardcronError(Exception):
    """Base of every error shardcron raises on purpose.

    The message is written for the person who reads it (an operator at a terminal, a developer
    reading a 4xx body): one line that names the thing it is about.
    """


class ConfigError(ShardcronError):
    """A setting has a bad value; carries the key and the offending value."""

    def __init__(self, key: str, value: object, reason: str) -> None:
        self.key = key
        self.value = value
        self.reason = reason
        super().__init__(f"invalid setting {key}={value!r}: {reason}")
