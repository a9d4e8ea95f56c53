"""Typed settings read once: defaults -> TOML file -> environment -> explicit overrides.

A settings class is a frozen dataclass whose fields are declared with `setting(...)`; the
field's annotation gives the type, the metadata gives help text and limits. One loader serves
the admin's `Config` and the executor's `ExecutorConfig`, so both validate the same way and
both name the bad key and value when something is wrong.
"""

from __future__ import annotations

import dataclasses
import enum
import os
import tomllib
import types
import typing
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar, cast

from .errors import ConfigError, raise_config_errors

T = TypeVar("T")

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def setting(
    default: Any,
    help: str,
    *,
    choices: tuple[str, ...] | None = None,
    min: float | None = None,
    max: float | None = None,
    secret: bool = False,
    check: Callable[[Any], str | None] | None = None,
) -> Any:
    """Declare a setting. `check(value)` returns an error reason or None."""
    meta = {"help": help, "choices": choices, "min": min, "max": max, "secret": secret, "check": check}
    if isinstance(default, (list, dict, set)):
        raise TypeError("use a tuple for sequence defaults")
    return dataclasses.field(default=default, metadata=meta)


def _unwrap_optional(tp: Any) -> tuple[Any, bool]:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if len(args) == 1 and len(typing.get_args(tp)) == 2:
            return args[0], True
    return tp, False


def _coerce(key: str, tp: Any, raw: Any, *, from_text: bool) -> Any:
    """Turn `raw` (a TOML value, or text from the environment) into `tp`, or raise ConfigError."""
    base, optional = _unwrap_optional(tp)
    if raw is None or (from_text and optional and raw == ""):
        if optional:
            return None
        raise ConfigError(key, raw, "a value is required")
    if base is bool:
        if isinstance(raw, bool):
            return raw
        if from_text and str(raw).strip().lower() in _TRUE | _FALSE:
            return str(raw).strip().lower() in _TRUE
        raise ConfigError(key, raw, "expected true or false")
    if base is int:
        if isinstance(raw, bool):
            raise ConfigError(key, raw, "expected an integer")
        if isinstance(raw, int):
            return raw
        if from_text:
            try:
                return int(str(raw).strip())
            except ValueError:
                pass
        raise ConfigError(key, raw, "expected an integer")
    if base is float:
        if isinstance(raw, (int, float)) and not isinstance(raw, bool):
            return float(raw)
        if from_text:
            try:
                return float(str(raw).strip())
            except ValueError:
                pass
        raise ConfigError(key, raw, "expected a number")
    if base is str:
        if isinstance(raw, str):
            return raw
        raise ConfigError(key, raw, "expected a string")
    if base is Path:
        if isinstance(raw, os.PathLike) or (isinstance(raw, str) and raw.strip()):
            return Path(raw).expanduser()
        raise ConfigError(key, raw, "expected a path")
    if isinstance(base, type) and issubclass(base, enum.Enum):
        text = str(raw).strip()
        for member in base:
            if text.upper() == str(member.value).upper():
                return member
        allowed = ", ".join(str(m.value) for m in base)
        raise ConfigError(key, raw, f"expected one of {allowed}")
    if typing.get_origin(base) is tuple:
        (item_tp, _ellipsis) = typing.get_args(base)
        if isinstance(raw, str):
            items: list[Any] = [p.strip() for p in raw.split(",") if p.strip()]
            text_items = True
        elif isinstance(raw, (list, tuple)):
            items, text_items = list(raw), from_text
        else:
            raise ConfigError(key, raw, "expected a list (or comma-separated text)")
        return tuple(_coerce(key, item_tp, item, from_text=text_items or isinstance(item, str)) for item in items)
    raise TypeError(f"setting {key}: unsupported type {tp!r}")


def _validate(field: dataclasses.Field, value: Any) -> None:
    meta = field.metadata
    if value is None:
        return
    if meta.get("choices") and value not in meta["choices"]:
        raise ConfigError(field.name, value, f"expected one of {', '.join(meta['choices'])}")
    if meta.get("min") is not None and value < meta["min"]:
        raise ConfigError(field.name, value, f"must be at least {meta['min']:g}")
    if meta.get("max") is not None and value > meta["max"]:
        raise ConfigError(field.name, value, f"must be at most {meta['max']:g}")
    if meta.get("check"):
        reason = meta["check"](value)
        if reason:
            raise ConfigError(field.name, value, reason)


def env_name(prefix: str, key: str) -> str:
    return f"{prefix}{key.upper()}"


def read_toml(path: Path) -> dict[str, Any]:
    try:
        with open(path, "rb") as fh:
            data = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError("config_file", str(path), "file not found") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("config_file", str(path), f"not valid TOML ({exc})") from None
    except OSError as exc:
        raise ConfigError("config_file", str(path), exc.strerror or str(exc)) from None
    return data


def load_settings(
    cls: type[T],
    *,
    prefix: str,
    file: Path | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """Build `cls` from its defaults, then `file` (TOML, flat keys), then `env`, then `overrides`.

    Unknown keys in the file or the overrides are errors (a typo must not be silently ignored);
    unknown `prefix*` environment variables are left alone, since other tools share the prefix.
    """
    env = os.environ if env is None else env
    fields = {f.name: f for f in dataclasses.fields(cast(Any, cls))}  # cls is a dataclass type
    hints = typing.get_type_hints(cls)
    values: dict[str, Any] = {}
    # Every bad value is collected and reported together: a person fixing a file should not have
    # to run the command once per mistake.
    errors: list[ConfigError] = []

    def take(key: str, name: str, raw: Any, *, from_text: bool) -> None:
        try:
            values[key] = _coerce(name, hints[key], raw, from_text=from_text)
        except ConfigError as exc:
            errors.append(exc)

    if file is not None:
        for key, raw in read_toml(file).items():
            if key not in fields:
                errors.append(ConfigError(key, raw, f"unknown setting in {file}"))
            else:
                take(key, key, raw, from_text=False)
    for key in fields:
        name = env_name(prefix, key)
        if name in env:
            take(key, name, env[name], from_text=True)
    for key, raw in (overrides or {}).items():
        if key not in fields:
            errors.append(ConfigError(key, raw, "unknown setting"))
        else:
            take(key, key, raw, from_text=isinstance(raw, str))
    bad_keys = {e.key for e in errors}
    instance = cls(**values)
    for field in fields.values():
        if field.name in bad_keys or env_name(prefix, field.name) in bad_keys:
            continue  # already reported (its value here is the default, not what was given)
        try:
            _validate(field, getattr(instance, field.name))
        except ConfigError as exc:
            errors.append(exc)
    raise_config_errors(errors)
    check = getattr(instance, "check_consistent", None)
    if check is not None:  # rules between settings, once each value is valid on its own
        check()
    return instance


def read_settings(
    cls: type[T],
    *,
    prefix: str,
    file_env: str,
    file: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> T:
    """`load_settings` as the commands use it: `file` defaults to `$<file_env>` when that is set,
    and overrides given as None (a CLI flag not passed) are left out."""
    env = os.environ if env is None else env
    if file is None and env.get(file_env):
        file = env[file_env]
    clean = {k: v for k, v in (overrides or {}).items() if v is not None}
    return load_settings(cls, prefix=prefix, file=Path(file) if file else None, env=env, overrides=clean)


def describe_settings(cls: type, prefix: str) -> list[dict[str, str]]:
    """One row per setting: key, environment variable, type, default, help (for docs and `config show`)."""
    hints = typing.get_type_hints(cls)
    rows = []
    for field in dataclasses.fields(cls):
        base, optional = _unwrap_optional(hints[field.name])
        type_name = getattr(base, "__name__", str(base))
        if typing.get_origin(base) is tuple:
            type_name = "list"
        elif isinstance(base, type) and issubclass(base, enum.Enum):
            type_name = " / ".join(str(m.value) for m in base)
        default = field.default
        if isinstance(default, enum.Enum):
            default = default.value
        rows.append(
            {
                "key": field.name,
                "env": env_name(prefix, field.name),
                "type": type_name + (" (optional)" if optional else ""),
                "default": "" if default is None else ", ".join(map(str, default)) if isinstance(default, tuple) else str(default),
                "help": field.metadata.get("help", ""),
            }
        )
    return rows
