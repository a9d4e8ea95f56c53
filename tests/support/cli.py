"""Run the real `shardcron` command in a subprocess with a clean environment."""

from __future__ import annotations

import os
import select
import subprocess
import sys
import time
from pathlib import Path

from .signals import default_sigint


def run_cli(*args: str, home: Path, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    clean["XDG_DATA_HOME"] = str(home)
    clean.update(env or {})
    script = Path(sys.executable).parent / "shardcron"
    return subprocess.run([str(script), *args], capture_output=True, text=True, env=clean, timeout=timeout)


def assert_one_line_error(result: subprocess.CompletedProcess, *words: str) -> None:
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in result.stderr
    for word in words:
        assert word in lines[0], lines[0]


def start_cli(*args: str, home: Path, env: dict[str, str] | None = None) -> subprocess.Popen:
    """The real `shardcron` command as a running process (unbuffered output, Ctrl-C as usual)."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    clean.update(XDG_DATA_HOME=str(home), PYTHONUNBUFFERED="1", **(env or {}))
    script = Path(sys.executable).parent / "shardcron"
    return subprocess.Popen([str(script), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=clean, preexec_fn=default_sigint)


def read_line(proc: subprocess.Popen, timeout_s: float, *, stderr: bool = False) -> str:
    """The next line the process prints on stdout (or stderr), "" when it exits first; fails
    after `timeout_s`. Reads the pipe itself (a text wrapper's buffer would hide lines from
    `select`); what it read past the line waits in `proc.read_ahead_*` for the next call, and is
    not in a later `communicate()`.
    """
    stream = proc.stderr if stderr else proc.stdout
    assert stream is not None
    fd = stream.fileno()
    slot = "read_ahead_err" if stderr else "read_ahead_out"
    pending: bytes = getattr(proc, slot, b"")
    deadline = time.monotonic() + timeout_s
    while b"\n" not in pending:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"no line within {timeout_s} s (so far: {pending!r})")
        readable, _, _ = select.select([fd], [], [], remaining)
        if readable:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            pending += chunk
    line, newline, rest = pending.partition(b"\n")
    setattr(proc, slot, rest)
    return (line + newline).decode()
