"""Framing: an executor's answer read from the bytes a non-blocking socket has received so far.

The answer reader is `shardcron.core.keepalive.read_answer` (the blocking client's), fed
from a buffer instead of a socket file: it raises NeedMore until the answer is whole.
"""

from __future__ import annotations

import socket
import ssl

from shardcron.core.keepalive import read_answer

from .outcome import MAX_ANSWER_BYTES

RECV_BYTES = 65536


class NeedMore(Exception):
    """The answer is not complete yet."""


class ReceivedBytes:
    """The bytes received so far, read like a socket file by `read_answer`: running out of them
    raises NeedMore until the peer has closed (`eof`), then reads come back short as on a socket."""

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
            raise NeedMore
        line = bytes(self.data[self.pos : stop])
        self.pos += len(line)
        return line

    def read(self, size: int) -> bytes:
        if len(self.data) - self.pos < size and not self.eof:
            raise NeedMore
        chunk = bytes(self.data[self.pos : self.pos + size])
        self.pos += len(chunk)
        return chunk


def receive(sock: socket.socket, into: bytearray) -> bool:
    """Append to `into` what `sock` has ready (a TLS socket's buffered records too); True once the
    peer has closed. Raises BlockingIOError (or an SSLWant… error) when nothing is ready."""
    while True:
        data = sock.recv(RECV_BYTES)
        if data:
            into += data
        if not (data and isinstance(sock, ssl.SSLSocket) and sock.pending()):
            return not data


def complete_answer(received: bytearray, eof: bool) -> tuple[int, bytes, bool] | None:
    """The answer in `received` once it is whole: (status, body, keep), `keep` saying the
    connection may take another call (the answer allows it and nothing followed it); None while
    more is to come. Raises http.client.HTTPException for an answer that is not HTTP."""
    reader = ReceivedBytes(received, eof)
    try:
        status, body, keep = read_answer(reader, MAX_ANSWER_BYTES)
    except NeedMore:
        return None
    return status, body, keep and reader.pos == len(received)
