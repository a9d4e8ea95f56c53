"""Executor host names resolved off the sending thread, kept for a short while.

The sending thread (multiplex.py) must never wait on `getaddrinfo`: one slow lookup would hold up
every other executor's calls. So names are resolved **when an address is first seen** and again
when its answer has grown old, on this module's own thread; the sending thread only reads the
cache (`lookup`). Why not a thread that refreshes every name on a timer: the set of executor
addresses changes with the registry, and a name nobody calls any more should cost nothing; first
sight plus refresh-on-use costs one lookup per name per `ttl_s` while the name is in use, and
only the very first call to a new name waits for it.

- A fresh entry (younger than `ttl_s`) is used as is.
- An old entry is still used (the executor's addresses rarely change within seconds), and a
  refresh is asked for in the background; a refresh that fails keeps the old addresses.
- A name never resolved, or whose last lookup failed more than `failed_ttl_s` ago, is not
  known: the caller parks its calls and is called back (`on_resolved`) once the lookup is done.
- A failed lookup is kept `failed_ttl_s`, so a misspelt name fails its calls at once instead of
  queueing a lookup per call.
- IP literals never go to the thread: `getaddrinfo` with AI_NUMERICHOST does not block.

Addresses keep `getaddrinfo`'s order (RFC 6724: the system's preference among IPv6 and IPv4);
the transport tries them in that order.
"""

from __future__ import annotations

import logging
import queue
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass

from shardcron.core.clock import SYSTEM_CLOCK

log = logging.getLogger("shardcron.admin.scheduling")

#: How long a lookup's answer is used before it is refreshed (in the background), and how long
#: a failed lookup fails calls before the name is looked up again.
TTL_S = 30.0
FAILED_TTL_S = 5.0

Target = tuple[int, int, int, tuple]  # (family, type, proto, sockaddr)
Lookup = Callable[[str, int], list[Target]]


def system_lookup(host: str, port: int) -> list[Target]:
    """Every TCP address of `host` in the system's order (raises socket.gaierror)."""
    return [(family, kind, proto, sockaddr) for family, kind, proto, _, sockaddr in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)]


@dataclass(slots=True)
class _Entry:
    targets: list[Target] | None  # None: the last lookup failed (and there was nothing before)
    error: str
    at_s: float
    refreshing: bool = False


class Resolver:
    def __init__(self, *, lookup: Lookup = system_lookup, ttl_s: float = TTL_S, failed_ttl_s: float = FAILED_TTL_S, monotonic: Callable[[], float] = SYSTEM_CLOCK.monotonic) -> None:
        """`lookup`: how a name is resolved (tests give a table); `monotonic`: the clock the
        entries age by."""
        self._lookup = lookup
        self._ttl_s = ttl_s
        self._failed_ttl_s = failed_ttl_s
        self._monotonic = monotonic
        self._entries: dict[tuple[str, int], _Entry] = {}
        self._asked: set[tuple[str, int]] = set()  # names queued or being looked up
        self._lock = threading.Lock()
        self._todo: queue.SimpleQueue[tuple[str, int] | None] = queue.SimpleQueue()
        self._thread: threading.Thread | None = None
        self.on_resolved: Callable[[str, int], None] = lambda host, port: None

    def start(self) -> None:
        """Look names up on a thread of its own; until then (and in tests) `lookup` resolves
        a name it does not know in the caller's thread."""
        self._thread = threading.Thread(target=self._run, name="shardcron-resolve", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        if self._thread is not None:
            self._todo.put(None)
            self._thread.join(5)
            self._thread = None

    def lookup(self, host: str, port: int) -> list[Target] | str | None:
        """The addresses of (host, port); the error text of a failed lookup; or None: being
        looked up, `on_resolved(host, port)` follows."""
        key = (host, port)
        entry = self._entries.get(key)
        if entry is None:
            numeric = _numeric(host, port)
            if numeric is not None:
                self._entries[key] = _Entry(numeric, "", float("inf"))
                return numeric
        now = self._monotonic()
        if entry is not None:
            age = now - entry.at_s
            if entry.targets is not None:
                if age >= self._ttl_s:
                    self._ask(key)  # used while it is refreshed
                return entry.targets
            if age < self._failed_ttl_s:
                return entry.error
        if self._thread is None:
            self._resolve(key)
            entry = self._entries[key]
            return entry.targets if entry.targets is not None else entry.error
        self._ask(key)
        return None

    def _ask(self, key: tuple[str, int]) -> None:
        if self._thread is None:
            self._resolve(key)
            return
        with self._lock:
            if key in self._asked:
                return
            self._asked.add(key)
        self._todo.put(key)

    def _run(self) -> None:
        while True:
            key = self._todo.get()
            if key is None:
                return
            self._resolve(key)
            with self._lock:
                self._asked.discard(key)
            try:
                self.on_resolved(*key)
            except Exception:
                log.exception("handing over the addresses of %s failed", key[0])

    def _resolve(self, key: tuple[str, int]) -> None:
        try:
            targets = self._lookup(*key)
            if not targets:
                raise socket.gaierror(socket.EAI_NONAME, "no address")
        except OSError as exc:
            old = self._entries.get(key)
            text = exc.strerror if exc.strerror else str(exc)
            if old is not None and old.targets is not None:
                log.warning("looking up %s failed (%s); its last addresses stay in use", key[0], text)
                self._entries[key] = _Entry(old.targets, "", self._monotonic())
            else:
                self._entries[key] = _Entry(None, text or "the name did not resolve", self._monotonic())
            return
        self._entries[key] = _Entry(targets, "", self._monotonic())


def _numeric(host: str, port: int) -> list[Target] | None:
    try:
        return [(f, t, p, a) for f, t, p, _, a in socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_NUMERICHOST)]
    except (socket.gaierror, UnicodeError):
        return None
