"""One non-blocking connection of the multiplexer: its state, its buffers, and connecting to the
next of its host's addresses."""

from __future__ import annotations

import errno
import os
import socket

from .calls import Call
from .resolver import Target

CONNECTING, HANDSHAKE, SENDING, READING, IDLE = range(5)
IN_PROGRESS = frozenset((0, errno.EINPROGRESS, errno.EWOULDBLOCK, errno.EAGAIN))


class Connection:
    """One non-blocking connection to an executor and the call it carries (its state is one of
    CONNECTING, HANDSHAKE, SENDING, READING, IDLE)."""

    __slots__ = ("address", "sock", "state", "out", "received", "call", "deadline", "connect_deadline", "reused", "writing", "targets", "error")

    def __init__(self, address: str, targets: list[Target]) -> None:
        self.address = address
        self.sock: socket.socket | None = None
        self.state = CONNECTING
        self.out = memoryview(b"")
        self.received = bytearray()
        self.call: Call | None = None
        self.deadline = 0.0  # the call's: connect + send + the whole answer
        self.connect_deadline = 0.0  # this address's connect attempt
        self.reused = False
        self.writing = False  # some of the call's request has gone out
        self.targets = targets  # addresses not tried yet
        self.error: OSError | None = None  # why the last address failed

    def connect_next(self, now: float, connect_s: float) -> None:
        """Start connecting to the next untried address of the host (non-blocking); raises the
        last error when none is left."""
        while self.targets:
            family, kind, proto, sockaddr = self.targets.pop(0)
            try:
                sock = socket.socket(family, kind, proto)
            except OSError as exc:
                self.error = exc
                continue
            try:
                sock.setblocking(False)
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                error = sock.connect_ex(sockaddr)
            except OSError as exc:
                sock.close()
                self.error = exc
                continue
            if error not in IN_PROGRESS:
                sock.close()
                self.error = OSError(error, os.strerror(error))  # OSError picks the subclass (ConnectionRefusedError …)
                continue
            self.sock = sock
            self.state = CONNECTING
            self.connect_deadline = min(now + connect_s, self.deadline)
            return
        raise self.error or OSError(errno.EADDRNOTAVAIL, "no address to connect to")
