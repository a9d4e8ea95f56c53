"""Building an Executor: settings sources, refusals naming key and value, handlers, mounting."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from shardcron.executor import Executor, ExecutorConfig
from shardcron.executor.config import load_executor_config, settings_table
from shardcron.executor.embedded import EmbeddedServer
from shardcron.core.errors import ConfigError, ShardcronError
from shardcron.executor.handlers import HandlerError
from tests.support.executor_calls import TOKEN, call

README = Path(__file__).resolve().parents[2] / "README.md"
GOOD = {"app_name": "billing", "admin_addresses": ["http://admin:8080/"], "access_token": TOKEN, "env": {}}


def test_defaults() -> None:
    cfg = load_executor_config(env={}, overrides={"app_name": "billing"})
    assert (cfg.listen, cfg.advertise_address, cfg.insecure, cfg.glue_enabled) == ("0.0.0.0:9999", None, False, False)
    assert cfg.effective_log_dir == cfg.data_dir / "billing" / "logs"
    assert cfg.effective_spool_dir == cfg.data_dir / "billing" / "callbacks"


def test_sources_in_order_file_env_kwargs(tmp_path: Path) -> None:
    file = tmp_path / "executor.toml"
    file.write_text('listen = "0.0.0.0:9100"\nqueue_limit = 5\nregistry_interval_s = 10\nadmin_addresses = ["http://a:1/", "http://b:2/"]\n')
    env = {"SHARDCRON_EXECUTOR_QUEUE_LIMIT": "7", "SHARDCRON_EXECUTOR_REGISTRY_INTERVAL_S": "20", "SHARDCRON_EXECUTOR_CONFIG": str(file)}
    executor = Executor("billing", access_token=TOKEN, env=env, registry_interval_s=25)
    cfg = executor.config
    assert cfg.listen == "0.0.0.0:9100"  # file
    assert cfg.queue_limit == 7  # env beats file
    assert cfg.registry_interval_s == 25  # keyword beats env
    assert cfg.normalized_admin_addresses == ("http://a:1", "http://b:2")


def test_admin_addresses_from_the_environment_are_comma_separated() -> None:
    env = {"SHARDCRON_EXECUTOR_ADMIN_ADDRESSES": "http://a:8080/, http://b:8080/", "SHARDCRON_EXECUTOR_ACCESS_TOKEN": TOKEN}
    assert Executor("billing", env=env).config.admin_addresses == ("http://a:8080/", "http://b:8080/")


@pytest.mark.parametrize(
    ("changes", "words"),
    [
        ({"access_token": None}, "invalid setting access_token=None: an access token is required"),
        ({"access_token": "short"}, "access_token='short': must be at least 16 characters"),
        ({"access_token": "sixteen-chars-ok\r\nX-Injected: 1"}, "printable ASCII without line breaks"),
        ({"access_token": "sixteen-chars-jetón"}, "printable ASCII without line breaks"),
        ({"app_name": None}, "app_name=None: an executor needs an app name"),
        ({"app_name": "has space"}, "app_name='has space': use 1-64 letters"),
        ({"admin_addresses": []}, "admin_addresses=(): at least one admin URL is required"),
        ({"admin_addresses": ["ftp://admin/"]}, "must start with http:// or https://"),
        ({"listen": "9999"}, "listen='9999': expected HOST:PORT"),
        ({"advertise_address": "admin:9999"}, "advertise_address='admin:9999'"),
        ({"access_token": None, "insecure": True}, "insecure=True: insecure mode is for local use only"),
        ({"queue_limit": 0}, "queue_limit=0: must be at least 1"),
        ({"no_such_setting": 1}, "no_such_setting=1: unknown setting"),
    ],
)
def test_bad_settings_are_refused_naming_key_and_value(changes: dict, words: str) -> None:
    options = {**GOOD, **changes}
    with pytest.raises(ConfigError) as err:
        Executor(**options)
    assert words in str(err.value)


def test_bad_environment_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="SHARDCRON_EXECUTOR_QUEUE_LIMIT='lots': expected an integer"):
        Executor(**{**GOOD, "env": {"SHARDCRON_EXECUTOR_QUEUE_LIMIT": "lots"}})


def test_insecure_is_allowed_on_loopback() -> None:
    executor = Executor(**{**GOOD, "access_token": None, "insecure": True, "listen": "127.0.0.1:0"})
    assert executor.config.insecure


def test_config_object_or_settings_not_both() -> None:
    cfg = load_executor_config(env={}, overrides={k: v for k, v in GOOD.items() if k != "env"})
    assert isinstance(Executor(config=cfg).config, ExecutorConfig)
    with pytest.raises(ShardcronError, match="not both"):
        Executor("billing", config=cfg)


def test_duplicate_or_bad_handler_names_fail_at_registration() -> None:
    executor = Executor(**GOOD)

    @executor.job("sync")
    def sync(ctx):
        return None

    assert sync(None) is None  # the decorator returns the function itself
    with pytest.raises(HandlerError, match="job handler 'sync' is already registered"):
        executor.job("sync")(lambda ctx: None)
    with pytest.raises(HandlerError, match="must be 1-255 characters"):
        executor.job(" padded ")(lambda ctx: None)
    with pytest.raises(HandlerError, match="init 5 is not callable"):
        executor.job("other", init=5)(lambda ctx: None)
    assert executor.handlers.names() == ["sync"]


def test_configure_changes_settings_before_start_only(make_executor) -> None:
    executor = make_executor()
    executor.configure(listen="127.0.0.1:0", log_level="DEBUG")
    assert executor.config.log_level == "DEBUG"
    with pytest.raises(ConfigError, match="listen='nowhere'"):
        executor.configure(listen="nowhere")
    executor.start()
    with pytest.raises(ShardcronError, match="cannot change once it started"):
        executor.configure(listen="127.0.0.1:1")


def test_advertised_address_without_a_configured_one(make_executor) -> None:
    executor = make_executor(listen="0.0.0.0:0").start()
    host = executor.address.split("//")[1].rsplit(":", 1)[0]
    assert host not in ("0.0.0.0", "") and executor.address.endswith(f":{executor.port}")
    socket.inet_aton(host)  # a real IPv4 address of this host


def test_port_in_use_is_a_clear_error(make_executor) -> None:
    first = make_executor().start()
    second = make_executor(listen=f"127.0.0.1:{first.port}")
    with pytest.raises(ShardcronError, match=f"cannot listen on 127.0.0.1:{first.port}"):
        second.start()
    # nothing stays taken: an executor on the same folders starts once the port is free
    retry = make_executor(data_dir=str(second.config.data_dir))
    retry.start()
    assert retry.port


def test_wsgi_app_mounted_in_a_host_server(make_executor, fake_admin) -> None:
    executor = make_executor(advertise_address="http://127.0.0.1:1/jobs/")
    with pytest.raises(ConfigError, match="advertise_address"):
        make_executor().start(serve=False)

    def host_app(environ, start_response):
        """A host application that mounts the executor under /jobs."""
        path = environ.get("PATH_INFO", "")
        if path.startswith("/jobs/"):
            environ["SCRIPT_NAME"], environ["PATH_INFO"] = "/jobs", path[len("/jobs") :]
            return executor.wsgi_app(environ, start_response)
        start_response("404 Not Found", [("Content-Type", "text/plain")])
        return [b"host page"]

    host = EmbeddedServer(host_app, "127.0.0.1:0", threads=4, ident="host")
    port = host.start()
    try:
        executor.start(serve=False)
        assert executor.port is None
        envelope = call(port, "/jobs/run", {"jobId": 1, "logId": 2, "logDateTime": 1, "executorHandler": "echo", "executorParams": "mounted"})
        assert envelope.ok
        assert fake_admin.wait_for_result(2).handle_msg == "mounted"
    finally:
        host.stop()


def test_readme_documents_every_executor_setting() -> None:
    text = README.read_text(encoding="utf-8")
    section = text.split("### Executor configuration", 1)[1]
    rows = dict(re.findall(r"^\| `(SHARDCRON_EXECUTOR_[A-Z0-9_]+)` \| `([a-z0-9_]+)` \|", section, re.M))
    expected = {row["env"]: row["key"] for row in settings_table()}
    assert rows == expected
