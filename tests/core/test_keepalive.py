"""The keep-alive HTTP/1.1 client both directions of the protocol use, against scripted peers."""

from __future__ import annotations

import http.client
import ssl
import time
from pathlib import Path

import pytest

from shardcron.core.keepalive import MAX_HEADERS, KeepAliveConnection, header_value_problem
from tests.support.net import free_port, wait_until
from tests.support.scripted_http import ScriptedPeer, ok
from tests.support.tls_certificate import make_certificate, server_context

HEADERS = {"Content-Type": "application/json", "XXL-JOB-ACCESS-TOKEN": "secret"}


def connect(url: str, **kwargs) -> KeepAliveConnection:
    return KeepAliveConnection(url, connect_timeout_s=5, read_timeout_s=kwargs.pop("read_timeout_s", 5), **kwargs)


def raw(text: bytes, close: bool = False):
    return lambda _: (text, close)


def test_request_carries_path_host_headers_and_body_and_the_connection_is_reused() -> None:
    with ScriptedPeer([ok(b'{"code":200,"n":1}'), ok(b'{"code":200,"n":2}')]) as peer:
        conn = connect(peer.url("/xxl-job-admin/"))
        assert conn.post("api/callback", b'[{"logId":1}]', HEADERS, max_bytes=1000) == (200, b'{"code":200,"n":1}')
        assert conn.is_open
        assert conn.post("/api/registry", b"{}", HEADERS, max_bytes=1000) == (200, b'{"code":200,"n":2}')
        conn.close()
    first, second = peer.requests
    assert first.line == "POST /xxl-job-admin/api/callback HTTP/1.1"
    assert second.line == "POST /xxl-job-admin/api/registry HTTP/1.1"
    assert first.headers["host"] == f"127.0.0.1:{peer.port}"
    assert first.headers["content-type"] == "application/json"
    assert first.headers["xxl-job-access-token"] == "secret"
    assert first.headers["content-length"] == str(len(b'[{"logId":1}]'))
    assert first.body == b'[{"logId":1}]' and second.body == b"{}"
    assert (first.connection, second.connection) == (0, 0) and peer.connections == 1


def test_chunked_answer_with_extensions_and_trailers_keeps_the_connection() -> None:
    chunked = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nX-Trailer: t\r\n\r\n"
    with ScriptedPeer([raw(chunked), ok(b"next")]) as peer:
        conn = connect(peer.url())
        assert conn.post("run", b"{}", HEADERS, max_bytes=1000) == (200, b"hello world")
        assert conn.post("run", b"{}", HEADERS, max_bytes=1000) == (200, b"next")
    assert peer.connections == 1


@pytest.mark.parametrize(
    ("answer", "stays_open"),
    [
        (b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", True),
        (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.1 200 OK\r\nConnection: Keep-Alive, Close\r\nContent-Length: 2\r\n\r\nok", False),
        (b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nok", True),
    ],
)
def test_http_1_0_and_connection_close_end_the_connection(answer: bytes, stays_open: bool) -> None:
    with ScriptedPeer([raw(answer)]) as peer:
        conn = connect(peer.url())
        assert conn.post("beat", b"", HEADERS, max_bytes=100) == (200, b"ok")
        assert conn.is_open is stays_open
        conn.close()


def test_body_without_length_runs_to_the_close() -> None:
    with ScriptedPeer([raw(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\nall of it", close=True)]) as peer:
        conn = connect(peer.url())
        assert conn.post("beat", b"", HEADERS, max_bytes=100) == (200, b"all of it")
        assert not conn.is_open


def test_a_transfer_coding_other_than_chunked_runs_to_the_close() -> None:
    with ScriptedPeer([raw(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: identity\r\nContent-Length: 1\r\n\r\nabc", close=True)]) as peer:
        conn = connect(peer.url())
        assert conn.post("beat", b"", HEADERS, max_bytes=100) == (200, b"abc")
        assert not conn.is_open


def test_interim_100_answers_are_skipped_and_204_has_no_body() -> None:
    continued = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 102 Processing\r\nX: y\r\n\r\nHTTP/1.1 500 Server Error\r\nContent-Length: 4\r\n\r\nfail"
    with ScriptedPeer([raw(continued), raw(b"HTTP/1.1 204 No Content\r\n\r\n"), ok(b"after")]) as peer:
        conn = connect(peer.url())
        assert conn.post("run", b"{}", HEADERS, max_bytes=100) == (500, b"fail")
        assert conn.post("run", b"{}", HEADERS, max_bytes=100) == (204, b"")
        assert conn.post("run", b"{}", HEADERS, max_bytes=100) == (200, b"after")
    assert peer.connections == 1


@pytest.mark.parametrize(
    "answer",
    [
        b"HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\nhello world",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n",
        b"HTTP/1.1 200 OK\r\n\r\nhello world",
    ],
    ids=["content-length", "chunked", "to-the-close"],
)
def test_a_body_over_the_limit_is_cut_at_one_byte_more_and_the_connection_dropped(answer: bytes) -> None:
    with ScriptedPeer([raw(answer)]) as peer:
        conn = connect(peer.url())
        assert conn.post("log", b"{}", HEADERS, max_bytes=7) == (200, b"hello wo")
        assert not conn.is_open


def test_an_idle_connection_the_peer_closed_is_retried_once_on_a_fresh_one() -> None:
    with ScriptedPeer([lambda _: (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", True), ok(b"b")]) as peer:
        conn = connect(peer.url())
        assert conn.post("run", b"1", HEADERS, max_bytes=10) == (200, b"a")
        assert conn.is_open  # the answer did not say it would close
        wait_until(lambda: peer.closed == 1, timeout_s=10, what="the peer to close the idle connection")
        assert conn.post("run", b"2", HEADERS, max_bytes=10) == (200, b"b")
    assert [(r.connection, r.body) for r in peer.requests] == [(0, b"1"), (1, b"2")]


def test_a_call_that_must_not_repeat_is_not_retried_once_its_request_went_out() -> None:
    """A /run: the peer read the whole request on the reused connection and hung up without an
    answer. It may have acted on it, so the call raises and says its request was sent."""
    with ScriptedPeer([ok(b"a"), raw(b"", close=True), ok(b"c")]) as peer:
        conn = connect(peer.url())
        assert conn.post("run", b"1", HEADERS, max_bytes=10) == (200, b"a")
        with pytest.raises(ConnectionError):
            conn.post("run", b"2", HEADERS, max_bytes=10, repeatable=False)
        assert conn.request_sent and not conn.is_open
    assert [r.body for r in peer.requests] == [b"1", b"2"]


def test_an_idle_connection_the_peer_closed_is_replaced_before_a_request_that_must_not_repeat() -> None:
    """The peer closed the idle connection before the next call: a fresh connection carries it."""
    with ScriptedPeer([lambda _: (b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\na", True), ok(b"b")]) as peer:
        conn = connect(peer.url())
        assert conn.post("run", b"1", HEADERS, max_bytes=10) == (200, b"a")
        wait_until(lambda: peer.closed == 1, timeout_s=10, what="the peer to close the idle connection")
        assert conn.post("run", b"2", HEADERS, max_bytes=10, repeatable=False) == (200, b"b")
    assert [(r.connection, r.body) for r in peer.requests] == [(0, b"1"), (1, b"2")]


def test_a_fresh_connection_closed_without_an_answer_is_not_retried() -> None:
    with ScriptedPeer([raw(b"", close=True), ok()]) as peer:
        conn = connect(peer.url())
        with pytest.raises(http.client.RemoteDisconnected):
            conn.post("run", b"{}", HEADERS, max_bytes=10)
        assert not conn.is_open
    assert len(peer.requests) == 1


@pytest.mark.parametrize(
    ("answer", "error"),
    [
        (b"SSH-2.0-OpenSSH\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 2000 OK\r\n\r\n", http.client.BadStatusLine),
        (b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nabc", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", http.client.IncompleteRead),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n-5\r\nhello\r\n0\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhel", http.client.IncompleteRead),
        (b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n", http.client.IncompleteRead),
        (b"HTTP/1.1 200 OK\r\nContent-", http.client.RemoteDisconnected),
        (b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\n" + b"X-Many: 1\r\n" * (MAX_HEADERS + 1) + b"\r\n", http.client.HTTPException),
        (b"HTTP/1.1 200 OK\r\nX-Long: " + b"a" * 70_000 + b"\r\n\r\n", http.client.LineTooLong),
    ],
    ids=["not-http", "bad-code", "negative-length", "conflicting-lengths", "short-body", "bad-chunk-size",
         "negative-chunk", "cut-chunk", "chunk-without-crlf", "cut-headers", "upgrade", "too-many-headers", "long-line"],
)
def test_malformed_answers_raise_and_drop_the_connection(answer: bytes, error: type[Exception]) -> None:
    with ScriptedPeer([raw(answer, close=True)]) as peer:
        conn = connect(peer.url())
        with pytest.raises(error):
            conn.post("run", b"{}", HEADERS, max_bytes=100)
        assert not conn.is_open


@pytest.mark.parametrize(
    "headers",
    [{"X-Token": "a\r\nX-Injected: 1"}, {"X-Token": "a\nb"}, {"Bad Name": "v"}, {"X-Token:": "v"}, {"": "v"}],
)
def test_headers_with_control_characters_are_refused_before_anything_is_sent(headers: dict[str, str]) -> None:
    with ScriptedPeer([ok()]) as peer:
        conn = connect(peer.url())
        with pytest.raises(ValueError):
            conn.post("run", b"{}", headers, max_bytes=100)
        assert not conn.is_open
    assert peer.connections == 0


@pytest.mark.parametrize(
    "address",
    ["ftp://127.0.0.1:21/", "http:///no-host", "http://127.0.0.1:99999/", "http://127.0.0.1:80/a b/", "http://127.0.0.1:x/", "http://bücher.example/"],
)
def test_addresses_that_cannot_be_called_are_an_http_error_at_the_call(address: str) -> None:
    conn = connect(address)
    with pytest.raises(http.client.InvalidURL):
        conn.post("run", b"{}", HEADERS, max_bytes=100)


def test_a_path_with_a_space_is_refused() -> None:
    conn = connect("http://127.0.0.1:1/")
    with pytest.raises(http.client.InvalidURL):
        conn.post("run now", b"{}", HEADERS, max_bytes=100)


def test_a_peer_that_never_answers_times_out_within_the_read_timeout() -> None:
    with ScriptedPeer([raw(b"")]) as peer:
        conn = connect(peer.url(), read_timeout_s=0.3)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            conn.post("run", b"{}", HEADERS, max_bytes=100)
        assert time.monotonic() - started < 5
        assert not conn.is_open


def test_a_peer_dripping_its_answer_is_cut_at_one_read_timeout_for_the_whole_answer() -> None:
    """One byte every 100 ms would keep a timeout per read waiting for ever; the bound is the
    whole answer's."""
    import socket
    import threading

    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def drip() -> None:
        sock, _ = listener.accept()
        with sock:
            sock.recv(65536)
            for byte in b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\n{\"code\":200}":
                sock.sendall(bytes([byte]))
                if stop.wait(0.1):
                    return

    dripper = threading.Thread(target=drip, daemon=True)
    dripper.start()
    try:
        conn = connect(f"http://127.0.0.1:{listener.getsockname()[1]}", read_timeout_s=0.8)
        started = time.monotonic()
        with pytest.raises(TimeoutError):
            conn.post("run", b"{}", HEADERS, max_bytes=100)
        took_s = time.monotonic() - started
    finally:
        stop.set()
        listener.close()
        dripper.join(5)
    assert 0.8 <= took_s < 1.8  # a bound per read would wait out the whole 4.7 s drip
    assert not conn.is_open


def test_a_dead_address_is_a_connection_error() -> None:
    conn = connect(f"http://127.0.0.1:{free_port()}/")
    with pytest.raises(ConnectionRefusedError):
        conn.post("run", b"{}", HEADERS, max_bytes=100)
    assert not conn.is_open


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return make_certificate(tmp_path_factory.mktemp("tls"))


def test_https_with_a_trusted_certificate_keeps_the_connection(certificate: tuple[Path, Path]) -> None:
    trusting = ssl.create_default_context(cafile=str(certificate[0]))
    with ScriptedPeer([ok(b"one"), ok(b"two")], ssl_context=server_context(certificate)) as peer:
        conn = connect(peer.url(scheme="https"), ssl_context=trusting)
        assert conn.post("run", b"{}", HEADERS, max_bytes=100) == (200, b"one")
        assert conn.post("run", b"{}", HEADERS, max_bytes=100) == (200, b"two")
        conn.close()
    assert peer.connections == 1 and [r.body for r in peer.requests] == [b"{}", b"{}"]


def test_https_verifies_the_peer_against_the_system_store_by_default(certificate: tuple[Path, Path]) -> None:
    with ScriptedPeer([ok()], ssl_context=server_context(certificate)) as peer:
        conn = connect(peer.url(scheme="https"))
        with pytest.raises(ssl.SSLCertVerificationError):
            conn.post("run", b"{}", HEADERS, max_bytes=100)
        assert not conn.is_open
    assert peer.requests == []


def test_many_calls_on_one_connection_each_get_their_own_answer() -> None:
    """No answer is left in the buffer for the next call, and none is read twice."""
    count = 50
    answers = [(lambda n: (lambda _r: (f"HTTP/1.1 200 OK\r\nContent-Length: {len(str(n))}\r\n\r\n{n}".encode(), False)))(n) for n in range(count)]  # noqa: B023 (n is the factory's own argument)
    with ScriptedPeer(answers) as peer:
        conn = connect(peer.url())
        got = [conn.post("run", str(n).encode(), HEADERS, max_bytes=10)[1] for n in range(count)]
        conn.close()
    assert got == [str(n).encode() for n in range(count)]
    assert [r.body for r in peer.requests] == got and peer.connections == 1


@pytest.mark.parametrize(
    ("value", "fine"),
    [("plain-token_123~!", True), ("with space\tand tab", True), ("a\r\nX-Injected: 1", False), ("nul\x00", False), ("jetón", False), ("del\x7f", False)],
)
def test_which_values_can_travel_in_a_header(value: str, fine: bool) -> None:
    assert (header_value_problem(value) is None) is fine
