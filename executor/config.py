"""The executor's settings: one typed object, read once and passed in.

Sources, later ones winning: the defaults below -> a TOML file (`config_file=`, or the file named
by `SHARDCRON_EXECUTOR_CONFIG`) -> `SHARDCRON_EXECUTOR_<KEY>` environment variables -> the
keyword arguments given to `Executor(...)` -> command-line flags of `shardcron executor run`.
README's "Executor configuration" table is checked against this class by a test.
"""

from __future__ import annotations

import os
import re
import socket
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from shardcron.core.errors import ConfigError
from shardcron.core.protocol import MAX_APP_NAME_CHARS, ProtocolError, normalize_address
from shardcron.core.settings import describe_settings, read_settings, setting
from shardcron.core.tokens import check_token, refuse_insecure_off_loopback, split_host_port

ENV_PREFIX = "SHARDCRON_EXECUTOR_"
CONFIG_FILE_ENV = "SHARDCRON_EXECUTOR_CONFIG"

_APP_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def default_data_dir() -> Path:
    """`$XDG_DATA_HOME/shardcron/executor`, i.e. `~/.local/share/shardcron/executor` on most systems."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shardcron" / "executor"


def _check_listen(value: str) -> str | None:
    try:
        split_host_port(value)
    except ValueError:
        return "expected HOST:PORT, e.g. 0.0.0.0:9999 (port 0 picks a free port)"
    return None


def _check_app_name(value: str | None) -> str | None:
    if value is None:
        return None
    if len(value) > MAX_APP_NAME_CHARS or not _APP_NAME.match(value):
        return f"use 1-{MAX_APP_NAME_CHARS} letters, digits, '.', '_' or '-'"
    return None


def _check_address(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        normalize_address(value)
    except ProtocolError as exc:
        return str(exc)
    return None


def _check_admin_addresses(values: tuple[str, ...]) -> str | None:
    for value in values:
        reason = _check_address(value)
        if reason:
            return reason
    return None


@dataclass(frozen=True)
class ExecutorConfig:
    # --- identity and admins
    app_name: str | None = setting(None, "Executor group name (XXL-JOB's AppName) this executor registers under. Required.", check=_check_app_name)
    admin_addresses: tuple[str, ...] = setting((), "Admin base URLs, tried in turn for registration and callbacks. Required.", check=_check_admin_addresses)
    access_token: str | None = setting(
        None, "Token sent to the admins and required on every call to this executor. Required unless insecure.", secret=True, check=check_token
    )
    insecure: bool = setting(False, "Accept calls without a token. Local use only: refused unless listen is a loopback address; logged loudly.")
    # --- network
    listen: str = setting("0.0.0.0:9999", "HOST:PORT the embedded server binds (port 0 picks a free port).", check=_check_listen)
    advertise_address: str | None = setting(
        None, "URL the admins call this executor at (containers, NAT). Empty: http://<listen host or this host's IP>:<bound port>/.", check=_check_address
    )
    server_threads: int = setting(16, "Threads of the embedded server answering admin calls.", min=1, max=512)
    admin_timeout_s: float = setting(3.0, "Timeout of each call to an admin.", min=0.1, max=60)
    registry_interval_s: float = setting(30.0, "How often the executor re-registers with the admins.", min=1, max=300)
    # --- runs
    queue_limit: int = setting(1000, "Triggers a SERIAL_EXECUTION job may have waiting; more are refused.", min=1, max=1_000_000)
    idle_worker_s: float = setting(90.0, "A job's worker thread ends after this long without work.", min=1, max=86_400)
    shutdown_timeout_s: float = setting(15.0, "On stop, how long running jobs may take to finish before they are cancelled.", min=0, max=3600)
    glue_enabled: bool = setting(False, "Run script jobs (GLUE_SHELL, GLUE_PYTHON) sent by the admin. Off: they are refused.")
    glue_shell: str = setting("bash", "Interpreter of GLUE_SHELL scripts.")
    glue_python: str = setting("python3", "Interpreter of GLUE_PYTHON scripts.")
    # --- files
    data_dir: Path = setting(default_data_dir(), "Folder for run logs, the callback spool and scripts (each under <data_dir>/<app_name>/).")
    log_dir: Path | None = setting(None, "Run logs, as <log_dir>/<yyyy-mm-dd>/<logId>.log. Empty: <data_dir>/<app_name>/logs.")
    spool_dir: Path | None = setting(None, "Callback spool (results not yet accepted by an admin). Empty: <data_dir>/<app_name>/callbacks.")
    log_retention_days: int = setting(30, "Run-log folders older than this many days are deleted (0 keeps them forever).", min=0, max=3650)
    # --- callbacks and progress
    callback_retry_s: float = setting(10.0, "After every admin refused or failed a callback batch, wait this long before trying again.", min=0.1, max=3600)
    progress_interval_s: float = setting(1.0, "A run's progress is sent at most this often (plus its last value).", min=0.1, max=3600)
    # --- metrics
    metrics_token: str | None = setting(
        None, "Bearer token GET /metrics requires (Authorization: Bearer ...). Empty: /metrics is open; /healthz and /readyz always are.", secret=True, check=check_token
    )
    # --- logging (for `shardcron executor run`)
    log_level: str = setting("INFO", "DEBUG, INFO, WARNING or ERROR.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    log_format: str = setting("text", "text (key=value) or json, one line per event.", choices=("text", "json"))

    # ------------------------------------------------------------------ derived values

    @property
    def effective_log_dir(self) -> Path:
        return self.log_dir if self.log_dir is not None else self.data_dir / str(self.app_name) / "logs"

    @property
    def effective_spool_dir(self) -> Path:
        return self.spool_dir if self.spool_dir is not None else self.data_dir / str(self.app_name) / "callbacks"

    @property
    def glue_dir(self) -> Path:
        return self.data_dir / str(self.app_name) / "glue"

    @property
    def normalized_admin_addresses(self) -> tuple[str, ...]:
        return tuple(normalize_address(a) for a in self.admin_addresses)

    def check_complete(self) -> None:
        """Refuse a configuration an executor cannot run with (checked when an Executor is built)."""
        if not self.app_name:
            raise ConfigError("app_name", self.app_name, "an executor needs an app name (its executor group)")
        if not self.admin_addresses:
            raise ConfigError("admin_addresses", self.admin_addresses, "at least one admin URL is required")
        if self.insecure:
            refuse_insecure_off_loopback("insecure", self.listen)
        elif not self.access_token:
            raise ConfigError(
                "access_token", None, "an access token is required (or insecure=true for a local experiment on a loopback address)"
            )


def load_executor_config(
    *,
    file: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> ExecutorConfig:
    """Read the settings once. `file` defaults to `$SHARDCRON_EXECUTOR_CONFIG` when that is set."""
    overrides = dict(overrides or {})
    if isinstance(overrides.get("admin_addresses"), str):
        overrides["admin_addresses"] = [overrides["admin_addresses"]]
    return read_settings(ExecutorConfig, prefix=ENV_PREFIX, file_env=CONFIG_FILE_ENV, file=file, env=env, overrides=overrides)


def settings_table() -> list[dict[str, str]]:
    return describe_settings(ExecutorConfig, ENV_PREFIX)


def advertised_address(config: ExecutorConfig, bound_port: int) -> str:
    """The URL admins call this executor at: the configured one, else built from the bind."""
    if config.advertise_address:
        return normalize_address(config.advertise_address)
    host, _ = split_host_port(config.listen)
    if host in ("0.0.0.0", "::", ""):
        host = _outbound_ip(config.normalized_admin_addresses)
    if ":" in host:
        host = f"[{host}]"
    return f"http://{host}:{bound_port}"


def _outbound_ip(admins: tuple[str, ...]) -> str:
    """The local IP this host uses to reach the first admin (no packet is sent), else its hostname's IP."""
    for admin in admins:
        target = urlsplit(admin).hostname
        if not target:
            continue
        try:
            family = socket.AF_INET6 if ":" in target else socket.AF_INET
            with socket.socket(family, socket.SOCK_DGRAM) as probe:
                probe.connect((target, 9))  # UDP connect only picks a route
                return probe.getsockname()[0]
        except OSError:
            continue
    try:
        return socket.gethostbyname(socket.gethostname())
    except OSError:
        return "127.0.0.1"
