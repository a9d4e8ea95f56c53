"""Run a real executor process (`shardcron executor run`) for crash and signal tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def start_executor_process(target: str, settings: dict[str, str], *, log_path: Path) -> subprocess.Popen:
    """Start `shardcron executor run target` from the repository root with `settings` as
    SHARDCRON_EXECUTOR_* variables (keys without the prefix); output goes to `log_path`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env.update({f"SHARDCRON_EXECUTOR_{key.upper()}": value for key, value in settings.items()})
    script = Path(sys.executable).parent / "shardcron"
    with open(log_path, "ab") as out:
        return subprocess.Popen([str(script), "executor", "run", target], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
