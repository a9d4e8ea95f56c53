"""One keep-alive HTTP/1.1 connection to one base address, for small JSON POSTs.

Both directions of the protocol use it: the executor's calls to its admins and the admin's
calls to executors, so it runs once per trigger, callback batch and heartbeat. It speaks just
the HTTP/1.1 client side those calls need, straight on a socket: the request goes out in one
`sendall`, the answer is read through one buffered reader (status line, headers, a body by
Content-Length, chunked or up to the close; 1xx interim answers skipped; HTTP/1.0 and
`Connection: close` answers end the connection). That costs about a quarter of the CPU per call
of `http.client`, whose header parsing goes through the e-mail package (docs/benchmarks.md,
Scheduler). It goes straight to the address (no proxy, no credentials from the environment, no
redirects followed) and verifies https peers against the system's CA store unless given its own
SSL context. Header names and values with control characters are refused before anything is
sent. Every call is bounded as a whole: the connect timeout to connect, and the read timeout for
sending the request and reading its whole answer (a peer dripping bytes does not extend it).
Errors are the standard ones: OSError (TimeoutError on a timeout, ConnectionError when the peer
hangs up) and `http.client.HTTPException` for a malformed answer.
A connection is used by one thread at a time.
"""

from __future__ import annotations

import functools
import http.client
import io
import re
import select
import socket
import ssl
from urllib.parse import urlsplit

from .clock import SYSTEM_CLOCK

#: Longest status or header line accepted, and most header lines, as `http.client` has them.
MAX_LINE = 65536
MAX_HEADERS = 100

_DEFAULT_PORTS = {"http": 80, "https": 443}
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")
_BAD_VALUE = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")
_BAD_TARGET = re.compile(r"[\x00-\x20\x7f]")
_CHUNK_SIZE = re.compile(rb"[0-9A-Fa-f]{1,16}")
_NO_BODY = frozenset((204, 304))


def header_value_problem(value: str) -> str | None:
    """Why `value` (a token, say) cannot travel as an HTTP header value; None if it can."""
    if _BAD_VALUE.search(value) or not value.isascii():
        return "must be printable ASCII without line breaks (it travels in an HTTP header)"
    return None


class KeepAliveConnection:
    def __init__(
        self,
        address: str,
        *,
        connect_timeout_s: float,
        read_timeout_s: float,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        parts = urlsplit(address)
        self.address = address
        self.base_path = parts.path.rstrip("/")
        self._scheme = parts.scheme
        self._host = parts.hostname or ""
        self._connect_timeout_s = connect_timeout_s
        self._read_timeout_s = read_timeout_s
        self._ssl_context = ssl_context
        self._sock: socket.socket | None = None
        self._raw: _DeadlineSocketIO | None = None
        self._reader: io.BufferedReader | None = None
        #: Whether the last call's whole request was written (so the peer may have acted on it).
        self.request_sent = False
        try:
            self._port = parts.port or _DEFAULT_PORTS.get(parts.scheme, 0)
        except ValueError:  # a port that is not a number or out of range
            self._port = 0
        netloc = parts.netloc.rpartition("@")[2]  # a Host header never carries credentials
        self._host_line = f"Host: {netloc}\r\n"
        self._problem = _address_problem(address, parts.scheme, self._host, self._port, self.base_path + netloc)

    @property
    def is_open(self) -> bool:
        return self._sock is not None

    def post(self, path: str, data: bytes, headers: dict[str, str], *, max_bytes: int, repeatable: bool = True) -> tuple[int, bytes]:
        """POST `data` to base path + `/` + `path`; returns the HTTP status and at most
        `max_bytes + 1` bytes of the body (more than `max_bytes` means it was cut).

        A keep-alive connection the peer closed while idle is retried once on a fresh one. With
        `repeatable` (the default: a second result or a repeated registration is refused or
        harmless on the other side) that includes a reset after the whole request was written;
        without it, only a failure while writing is retried, and `request_sent` tells the caller
        whether the peer may have received the request. Raises OSError /
        http.client.HTTPException (TimeoutError on a timeout).
        """
        request = self.request(path, data, headers)
        reused = self._sock is not None
        try:
            return self._exchange(request, max_bytes)
        except (ConnectionResetError, BrokenPipeError):  # http.client.RemoteDisconnected is a ConnectionResetError
            if not reused or (self.request_sent and not repeatable):
                raise
            return self._exchange(request, max_bytes)

    @property
    def endpoint(self) -> tuple[str, str, int]:
        """(scheme, host, port) of the address."""
        return self._scheme, self._host, self._port

    def request(self, path: str, data: bytes, headers: dict[str, str]) -> bytes:
        """The whole POST of `data` to base path + `/` + `path`, checked: raises
        http.client.InvalidURL for an unusable address or path, ValueError for a bad header."""
        return with_body(self.request_head(path, headers), data)

    def request_head(self, path: str, headers: dict[str, str]) -> bytes:
        """The POST's head without its Content-Length (`with_body` adds that and the body); the
        same for every call with this path and these headers, so a caller may keep it. Raises
        as `request` does."""
        if self._problem:
            raise http.client.InvalidURL(self._problem)
        target = f"{self.base_path}/{path.lstrip('/')}"
        if _BAD_TARGET.search(target) or not target.isascii():
            raise http.client.InvalidURL(f"request path {target!r} contains spaces, control or non-ASCII characters")
        return _request_head(target, self._host_line, headers)

    def connect_socket(self) -> socket.socket:
        """A connected TCP socket towards the address (every resolved address is tried in turn,
        as `socket.create_connection` does). TLS is the caller's: `tls_context`."""
        if self._problem:
            raise http.client.InvalidURL(self._problem)
        sock = socket.create_connection((self._host, self._port), timeout=self._connect_timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock

    @property
    def tls_context(self) -> ssl.SSLContext | None:
        """The context https peers are verified with (None for http)."""
        return (self._ssl_context or _system_context()) if self._scheme == "https" else None

    def close(self) -> None:
        sock, reader = self._sock, self._reader
        self._sock = self._reader = self._raw = None
        if reader is not None:
            reader.close()
        if sock is not None:
            sock.close()

    def _connect(self) -> None:
        sock = self.connect_socket()
        try:
            context = self.tls_context
            if context is not None:
                sock = context.wrap_socket(sock, server_hostname=self._host)
            sock.settimeout(self._read_timeout_s)
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._raw = _DeadlineSocketIO(sock)
        self._reader = io.BufferedReader(self._raw)

    def _exchange(self, request: bytes, max_bytes: int) -> tuple[int, bytes]:
        self.request_sent = False
        if self._sock is not None and _closed_by_peer(self._sock):
            self.close()  # the peer hung up while the connection was idle: a fresh one, not a retry
        try:
            if self._sock is None:
                self._connect()
            assert self._sock is not None and self._raw is not None
            self._raw.deadline = SYSTEM_CLOCK.monotonic() + self._read_timeout_s
            self._sock.settimeout(self._read_timeout_s)
            self._sock.sendall(request)
            self.request_sent = True
            status, body, keep = read_answer(self._reader, max_bytes)
        except BaseException:
            self.close()
            raise
        if not keep:
            self.close()
        return status, body


class _DeadlineSocketIO(io.RawIOBase):
    """A socket read up to a deadline for the whole answer, not a timeout per read."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self._sock = sock
        self.deadline = float("inf")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        left = self.deadline - SYSTEM_CLOCK.monotonic()
        if left <= 0:
            raise TimeoutError("timed out")
        self._sock.settimeout(left)
        return self._sock.recv_into(buffer)


def _closed_by_peer(sock: socket.socket) -> bool:
    """Whether an idle keep-alive connection has anything to read: its peer's close, or bytes
    nobody asked for. Either way it must not carry another request."""
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return True
    return bool(readable)


def read_answer(reader, max_bytes: int) -> tuple[int, bytes, bool]:
    """Reads one answer from `reader` (readline/read like a buffered socket file): (status, body,
    whether the connection can carry another call)."""
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise http.client.RemoteDisconnected("the peer closed the connection without an answer")
        version, status = _status_line(line)
        length, chunked, close = _headers(reader)
        if not 100 <= status < 200:
            break
        if status == 101:
            raise http.client.HTTPException("the peer switched protocols")
    keep = not close and (version == b"HTTP/1.1" or close is False)
    if status in _NO_BODY:
        return status, b"", keep
    if chunked:
        body, whole = _read_chunked(reader, max_bytes)
        return status, body, keep and whole
    if length is None:  # the body runs to the close
        return status, reader.read(max_bytes + 1), False
    body = reader.read(min(length, max_bytes + 1))
    if len(body) < min(length, max_bytes + 1):
        raise http.client.IncompleteRead(body, length - len(body))
    return status, body, keep and length <= max_bytes


@functools.lru_cache(maxsize=1)
def _system_context() -> ssl.SSLContext:
    """Verifies peers against the system's CA store; built once (loading the store takes
    milliseconds) and shared, as an SSLContext may be by many connections and threads."""
    return ssl.create_default_context()


def _address_problem(address: str, scheme: str, host: str, port: int, text: str) -> str:
    if scheme not in _DEFAULT_PORTS:
        return f"{address!r} is not an http:// or https:// address"
    if not host:
        return f"{address!r} names no host"
    if not port:
        return f"{address!r} has no valid port"
    if _BAD_TARGET.search(text) or not text.isascii():
        return f"{address!r} contains spaces, control or non-ASCII characters"
    return ""


def with_body(head: bytes, data: bytes) -> bytes:
    """A request from its `request_head` and its body."""
    return b"%sContent-Length: %d\r\n\r\n%s" % (head, len(data), data)


def _request_head(target: str, host_line: str, headers: dict[str, str]) -> bytes:
    lines = [f"POST {target} HTTP/1.1\r\n", host_line]
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name) or _BAD_VALUE.search(value):
            raise ValueError(f"invalid HTTP header {name!r}: {value!r}")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines).encode("latin-1")


def _status_line(line: bytes) -> tuple[bytes, int]:
    if len(line) > MAX_LINE:
        raise http.client.LineTooLong("status line")
    version, _, rest = line.partition(b" ")
    code = rest[:3]
    if not version.startswith(b"HTTP/1.") or len(code) != 3 or not (code.isascii() and code.isdigit()) or rest[3:4] not in (b"", b" ", b"\r", b"\n"):
        raise http.client.BadStatusLine(repr(line[:200]))
    return version, int(code)


def _headers(reader) -> tuple[int | None, bool, bool | None]:
    """Reads the header block; returns (Content-Length or None, chunked, close) where close is
    True for `Connection: close`, False for `Connection: keep-alive` and None when not said."""
    length: int | None = None
    chunked = framed_by_close = False
    close: bool | None = None
    for _ in range(MAX_HEADERS + 1):
        line = reader.readline(MAX_LINE + 1)
        if len(line) > MAX_LINE:
            raise http.client.LineTooLong("header line")
        if line in (b"\r\n", b"\n"):
            if chunked or framed_by_close:
                return None, chunked, True if framed_by_close else close
            return length, chunked, close
        if not line:
            raise http.client.RemoteDisconnected("the peer closed the connection inside the answer's headers")
        name, colon, value = line.partition(b":")
        if not colon or line[:1] in (b" ", b"\t"):
            continue  # an obsolete folded line or junk: nothing this client reads
        name = name.strip().lower()
        value = value.strip()
        if name == b"content-length":
            if not (value.isascii() and value.isdigit()) or (length is not None and int(value) != length):
                raise http.client.HTTPException(f"invalid Content-Length {value[:40]!r}")
            length = int(value)
        elif name == b"transfer-encoding":
            # Chunked when it is the last coding; any other coding runs to the close (RFC 9112 6.3).
            chunked = value.lower().rsplit(b",", 1)[-1].strip() == b"chunked"
            framed_by_close = not chunked
        elif name == b"connection":
            tokens = {token.strip() for token in value.lower().split(b",")}
            if b"close" in tokens:
                close = True
            elif b"keep-alive" in tokens and close is None:
                close = False
    raise http.client.HTTPException(f"got more than {MAX_HEADERS} headers")


def _read_chunked(reader, max_bytes: int) -> tuple[bytes, bool]:
    """The chunked body, cut at `max_bytes + 1`; the flag says whether it was read to its end
    (so the connection can carry another call)."""
    parts: list[bytes] = []
    size = 0
    while True:
        line = reader.readline(MAX_LINE + 1)
        if not line:
            raise http.client.IncompleteRead(b"".join(parts))
        digits = line.split(b";", 1)[0].strip()
        if not _CHUNK_SIZE.fullmatch(digits):
            raise http.client.HTTPException(f"invalid chunk size line {line[:40]!r}")
        chunk = int(digits, 16)
        if chunk == 0:
            break
        if size + chunk > max_bytes:
            parts.append(reader.read(max_bytes + 1 - size))
            return b"".join(parts), False
        data = reader.read(chunk)
        if len(data) < chunk or reader.read(2) not in (b"\r\n",):
            raise http.client.IncompleteRead(b"".join(parts) + data)
        parts.append(data)
        size += chunk
    for _ in range(MAX_HEADERS + 1):  # trailer fields, up to the blank line
        line = reader.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return b"".join(parts), True
        if not line:
            raise http.client.IncompleteRead(b"".join(parts))
    raise http.client.HTTPException(f"got more than {MAX_HEADERS} trailer lines")
