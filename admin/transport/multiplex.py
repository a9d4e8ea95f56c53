"""Every executor call of the scheduler, from one thread: non-blocking keep-alive connections.

The one way the scheduler calls an executor: `/run` (the dispatcher's sends), the FAILOVER and
BUSYOVER probes (`/beat`, `/idleBeat`) and the `/log` question that settles a run whose outcome is
unknown. The dispatcher hands sends here (`submit`, answered through `on_answer`); code that
must wait for one answer (a probe, a settlement; executor_calls.py) uses `call`. One thread
writes each request and reads each answer as its socket becomes ready, instead of one blocked
thread per call (a thread per call cost a scheduler about three times the CPU of the call
itself, and that CPU is taken from preparing the next fires; docs/benchmarks.md, Scheduler).

Every call ends in a typed outcome (outcome.py): delivered, refused (the executor's code and
message) or not delivered (a reason, and whether the whole request had gone out).

- **Names** are looked up off this thread (resolver.py): a call to a name not known yet waits
  for its lookup without holding up anybody else's; IP literals need no lookup.
- **Every address** of the host is tried in the resolver's order (IPv6 and IPv4) until one
  accepts the connection, each for at most the connect timeout, all within the call's deadline.
- **One deadline per call**: connect timeout + read timeout from the moment the call begins,
  for connecting, sending and the whole answer; a peer that drips its answer byte by byte does
  not push it back. Deadlines are checked every `SWEEP_S`.
- **Never spins**: a socket is watched for exactly what its state waits for (writable while
  connecting or sending, readable while reading); a read that would block goes on watching for
  reads.

The HTTP is `shardcron.core.keepalive`'s: the same request builder and address checks, and
the same answer reader, fed from the bytes received so far (framing.py). A call is calls.py's
`Call`; the state of one connection is connection.py's `Connection`. Bounds: at most
`per_address` calls in flight to one executor (its further calls wait in its own FIFO queue,
not in front of other executors' calls) and `total` in all; an executor that has been kept
waiting for the total bound goes before one that just had its call answered. A keep-alive
connection the peer closed while idle is retried once on a fresh one (a `/run` only if its
request had not gone out whole).

With `inline=True` no thread is started: `drive_until_idle` and `call` run the same loop in the
caller's thread (tests and the inline dispatcher drive it so).
"""

from __future__ import annotations

import http.client
import logging
import os
import queue
import selectors
import socket
import ssl
import threading
from collections import deque
from collections.abc import Callable, Iterable

from shardcron.core.clock import SYSTEM_CLOCK
from shardcron.core.keepalive import KeepAliveConnection, with_body

from .calls import Call, Waiter
from .connection import CONNECTING, HANDSHAKE, IDLE, READING, SENDING, Connection
from .executor_client import ExecutorClient
from .framing import complete_answer, receive
from .outcome import NotDelivered, Outcome, Undelivered, classify, not_delivered, read_outcome, reason_text, timed_out
from .resolver import Resolver

log = logging.getLogger("shardcron.admin.scheduling")

#: How often calls are checked against their deadlines (timeouts are seconds long). Deadlines are
#: real time (SYSTEM_CLOCK.monotonic): they bound real network waits, whatever clock schedules.
SWEEP_S = 0.05

_RETRYABLE = (ConnectionResetError, BrokenPipeError)  # http.client.RemoteDisconnected is a ConnectionResetError


class Multiplexer:
    def __init__(
        self,
        client: ExecutorClient,
        on_answer: Callable[[object, Outcome], None],
        *,
        per_address: int,
        total: int,
        ssl_context: ssl.SSLContext | None = None,
        on_dropped: Callable[[object], None] | None = None,
        resolver: Resolver | None = None,
        inline: bool = False,
    ) -> None:
        """`on_answer(token, outcome)`: every submitted call's outcome. `on_dropped(token)`: a
        call whose guard failed, never sent. `client`: the timeouts and headers of every call.
        `ssl_context`: what https executors are verified with (default: the system's CA
        store)."""
        self.client = client
        self._ssl_context = ssl_context
        self.on_answer = on_answer
        self.on_dropped = on_dropped
        self.per_address = per_address
        self.total = max(total, per_address)
        self.inline = inline
        self.loops = 0  # iterations of the sending loop (tests check that a stalled peer costs none)
        self._connect_s = client.connect_timeout_s
        self._call_s = client.connect_timeout_s + client.read_timeout_s
        self._headers = client.headers
        self._resolver = resolver or Resolver()
        self._resolver.on_resolved = self._on_resolved
        self._resolved: queue.SimpleQueue[tuple[str, int]] = queue.SimpleQueue()
        self._unresolved: dict[tuple[str, int], list[Call]] = {}
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
        self._idle: dict[str, list[Connection]] = {}
        self._busy: dict[str, int] = {}  # address -> calls in flight
        self._in_flight: set[Connection] = set()
        self._held_back: deque[str] = deque()  # addresses with calls waiting for the total bound
        self._dropped: deque[Connection] = deque()  # connections whose call's guard failed, to release
        self._next_sweep = 0.0
        self._stopping = False
        self._closed = False
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ any thread

    def start(self) -> None:
        if self.inline:
            raise RuntimeError("an inline sender runs in its caller's thread")
        self._resolver.start()
        self._thread = threading.Thread(target=self._run, name="shardcron-send", daemon=True)
        self._thread.start()

    @property
    def alive(self) -> bool:
        """True while the sending thread runs (it only ends on stop, or on a bug it logged)."""
        return self._thread is not None and self._thread.is_alive()

    @property
    def stopping(self) -> bool:
        """True once `stop` has begun: no call not yet begun will be sent."""
        return self._stopping

    def submit(self, calls: Iterable[Call]) -> None:
        if self._stopping or not (self.alive or (self.inline and not self._closed)):
            raise RuntimeError("the executor call sender is not running")
        for call in calls:
            self._inbox.put(call)
        self._wake()

    def call(self, address: str, path: str, body: bytes) -> Outcome:
        """One call, waited for (a probe, a settlement): from any thread but the sending one."""
        waiter = Waiter()
        limit_s = 2 * self._call_s + 5  # its own deadline, plus a wait for a slot or a lookup
        self.submit([Call(address, path, body, waiter)])
        if self.inline:
            self.drive(lambda: waiter.outcome is not None, limit_s)
        else:
            waiter.event.wait(limit_s)
        if waiter.outcome is None:
            return timed_out(address, path, Undelivered.DEADLINE, limit_s, unsure=True)
        return waiter.outcome

    def drive_until_idle(self, timeout_s: float) -> bool:
        """(Inline.) Run the loop until every submitted call is answered or dropped."""
        return self.drive(self._idle_now, timeout_s)

    def drive(self, done: Callable[[], bool], timeout_s: float) -> bool:
        """(Inline.) Run the loop in this thread until `done()`, at most `timeout_s`."""
        assert self.inline, "the sending thread runs this sender's loop"
        give_up = SYSTEM_CLOCK.monotonic() + timeout_s
        while not done():
            if SYSTEM_CLOCK.monotonic() >= give_up:
                return False
            self._step(idle_s=SWEEP_S)  # `done` may hold once nothing is in flight
        return True

    def stop(self, timeout_s: float) -> None:
        """Calls not yet begun are dropped; calls in flight get up to `timeout_s` to finish."""
        self._resolver.stop()
        if self._thread is None:
            if self.inline and not self._closed:
                self._stopping = True
                self.drive(lambda: not self._in_flight, timeout_s)
                self._shutdown()
            return
        self._stopping = True
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (the thread is awake anyway), or closed (the thread has ended)
            pass
        self._thread.join(timeout_s)
        self._thread = None

    def _wake(self) -> None:
        if not self._woken:
            self._woken = True
            try:
                self._wake_w.send(b"\0")
            except BlockingIOError:  # the wake-up pipe is full: the thread is awake anyway
                pass

    def _on_resolved(self, host: str, port: int) -> None:
        """(The resolver's thread.) A name's lookup is done: its parked calls may go."""
        self._resolved.put((host, port))
        try:
            self._wake_w.send(b"\0")
        except OSError:  # full (the thread is awake anyway), or closed (it has stopped)
            pass

    # ------------------------------------------------------------------ the thread

    def _run(self) -> None:
        try:
            while not (self._stopping and not self._in_flight):
                self._step()
        except Exception:  # never expected; the sends in flight stay PENDING and are re-sent
            log.exception("the executor call sender stopped")
        finally:
            self._shutdown()

    def _step(self, idle_s: float = 0.5) -> None:
        """One turn: deadlines (every SWEEP_S), then whatever the sockets are ready for, waiting
        at most until the next sweep (`idle_s` with nothing in flight)."""
        self.loops += 1
        now = SYSTEM_CLOCK.monotonic()
        if now >= self._next_sweep:
            self._sweep(now)
            self._release_dropped()
            self._next_sweep = now + SWEEP_S
        for key, _ in self._selector.select(max(0.0, self._next_sweep - now) if self._in_flight else idle_s):
            conn = key.data
            if conn is None:
                self._take_submitted()
            else:
                self._advance(conn)
            if self._dropped:
                self._release_dropped()

    def _idle_now(self) -> bool:
        return not (self._in_flight or self._waiting or self._unresolved or self._dropped) and self._inbox.empty() and self._resolved.empty()

    def _shutdown(self) -> None:
        if self._closed:
            return
        self._closed = True
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
        while not self._resolved.empty():
            for call in self._unresolved.pop(self._resolved.get(), []):
                self._take(call)
        while True:
            try:
                call = self._inbox.get_nowait()
            except queue.Empty:
                return
            self._take(call)

    def _take(self, call: Call) -> None:
        waiting = self._waiting.get(call.address)
        if waiting:
            waiting.append(call)
        elif not self._begin(call):
            self._waiting[call.address] = deque([call])

    def _begin(self, call: Call, conn: Connection | None = None) -> bool:
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
        now = SYSTEM_CLOCK.monotonic()
        try:
            head = self._heads.get((address, call.path))
            if head is None:
                head = self._heads[address, call.path] = self._endpoint(address).request_head(call.path, self._headers)
            request = with_body(head, call.body)
            if conn is None:
                _, host, port = self._endpoint(address).endpoint
                found = self._resolver.lookup(host, port)
                if found is None:  # being looked up: the call goes on once the addresses are in
                    self._unresolved.setdefault((host, port), []).append(call)
                    return True
                if isinstance(found, str):
                    self._answer(call, not_delivered(address, call.path, Undelivered.RESOLVE_FAILED, found))
                    return True
                conn = Connection(address, list(found))
                conn.deadline = now + self._call_s
                self._connect_next(conn, now)
            else:
                conn.reused = True
                conn.state = SENDING
                conn.deadline = now + self._call_s
        except (OSError, http.client.HTTPException, ValueError) as exc:
            if conn is not None:
                self._close(conn)
            self._answer(call, self._failure(call, exc, connected=False, unsure=False))
            return True
        conn.call = call
        conn.out = memoryview(request)
        conn.received = bytearray()
        conn.writing = False
        self._busy[address] = self._busy.get(address, 0) + 1
        self._in_flight.add(conn)
        if conn.state == SENDING:
            self._advance(conn)
        return True

    def _connect_next(self, conn: Connection, now: float) -> None:
        """Start connecting to the next untried address of `conn`'s host; raises the last
        error when none is left."""
        conn.connect_next(now, self._connect_s)
        self._watch(conn, selectors.EVENT_WRITE)

    def _connect_failed(self, conn: Connection, exc: OSError) -> None:
        """This address did not take the connection: the next one does, or the call fails."""
        conn.error = exc
        self._close(conn)
        now = SYSTEM_CLOCK.monotonic()
        if conn.targets and now < conn.deadline:
            try:
                self._connect_next(conn, now)
                return
            except OSError as last:
                exc = last
        self._failed(conn, exc)

    def _advance(self, conn: Connection) -> None:
        try:
            if conn.state == IDLE:
                # An idle connection became readable: the peer closed it (or sent junk).
                self._idle[conn.address].remove(conn)
                self._close(conn)
                return
            sock = conn.sock
            assert sock is not None
            if conn.state == CONNECTING:
                error = sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if error:
                    self._connect_failed(conn, OSError(error, os.strerror(error)))
                    return
                endpoint = self._endpoint(conn.address)
                context = endpoint.tls_context
                if context is not None:
                    self._selector.unregister(sock)
                    sock = conn.sock = context.wrap_socket(sock, server_hostname=endpoint.endpoint[1], do_handshake_on_connect=False)
                    self._selector.register(sock, selectors.EVENT_WRITE, conn)
                    conn.state = HANDSHAKE
                else:
                    conn.state = SENDING
            if conn.state == HANDSHAKE:
                assert isinstance(sock, ssl.SSLSocket)
                sock.do_handshake()
                conn.state = SENDING
            if conn.state == SENDING:
                if not conn.writing:
                    call = conn.call
                    if call is not None and call.guard is not None and not call.guard.holds(call.guard_at_ms):
                        self._drop(conn)
                        return
                    conn.writing = True
                while conn.out:
                    conn.out = conn.out[sock.send(conn.out) :]
                conn.state = READING
                self._watch(conn, selectors.EVENT_READ)
                return  # the answer is read once the socket says it is there
            if conn.state == READING:
                self._read(conn, sock)
        except ssl.SSLWantReadError:
            self._watch(conn, selectors.EVENT_READ)
        except ssl.SSLWantWriteError:
            self._watch(conn, selectors.EVENT_WRITE)
        except BlockingIOError:
            # Watch for what this state waits for: a read that would block keeps waiting to read
            # (watching a connected socket for writes would wake the loop at once, again and again).
            self._watch(conn, selectors.EVENT_READ if conn.state == READING else selectors.EVENT_WRITE)
        except (OSError, http.client.HTTPException) as exc:
            self._failed(conn, exc)

    def _read(self, conn: Connection, sock: socket.socket) -> None:
        eof = receive(sock, conn.received)
        answer = complete_answer(conn.received, eof)
        if answer is None:
            return
        status, body, keep = answer
        call = conn.call
        assert call is not None
        self._release(conn, keep=keep)
        self._answer(call, read_outcome(call.address, call.path, status, body))

    def _failed(self, conn: Connection, exc: BaseException) -> None:
        call = conn.call
        if call is None:
            self._close(conn)
            return
        nothing_back = not conn.received
        # The whole request went out (or an answer had begun): the peer may have acted on it.
        unsure = conn.state == READING or not nothing_back
        connected = conn.state in (SENDING, READING)
        self._release(conn, keep=False)
        if conn.reused and nothing_back and isinstance(exc, _RETRYABLE) and not call.retried and (call.repeatable or not unsure):
            call.retried = True  # the peer closed the idle connection: once more on a fresh one
            if self._begin(call):
                return
            self._waiting.setdefault(call.address, deque()).appendleft(call)
            return
        self._answer(call, self._failure(call, exc, connected=connected, unsure=unsure))

    def _failure(self, call: Call, exc: BaseException, *, connected: bool, unsure: bool) -> NotDelivered:
        reason = classify(exc, connected=connected)
        if reason is Undelivered.DEADLINE:
            return timed_out(call.address, call.path, reason, self._call_s, unsure=unsure)
        if reason is Undelivered.CONNECT_TIMEOUT:
            return not_delivered(call.address, call.path, reason, f"no connection within {self._connect_s:g} s")
        return not_delivered(call.address, call.path, reason, reason_text(exc), unsure=unsure)

    def _drop(self, conn: Connection) -> None:
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
            self._release(conn, keep=conn.state == SENDING)
            if self.on_dropped is not None:
                try:
                    self.on_dropped(call.token)
                except Exception:
                    log.exception("handling a dropped /%s to %s failed", call.path, call.address)

    def _sweep(self, now: float) -> None:
        for conn in [c for c in self._in_flight if c.deadline <= now or (c.state == CONNECTING and c.connect_deadline <= now)]:
            if conn.call is None:
                continue  # released by an earlier failure of this sweep
            if conn.state == CONNECTING and conn.deadline > now:
                self._connect_failed(conn, TimeoutError("timed out"))
            else:
                self._failed(conn, TimeoutError("timed out"))

    def _release(self, conn: Connection, *, keep: bool) -> None:
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

    def _park(self, conn: Connection) -> None:
        conn.state = IDLE
        conn.out = memoryview(b"")
        conn.received = bytearray()
        self._idle.setdefault(conn.address, []).append(conn)
        self._watch(conn, selectors.EVENT_READ)  # a close by the peer shows as readable

    def _watch(self, conn: Connection, events: int) -> None:
        sock = conn.sock
        assert sock is not None
        key = self._selector.get_map().get(sock)
        if key is None:
            self._selector.register(sock, events, conn)
        elif key.events != events or key.data is not conn:
            self._selector.modify(sock, events, conn)

    def _close(self, conn: Connection) -> None:
        sock, conn.sock = conn.sock, None
        if sock is None:
            return
        try:
            self._selector.unregister(sock)
        except (KeyError, ValueError):
            pass
        sock.close()

    def _endpoint(self, address: str) -> KeepAliveConnection:
        endpoint = self._endpoints.get(address)
        if endpoint is None:
            endpoint = self._endpoints[address] = KeepAliveConnection(
                address, connect_timeout_s=self.client.connect_timeout_s, read_timeout_s=self.client.read_timeout_s, ssl_context=self._ssl_context
            )
        return endpoint

    def _answer(self, call: Call, outcome: Outcome) -> None:
        token = call.token
        if isinstance(token, Waiter):
            token.outcome = outcome
            token.event.set()
            return
        try:
            self.on_answer(token, outcome)
        except Exception:
            log.exception("handling the answer of /%s to %s failed", call.path, call.address)
