"""Executor throughput on loopback, as ratios to a bare WSGI app on the same server stack.

    python bench/executor_bench.py [--seconds 5] [--triggers 5000] [--clients 8] [--log-lines 0]

Measures, in one run and with the same load generator:
  bare     requests/s of a WSGI app that only answers 200 (the envelope), served by the
           executor's own server stack (waitress through EmbeddedServer, same threads)
  accept   /run triggers accepted per second by a real Executor (no-op handler, 1,000 job ids;
           `--log-lines N`: a handler writing N lines to its run log instead)
  e2e      triggers -> callbacks delivered per second to a counting admin (all results, spooled
           with fsync, batched, accepted)
  rss      the idle executor process's resident memory

Each server (bare app, executor, admin) runs in its own process; the load generator runs here,
with `--clients` threads on keep-alive connections. The figures are printed with their ratios.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TOKEN = "bench-token-0123456789abcdef"
JOB_IDS = 1000
SERVER_THREADS = 16  # the executor's default server_threads, used by both servers
LOG_DATE_MS = 1_767_225_600_000


# ---------------------------------------------------------------------- server roles (subprocesses)


def serve_bare(port: int) -> None:
    from shardcron.executor.embedded import EmbeddedServer
    from shardcron.core.protocol import Envelope, encode_json

    body = encode_json(Envelope.success(msg="accepted").to_wire())

    def app(environ, start_response):
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        start_response("200 OK", [("Content-Type", "application/json;charset=UTF-8"), ("Content-Length", str(len(body)))])
        return [body]

    EmbeddedServer(app, f"127.0.0.1:{port}", threads=SERVER_THREADS).start()
    threading.Event().wait()


def serve_admin(port: int) -> None:
    """Counts callback results; GET /count answers how many arrived."""
    from shardcron.executor.embedded import EmbeddedServer
    from shardcron.core.protocol import Envelope, encode_json

    ok = encode_json(Envelope.success().to_wire())
    lock = threading.Lock()
    state = {"results": 0}

    def app(environ, start_response):
        path = environ.get("PATH_INFO", "")
        if path == "/count":
            out = str(state["results"]).encode()
        else:
            raw = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
            if path == "/api/callback":
                with lock:
                    state["results"] += len(json.loads(raw))
            out = ok
        start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(out)))])
        return [out]

    EmbeddedServer(app, f"127.0.0.1:{port}", threads=4).start()
    threading.Event().wait()


def serve_executor(port: int, admin_port: int, data_dir: str, log_lines: int) -> None:
    from shardcron.executor import Executor

    executor = Executor(
        "bench",
        [f"http://127.0.0.1:{admin_port}/"],
        TOKEN,
        listen=f"127.0.0.1:{port}",
        data_dir=data_dir,
        queue_limit=1_000_000,
        server_threads=SERVER_THREADS,
        env={},
    )
    def handler(ctx) -> None:
        for n in range(log_lines):  # 0 by default: the no-op handler of the target
            ctx.log("line %d", n)

    executor.job("noop")(handler)
    executor.run()


# ---------------------------------------------------------------------- load generator


def _trigger(log_id: int) -> bytes:
    return json.dumps(
        {
            "jobId": log_id % JOB_IDS + 1,
            "executorHandler": "noop",
            "executorParams": "",
            "executorBlockStrategy": "SERIAL_EXECUTION",
            "executorTimeout": 0,
            "logId": log_id,
            "logDateTime": LOG_DATE_MS,
            "glueType": "BEAN",
            "glueUpdatetime": 0,
            "broadcastIndex": 0,
            "broadcastTotal": 1,
        }
    ).encode()


def load(port: int, clients: int, *, seconds: float | None = None, total: int | None = None, first_log_id: int = 1) -> tuple[int, float]:
    """POST /run from `clients` keep-alive connections, for `seconds` or until `total` calls.
    Returns (calls answered with code 200, elapsed seconds); any other answer aborts."""
    counter = iter(range(first_log_id, 1 << 62))
    lock = threading.Lock()
    done = [0]
    errors: list[str] = []
    start = time.perf_counter()
    headers = {"Content-Type": "application/json", "XXL-JOB-ACCESS-TOKEN": TOKEN}

    def client() -> None:
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while not errors:
            with lock:
                if (seconds is not None and time.perf_counter() - start >= seconds) or (total is not None and done[0] >= total):
                    break
                log_id = next(counter)
                done[0] += 1
            conn.request("POST", "/run", _trigger(log_id), headers)
            answer = conn.getresponse().read()
            if b'"code":200' not in answer:
                errors.append(answer.decode(errors="replace"))
        conn.close()

    threads = [threading.Thread(target=client) for _ in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise SystemExit(f"a call was not accepted: {errors[0]}")
    return done[0], time.perf_counter() - start


def _count(admin_port: int) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", admin_port, timeout=30)
    conn.request("GET", "/count")
    value = int(conn.getresponse().read())
    conn.close()
    return value


def _drain(admin_port: int, expected: int) -> None:
    """Wait until the admin has counted `expected` results (callbacks of earlier phases)."""
    deadline = time.monotonic() + 300
    while _count(admin_port) < expected:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {_count(admin_port)} of {expected} callbacks arrived")
        time.sleep(0.05)


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _spawn(*args: str) -> subprocess.Popen:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen([sys.executable, __file__, *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def _wait_listening(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
            conn.request("POST", "/beat", b"", {"XXL-JOB-ACCESS-TOKEN": TOKEN})
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            time.sleep(0.05)
    raise SystemExit(f"nothing listening on {port}")


def _cpu_s(pid: int) -> float:
    """User + system CPU seconds a process has used (it tells cost apart from a busy machine)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _threads(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("Threads:"):
            return int(line.split()[1])
    raise SystemExit("no Threads")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise SystemExit("no VmRSS")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0, help="length of each rate measurement")
    parser.add_argument("--triggers", type=int, default=5000, help="triggers sent for the end-to-end measurement")
    parser.add_argument("--clients", type=int, default=8, help="concurrent keep-alive client connections")
    parser.add_argument("--log-lines", type=int, default=0, help="lines the handler writes to its run log (0: a no-op handler)")
    parser.add_argument("--role", choices=["bare", "admin", "executor"], help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--admin-port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.role == "bare":
        return serve_bare(args.port)
    if args.role == "admin":
        return serve_admin(args.port)
    if args.role == "executor":
        return serve_executor(args.port, args.admin_port, args.data_dir, args.log_lines)

    load_before = os.getloadavg()[0]
    procs: list[subprocess.Popen] = []
    try:
        with tempfile.TemporaryDirectory(prefix="shardcron-bench-") as data_dir:
            bare_port, admin_port, executor_port = _free_port(), _free_port(), _free_port()
            procs.append(_spawn("--role", "bare", "--port", str(bare_port)))
            procs.append(_spawn("--role", "admin", "--port", str(admin_port)))
            procs.append(_spawn("--role", "executor", "--port", str(executor_port), "--admin-port", str(admin_port), "--data-dir", data_dir, "--log-lines", str(args.log_lines)))
            for port in (bare_port, admin_port, executor_port):
                _wait_listening(port)
            idle_rss_mb = _rss_mb(procs[2].pid)

            load(bare_port, args.clients, seconds=1.0)  # warm-up
            cpu_before = _cpu_s(procs[0].pid)
            calls, elapsed = load(bare_port, args.clients, seconds=args.seconds)
            bare_rate = calls / elapsed
            bare_cpu_us = (_cpu_s(procs[0].pid) - cpu_before) / calls * 1e6

            warm, _ = load(executor_port, args.clients, seconds=1.0, first_log_id=1)  # warm-up
            _drain(admin_port, warm)
            cpu_before = _cpu_s(procs[2].pid)
            accepted, elapsed = load(executor_port, args.clients, seconds=args.seconds, first_log_id=1_000_000)
            accept_rate = accepted / elapsed
            busy_threads = _threads(procs[2].pid)
            _drain(admin_port, warm + accepted)  # the next phase starts with nothing in flight
            executor_cpu_us = (_cpu_s(procs[2].pid) - cpu_before) / accepted * 1e6  # accept + run + callback

            before = _count(admin_port)
            start = time.perf_counter()
            load(executor_port, args.clients, total=args.triggers, first_log_id=100_000_000)
            while _count(admin_port) < before + args.triggers:
                if time.perf_counter() - start > 300:
                    raise SystemExit(f"only {_count(admin_port) - before} of {args.triggers} callbacks arrived")
                time.sleep(0.01)
            e2e_rate = args.triggers / (time.perf_counter() - start)
            loaded_rss_mb = _rss_mb(procs[2].pid)
    finally:
        for proc in procs:
            proc.terminate()
        for proc in procs:
            try:
                proc.wait(30)
            except subprocess.TimeoutExpired:
                proc.kill()

    print(
        f"cpus={os.cpu_count()} clients={args.clients} seconds={args.seconds} triggers={args.triggers} job_ids={JOB_IDS} handler_log_lines={args.log_lines} "
        f"loadavg(1m) before={load_before:.2f} after={os.getloadavg()[0]:.2f}"
    )
    print(f"bare WSGI app (waitress, same stack)   {bare_rate:8.0f} req/s   (baseline)")
    print(f"/run triggers accepted                 {accept_rate:8.0f} /s      ratio {accept_rate / bare_rate:.2f}  (target >= 0.5)")
    print(f"triggers -> callbacks delivered        {e2e_rate:8.0f} /s      ratio {e2e_rate / bare_rate:.2f}  (target >= 0.5)")
    print(
        f"server CPU per call: bare {bare_cpu_us:.0f} us; executor {executor_cpu_us:.0f} us per trigger accepted, run and "
        f"called back (ratio {bare_cpu_us / executor_cpu_us:.2f}); executor threads under load {busy_threads}"
    )
    print(f"idle executor RSS                      {idle_rss_mb:8.1f} MB      (target < 60 MB); after the load {loaded_rss_mb:.1f} MB")


if __name__ == "__main__":
    main()
