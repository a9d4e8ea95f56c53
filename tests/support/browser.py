"""Headless Chromium for the console's browser tests: Debian's `chromium` driven by Playwright.

The browser is the system's (`/usr/bin/chromium`, from `apt-get install chromium`); Playwright's
own browser download is never used. Without the browser the tests are skipped with the reason,
like the MySQL tests, except with CI=true, where they fail: CI installs it (.ci/run).
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str:
    path = os.environ.get("SHARDCRON_TEST_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
    if not Path(path).exists():
        message = f"browser tests need Debian's chromium at {path}: apt-get install -y chromium"
        if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
            pytest.fail(message + " (CI=true: browser tests must not skip)")
        pytest.skip(message)
    return path


def launch_chromium(playwright):
    return playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS, headless=True)
