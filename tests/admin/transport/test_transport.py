"""The scheduler's one transport (multiplex.py) as a client library would be tested: address
families, a deadline per call against a dripping peer, byte-by-byte answers, resets mid-body,
a refused first address, names looked up off the sending thread, no spinning on a stalled peer,
and probes and settlements through the same connections. Real sockets on loopback; the peers'
own pacing is theirs, the tests wait on events with deadlines."""

from __future__ import annotations

import selectors
import socket
import struct
import threading
import time
from collections.abc import Callable

import pytest

from shardcron.admin.transport.executor_calls import ExecutorCalls
from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.admin.transport.calls import Call
from shardcron.admin.transport.connection import READING
from shardcron.admin.transport.multiplex import SWEEP_S, Multiplexer
from shardcron.admin.transport.outcome import Delivered, NotDelivered, Outcome, Refused, Undelivered
from shardcron.admin.transport.resolver import Resolver, Target
from tests.support.scripted_http import ScriptedPeer, ok

TOKEN = "transport-token-0123456789"
ANSWER = b'HTTP/1.1 200 OK\r\nContent-Length: 30\r\n\r\n{"code":200,"msg":"delivered"}'


class Peer:
    """A loopback listener on `host` whose every connection is handed to `serve(sock, stop)`
    after the request has been read."""

    def __init__(self, host: str, serve: Callable[[socket.socket, threading.Event], None], family: int = socket.AF_INET) -> None:
        self.listener = socket.socket(family, socket.SOCK_STREAM)
        self.listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.listener.bind((host, 0))
        self.listener.listen(16)
        self.port: int = self.listener.getsockname()[1]
        self.stop = threading.Event()
        self.served = 0
        self._serve = serve
        self._thread = threading.Thread(target=self._accept, daemon=True)

    def __enter__(self) -> Peer:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        try:
            self.listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.listener.close()
        self._thread.join(5)

    def _accept(self) -> None:
        while True:
            try:
                sock, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(sock,), daemon=True).start()

    def _one(self, sock: socket.socket) -> None:
        try:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    return
                data += chunk
            self.served += 1
            self._serve(sock, self.stop)
        except OSError:
            pass
        finally:
            sock.close()


def answer_at_once(sock: socket.socket, stop: threading.Event) -> None:
    sock.sendall(ANSWER)
    stop.wait(5)  # keep the connection open, as a keep-alive executor does


def drip(every_s: float, answer: bytes = ANSWER) -> Callable[[socket.socket, threading.Event], None]:
    def serve(sock: socket.socket, stop: threading.Event) -> None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        for byte in answer:
            sock.sendall(bytes([byte]))
            if stop.wait(every_s):
                return
        stop.wait(5)

    return serve


def table(entries: dict[str, list[str]]) -> Callable[[str, int], list[Target]]:
    """A name lookup from a table of IP addresses, in the order given (as a hosts file lists them)."""

    def lookup(host: str, port: int) -> list[Target]:
        if host not in entries:
            raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
        return [
            (socket.AF_INET6 if ":" in ip else socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, (ip, port, 0, 0) if ":" in ip else (ip, port))
            for ip in entries[host]
        ]

    return lookup


def inline(connect_timeout_s: float = 2, read_timeout_s: float = 3, resolver: Resolver | None = None) -> Multiplexer:
    client = ExecutorClient(TOKEN, connect_timeout_s=connect_timeout_s, read_timeout_s=read_timeout_s)
    return Multiplexer(client, lambda token, outcome: None, per_address=2, total=8, resolver=resolver, inline=True)


def call(address: str, path: str = "run", **kwargs) -> Outcome:
    mux = inline(**kwargs)
    try:
        return mux.call(address, path, b"{}")
    finally:
        mux.stop(1)


# ---------------------------------------------------------------------- address families


def test_localhost_resolving_to_ipv6_first_reaches_an_executor_listening_on_all_ipv4_addresses() -> None:
    with Peer("0.0.0.0", answer_at_once) as peer:
        resolver = Resolver(lookup=table({"localhost": ["::1", "127.0.0.1"]}))  # /etc/hosts listing ::1 first
        outcome = call(f"http://localhost:{peer.port}", resolver=resolver)
    assert isinstance(outcome, Delivered) and outcome.msg == "delivered"


def test_localhost_through_the_system_resolver_reaches_an_executor_on_0_0_0_0() -> None:
    with Peer("0.0.0.0", answer_at_once) as peer:
        outcome = call(f"http://localhost:{peer.port}")
    assert isinstance(outcome, Delivered)


def test_localhost_resolving_to_ipv4_first_reaches_an_executor_listening_on_ipv6_loopback_only() -> None:
    with Peer("::1", answer_at_once, family=socket.AF_INET6) as peer:
        resolver = Resolver(lookup=table({"localhost": ["127.0.0.1", "::1"]}))
        outcome = call(f"http://localhost:{peer.port}", resolver=resolver)
        literal = call(f"http://[::1]:{peer.port}")
    assert isinstance(outcome, Delivered) and isinstance(literal, Delivered)


def test_a_refused_first_address_is_followed_by_the_second() -> None:
    with Peer("127.0.0.1", answer_at_once) as peer:  # nothing listens on 127.0.0.2
        resolver = Resolver(lookup=table({"executor.internal": ["127.0.0.2", "127.0.0.1"]}))
        outcome = call(f"http://executor.internal:{peer.port}", resolver=resolver)
    assert isinstance(outcome, Delivered)
    assert peer.served == 1


def test_every_address_refusing_is_connect_refused_and_an_unknown_name_is_resolve_failed() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # bound, not listening: refused on every address
        resolver = Resolver(lookup=table({"executor.internal": ["127.0.0.2", "127.0.0.1"]}))
        refused = call(f"http://executor.internal:{port}", resolver=resolver)
        unknown = call("http://nowhere.internal:9999", resolver=Resolver(lookup=table({})))
    assert isinstance(refused, NotDelivered) and refused.reason is Undelivered.CONNECT_REFUSED and not refused.unsure
    assert refused.msg == f"executor http://executor.internal:{port} is unreachable for /run: Connection refused"
    assert isinstance(unknown, NotDelivered) and unknown.reason is Undelivered.RESOLVE_FAILED
    assert unknown.msg == "executor http://nowhere.internal:9999 is unreachable for /run: Name or service not known"


# ---------------------------------------------------------------------- deadlines and answers


def test_a_peer_dripping_one_byte_every_100_ms_is_cut_at_the_calls_deadline() -> None:
    with Peer("127.0.0.1", drip(0.1)) as peer:
        started = time.monotonic()
        outcome = call(f"http://127.0.0.1:{peer.port}", connect_timeout_s=0.5, read_timeout_s=1.0)
        took_s = time.monotonic() - started
    assert isinstance(outcome, NotDelivered) and outcome.reason is Undelivered.DEADLINE and outcome.unsure
    assert outcome.msg == f"executor http://127.0.0.1:{peer.port} did not answer /run within 1.5 s"
    assert 1.5 <= took_s < 2.5  # one bound for the whole call (a bound per read would take the 7 s of the drip)


def test_a_valid_answer_arriving_byte_by_byte_is_delivered() -> None:
    with Peer("127.0.0.1", drip(0.002)) as peer:
        outcome = call(f"http://127.0.0.1:{peer.port}")
    assert isinstance(outcome, Delivered) and outcome.msg == "delivered"


def reset_mid_body(sock: socket.socket, stop: threading.Event) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"code\":200,")
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close sends a RST


def close_mid_body(sock: socket.socket, stop: threading.Event) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\n{\"code\":200,")


@pytest.mark.parametrize("serve", [reset_mid_body, close_mid_body], ids=["rst", "fin"])
def test_a_connection_cut_mid_body_is_a_reset_whose_outcome_is_unsure(serve) -> None:
    with Peer("127.0.0.1", serve) as peer:
        outcome = call(f"http://127.0.0.1:{peer.port}")
    assert isinstance(outcome, NotDelivered) and outcome.reason is Undelivered.RESET and outcome.unsure
    assert outcome.msg.startswith(f"executor http://127.0.0.1:{peer.port} is unreachable for /run: ")


def test_a_refusal_and_an_answer_that_is_not_an_envelope_are_told_apart() -> None:
    refusal = b'{"code":500,"msg":"job handler [x] not found"}'
    with ScriptedPeer([ok(refusal), lambda _: (b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 4\r\n\r\nnope", False)]) as peer:
        refused = call(peer.url())
        bad = call(peer.url())
    assert isinstance(refused, Refused) and (refused.code, refused.msg) == (500, "job handler [x] not found")
    assert isinstance(bad, NotDelivered) and bad.reason is Undelivered.BAD_ANSWER and not bad.unsure


# ---------------------------------------------------------------------- never spins


def stall_mid_answer(sock: socket.socket, stop: threading.Event) -> None:
    sock.sendall(b"HTTP/1.1 200 OK\r\nContent-Le")
    stop.wait(10)


def test_a_peer_that_stalls_mid_answer_costs_the_sender_no_loop_turns_even_after_a_read_that_would_block() -> None:
    """A read that would block (a spurious wake-up, here forced) must go on watching for reads:
    watching a connected socket for writes would wake the loop at once, turn after turn."""
    with Peer("127.0.0.1", stall_mid_answer) as peer:
        mux = inline(connect_timeout_s=0.5, read_timeout_s=0.5)
        got: list[Outcome] = []
        mux.on_answer = lambda token, outcome: got.append(outcome)
        try:
            mux.submit([Call(f"http://127.0.0.1:{peer.port}", "run", b"{}", 1)])
            assert mux.drive(lambda: any(c.state == READING and c.received for c in mux._in_flight), 5)
            [conn] = mux._in_flight
            mux._advance(conn)  # nothing more to read: the recv would block
            assert mux._selector.get_key(conn.sock).events == selectors.EVENT_READ
            loops_before = mux.loops
            assert mux.drive(lambda: bool(got), 5)
            turns = mux.loops - loops_before
        finally:
            mux.stop(1)
    assert isinstance(got[0], NotDelivered) and got[0].reason is Undelivered.DEADLINE
    assert turns <= 1.0 / SWEEP_S + 5  # one turn per deadline sweep, none for the stalled socket


def test_the_sending_thread_uses_almost_no_cpu_while_a_peer_stalls_mid_answer() -> None:
    with Peer("127.0.0.1", stall_mid_answer) as peer:
        client = ExecutorClient(TOKEN, connect_timeout_s=0.5, read_timeout_s=1.0)
        done = threading.Event()
        mux = Multiplexer(client, lambda token, outcome: done.set(), per_address=2, total=8)
        mux.start()
        try:
            thread = mux._thread
            assert thread is not None and thread.ident is not None
            clock = time.pthread_getcpuclockid(thread.ident)
            mux.submit([Call(f"http://127.0.0.1:{peer.port}", "run", b"{}", 1)])
            assert done.wait(5)
            cpu_s = time.clock_gettime(clock)
        finally:
            mux.stop(1)
    assert cpu_s < 0.1, f"the sender used {cpu_s:.3f} s of CPU over a 1.5 s stalled call"


# ---------------------------------------------------------------------- names off the sending thread


def test_a_slow_lookup_holds_up_only_the_calls_to_that_name() -> None:
    gate = threading.Event()
    lookups: list[str] = []

    def slow_lookup(host: str, port: int) -> list[Target]:
        lookups.append(host)
        gate.wait(10)
        return table({"slow.internal": ["127.0.0.1"]})(host, port)

    with Peer("127.0.0.1", answer_at_once) as peer:
        client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=3)
        got: dict[object, Outcome] = {}
        arrived = threading.Condition()

        def on_answer(token: object, outcome: Outcome) -> None:
            with arrived:
                got[token] = outcome
                arrived.notify_all()

        mux = Multiplexer(client, on_answer, per_address=4, total=8, resolver=Resolver(lookup=slow_lookup))
        mux.start()
        try:
            mux.submit([Call(f"http://slow.internal:{peer.port}", "run", b"{}", "named"), Call(f"http://127.0.0.1:{peer.port}", "run", b"{}", "literal")])
            with arrived:
                assert arrived.wait_for(lambda: "literal" in got, 5)
                assert "named" not in got  # still being looked up
            gate.set()
            with arrived:
                assert arrived.wait_for(lambda: "named" in got, 5)
        finally:
            gate.set()
            mux.stop(1)
    assert isinstance(got["literal"], Delivered) and isinstance(got["named"], Delivered)
    assert lookups == ["slow.internal"]


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_the_resolver_keeps_answers_for_their_ttl_refreshes_old_ones_and_keeps_them_when_a_refresh_fails() -> None:
    clock = FakeMonotonic()
    answers = {"a.internal": ["10.0.0.1"]}
    calls: list[str] = []

    def lookup(host: str, port: int) -> list[Target]:
        calls.append(host)
        return table(answers)(host, port)

    resolver = Resolver(lookup=lookup, ttl_s=30, failed_ttl_s=5, monotonic=clock)
    first = resolver.lookup("a.internal", 80)
    assert isinstance(first, list) and first[0][3] == ("10.0.0.1", 80)
    clock.now += 29
    assert resolver.lookup("a.internal", 80) == first and calls == ["a.internal"]
    clock.now += 2
    answers["a.internal"] = ["10.0.0.2"]
    resolver.lookup("a.internal", 80)  # old: looked up again (here in this thread: no thread started)
    assert resolver.lookup("a.internal", 80)[0][3] == ("10.0.0.2", 80)  # type: ignore[index]
    clock.now += 31
    del answers["a.internal"]
    assert resolver.lookup("a.internal", 80)[0][3] == ("10.0.0.2", 80)  # type: ignore[index]  # a failed refresh keeps them
    assert resolver.lookup("127.0.0.1", 80)[0][3] == ("127.0.0.1", 80)  # type: ignore[index]  # no lookup for a literal
    assert "127.0.0.1" not in calls


def test_a_failed_lookup_fails_calls_at_once_until_it_is_old() -> None:
    clock = FakeMonotonic()
    calls: list[str] = []

    def lookup(host: str, port: int) -> list[Target]:
        calls.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    resolver = Resolver(lookup=lookup, ttl_s=30, failed_ttl_s=5, monotonic=clock)
    assert resolver.lookup("gone.internal", 80) == "Name or service not known"
    clock.now += 4
    assert resolver.lookup("gone.internal", 80) == "Name or service not known" and len(calls) == 1
    clock.now += 2
    resolver.lookup("gone.internal", 80)
    assert len(calls) == 2


def test_a_threaded_resolver_never_looks_up_in_the_callers_thread() -> None:
    looked_up_in: list[str] = []
    done = threading.Event()

    def lookup(host: str, port: int) -> list[Target]:
        looked_up_in.append(threading.current_thread().name)
        return table({"b.internal": ["127.0.0.1"]})(host, port)

    resolver = Resolver(lookup=lookup)
    resolver.on_resolved = lambda host, port: done.set()
    resolver.start()
    try:
        assert resolver.lookup("b.internal", 80) is None
        assert done.wait(5)
        assert resolver.lookup("b.internal", 80)[0][3] == ("127.0.0.1", 80)  # type: ignore[index]
    finally:
        resolver.stop()
    assert looked_up_in == ["shardcron-resolve"]


# ---------------------------------------------------------------------- probes


def test_probes_and_the_settling_question_go_over_the_same_connection_as_run() -> None:
    log_page = b'{"code":200,"content":{"fromLineNum":1,"toLineNum":0,"logContent":"","isEnd":true,"logIdKnown":false}}'
    with ScriptedPeer([ok(), ok(), ok(b'{"code":500,"msg":"busy"}'), ok(log_page)]) as peer:
        mux = inline()
        calls = ExecutorCalls(mux)
        try:
            assert isinstance(mux.call(peer.url(), "run", b"{}"), Delivered)
            assert calls.beat(peer.url()).ok
            busy = calls.idle_beat(peer.url(), 7)
            page = calls.log(peer.url(), 0, 42)
        finally:
            mux.stop(1)
    assert (busy.ok, busy.msg) == (False, "busy")
    assert getattr(page, "log_id_known", None) is False
    assert [r.line for r in peer.requests] == ["POST /run HTTP/1.1", "POST /beat HTTP/1.1", "POST /idleBeat HTTP/1.1", "POST /log HTTP/1.1"]
    assert peer.connections == 1
