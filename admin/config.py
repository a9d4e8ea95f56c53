"""The admin's configuration: one typed object, read once at the edge and passed in.

Sources, later ones winning: the defaults below -> a TOML file (`--config FILE` or
`SHARDCRON_CONFIG`) -> `SHARDCRON_<KEY>` environment variables -> explicit overrides (CLI flags,
tests). `shardcron config show` prints the effective values; the README's table is checked
against this class by a test.
"""

from __future__ import annotations

import enum
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shardcron.core import private_files
from shardcron.core.errors import ConfigError
from shardcron.core.settings import describe_settings, load_settings, read_settings, setting
from shardcron.core.tokens import check_token, refuse_insecure_off_loopback

from .schedules.zones import is_known_zone

ENV_PREFIX = "SHARDCRON_"
CONFIG_FILE_ENV = "SHARDCRON_CONFIG"
SQLITE_FILE_NAME = "shardcron.db"


class LogFormat(enum.StrEnum):
    TEXT = "text"
    JSON = "json"


def default_instance_dir() -> Path:
    """`$XDG_DATA_HOME/shardcron`, i.e. `~/.local/share/shardcron` on most systems."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "shardcron"


def _check_url(value: str) -> str | None:
    lowered = value.lower()
    if not lowered.startswith(("sqlite:", "mysql+pymysql://", "mariadb+pymysql://", "postgresql://", "postgresql+psycopg://")):
        return "use sqlite:///PATH, mysql+pymysql://USER:PASSWORD@HOST:PORT/DATABASE or postgresql+psycopg://USER:PASSWORD@HOST:PORT/DATABASE"
    return None


def _check_bind(value: str) -> str | None:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not (port.isascii() and port.isdigit()) or not 0 < int(port) < 65536:
        return "expected HOST:PORT, e.g. 127.0.0.1:8080"
    return None


def _check_zone(value: str) -> str | None:
    # The same rule as a job's zone (schedules refuse host-dependent names such as `localtime`).
    if not is_known_zone(value):
        return "not an IANA time zone name (e.g. UTC, Europe/Berlin)"
    return None


def _check_demo_control_url(value: str) -> str | None:
    # The console sends the demo's kill requests here: never to another machine.
    if not value.startswith("http://127.0.0.1:") or not value.endswith("/"):
        return "expected http://127.0.0.1:PORT/ (set by `shardcron demo` for its own supervisor)"
    return None


def _check_secret(value: str | None) -> str | None:
    if value is not None and len(value) < 16:
        return "must be at least 16 characters"
    return None


@dataclass(frozen=True)
class Config:
    # --- storage
    instance_dir: Path = setting(default_instance_dir(), "Folder for the embedded SQLite database and generated secrets.")
    database_url: str | None = setting(
        None,
        "Admin database. Empty: SQLite file `shardcron.db` in instance_dir. MySQL/MariaDB: mysql+pymysql://user:pass@host:3306/db. PostgreSQL: postgresql+psycopg://user:pass@host:5432/db",
        check=_check_url,
    )
    # --- web
    bind: str = setting("127.0.0.1:8080", "Address `shardcron admin` serves the console and APIs on.", check=_check_bind)
    public_url: str | None = setting(None, "URL the console is reached at, for links in alarms. Empty: http://<bind>.")
    secret_key: str | None = setting(
        None,
        "Signs console sessions. Empty: a random key generated once into instance_dir/secret_key (set it explicitly when running several admin nodes).",
        secret=True,
        check=_check_secret,
    )
    session_lifetime_minutes: int = setting(720, "Console sessions expire after this long without use.", min=5, max=43_200)
    session_max_age_hours: int = setting(168, "Console sessions end this long after login, however busy they are.", min=1, max=8_760)
    session_cookie_secure: bool = setting(False, "Send the console's session cookie only over HTTPS (set it when the console is served over TLS).")
    login_max_failures: int = setting(
        5,
        "Failed logins of one account from one client address before each further attempt from there waits (1 s, doubling); an address gets 4x as many over all accounts.",
        min=1,
        max=100,
    )
    login_lockout_s: int = setting(300, "Longest wait a throttled client address gets between login attempts.", min=1, max=86_400)
    import_max_bytes: int = setting(
        2 * 1024 * 1024,
        "Largest document `shardcron import`, POST /api/v1/import and the console's import page read, in bytes.",
        min=1024,
        max=4 * 1024 * 1024,
    )
    # --- executor-facing API
    access_token: str | None = setting(
        None,
        "Token executors send as XXL-JOB-ACCESS-TOKEN (and that the admin sends to them). Empty: a random token generated once into instance_dir/access_token.",
        secret=True,
        check=check_token,
    )
    insecure_no_token: bool = setting(
        False, "Accept executor calls without a token. For local experiments only: refused unless bind is a loopback address; logged loudly."
    )
    auto_create_groups: bool = setting(
        False,
        "Create an AUTO executor group (audited as the system's) when an executor registers with an app name no group has. "
        "Off: such an executor registers but gets no jobs until an admin creates its group (the admin logs a warning once).",
    )
    executor_timeout_s: float = setting(3.0, "Timeout of each admin -> executor HTTP call.", min=0.1, max=60)
    # --- scheduler
    scheduler_node_id: str | None = setting(None, "Name of this scheduler process in leases and logs; unique per running process. Empty: hostname-pid-random.")
    tick_interval_ms: int = setting(200, "How often the fire loop claims due fires.", min=10, max=10_000)
    lookahead_ms: int = setting(2_000, "How far ahead fires are claimed before their time.", min=100, max=60_000)
    lease_ms: int = setting(
        2_000,
        "A scheduler that has not renewed its lease for this long (by the database's clock) is taken over: another node adopts the fires it claimed.",
        min=300,
        max=600_000,
    )
    lease_renew_ms: int = setting(500, "How often a scheduler renews its lease.", min=50, max=300_000)
    lease_margin_ms: int = setting(
        500,
        "A scheduler stops sending this long before its lease would run out unrenewed, so that a /run it sent has reached the executor before any other node may take over.",
        min=50,
        max=300_000,
    )
    misfire_grace_ms: int = setting(5_000, "A fire later than this is a misfire and follows the job's misfire strategy.", min=0, max=86_400_000)
    backfill_max_runs: int = setting(
        1000, "Most planned times one backfill may cover: a larger range is refused (console, API, CLI), naming to_ms and the count.", min=1, max=100_000
    )
    workflow_upstream_max_bytes: int = setting(
        262_144,
        "Most bytes of result data a workflow step is sent from the steps before it (`upstream`); a step whose upstream data is larger fails, naming the size.",
        min=1024,
        max=16_777_216,
    )
    workflow_tick_ms: int = setting(
        10, "How often the fire loop claims while a workflow instance runs (a step's successor is sent within about this long).", min=1, max=10_000
    )
    workflow_params_max_bytes: int = setting(
        65_536, "Most bytes of the parameters (a JSON object) a workflow instance may be started with.", min=2, max=16_777_216
    )
    catchup_max_fires: int = setting(
        100,
        "Most missed planned times one misfire of a CATCH_UP_ALL job fires, oldest first; later missed times of its catch-up window are skipped (logged, counted as misfire_skipped).",
        min=1,
        max=1000,
    )
    trigger_workers: int = setting(64, "Most /run calls in flight per scheduler process, a quarter of them to one executor (also the bound on threads for FAILOVER/BUSYOVER probes).", min=1, max=1024)
    lost_run_after_s: int = setting(
        120,
        "A run whose executor has not been live for this long (after the 90 s heartbeat window), or whose trigger was never acknowledged for this long, is failed as lost.",
        min=30,
        max=86_400,
    )
    run_timeout_grace_s: int = setting(
        30,
        "A run of a job with a timeout still running timeout_s + this long after its trigger is failed as timed out (502) and killed; the executor's own timeout normally reports first.",
        min=0,
        max=86_400,
    )
    default_timezone: str = setting("UTC", "Time zone for new jobs when none is given.", check=_check_zone)
    calendar_max_entries: int = setting(1000, "Most entries (dates or date ranges) one calendar may hold.", min=1, max=100_000)
    workflow_max_steps: int = setting(1000, "Most steps one workflow may have: a larger definition is refused when it is saved.", min=1, max=10_000)
    # --- housekeeping
    run_log_retention_days: int = setting(30, "Run-log rows older than this are deleted (0 keeps them forever).", min=0, max=3650)
    audit_retention_days: int = setting(180, "Audit-trail entries older than this are deleted (0 keeps them forever).", min=0, max=36500)
    # --- alarms
    smtp_host: str | None = setting(None, "SMTP server for e-mail alarms. Empty: e-mail alarms are recorded as failed with a clear reason.")
    smtp_port: int = setting(587, "SMTP port.", min=1, max=65535)
    smtp_username: str | None = setting(None, "SMTP login user.")
    smtp_password: str | None = setting(None, "SMTP login password.", secret=True)
    smtp_from: str = setting("shardcron@localhost", "Sender address of alarm e-mails.")
    smtp_starttls: bool = setting(True, "Use STARTTLS (port 587); false for plain SMTP or when smtp_ssl is set.")
    smtp_ssl: bool = setting(False, "Use implicit TLS (port 465).")
    alarm_max_attempts: int = setting(5, "Delivery attempts per alarm before it is recorded as failed.", min=1, max=100)
    alarm_retry_delay_s: int = setting(30, "Wait before an alarm's second delivery attempt; it doubles for each further attempt.", min=1, max=86_400)
    alarm_retry_max_delay_s: int = setting(900, "Longest wait between two delivery attempts of an alarm.", min=1, max=86_400)
    alarm_timeout_s: float = setting(10.0, "Timeout of one e-mail or webhook delivery attempt.", min=0.5, max=300)
    alarm_language: str = setting(
        "en", "Language of alarm e-mails and of the webhook's text: en (English) or zh (简体中文). The webhook's JSON keys never change.", choices=("en", "zh")
    )
    # --- health and metrics
    ready_scheduler_max_age_s: int = setting(
        60, "/readyz answers 503 when no scheduler process has a heartbeat this recent (0: /readyz checks only the database).", min=0, max=86_400
    )
    scheduler_metrics_bind: str | None = setting(
        None, "HOST:PORT where `shardcron scheduler` serves GET /healthz and GET /metrics. Empty: no HTTP in scheduler processes.", check=_check_bind
    )
    metrics_token: str | None = setting(
        None,
        "Bearer token /metrics requires (Authorization: Bearer ...). Empty: a random token generated once into instance_dir/metrics_token (unless metrics_open).",
        secret=True,
        check=check_token,
    )
    metrics_open: bool = setting(False, "Serve /metrics to anyone who reaches it, without a token (restrict it by network then).")
    # --- logging
    log_level: str = setting("INFO", "DEBUG, INFO, WARNING or ERROR.", choices=("DEBUG", "INFO", "WARNING", "ERROR"))
    log_format: LogFormat = setting(LogFormat.TEXT, "text (key=value) or json, one line per event.")
    # --- `shardcron demo` only
    demo_control_url: str | None = setting(
        None,
        "Set by `shardcron demo` only (leave it empty): its supervisor's local URL. When set, the console has a Demo page whose button kills the batch recipe's executor.",
        check=_check_demo_control_url,
    )
    demo_control_token: str | None = setting(None, "Set by `shardcron demo` only: the token the console sends to the demo's supervisor.", secret=True, check=check_token)

    def check_consistent(self) -> None:
        """Rules between settings (each value is valid on its own by now)."""
        if self.insecure_no_token:
            # Without a token anyone who reaches /api can register an address and report results.
            refuse_insecure_off_loopback("insecure_no_token", self.bind)
        if self.lease_ms < self.lease_margin_ms + 2 * self.lease_renew_ms:
            raise ConfigError(
                "lease_ms",
                self.lease_ms,
                f"must be at least lease_margin_ms + 2 x lease_renew_ms = {self.lease_margin_ms + 2 * self.lease_renew_ms}, "
                "so that a scheduler can miss one renewal without losing its lease",
            )
        if self.demo_control_url and not self.demo_control_token:
            raise ConfigError("demo_control_token", None, "is required with demo_control_url")

    # ------------------------------------------------------------------ derived values

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.instance_dir / SQLITE_FILE_NAME).resolve()}"

    @property
    def creates_database_folder(self) -> bool:
        """Whether opening the database may create its folder: only the embedded default's, the
        instance folder shardcron owns. A configured SQLite URL's folder must exist already."""
        return not self.database_url

    @property
    def console_url(self) -> str:
        """Where people reach the console: `public_url`, else http://<bind>."""
        return (self.public_url or f"http://{self.bind}").rstrip("/")

    @property
    def is_sqlite(self) -> bool:
        return self.effective_database_url.lower().startswith("sqlite:")

    def with_overrides(self, **overrides: Any) -> Config:
        """A copy with some values replaced, validated like any other source."""
        from dataclasses import asdict

        merged = asdict(self)
        merged.update(overrides)
        return load_settings(Config, prefix=ENV_PREFIX, env={}, overrides=merged)


def load_config(
    *,
    file: Path | str | None = None,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Config:
    """Read the configuration once. `file` defaults to `$SHARDCRON_CONFIG` when that is set."""
    return read_settings(Config, prefix=ENV_PREFIX, file_env=CONFIG_FILE_ENV, file=file, env=env, overrides=overrides)


def settings_table() -> list[dict[str, str]]:
    return describe_settings(Config, ENV_PREFIX)


def read_or_create_secret(config: Config, name: str) -> str:
    """The value of instance_dir/<name>, created once with a random value and mode 0600.

    Used for `secret_key` and `access_token` when they are not configured, so that no built-in
    constant ever signs a session or opens the executor API.
    """
    value = getattr(config, name)
    if value:
        return value
    path = config.instance_dir / name
    try:
        if path.exists():
            text = path.read_text(encoding="utf-8").strip()
            if len(text) < 16:
                raise ConfigError(name, str(path), "the stored secret is shorter than 16 characters; delete the file or set the value")
            return text
        # Created 0600 and whole: of several processes starting together, the first one's wins.
        return private_files.write_once(path, secrets.token_urlsafe(32))
    except OSError as exc:
        raise ConfigError(name, str(path), f"cannot read or create it ({exc.strerror})") from None


def metrics_token(config: Config) -> str | None:
    """The Bearer token /metrics requires (configured or generated), or None when
    `metrics_open` serves it to anyone."""
    if config.metrics_open:
        return None
    return read_or_create_secret(config, "metrics_token")
