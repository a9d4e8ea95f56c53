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


class ConfigErrors(ConfigError):
    """Several settings have bad values, reported together so that one run shows every fix to
    make. `errors` holds each one; `key`, `value` and `reason` are the first one's."""

    def __init__(self, errors: list[ConfigError]) -> None:
        if len(errors) < 2:
            raise ValueError("ConfigErrors holds two or more errors; raise a single ConfigError itself")
        self.errors = list(errors)
        first = errors[0]
        self.key, self.value, self.reason = first.key, first.value, first.reason
        detail = "; ".join(f"{e.key}={e.value!r}: {e.reason}" for e in errors)
        ShardcronError.__init__(self, f"{len(errors)} invalid settings: {detail}")


def raise_config_errors(errors: list[ConfigError]) -> None:
    """Raise nothing, the one error, or all of them as one `ConfigErrors`."""
    if len(errors) == 1:
        raise errors[0]
    if errors:
        raise ConfigErrors(errors)
