"""An executor stand-in that accepts every `/run`, a repeated logId included, as XXL-JOB's Java
executor and pyxxl do (neither refuses a logId it has seen), and records every arrival.

`run_receiver.RunReceiver` refuses a repeated logId as shardcron's own executor does, which hides
a scheduler's re-send; this one makes every re-send visible. It runs no handlers and sends no
callbacks. It answers:

- `/run`: 200 for any well-formed trigger; the arrival (job, logId, logDateTime, shard, wall
  time in ms) is recorded and one line "accepted at ..." is added to that logId's log.
- `/log`: for a logId it accepted, that log's lines from `fromLineNum` (`isEnd` true once the
  page reaches the last line, as pyxxl reads a log file to its end); for any other logId,
  pyxxl's answer: code 200, `logContent` "No such logid logs.", `toLineNum` = `fromLineNum`,
  `isEnd` false. A scheduler settling an ambiguous `/run` asks exactly this.
- `/beat`, `/idleBeat`, `/kill`: 200 (never busy).

Given an admin's address (`callback_to`), it also reports every logId it accepts as succeeded,
once, through that admin's `/api/callback` (batched, from CALLBACK_SENDERS threads of its own,
after the `/run` answer went out; retried until the admin takes it): what workflow steps need to
go on. With `run_ms=(low, high)` each report waits a random time in [low, high] ms after the
`/run` arrived, as if the step ran that long (bench/workflow_bench.py: steps that take time).

Every call needs the access token (`XXL-JOB-ACCESS-TOKEN`). Envelopes carry both `content` and
`data`. As a process (`python -m tests.support.accepting_executor PORT TOKEN OUTFILE`, from the
repository root, `ADMIN_URL` after OUTFILE for callbacks, then `LOW-HIGH` for `run_ms`) it writes one JSON line per `/run`,
per `/log` and per callback batch sent (its logIds and when) to OUTFILE, so that the
process checking the arrivals never slows the one receiving them; `read_calls` reads that file.
"""

from __future__ import annotations

import hmac
import json
import queue
import random
import sys
import threading
import time
import urllib.request
from dataclasses import asdict, dataclass
from datetime import datetime, UTC
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

from shardcron.core.protocol import (
    ACCESS_TOKEN_HEADER,
    Envelope,
    LogParam,
    LogResult,
    ProtocolError,
    TriggerParam,
    decode_json,
    encode_json,
)

from .net import free_port

#: Callback batches in flight at once (as several executors would send them), and their size.
CALLBACK_SENDERS = 4
CALLBACK_BATCH = 50
#: pyxxl's `/log` content for a logId it has no log of.
NO_SUCH_LOG = "No such logid logs."


@dataclass(frozen=True, slots=True)
class Arrival:
    """One `/run` as it arrived."""

    job_id: int
    log_id: int
    log_date_ms: int
    shard_index: int
    shard_total: int
    arrived_ms: int


@dataclass(frozen=True, slots=True)
class LogQuery:
    """One `/log` call: whether the logId asked about had been accepted before."""

    log_id: int
    known: bool
    arrived_ms: int


class AcceptingExecutor:
    def __init__(
        self, token: str, *, port: int | None = None, out_path: str | Path | None = None, callback_to: str | None = None,
        run_ms: tuple[int, int] | None = None,
    ) -> None:
        self.token = token
        self.callback_to = callback_to
        self.run_ms = run_ms
        self._random = random.Random(port)
        self._callbacks: queue.Queue[int] = queue.Queue()
        self.port = port or free_port()
        self.arrivals: list[Arrival] = []
        self.log_queries: list[LogQuery] = []
        self._logs: dict[int, list[str]] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._out = open(out_path, "a", buffering=1, encoding="utf-8") if out_path else None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str, body: bytes) -> Envelope:
        try:
            if path == "/run":
                return self._run(TriggerParam.from_wire(decode_json(body)))
            if path == "/log":
                return self._log(LogParam.from_wire(decode_json(body)))
        except ProtocolError as exc:
            return Envelope.failure(str(exc))
        if path in ("/beat", "/idleBeat", "/kill"):
            return Envelope.success()
        return Envelope.failure(f"unknown path {path}")

    def _run(self, trigger: TriggerParam) -> Envelope:
        arrived_ms = time.time_ns() // 1_000_000
        got = Arrival(trigger.job_id, trigger.log_id, trigger.log_date_time_ms, trigger.broadcast_index, trigger.broadcast_total, arrived_ms)
        stamp = datetime.fromtimestamp(arrived_ms / 1000, UTC).isoformat(timespec="milliseconds")
        with self._lock:
            first = trigger.log_id not in self._logs
            self.arrivals.append(got)
            self._logs.setdefault(trigger.log_id, []).append(f"accepted at {stamp} (job {trigger.job_id}, shard {trigger.broadcast_index}/{trigger.broadcast_total})\n")
            if self._out is not None:
                self._out.write(json.dumps({"kind": "run", **asdict(got)}) + "\n")
        if first and self.callback_to is not None:
            if self.run_ms is None:
                self._callbacks.put(trigger.log_id)
            else:
                with self._lock:
                    delay_s = self._random.uniform(*self.run_ms) / 1000
                timer = threading.Timer(delay_s, self._callbacks.put, (trigger.log_id,))
                timer.daemon = True
                timer.start()
        return Envelope.success()

    def _send_callbacks(self) -> None:
        """Report accepted logIds as succeeded, a batch per POST, until the admin answers 200."""
        while True:
            batch = [self._callbacks.get()]
            while len(batch) < CALLBACK_BATCH:
                try:
                    batch.append(self._callbacks.get_nowait())
                except queue.Empty:
                    break
            now_ms = time.time_ns() // 1_000_000
            body = json.dumps([{"logId": log_id, "logDateTim": now_ms, "handleCode": 200, "handleMsg": None} for log_id in batch]).encode()
            request = urllib.request.Request(
                f"{self.callback_to}/api/callback", data=body, method="POST",
                headers={ACCESS_TOKEN_HEADER: self.token, "Content-Type": "application/json"},
            )
            if self._out is not None:
                with self._lock:  # when each result left, for latency figures (bench/workflow_bench.py)
                    self._out.write(json.dumps({"kind": "callback", "log_ids": batch, "sent_ms": now_ms}) + "\n")
            while True:
                try:
                    with urllib.request.urlopen(request, timeout=10) as reply:
                        if json.loads(reply.read()).get("code") == 200:
                            break
                except OSError:
                    pass
                time.sleep(0.05)  # the admin is not answering yet: try the same batch again

    def _log(self, ask: LogParam) -> Envelope:
        with self._lock:
            lines = list(self._logs.get(ask.log_id, ()))
            query = LogQuery(ask.log_id, bool(lines), time.time_ns() // 1_000_000)
            self.log_queries.append(query)
            if self._out is not None:
                self._out.write(json.dumps({"kind": "log", **asdict(query)}) + "\n")
        if not lines:
            return Envelope.success(LogResult(ask.from_line_num, ask.from_line_num, NO_SUCH_LOG, False).to_wire())
        page = lines[ask.from_line_num - 1:]
        return Envelope.success(LogResult(ask.from_line_num, len(lines), "".join(page), True).to_wire())

    def start(self) -> AcceptingExecutor:
        executor = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the scheduler's multiplexer expects
            # Headers and body leave in two writes; with Nagle's algorithm the body would wait
            # for the peer's delayed ACK (~40 ms a call on one keep-alive connection).
            disable_nagle_algorithm = True

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                given = self.headers.get(ACCESS_TOKEN_HEADER) or ""
                if not hmac.compare_digest(given.encode(), executor.token.encode()):
                    envelope = Envelope.failure("The access token is wrong.")
                else:
                    envelope = executor.answer(self.path, body)
                data = encode_json(envelope.to_wire())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # bursts of new connections (an adopter, a resumed node)
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name=f"accepting-executor-{self.port}", daemon=True).start()
        if self.callback_to is not None:
            for n in range(CALLBACK_SENDERS):
                threading.Thread(target=self._send_callbacks, name=f"accepting-executor-callbacks-{n}", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._out is not None:
            self._out.close()


class CallFile:
    """Reads the JSON lines an `AcceptingExecutor` process writes, incrementally: `read()` returns
    the calls added since the previous read (a line still being written waits for the next)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._offset = 0

    def read(self) -> tuple[list[Arrival], list[LogQuery]]:
        arrivals: list[Arrival] = []
        queries: list[LogQuery] = []
        if not self.path.exists():
            return arrivals, queries
        with open(self.path, "rb") as fh:
            fh.seek(self._offset)
            data = fh.read()
        end = data.rfind(b"\n") + 1
        self._offset += end
        for line in data[:end].splitlines():
            record = json.loads(line)
            kind = record.pop("kind")
            if kind == "run":
                arrivals.append(Arrival(**record))
            elif kind == "log":
                queries.append(LogQuery(**record))
        return arrivals, queries


if __name__ == "__main__":
    port, token, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    low_high = tuple(int(v) for v in sys.argv[5].split("-", 1)) if len(sys.argv) > 5 else None
    AcceptingExecutor(
        token, port=port, out_path=out, callback_to=sys.argv[4] if len(sys.argv) > 4 else None,
        run_ms=(low_high[0], low_high[1]) if low_high else None,
    ).start()
    threading.Event().wait()
