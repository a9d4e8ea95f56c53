"""An executor started by `shardcron executor run` costs within 5 MB of the same executor started
from Python: the command does not carry the admin (see test_lean_imports.py for the imports).

Runs bench/executor_memory_bench.py once: both executors serving on loopback, VmRSS from /proc.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
BENCH = ROOT / "bench" / "executor_memory_bench.py"
ROUND = re.compile(r"round 1: command +([\d.]+) MB +python +([\d.]+) MB +difference +([+-][\d.]+) MB")


@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="VmRSS is read from /proc")
def test_the_command_costs_within_5_mb_of_python() -> None:
    out = subprocess.run(
        [sys.executable, str(BENCH), "--rounds", "1", "--settle-s", "0", "--max-diff-mb", "5"],
        cwd=ROOT, capture_output=True, text=True, timeout=180, check=False,
    )
    found = ROUND.search(out.stdout)
    assert found, (out.stdout, out.stderr)
    command_mb, python_mb, diff_mb = (float(x) for x in found.groups())
    assert python_mb > 10, out.stdout  # a real interpreter running a real executor was measured
    assert diff_mb <= 5.0, f"by the command {command_mb} MB, from Python {python_mb} MB\n{out.stdout}"
    assert out.returncode == 0, (out.stdout, out.stderr)
