"""Start-up order: the server answers only once the dispatcher is open, so a /run that arrives
while the executor starts waits for it instead of being refused as "not running"."""

from __future__ import annotations

import json
import socket

from shardcron.executor.embedded import EmbeddedServer
from shardcron.core.protocol import ACCESS_TOKEN_HEADER
from tests.support.executor_calls import TOKEN, trigger


def test_a_run_sent_while_the_executor_starts_is_accepted_once_it_is_open(make_executor, monkeypatch) -> None:
    executor = make_executor()
    real_open = executor.dispatcher.open
    seen: dict[str, object] = {}

    def open_with_a_run_in_flight() -> None:
        server = executor._server
        seen["serving before open"] = server is not None and server._thread is not None
        # The port is bound: a client can connect and send now, before the dispatcher opens.
        body = json.dumps(trigger(1, 101)).encode()
        sock = socket.create_connection(("127.0.0.1", executor.port), timeout=30)
        sock.sendall(
            b"POST /run HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"{ACCESS_TOKEN_HEADER}: {TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
            + body
        )
        seen["socket"] = sock
        real_open()

    monkeypatch.setattr(executor.dispatcher, "open", open_with_a_run_in_flight)
    executor.start()
    sock: socket.socket = seen["socket"]  # type: ignore[assignment]
    with sock, sock.makefile("rb") as answer:
        status = answer.readline()
        length = 0
        while (line := answer.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            if name.strip().lower() == "content-length":
                length = int(value)
        envelope = json.loads(answer.read(length))
    assert seen["serving before open"] is False
    assert status.startswith(b"HTTP/1.1 200")
    assert envelope["code"] == 200, envelope


def test_a_server_bound_but_never_served_still_stops_and_frees_its_port() -> None:
    server = EmbeddedServer(lambda environ, start_response: [], "127.0.0.1:0", threads=1)
    port = server.bind()
    server.stop()
    again = EmbeddedServer(lambda environ, start_response: [], f"127.0.0.1:{port}", threads=1)
    assert again.bind() == port  # the first one's socket is closed
    again.stop()
