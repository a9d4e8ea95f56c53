"""The one-thread executor call sender: answers matched to calls, per-executor and total bounds,
timeouts, retries of idle connections the peer closed, TLS; against scripted loopback peers.
Address families, deadlines, byte-by-byte answers and resets: test_transport.py."""

from __future__ import annotations

import socket
import ssl
import threading
import time
from pathlib import Path

import pytest

from shardcron.admin.transport.executor_client import ExecutorClient
from shardcron.admin.transport.calls import Call
from shardcron.admin.transport.multiplex import Multiplexer
from shardcron.admin.transport.outcome import NotDelivered, Outcome
from tests.support.net import free_port, wait_until
from tests.support.scripted_http import ScriptedPeer, ok
from tests.support.tls_certificate import make_certificate, server_context

TOKEN = "multiplex-token-0123456789"


class Answers:
    def __init__(self) -> None:
        self.got: dict[object, Outcome] = {}
        self.order: list[object] = []
        self.unsure: set[object] = set()
        self.dropped: list[object] = []
        self._cond = threading.Condition()

    def __call__(self, token: object, outcome: Outcome) -> None:
        with self._cond:
            self.got[token] = outcome
            self.order.append(token)
            if isinstance(outcome, NotDelivered) and outcome.unsure:
                self.unsure.add(token)
            self._cond.notify_all()

    def drop(self, token: object) -> None:
        with self._cond:
            self.dropped.append(token)
            self.order.append(token)
            self._cond.notify_all()

    def wait(self, count: int, timeout_s: float = 10) -> dict[object, Outcome]:
        with self._cond:
            assert self._cond.wait_for(lambda: len(self.got) + len(self.dropped) >= count, timeout_s), f"{len(self.got)} of {count} answers"
            return dict(self.got)


def raw(text: bytes, close: bool = False):
    return lambda _: (text, close)


def echo(request) -> tuple[bytes, bool]:
    body = b'{"code":200,"msg":"' + request.body + b'"}'
    return b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n" % len(body) + body, False


def sender(answers: Answers, *, per_address: int = 2, total: int = 8, read_timeout_s: float = 5, **kwargs) -> Multiplexer:
    client = ExecutorClient(TOKEN, connect_timeout_s=2, read_timeout_s=read_timeout_s)
    mux = Multiplexer(client, answers, per_address=per_address, total=total, on_dropped=answers.drop, **kwargs)
    mux.start()
    return mux


def one_call(url: str, **kwargs) -> Outcome:
    """The answer to a single /run to `url` through a fresh sender."""
    answers = Answers()
    mux = sender(answers, **kwargs)
    try:
        mux.submit([Call(url, "run", b"{}", 1)])
        return answers.wait(1)[1]
    finally:
        mux.stop(5)


def test_every_answer_comes_back_with_its_call_over_few_reused_connections() -> None:
    answers = Answers()
    with ScriptedPeer([echo] * 30) as one, ScriptedPeer([echo] * 30) as two:
        mux = sender(answers, per_address=3)
        try:
            mux.submit(Call(peer.url("/base/"), "run", b"%d" % n, n) for n in range(60) for peer in [(one, two)[n % 2]])
            got = answers.wait(60)
        finally:
            mux.stop(5)
    assert {token: env.msg for token, env in got.items()} == {n: str(n) for n in range(60)}
    assert all(env.ok for env in got.values())
    assert 1 <= one.connections <= 3 and 1 <= two.connections <= 3
    first = one.requests[0]
    assert first.line == "POST /base/run HTTP/1.1"
    assert first.headers["xxl-job-access-token"] == TOKEN and first.headers["content-type"] == "application/json"
    assert first.headers["host"] == f"127.0.0.1:{one.port}"


def test_an_executor_that_never_answers_holds_only_its_own_share_and_times_out() -> None:
    """per_address 2: the silent executor gets 2 connections; its other calls wait in its own
    queue, while 20 calls to a healthy executor are answered before the silent ones time out."""
    answers = Answers()
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    with ScriptedPeer([echo] * 20) as healthy:
        mux = sender(answers, per_address=2, total=8, read_timeout_s=1.5)
        try:
            started = time.monotonic()
            mux.submit([Call(silent_url, "run", b"s", f"s{n}") for n in range(4)])
            mux.submit([Call(healthy.url(), "run", b"%d" % n, n) for n in range(20)])
            answers.wait(20)
            assert all(isinstance(t, int) for t in answers.order[:20])
            assert time.monotonic() - started < 1.5
            got = answers.wait(24, timeout_s=15)
        finally:
            mux.stop(5)
            silent.close()
    silent_answers = [got[f"s{n}"] for n in range(4)]
    assert all(not env.ok and "did not answer /run within 3.5 s" in env.msg for env in silent_answers)


def test_the_total_bound_is_shared_fairly_between_executors() -> None:
    """total 2, per executor 2: a silent executor takes both slots first; the healthy one's calls
    still go out as soon as a slot frees (after the timeout), not after every silent call."""
    answers = Answers()
    silent = socket.create_server(("127.0.0.1", 0))
    silent_url = f"http://127.0.0.1:{silent.getsockname()[1]}"
    with ScriptedPeer([echo] * 3) as healthy:
        mux = sender(answers, per_address=2, total=2, read_timeout_s=0.5)
        try:
            mux.submit([Call(silent_url, "run", b"s", f"s{n}") for n in range(6)])
            mux.submit([Call(healthy.url(), "run", b"%d" % n, n) for n in range(3)])
            answers.wait(9, timeout_s=20)
        finally:
            mux.stop(5)
            silent.close()
    order = answers.order
    assert sorted(order[:2]) == ["s0", "s1"]
    # After the first two time out, the healthy executor is served before the rest of the silent ones.
    assert order.index(0) < order.index("s4")
    assert sorted(answers.got[n].msg for n in range(3)) == ["0", "1", "2"]


def test_a_dead_executor_is_reported_unreachable() -> None:
    answer = one_call(f"http://127.0.0.1:{free_port()}")
    assert not answer.ok
    assert "is unreachable for /run: Connection refused" in answer.msg


def test_an_idle_connection_the_peer_closed_is_retried_once_on_a_fresh_one() -> None:
    """A repeatable call (a probe); a /run is not repeated once its request went out (below)."""
    answers = Answers()
    with ScriptedPeer([ok(b'{"code":200,"msg":"first"}'), raw(b"", close=True), ok(b'{"code":200,"msg":"again"}')]) as peer:
        mux = sender(answers, per_address=1)
        try:
            mux.submit([Call(peer.url(), "beat", b"", 1)])
            answers.wait(1)
            # the peer closes the connection on the second request without answering
            mux.submit([Call(peer.url(), "beat", b"", 2)])
            got = answers.wait(2)
        finally:
            mux.stop(5)
    assert got[2].ok and got[2].msg == "again"
    assert peer.connections == 2


def test_a_fresh_connection_closed_without_an_answer_is_not_retried() -> None:
    with ScriptedPeer([raw(b"", close=True), ok()]) as peer:
        answer = one_call(peer.url())
    assert not answer.ok and "unreachable for /run" in answer.msg
    assert peer.connections == 1


@pytest.mark.parametrize(
    "answer, msg",
    [
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;x=1\r\n{\"cod\r\n9\r\ne\":200}\r\n\r\n0\r\nX-T: 1\r\n\r\n", None),
        (b"HTTP/1.0 200 OK\r\n\r\n{\"code\":200}", None),
        (b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"code\":200}", None),
        (b"HTTP/1.1 500 Oops\r\nContent-Length: 4\r\n\r\nnope", "answered /run with HTTP 500 and no valid envelope"),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", "is unreachable for /run"),
        (b"garbage\r\n\r\n", "is unreachable for /run"),
    ],
    ids=["chunked", "http-1.0-to-close", "interim-100", "not-an-envelope", "cut-body", "not-http"],
)
def test_answers_are_read_as_the_blocking_client_reads_them(answer: bytes, msg: str | None) -> None:
    with ScriptedPeer([raw(answer, close=True)]) as peer:
        got = one_call(peer.url())
    if msg is None:
        assert got.ok, got.msg
    else:
        assert not got.ok and msg in got.msg


def test_an_unusable_address_fails_the_call_without_sending_anything() -> None:
    answers = Answers()
    mux = sender(answers)
    try:
        mux.submit([Call("http://127.0.0.1:1/a b/", "run", b"{}", 1), Call("http://127.0.0.1:99999/", "run", b"{}", 2)])
        got = answers.wait(2)
    finally:
        mux.stop(5)
    assert "contains spaces" in got[1].msg and "no valid port" in got[2].msg


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_https_executors_are_called_over_verified_tls(certificate: tuple[Path, Path]) -> None:
    answers = Answers()
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    with ScriptedPeer([echo] * 5, ssl_context=server_context(certificate)) as peer:
        mux = sender(answers, per_address=1, ssl_context=trusting)
        try:
            mux.submit(Call(peer.url(scheme="https"), "run", b"%d" % n, n) for n in range(5))
            got = answers.wait(5)
        finally:
            mux.stop(5)
    assert [got[n].msg for n in range(5)] == ["0", "1", "2", "3", "4"]
    assert peer.connections == 1


def test_https_peers_are_verified_against_the_system_store_by_default(certificate: tuple[Path, Path]) -> None:
    with ScriptedPeer([echo], ssl_context=server_context(certificate)) as peer:
        answer = one_call(peer.url(scheme="https"))
    assert not answer.ok and "CERTIFICATE_VERIFY_FAILED" in answer.msg
    assert peer.requests == []


def test_stop_drops_calls_not_begun_and_refuses_new_ones() -> None:
    answers = Answers()
    gate = threading.Event()

    def slow(request):
        gate.wait(5)
        return echo(request)

    with ScriptedPeer([slow] + [echo] * 5) as peer:
        mux = sender(answers, per_address=1)
        mux.submit(Call(peer.url(), "run", b"%d" % n, n) for n in range(5))
        wait_until(lambda: len(peer.requests) == 1, timeout_s=5, what="the first call in flight")
        stopping = threading.Thread(target=mux.stop, args=(5,))
        stopping.start()
        wait_until(lambda: mux.stopping, timeout_s=5, what="stop to begin")
        gate.set()  # only now may the call in flight end: the four waiting must not begin
        stopping.join(10)
        assert not stopping.is_alive()
        with pytest.raises(RuntimeError):
            mux.submit([Call(peer.url(), "run", b"{}", 9)])
    assert list(answers.got) == [0]  # the call in flight finished; the four waiting were dropped


def test_a_sender_thread_that_died_is_reported_not_alive(monkeypatch) -> None:
    """The scheduler's health check reads this: a sender that stopped on a bug would otherwise
    leave every later send unsent while the fire loop went on claiming."""
    answers = Answers()
    mux = sender(answers)
    assert mux.alive

    def broken() -> None:
        raise RuntimeError("a bug in the sending thread")

    monkeypatch.setattr(mux, "_take_submitted", broken)
    mux.submit([Call("http://127.0.0.1:1/", "run", b"{}", 1)])
    wait_until(lambda: not mux.alive, timeout_s=5, what="the sending thread to end")
    mux.stop(1)


class Fence:
    """A guard that holds until told otherwise, and counts how often it was asked."""

    def __init__(self, holds: bool = True) -> None:
        self.holding = holds
        self.asked: list[int] = []

    def holds(self, at_ms: int) -> bool:
        self.asked.append(at_ms)
        return self.holding


def test_a_call_whose_guard_fails_is_dropped_before_a_byte_goes_out_and_the_connection_serves_the_next() -> None:
    answers = Answers()
    closed = Fence(holds=False)
    with ScriptedPeer([echo] * 3) as peer:
        mux = sender(answers, per_address=1)
        try:
            mux.submit([Call(peer.url(), "run", b"0", 0, Fence(), 1000)])
            answers.wait(1)
            mux.submit([Call(peer.url(), "run", b"%d" % n, n, closed, 2000 + n) for n in (1, 2)] + [Call(peer.url(), "run", b"3", 3, Fence(), 3000)])
            answers.wait(4)
        finally:
            mux.stop(5)
    assert answers.dropped == [1, 2] and closed.asked == [2001, 2002]
    assert [r.body for r in peer.requests] == [b"0", b"3"]  # the dropped calls never reached the peer
    assert peer.connections == 1 and answers.got[3].msg == "3"


def test_a_guarded_call_cut_after_its_request_went_out_is_reported_unsure_and_not_repeated() -> None:
    """The peer reads the request on a reused connection and hangs up without answering: it may
    have acted on it, so the call is neither retried nor reported as plainly failed."""
    answers = Answers()
    with ScriptedPeer([ok(b'{"code":200,"msg":"first"}'), raw(b"", close=True), ok()]) as peer:
        mux = sender(answers, per_address=1)
        try:
            mux.submit([Call(peer.url(), "run", b"{}", 1, Fence(), 0)])
            answers.wait(1)
            mux.submit([Call(peer.url(), "run", b"{}", 2, Fence(), 0)])
            got = answers.wait(2)
        finally:
            mux.stop(5)
    assert not got[2].ok and answers.unsure == {2}
    assert len(peer.requests) == 2 and peer.connections == 1


def test_a_guarded_call_that_times_out_after_sending_is_unsure_and_one_never_connected_is_not() -> None:
    answers = Answers()
    silent = socket.create_server(("127.0.0.1", 0))  # accepts (backlog), never answers
    try:
        mux = sender(answers, read_timeout_s=0.3)
        try:
            mux.submit([
                Call(f"http://127.0.0.1:{silent.getsockname()[1]}", "run", b"{}", "silent", Fence(), 0),
                Call(f"http://127.0.0.1:{free_port()}", "run", b"{}", "refused", Fence(), 0),
            ])
            got = answers.wait(2)
        finally:
            mux.stop(5)
    finally:
        silent.close()
    assert not got["silent"].ok and not got["refused"].ok
    assert answers.unsure == {"silent"}
