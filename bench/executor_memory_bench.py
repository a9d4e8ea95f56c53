"""Resident memory of an executor started by `shardcron executor run` next to the same executor
started from Python.

    python bench/executor_memory_bench.py [--rounds 3] [--settle-s 1] [--max-diff-mb 5]

Each round starts two processes from the repository root with the same SHARDCRON_EXECUTOR_*
settings (loopback, an access token) and the same target, `tests.support.sample_executor`:

  command  `shardcron executor run tests.support.sample_executor:executor`
  python   `python -c "...; configure_logging(...); executor.run()"` (what the command does
           after parsing its arguments, without the command line)

Both register with a small admin stand-in served here; once each one has registered and
answers `/beat`, and after `--settle-s` more seconds, VmRSS is read from /proc/<pid>/status.
The script prints both figures and their difference for every round, and exits with status 1
when the median difference is more than `--max-diff-mb` (the command's own cost).
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef"
TARGET = "tests.support.sample_executor:executor"
FROM_PYTHON = (
    "from shardcron.core.logfmt import configure_logging\n"
    "from tests.support.sample_executor import executor\n"
    "configure_logging(executor.config.log_level, executor.config.log_format)\n"
    "executor.run()\n"
)
START_TIMEOUT_S = 60.0


class AdminStandIn:
    """Answers every executor-facing call with success and remembers who registered."""

    def __init__(self) -> None:
        self.registered: set[str] = set()
        lock = threading.Lock()
        registered = self.registered

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.path == "/api/registry":
                    with lock:
                        registered.add(json.loads(raw)["registryValue"].rstrip("/"))
                body = b'{"code":200,"msg":null}'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/"
        threading.Thread(target=self._server.serve_forever, name="admin-stand-in", daemon=True).start()

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _env(admin_url: str, port: int, data_dir: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHARDCRON_")}
    env.update(
        PYTHONPATH=str(ROOT),
        SHARDCRON_EXECUTOR_APP_NAME="memory-bench",
        SHARDCRON_EXECUTOR_ADMIN_ADDRESSES=admin_url,
        SHARDCRON_EXECUTOR_ACCESS_TOKEN=TOKEN,
        SHARDCRON_EXECUTOR_LISTEN=f"127.0.0.1:{port}",
        SHARDCRON_EXECUTOR_DATA_DIR=data_dir,
        SHARDCRON_EXECUTOR_LOG_LEVEL="WARNING",
    )
    return env


def start(how: str, admin_url: str, port: int, data_dir: str) -> subprocess.Popen:
    if how == "command":
        args = [str(Path(sys.executable).parent / "shardcron"), "executor", "run", TARGET]
    else:
        args = [sys.executable, "-c", FROM_PYTHON]
    return subprocess.Popen(
        args, cwd=ROOT, env=_env(admin_url, port, data_dir), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )


def _beats(port: int) -> bool:
    try:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        try:
            conn.request("POST", "/beat", b"", {"XXL-JOB-ACCESS-TOKEN": TOKEN})
            return json.loads(conn.getresponse().read()).get("code") == 200
        finally:
            conn.close()
    except (OSError, ValueError):
        return False


def wait_serving(proc: subprocess.Popen, port: int, admin: AdminStandIn) -> None:
    """Until the executor has registered with the admin stand-in and answers /beat."""
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"executor on port {port} exited with status {proc.returncode}: {proc.stderr.read() if proc.stderr else ''}")
        if f"http://127.0.0.1:{port}" in admin.registered and _beats(port):
            return
        time.sleep(0.05)
    raise SystemExit(f"executor on port {port} was not serving within {START_TIMEOUT_S:.0f} s")


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise SystemExit(f"no VmRSS for process {pid}")


def measure_round(admin: AdminStandIn, settle_s: float) -> dict[str, int]:
    """VmRSS (kB) of one executor started each way, both serving at the same time."""
    procs: dict[str, subprocess.Popen] = {}
    try:
        with tempfile.TemporaryDirectory(prefix="shardcron-memory-") as data_dir:
            ports = {how: _free_port() for how in ("command", "python")}
            for how, port in ports.items():
                procs[how] = start(how, admin.url, port, os.path.join(data_dir, how))
            for how, port in ports.items():
                wait_serving(procs[how], port, admin)
            time.sleep(settle_s)  # the registration loops and first beats are done; RSS is flat
            return {how: rss_kb(proc.pid) for how, proc in procs.items()}
    finally:
        for proc in procs.values():
            proc.terminate()
        for proc in procs.values():
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(30)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3, help="pairs of executors started and measured")
    parser.add_argument("--settle-s", type=float, default=1.0, help="seconds between serving and reading VmRSS")
    parser.add_argument("--max-diff-mb", type=float, default=5.0, help="largest acceptable median difference")
    args = parser.parse_args(argv)

    admin = AdminStandIn()
    diffs_mb: list[float] = []
    try:
        print(f"python {sys.version.split()[0]} cpus={os.cpu_count()} loadavg(1m)={os.getloadavg()[0]:.2f} target={TARGET}")
        for n in range(1, args.rounds + 1):
            rss = measure_round(admin, args.settle_s)
            diff_mb = (rss["command"] - rss["python"]) / 1024
            diffs_mb.append(diff_mb)
            print(f"round {n}: command {rss['command'] / 1024:6.1f} MB   python {rss['python'] / 1024:6.1f} MB   difference {diff_mb:+5.1f} MB")
    finally:
        admin.close()
    median_mb = statistics.median(diffs_mb)
    verdict = "within" if median_mb <= args.max_diff_mb else "OVER"
    print(f"median difference {median_mb:+.1f} MB: {verdict} the {args.max_diff_mb:g} MB allowed")
    return 0 if median_mb <= args.max_diff_mb else 1


if __name__ == "__main__":
    sys.exit(main())
