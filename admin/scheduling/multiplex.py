"""Every `/run` call in flight from one thread: non-blocking keep-alive connections under a selector.

The dispatcher hands due sends here (`submit`); one thread writes each request and reads each
answer as its socket becomes ready, instead of one blocked thread per call. A thread per call
cost a scheduler process about three times the CPU of the call itself (thread wake-ups and
interpreter-lock hand-overs on every blocking read; docs/benchmarks.md, Scheduler), and that CPU
is taken from preparing the next fires.

The HTTP is `shardcron.executor.keepalive`'s: the same request builder and address checks, and
the same answer reader, fed from the bytes received so far (`_Received`). Bounds as the worker
pools had them: at most `per_address` calls in flight to one executor (its further calls wait in
its own FIFO queue, not in front of other executors' calls) and `total` in all; an executor that
has been kept waiting for the total bound goes before one that just had its call answered. Every
call is bounded like `ExecutorClient`'s: the connect timeout until connected, then the read
timeout without progress. A keep-alive connection the peer closed while idle is retried once on a
fresh one. Answers and failures are worded as `ExecutorClient` words them.

Hosts given by name go to the caller's blocking path instead (`handles`): resolving a name blocks,
and one slow lookup here would hold up every other call.
"""

from __future__ import annotations

import functools
import http.client
import ipaddress
import logging
import os
import queue
import selectors
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterable
from typing import Protocol

from shardcron.executor.clock import SYSTEM_CLOCK
from shardcron.executor.keepalive import KeepAliveConnection, read_answer, with_body
from shardcron.executor.protocol import Envelope

from .executor_client import MAX_ANSWER_BYTES, ExecutorClient, answer_envelope

log = logging.getLogger("shardcron.admin.scheduling")

#: How often calls are checked against their deadlines (timeouts are seconds long). Deadlines are
#: real time (SYSTEM_CLOCK.monotonic): they bound real network waits, whatever clock schedules.
SWEEP_S = 0.05
RECV_BYTES = 65536

_CONNECTING, _HANDSHAKE, _SENDING, _READING, _IDLE = range(5)
_RETRYABLE = (ConnectionResetError, BrokenPipeError)  # http.client.RemoteDisconnected is a ConnectionResetError


class _NeedMore(Exception):
    """The answer is not complete yet."""


class _Received:
    """The bytes received so far, read like a socket file by `read_answer`: running out of them
    raises _NeedMore until the peer has closed (`eof`), then reads come back short as on a socket."""

    __slots__ = ("data", "pos", "eof")

    def __init__(self, data: bytearray, eof: bool) -> None:
        self.data = data
        self.pos = 0
        self.eof = eof

    def readline(self, limit: int) -> bytes:
        end = self.data.find(b"\n", self.pos, self.pos + limit)
        if end >= 0:
            stop = end + 1
        elif len(self.data) - self.pos >= limit or self.eof:
            stop = self.pos + limit
        else:
            raise _NeedMore
        line = bytes(self.data[self.pos : stop])
        self.pos += len(line)
        return line

    def read(self, size: int) -> bytes:
        if len(self.data) - self.pos < size and not self.eof:
            raise _NeedMore
        chunk = bytes(self.data[self.pos : self.pos + size])
        self.pos += len(chunk)
        return chunk


class Guard(Protocol):
    def holds(self, at_ms: int) -> bool: ...


class Call:
    """One call. `guard`: checked right before the first byte of the request is written; a call
    whose guard no longer holds is dropped unsent (`on_dropped`), and a guarded call is never
    repeated once its whole request was written (a failure then is reported as unsure)."""

    __slots__ = ("address", "path", "body", "token", "retried", "guard", "guard_at_ms")

    def __init__(self, address: str, path: str, body: bytes, token: object, guard: Guard | None = None, guard_at_ms: int = 0) -> None:
        self.address = address
        self.path = path
        self.body = body
        self.token = token
        self.retried = False
        self.guard = guard
        self.guard_at_ms = guard_at_ms


class _Conn:
    __slots__ = ("address", "sock", "state", "out", "received", "call", "deadline", "reused", "writing")

    def __init__(self, address: str, sock: socket.socket) -> None:
        self.address = address
        self.sock = sock
        self.state = _CONNECTING
        self.out = memoryview(b"")
        self.received = bytearray()
        self.call: Call | None = None
        self.deadline = 0.0
        self.reused = False
        self.writing = False  # some of the call's request has gone out


@functools.lru_cache(maxsize=4096)
def handles(address: str) -> bool:
    """Whether `address` names its host by IP address (or localhost): those calls go here."""
    host = KeepAliveConnection(address, connect_timeout_s=1, read_timeout_s=1).endpoint[1]
    if host == "localhost":
        return True
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


class Multiplexer:
    def __init__(
        self,
        client: ExecutorClient,
        on_answer: Callable[[object, Envelope, bool], None],
        *,
        per_address: int,
        total: int,
        ssl_context: ssl.SSLContext | None = None,
        on_dropped: Callable[[object], None] | None = None,
    ) -> None:
        """`on_answer(token, envelope, unsure)`: `unsure` when the whole request went out but no
        complete answer came back (the peer may have acted on it). `on_dropped(token)`: a call
        whose guard failed, never sent. `ssl_context`: what https executors are verified with
        (default: the system's CA store)."""
        self.client = client
        self._ssl_context = ssl_context
        self.on_answer = on_answer
        self.on_dropped = on_dropped
        self.per_address = per_address
        self.total = max(total, per_address)
        self._headers = client.headers
        self._selector = selectors.DefaultSelector()
        self._inbox: queue.SimpleQueue[Call] = queue.SimpleQueue()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._wake_w.setblocking(False)
        self._woken = False
        self._selector.register(self._wake_r, selectors.EVENT_READ, None)
        self._endpoints: dict[str, KeepAliveConnection] = {}
        self._heads: dict[tuple[str, str], bytes] = {}  # (address, path) -> request head (checked)
        self._waiting: dict[str, deque[Call]] = {}
        self._idle: dict[str, list[_Conn]] = {}
        self._busy: dict[str, int] = {}  # address -> calls in flight
        self._in_flight: set[_Conn] = set()
        self._held_back: deque[str] = deque()  # addresses with calls waiting for the total bound
        self._dropped: deque[_Conn] = deque()  # connections whose call's guard failed, to release
        self._stopping = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ any thread

    def start(self) -> None:
        self._thread = threading.Thread(target=self._run, name="shardcron-send", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the sending thread runs (it only ends on stop, or on a bug it logged)."""
        return self._thread is not None and self._thread.is_alive()

    def submit(self, calls: Iterable[Call]) -> None:
        if self._stopping or not self.alive:
            raise RuntimeError("the /run sender is not running")
        for call in calls:
            self._inbox.put(call)
        if not self._woken:
            self._woken = True
            try:
                self._wake_w.send(b"\0")
            except BlockingIOError:  # the wake-up pipe is full: the thread is awake anyway
                pass

    def stop(self, timeout_s: float) -> None:
        """Calls not yet begun are dropped; calls in flight get up to `timeout_s` to finish."""
        if self._thread is None:
            return
        self._stopping = True
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (the thread is awake anyway), or closed (the thread has ended)
            pass
        self._thread.join(timeout_s)
        self._thread = None

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        next_sweep = SYSTEM_CLOCK.monotonic() + SWEEP_S
        try:
            while not (self._stopping and not self._in_flight):
                now = SYSTEM_CLOCK.monotonic()
                if now >= next_sweep:
                    self._sweep(now)
                    self._release_dropped()
                    next_sweep = now + SWEEP_S
                for key, _ in self._selector.select(max(0.0, next_sweep - now) if self._in_flight else 0.5):
                    conn = key.data
                    if conn is None:
                        self._take_submitted()
                    else:
                        self._advance(conn)
                    if self._dropped:
                        self._release_dropped()
        except Exception:  # never expected; the sends in flight stay PENDING and are re-sent
            log.exception("the /run sender stopped")
        finally:
            for conn in list(self._in_flight) + [c for idle in self._idle.values() for c in idle]:
                self._close(conn)
            self._selector.close()
            self._wake_r.close()
            self._wake_w.close()

    def _take_submitted(self) -> None:
        try:
            while self._wake_r.recv(4096):
                pass
        except BlockingIOError:
            pass
        self._woken = False  # after draining: a submit from now on writes a fresh wake-up
        if self._stopping:
            return
        while True:
            try:
                call = self._inbox.get_nowait()
            except queue.Empty:
                return
            waiting = self._waiting.get(call.address)
            if waiting:
                waiting.append(call)
            elif not self._begin(call):
                self._waiting[call.address] = deque([call])

    def _begin(self, call: Call, conn: _Conn | None = None) -> bool:
        """Start `call` (on `conn`, an open connection to its address, if given); False when a
        bound says it must wait."""
        address = call.address
        if conn is None:
            if self._busy.get(address, 0) >= self.per_address:
                return False
            if len(self._in_flight) >= self.total:
                if address not in self._held_back:
                    self._held_back.append(address)
                return False
            idle = self._idle.get(address)
            conn = idle.pop() if idle else None
        try:
            head = self._heads.get((address, call.path))
            if head is None:
                head = self._heads[address, call.path] = self._endpoint(address).request_head(call.path, self._headers)
            request = with_body(head, call.body)
            if conn is None:
                conn = _Conn(address, self._endpoint(address).connect_socket(blocking=False))
                self._selector.register(conn.sock, selectors.EVENT_WRITE, conn)
                conn.deadline = SYSTEM_CLOCK.monotonic() + self.client.connect_timeout_s
            else:
                conn.reused = True
                conn.state = _SENDING
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if conn is not None:
                self._close(conn)
            self._answer(call, self.client.transport_failure(address, call.path, exc))
            return True
        conn.call = call
        conn.out = memoryview(request)
        conn.received = bytearray()
        conn.writing = False
        self._busy[address] = self._busy.get(address, 0) + 1
        self._in_flight.add(conn)
        if conn.state == _SENDING:
            conn.deadline = SYSTEM_CLOCK.monotonic() + self.client.read_timeout_s
            self._advance(conn)
        return True

    def _advance(self, conn: _Conn) -> None:
        try:
            if conn.state == _IDLE:
                # An idle connection became readable: the peer closed it (or sent junk).
                self._idle[conn.address].remove(conn)
                self._close(conn)
                return
            if conn.state == _CONNECTING:
                error = conn.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    raise OSError(error, os.strerror(error))
                endpoint = self._endpoint(conn.address)
                context = endpoint.tls_context
                if context is not None:
                    self._selector.unregister(conn.sock)
                    conn.sock = context.wrap_socket(conn.sock, server_hostname=endpoint.endpoint[1], do_handshake_on_connect=False)
                    self._selector.register(conn.sock, selectors.EVENT_WRITE, conn)
                    conn.state = _HANDSHAKE
                else:
                    conn.state = _SENDING
                conn.deadline = SYSTEM_CLOCK.monotonic() + self.client.read_timeout_s
            if conn.state == _HANDSHAKE:
                conn.sock.do_handshake()
                conn.state = _SENDING
            if conn.state == _SENDING:
                if not conn.writing:
                    call = conn.call
                    if call is not None and call.guard is not None and not call.guard.holds(call.guard_at_ms):
                        self._drop(conn)
                        return
                    conn.writing = True
                while conn.out:
                    conn.out = conn.out[conn.sock.send(conn.out) :]
                conn.state = _READING
                self._watch(conn, selectors.EVENT_READ)
                return  # the answer is read once the socket says it is there
            if conn.state == _READING:
                self._read(conn)
        except (BlockingIOError, ssl.SSLWantWriteError):
            self._watch(conn, selectors.EVENT_WRITE)
        except ssl.SSLWantReadError:
            self._watch(conn, selectors.EVENT_READ)
        except (OSError, http.client.HTTPException) as exc:
            self._failed(conn, exc)

    def _read(self, conn: _Conn) -> None:
        while True:
            data = conn.sock.recv(RECV_BYTES)
            if data:
                conn.received += data
                conn.deadline = SYSTEM_CLOCK.monotonic() + self.client.read_timeout_s
            if not (data and isinstance(conn.sock, ssl.SSLSocket) and conn.sock.pending()):
                break
        reader = _Received(conn.received, eof=not data)
        try:
            status, body, keep = read_answer(reader, MAX_ANSWER_BYTES)
        except _NeedMore:
            return
        call = conn.call
        assert call is not None
        self._release(conn, keep=keep and reader.pos == len(conn.received))
        self._answer(call, answer_envelope(call.address, call.path, status, body))

    def _failed(self, conn: _Conn, exc: BaseException) -> None:
        call = conn.call
        if call is None:
            self._close(conn)
            return
        nothing_back = not conn.received
        # The whole request went out (or an answer had begun): the peer may have acted on it.
        unsure = conn.state == _READING or not nothing_back
        self._release(conn, keep=False)
        if conn.reused and nothing_back and isinstance(exc, _RETRYABLE) and not call.retried and not (unsure and call.guard is not None):
            call.retried = True  # the peer closed the idle connection: once more on a fresh one
            if self._begin(call):
                return
            self._waiting.setdefault(call.address, deque()).appendleft(call)
            return
        self._answer(call, self.client.transport_failure(call.address, call.path, exc), unsure=unsure and call.guard is not None)

    def _drop(self, conn: _Conn) -> None:
        """The call on `conn` may no longer be sent. Nothing of it went out, so the connection
        stays usable; it is released once the current event is handled (`_release_dropped`):
        releasing starts the next call, whose guard may fail too, and a chain of those must
        not recurse."""
        self._dropped.append(conn)

    def _release_dropped(self) -> None:
        while self._dropped:
            conn = self._dropped.popleft()
            call = conn.call
            assert call is not None
            self._release(conn, keep=conn.state == _SENDING)
            if self.on_dropped is not None:
                try:
                    self.on_dropped(call.token)
                except Exception:
                    log.exception("handling a dropped /%s to %s failed", call.path, call.address)

    def _sweep(self, now: float) -> None:
        for conn in [c for c in self._in_flight if c.deadline <= now]:
            self._failed(conn, TimeoutError("timed out"))

    def _release(self, conn: _Conn, *, keep: bool) -> None:
        """The call on `conn` is over: the connection takes the address's next call, or goes idle
        (or is closed), and a freed slot goes to an executor held back by the total bound."""
        address = conn.address
        conn.call = None
        self._in_flight.discard(conn)
        self._busy[address] -= 1
        if not self._busy[address]:
            del self._busy[address]
        if not keep:
            self._close(conn)
        waiting = self._waiting.get(address)
        if self._held_back and self._held_back[0] != address:
            if waiting and address not in self._held_back:
                self._held_back.append(address)
            if keep:
                self._park(conn)
            self._serve(self._held_back.popleft())
            return
        if waiting and not self._stopping:
            call = waiting.popleft()
            if not waiting:
                del self._waiting[address]
            if address in self._held_back:
                self._held_back.remove(address)
            if keep:
                self._begin(call, conn)
            elif not self._begin(call):
                self._waiting.setdefault(address, deque()).appendleft(call)
            return
        if keep:
            self._park(conn)

    def _serve(self, address: str) -> None:
        waiting = self._waiting.get(address)
        while waiting and not self._stopping:
            if not self._begin(waiting[0]):
                return
            waiting.popleft()
        self._waiting.pop(address, None)

    def _park(self, conn: _Conn) -> None:
        conn.state = _IDLE
        conn.out = memoryview(b"")
        conn.received = bytearray()
        self._idle.setdefault(conn.address, []).append(conn)
        self._watch(conn, selectors.EVENT_READ)  # a close by the peer shows as readable

    def _watch(self, conn: _Conn, events: int) -> None:
        key = self._selector.get_map().get(conn.sock)
        if key is None:
            self._selector.register(conn.sock, events, conn)
        elif key.events != events or key.data is not conn:
            self._selector.modify(conn.sock, events, conn)

    def _close(self, conn: _Conn) -> None:
        try:
            self._selector.unregister(conn.sock)
        except (KeyError, ValueError):
            pass
        conn.sock.close()

    def _endpoint(self, address: str) -> KeepAliveConnection:
        endpoint = self._endpoints.get(address)
        if endpoint is None:
            endpoint = self._endpoints[address] = KeepAliveConnection(
                address, connect_timeout_s=self.client.connect_timeout_s, read_timeout_s=self.client.read_timeout_s, ssl_context=self._ssl_context
            )
        return endpoint

    def _answer(self, call: Call, envelope: Envelope, *, unsure: bool = False) -> None:
        try:
            self.on_answer(call.token, envelope, unsure)
        except Exception:
            log.exception("handling the answer of /%s to %s failed", call.path, call.address)
