"""Configuration: sources in order, validation naming key and value, generated secrets."""

from __future__ import annotations

import dataclasses
import os
import re
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from shardcron.admin.config import Config, LogFormat, load_config, read_or_create_secret, settings_table
from shardcron.core.errors import ConfigError

README = Path(__file__).resolve().parents[2] / "README.md"


def test_defaults_use_embedded_sqlite_in_instance_dir(tmp_path: Path) -> None:
    cfg = load_config(env={}, overrides={"instance_dir": str(tmp_path)})
    assert cfg.database_url is None
    assert cfg.effective_database_url == f"sqlite:///{tmp_path / 'shardcron.db'}"
    assert cfg.is_sqlite
    assert cfg.bind == "127.0.0.1:8080"
    assert cfg.insecure_no_token is False


def test_sources_in_order_file_env_overrides(tmp_path: Path) -> None:
    file = tmp_path / "shardcron.toml"
    file.write_text('bind = "0.0.0.0:9000"\ntick_interval_ms = 500\nlog_format = "json"\nlookahead_ms = 3000\n')
    env = {"SHARDCRON_TICK_INTERVAL_MS": "300", "SHARDCRON_LOOKAHEAD_MS": "4000", "SHARDCRON_UNRELATED": "x"}
    cfg = load_config(file=file, env=env, overrides={"lookahead_ms": 5000})
    assert cfg.bind == "0.0.0.0:9000"  # file beats default
    assert cfg.tick_interval_ms == 300  # env beats file
    assert cfg.lookahead_ms == 5000  # override beats env
    assert cfg.log_format is LogFormat.JSON


def test_config_file_from_environment(tmp_path: Path) -> None:
    file = tmp_path / "c.toml"
    file.write_text('run_log_retention_days = 7\n')
    assert load_config(env={"SHARDCRON_CONFIG": str(file)}).run_log_retention_days == 7


def test_env_values_are_parsed_by_type() -> None:
    env = {
        "SHARDCRON_INSECURE_NO_TOKEN": "yes",
        "SHARDCRON_EXECUTOR_TIMEOUT_S": "1.5",
        "SHARDCRON_DATABASE_URL": "mysql+pymysql://u:p@db:3306/shardcron",
        "SHARDCRON_SMTP_HOST": "",
    }
    cfg = load_config(env=env)
    assert cfg.insecure_no_token is True
    assert cfg.executor_timeout_s == 1.5
    assert cfg.effective_database_url == "mysql+pymysql://u:p@db:3306/shardcron"
    assert not cfg.is_sqlite
    assert cfg.smtp_host is None


@pytest.mark.parametrize(
    ("env", "words"),
    [
        ({"SHARDCRON_TICK_INTERVAL_MS": "fast"}, "SHARDCRON_TICK_INTERVAL_MS='fast': expected an integer"),
        ({"SHARDCRON_INSECURE_NO_TOKEN": "maybe"}, "SHARDCRON_INSECURE_NO_TOKEN='maybe': expected true or false"),
        ({"SHARDCRON_LEASE_MS": "10"}, "lease_ms=10: must be at least 300"),
        ({"SHARDCRON_LEASE_MS": "1000"}, "lease_ms=1000: must be at least lease_margin_ms + 2 x lease_renew_ms = 1500"),
        ({"SHARDCRON_LEASE_RENEW_MS": "900"}, "lease_ms=2000: must be at least lease_margin_ms + 2 x lease_renew_ms = 2300"),
        ({"SHARDCRON_LEASE_MARGIN_MS": "10"}, "lease_margin_ms=10: must be at least 50"),
        ({"SHARDCRON_BIND": "localhost"}, "bind='localhost': expected HOST:PORT"),
        ({"SHARDCRON_DEFAULT_TIMEZONE": "Mars/Olympus"}, "default_timezone='Mars/Olympus': not an IANA time zone"),
        ({"SHARDCRON_DEFAULT_TIMEZONE": "localtime"}, "default_timezone='localtime': not an IANA time zone"),
        ({"SHARDCRON_DATABASE_URL": "oracle://x/y"}, "database_url='oracle://x/y'"),
        ({"SHARDCRON_DATABASE_URL": "postgresql+psycopg2://x/y"}, "postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"),
        ({"SHARDCRON_LOG_FORMAT": "xml"}, "expected one of text, json"),
        ({"SHARDCRON_LOG_LEVEL": "LOUD"}, "log_level='LOUD': expected one of DEBUG"),
        ({"SHARDCRON_ACCESS_TOKEN": "short"}, "access_token='short': must be at least 16 characters"),
        ({"SHARDCRON_ACCESS_TOKEN": "sixteen-chars-ok\nX-Injected: 1"}, "printable ASCII without line breaks"),
        ({"SHARDCRON_ACCESS_TOKEN": "sixteen-chars-jetón"}, "printable ASCII without line breaks"),
    ],
)
def test_bad_values_name_key_and_value(env: dict, words: str) -> None:
    with pytest.raises(ConfigError) as err:
        load_config(env=env)
    assert words in str(err.value)


def test_file_errors_are_clear(tmp_path: Path) -> None:
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("tick_interval = 5\n")
    with pytest.raises(ConfigError, match=r"tick_interval=5: unknown setting in"):
        load_config(file=unknown, env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("bind = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_config(file=broken, env={})
    wrong_type = tmp_path / "wrong.toml"
    wrong_type.write_text('tick_interval_ms = "fast"\n')
    with pytest.raises(ConfigError, match="tick_interval_ms='fast': expected an integer"):
        load_config(file=wrong_type, env={})
    with pytest.raises(ConfigError, match="file not found"):
        load_config(file=tmp_path / "missing.toml", env={})


def test_unknown_override_is_an_error() -> None:
    with pytest.raises(ConfigError, match="unknown setting"):
        load_config(env={}, overrides={"no_such_setting": 1})


def test_with_overrides_validates() -> None:
    cfg = load_config(env={})
    assert cfg.with_overrides(tick_interval_ms=50).tick_interval_ms == 50
    with pytest.raises(ConfigError, match="tick_interval_ms"):
        cfg.with_overrides(tick_interval_ms=0)


def test_generated_secret_is_random_private_and_stable(tmp_path: Path) -> None:
    cfg = load_config(env={}, overrides={"instance_dir": str(tmp_path / "inst")})
    first = read_or_create_secret(cfg, "secret_key")
    assert len(first) >= 32
    assert read_or_create_secret(cfg, "secret_key") == first
    mode = stat.S_IMODE(os.stat(tmp_path / "inst" / "secret_key").st_mode)
    assert mode == 0o600
    other = load_config(env={}, overrides={"instance_dir": str(tmp_path / "inst2")})
    assert read_or_create_secret(other, "secret_key") != first
    explicit = cfg.with_overrides(secret_key="x" * 20)
    assert read_or_create_secret(explicit, "secret_key") == "x" * 20


def test_stored_secret_too_short_is_refused(tmp_path: Path) -> None:
    (tmp_path / "access_token").write_text("abc\n")
    cfg = load_config(env={}, overrides={"instance_dir": str(tmp_path)})
    with pytest.raises(ConfigError, match="shorter than 16"):
        read_or_create_secret(cfg, "access_token")


def test_readme_documents_every_setting() -> None:
    text = README.read_text(encoding="utf-8")
    rows = {m.group(1) for m in re.finditer(r"^\| `([a-z0-9_]+)` \|", text, re.M)}
    keys = {row["key"] for row in settings_table()}
    assert keys == rows, f"README config table is out of date: missing {sorted(keys - rows)}, stale {sorted(rows - keys)}"
    for row in settings_table():
        assert f"`{row['env']}`" in text


def test_config_is_immutable() -> None:
    cfg = load_config(env={})
    with pytest.raises(dataclasses.FrozenInstanceError):
        cfg.bind = "x"  # type: ignore[misc]
    assert isinstance(cfg, Config)


@pytest.mark.parametrize("url", ["postgresql+psycopg://shardcron:pw@db.example:5432/shardcron", "postgresql://shardcron@db.example/shardcron"])
def test_a_postgresql_url_is_accepted(url: str) -> None:
    assert load_config(env={"SHARDCRON_DATABASE_URL": url}).database_url == url


def test_every_bad_setting_is_reported_at_once(tmp_path: Path) -> None:
    file = tmp_path / "several.toml"
    file.write_text('tick_interval = 5\nbind = "nowhere"\ndefault_timezone = "Mars/Olympus"\n')
    env = {"SHARDCRON_TICK_INTERVAL_MS": "fast"}
    with pytest.raises(ConfigError) as err:
        load_config(file=file, env=env, overrides={"lookahead_ms": 5})
    message = str(err.value)
    assert message.startswith("5 invalid settings: ")
    for words in (
        "tick_interval=5: unknown setting in",
        "bind='nowhere': expected HOST:PORT",
        "default_timezone='Mars/Olympus': not an IANA time zone",
        "SHARDCRON_TICK_INTERVAL_MS='fast': expected an integer",
        "lookahead_ms=5: must be at least 100",
    ):
        assert words in message
    assert sorted(e.key for e in err.value.errors) == ["SHARDCRON_TICK_INTERVAL_MS", "bind", "default_timezone", "lookahead_ms", "tick_interval"]


def test_the_command_prints_every_bad_setting_in_one_line(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")} | {
        "SHARDCRON_BIND": "nowhere",
        "SHARDCRON_LOG_LEVEL": "LOUD",
        "XDG_DATA_HOME": str(tmp_path / "xdg"),
    }
    done = subprocess.run([sys.executable, "-m", "shardcron.admin.cli", "config", "show"], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert "2 invalid settings" in lines[0] and "bind='nowhere'" in lines[0] and "log_level='LOUD'" in lines[0]
    assert "Traceback" not in done.stderr
