"""bench/workflow_bench.py runs end to end on its small size (`--quick`), so that it cannot rot:
every part prints its figures, every instance succeeds and every step's /run arrives once."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_workflow_benchmark_runs_quick_to_the_end() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "workflow_bench.py"), "--quick"], cwd=ROOT, capture_output=True, text=True, timeout=600)
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    lines = out.splitlines()
    for steps in ("taking 50-150 ms", "taking no time"):  # steps that take time, and none
        assert any(line.startswith(f"(a) SQLite, steps {steps}: one chain of 5 steps alone") and "n=4" in line for line in lines), out
    assert sum(1 for line in lines if "5 chains of 5 steps at once" in line and "n=20" in line) == 2, out
    assert out.count("(all instances {'SUCCEEDED': 5}") == 2, out
    assert "step transitions/s; target p99 <= 50 ms" in out and "saturated: latency ~ chains / rate" in out, out
    cpu = [line for line in lines if line.startswith("    CPU per step transition: this process (admin + scheduler) ")]
    assert len(cpu) == 2 and all(float(line.split(") ")[1].split(" ms")[0]) > 0 for line in cpu), out
    assert sum(1 for line in lines if line.startswith("(b)") and "{'SUCCEEDED': 1}" in line and "(every step once: True)" in line) == 2, out
    assert any(line.startswith("(c) scheduler CPU idle") and "(baseline)" in line for line in lines), out
