"""A minimal, fast executor stand-in on loopback: it answers /run, /beat, /idleBeat, /log and records
every /run it accepts (job, logId, logDateTime, shard, param, arrival time), and refuses a logId
it has seen before ("repeat trigger job"), as shardcron's executor does; `/log` says whether it
ever took a logId (`logIdKnown`), as shardcron's executor does. It runs no handlers and sends no
callbacks: scheduler tests need to see what was triggered, when, and how often.

`busy_jobs` makes it refuse /run (DISCARD_LATER style) and /idleBeat for those job ids;
`dead_beat` makes /beat fail; `log_mode` answers /log as another executor would; `swallow_s`
accepts a /run and hangs up without answering. Usable in-process (`RunReceiver(...).start()`) or as a process
(`python -m tests.support.run_receiver PORT TOKEN OUTFILE`, one JSON line per accepted /run).
"""

from __future__ import annotations

import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from shardcron.core.protocol import ACCESS_TOKEN_HEADER, Envelope, LogParam, LogResult, TriggerParam, decode_json, encode_json

from .net import free_port


@dataclass(frozen=True)
class Received:
    job_id: int
    log_id: int
    log_date_ms: int
    shard_index: int
    shard_total: int
    params: str
    block_strategy: str
    arrived_ms: int
    resume_from: object = None
    resume_from_log_id: int | None = None
    #: A workflow step's `upstream` extension key (None: the /run had none).
    upstream: dict | None = None


class RunReceiver:
    def __init__(self, token: str | None, *, port: int | None = None, out_path: str | None = None) -> None:
        self.token = token
        self.port = port or free_port()
        self.runs: list[Received] = []
        self.repeats = 0
        self.busy_jobs: set[int] = set()
        self.dead_beat = False
        #: How /log answers: "shardcron" (logIdKnown), "pyxxl" (its lines, or "No such logid
        #: logs."), "silent" (an empty page that says nothing), "fail" (code 500).
        self.log_mode = "shardcron"
        #: Accept and record a /run, then hold the answer back this long and hang up (the
        #: executor got it; the scheduler never hears so). 0: answer at once.
        self.swallow_s = 0.0
        self.calls: list[str] = []
        self.log_asks: list[int] = []
        self.swallowed = threading.Event()  # set it to end every held-back /run answer at once
        self._seen: set[int] = set()
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._out = open(out_path, "a", buffering=1, encoding="utf-8") if out_path else None

    @property
    def address(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def answer(self, path: str, body: bytes) -> Envelope:
        with self._lock:
            self.calls.append(path)
        if path == "/beat":
            return Envelope.failure("beat refused (dead_beat)") if self.dead_beat else Envelope.success()
        if path == "/idleBeat":
            job_id = decode_json(body)["jobId"]
            return Envelope.failure(f"job {job_id} is busy") if job_id in self.busy_jobs else Envelope.success()
        if path == "/log":
            return self._log(LogParam.from_wire(decode_json(body)))
        if path != "/run":
            return Envelope.failure(f"unknown path {path}")
        trigger = TriggerParam.from_wire(decode_json(body))
        arrived_ms = time.time_ns() // 1_000_000
        with self._lock:
            if trigger.log_id in self._seen:
                self.repeats += 1
                return Envelope.failure(f"repeat trigger job, logId:{trigger.log_id}")
            if trigger.job_id in self.busy_jobs:
                return Envelope.failure(f"block strategy effect: Discard Later (job {trigger.job_id} is running), logId:{trigger.log_id}")
            self._seen.add(trigger.log_id)
            got = Received(
                trigger.job_id, trigger.log_id, trigger.log_date_time_ms, trigger.broadcast_index, trigger.broadcast_total,
                trigger.executor_params, str(trigger.executor_block_strategy), arrived_ms, trigger.resume_from, trigger.resume_from_log_id,
                trigger.upstream,
            )
            self.runs.append(got)
            if self._out is not None:
                self._out.write(json.dumps(got.__dict__) + "\n")
        return Envelope.success(msg=f"accepted, logId:{trigger.log_id}")

    def _log(self, param: LogParam) -> Envelope:
        with self._lock:
            self.log_asks.append(param.log_id)
            known = param.log_id in self._seen
        first = param.from_line_num
        if self.log_mode == "fail":
            return Envelope.failure("log reading is broken here")
        if self.log_mode == "silent":
            return Envelope.success(LogResult(first, first - 1, "", True).to_wire())
        if self.log_mode == "pyxxl":
            text = f"logId {param.log_id} accepted\n" if known else "No such logid logs."
            return Envelope.success(LogResult(first, first if not known else first, text, False).to_wire())
        return Envelope.success(LogResult(first, first - 1, "", True, log_id_known=known).to_wire())

    def start(self) -> RunReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body go out in separate writes

            def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if receiver.token and self.headers.get(ACCESS_TOKEN_HEADER) != receiver.token:
                    envelope = Envelope.failure("The access token is wrong.")
                else:
                    envelope = receiver.answer(self.path, body)
                    if self.path == "/run" and receiver.swallow_s:
                        receiver.swallowed.wait(receiver.swallow_s)
                        self.close_connection = True
                        return
                data = encode_json(envelope.to_wire())
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args) -> None:
                pass

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # bursts of new connections, as a real server's backlog allows
            daemon_threads = True

        self._server = Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._server.serve_forever, name=f"receiver-{self.port}", daemon=True).start()
        return self

    def stop(self) -> None:
        self.swallowed.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._out is not None:
            self._out.close()


if __name__ == "__main__":
    port, token, out = int(sys.argv[1]), sys.argv[2], sys.argv[3]
    RunReceiver(token, port=port, out_path=out).start()
    threading.Event().wait()
