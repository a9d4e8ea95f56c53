"""The scheduler benchmark with h11 speaking HTTP over the transport's sockets (a measurement).

    pip install h11 && python bench/h11_bench.py --skip a,c --pairs 5

Issue 19 asked whether a maintained HTTP/1.1 library keeps the scheduler's throughput (b)
within 10 % of the hand-written client. This runs `scheduler_bench.py` unchanged, except that
the transport (`transport/framing.py`) reads every answer through an `h11.Connection`, which
also writes the request (so the library's cost on both sides of each call is counted): one
state machine per answer, fed the bytes received so far, as the hand-written reader is. Its
figures go into docs/benchmarks.md ("One transport"); h11 is not a dependency of shardcron.
"""

from __future__ import annotations

import http.client
import sys
from pathlib import Path

import h11

sys.path.insert(0, str(Path(__file__).resolve().parent))

import scheduler_bench  # noqa: E402

from shardcron.admin.transport import framing  # noqa: E402

_REQUEST = h11.Request(method="POST", target="/run", headers=[("Host", "executor"), ("Content-Type", "application/json"), ("Content-Length", "2")])


def read_answer_h11(reader, max_bytes: int) -> tuple[int, bytes, bool]:
    """`keepalive.read_answer`'s contract, parsed by h11 from the transport's received bytes."""
    conn = h11.Connection(h11.CLIENT)
    conn.send(_REQUEST)
    conn.send(h11.Data(data=b"{}"))
    conn.send(h11.EndOfMessage())
    conn.receive_data(bytes(reader.data[reader.pos :]))
    if reader.eof:
        conn.receive_data(b"")
    status, body = 0, bytearray()
    while True:
        try:
            event = conn.next_event()
        except h11.RemoteProtocolError as exc:
            raise http.client.HTTPException(str(exc)) from exc
        if event is h11.NEED_DATA:
            if reader.eof:
                raise http.client.IncompleteRead(bytes(body))
            raise framing.NeedMore
        if isinstance(event, h11.Response):
            status = event.status_code
        elif isinstance(event, h11.Data):
            body += event.data
            if len(body) > max_bytes:
                return status, bytes(body[: max_bytes + 1]), False
        elif isinstance(event, h11.EndOfMessage):
            reader.pos = len(reader.data)
            return status, bytes(body), conn.our_state is h11.DONE and conn.their_state is h11.DONE
        elif isinstance(event, h11.ConnectionClosed):
            raise http.client.RemoteDisconnected("closed")


if __name__ == "__main__":
    if "--role" not in sys.argv:  # the receivers (subprocesses) run scheduler_bench.py itself
        framing.read_answer = read_answer_h11
    scheduler_bench.main()
