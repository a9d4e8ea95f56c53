"""`shardcron admin` (the quick start's run command) starts on the embedded SQLite default."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

from shardcron.admin import create_app
from shardcron.admin.config import load_config
from tests.support.cli import assert_one_line_error, run_cli
from tests.support.net import free_port, wait_until
from tests.support.signals import default_sigint


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


def test_admin_starts_on_embedded_sqlite_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env["XDG_DATA_HOME"] = str(tmp_path)
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "shardcron"), "admin", "--bind", f"127.0.0.1:{port}"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        preexec_fn=default_sigint,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until(lambda: _healthy(f"{base}/healthz"), timeout_s=60, what="the admin to answer")
        instance = tmp_path / "shardcron"
        for name in ("shardcron.db", "secret_key", "setup_code"):
            assert (instance / name).stat().st_mode & 0o777 == 0o600, name
        code = (instance / "setup_code").read_text().strip()
        # A stranger reaching the fresh admin first (here from loopback) creates no admin...
        stranger = requests.Session()
        form = {"csrf_token": _csrf(stranger.get(f"{base}/setup", timeout=5).text), "username": "attacker", "password": "attacker password", "password_again": "attacker password"}
        assert stranger.post(f"{base}/setup", data=form, timeout=5, allow_redirects=False).status_code == 403
        # ...the operator, with the printed link, does.
        operator = requests.Session()
        link = operator.get(f"{base}/setup?code={code}", timeout=5).text
        form = {"csrf_token": _csrf(link), "code": code, "username": "root", "password": "root password 1", "password_again": "root password 1"}
        assert operator.post(f"{base}/setup", data=form, timeout=5, allow_redirects=False).status_code == 302
        assert not (instance / "setup_code").exists()
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"{base}/" in out
    assert f"create the first admin at {base}/setup?code={code}" in out
    # Where executors get the access token: the file's path, one line, never the token itself.
    token = (instance / "access_token").read_text().strip()
    assert f"executor access token: in {instance / 'access_token'} (executors send it: SHARDCRON_EXECUTOR_ACCESS_TOKEN)" in out.splitlines()
    assert token not in out and token not in err
    assert "Traceback" not in err


def _csrf(html: str) -> str:
    match = re.search(r'<meta name="csrf-token" content="([^"]+)">', html)
    assert match, html[:200]
    return match.group(1)


def test_admin_refuses_a_port_in_use(tmp_path: Path) -> None:
    import socket

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert_one_line_error(run_cli("admin", "--bind", f"127.0.0.1:{port}", home=tmp_path), f"cannot listen on 127.0.0.1:{port}")


def test_create_app_starts_nothing_and_answers(tmp_path: Path, sqlite_url: str) -> None:
    import threading

    before = threading.active_count()
    app = create_app(load_config(env={}, overrides={"instance_dir": str(tmp_path), "database_url": sqlite_url}))
    assert threading.active_count() == before
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}


def test_the_token_line_names_the_setting_or_insecure_mode(tmp_path: Path) -> None:
    from shardcron.admin.rpc.auth import describe_token_source

    configured = load_config(env={}, overrides={"instance_dir": str(tmp_path), "access_token": "a-configured-token-value"})
    assert describe_token_source(configured) == "executor access token: the configured access_token setting (executors send the same value)"
    insecure = load_config(env={}, overrides={"instance_dir": str(tmp_path), "insecure_no_token": True})
    assert "none (insecure_no_token = true)" in describe_token_source(insecure)
    assert not (tmp_path / "access_token").exists()  # describing it creates nothing
