"""The examples a user copies from the docs run as written against a real admin.

A fenced `sh` or `python` block right after a `<!-- runnable -->` line in README.md or
docs/*.md is run, in file order, against `shardcron admin` started here on a fresh embedded
SQLite file, with the environment the docs assume: `$SHARDCRON_TOKEN` (an admin's REST API
token), `$SHARDCRON_ADMIN_URL` and `$SHARDCRON_EXECUTOR_ACCESS_TOKEN` (the admin's generated
access token, read from the file the admin names at start). The docs' `http://127.0.0.1:8080` is
this admin's address. Shell blocks run with `set -euo pipefail` and a `curl` that fails on an
HTTP error status, so a request the API refuses fails the test.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from tests.support.net import free_port, wait_until
from tests.support.signals import default_sigint

ROOT = Path(__file__).resolve().parents[1]
MARKER = "<!-- runnable -->"
DOC_ADDRESS = "http://127.0.0.1:8080"
_BLOCK = re.compile(r"^" + re.escape(MARKER) + r"\n```(sh|python)\n(.*?)^```$", re.M | re.S)
_MARKER_LINE = re.compile(r"^" + re.escape(MARKER) + r"$", re.M)
_SHELL_PRELUDE = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; echo; }\n'


@dataclass(frozen=True)
class Example:
    where: str
    language: str
    code: str


def runnable_examples() -> list[Example]:
    found = []
    for path in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        text = path.read_text(encoding="utf-8")
        for match in _BLOCK.finditer(text):
            line = text.count("\n", 0, match.start()) + 1
            found.append(Example(f"{path.relative_to(ROOT)}:{line}", match.group(1), match.group(2)))
        # A marker not followed by a block it can run is a mistake in the docs, not a skipped example.
        assert len(_MARKER_LINE.findall(text)) == len(_BLOCK.findall(text)), f"{path.name}: a {MARKER} marker is not right before a ```sh or ```python block"
    return found


def test_the_docs_mark_the_examples_users_copy() -> None:
    examples = runnable_examples()
    assert {e.language for e in examples} == {"sh", "python"}
    assert any(e.where.startswith("docs/api.md") for e in examples)
    assert any(e.where.startswith("docs/executor.md") for e in examples)


def test_every_python_block_of_the_executor_guide_runs() -> None:
    # Its main example, the first thing a newcomer copies, included: each block is a whole program.
    text = (ROOT / "docs" / "executor.md").read_text(encoding="utf-8")
    blocks = text.count("```python\n")
    assert blocks >= 1
    assert text.count(MARKER + "\n```python\n") == blocks
    assert text.index(MARKER) < text.index("## Running it")  # the first example, before any section


def _cli(*args: str, env: dict[str, str], stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "shardcron.admin.cli", *args], env=env, input=stdin, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return done.stdout


def _healthy(url: str) -> bool:
    try:
        return requests.get(url, timeout=1).status_code == 200
    except requests.RequestException:
        return False


@pytest.fixture
def admin(tmp_path: Path):
    """A real `shardcron admin` with an admin user; yields the environment the examples assume."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")} | {"XDG_DATA_HOME": str(tmp_path / "xdg"), "PYTHONUNBUFFERED": "1"}
    _cli("db", "init", env=env)
    _cli("user", "create", "root", "--admin", "--password-stdin", env=env, stdin="a docs password\n")
    api_token = _cli("user", "token", "root", env=env).strip()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    proc = subprocess.Popen(
        [sys.executable, "-m", "shardcron.admin.cli", "admin", "--bind", f"127.0.0.1:{port}"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, preexec_fn=default_sigint,
    )
    try:
        wait_until(lambda: _healthy(f"{url}/healthz"), timeout_s=60, what="the admin to answer")
        token_file = tmp_path / "xdg" / "shardcron" / "access_token"
        yield env | {"SHARDCRON_TOKEN": api_token, "SHARDCRON_ADMIN_URL": url, "SHARDCRON_EXECUTOR_ACCESS_TOKEN": token_file.read_text().strip()}, url
    finally:
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert f"executor access token: in {token_file}" in out  # where the docs say to look


def test_every_runnable_example_runs_against_a_real_admin(admin, tmp_path: Path) -> None:
    env, url = admin
    examples = runnable_examples()
    outputs: dict[str, str] = {}
    for example in examples:
        code = example.code.replace(DOC_ADDRESS, url)
        if example.language == "sh":
            command = ["bash", "-c", _SHELL_PRELUDE + code]
        else:
            command = [sys.executable, "-c", code]
        done = subprocess.run(command, env=env, cwd=tmp_path, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, f"{example.where} failed ({done.returncode}):\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
        outputs[example.where] = done.stdout
    executor_output = [out for where, out in outputs.items() if where.startswith("docs/executor.md")]
    assert executor_output and all(out.startswith("serving on http://127.0.0.1:") for out in executor_output)
    # What the API examples made is there.
    headers = {"Authorization": f"Bearer {env['SHARDCRON_TOKEN']}"}
    jobs = requests.get(f"{url}/api/v1/jobs", headers=headers, timeout=10).json()["items"]
    assert [job["name"] for job in jobs] == ["drain retry tasks", "extract", "load", "report"]  # docs/workflows.md adds the last three
    groups = requests.get(f"{url}/api/v1/groups", headers=headers, timeout=10).json()["items"]
    assert [group["app_name"] for group in groups] == ["billing", "etl-docs"]
    flows = requests.get(f"{url}/api/v1/workflows", headers=headers, timeout=10).json()["items"]
    assert [(flow["name"], flow["version"], flow["step_count"], flow["enabled"]) for flow in flows] == [("nightly etl", 2, 3, False)]
