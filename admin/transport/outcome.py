"""What became of one call to an executor: delivered, refused, or not delivered (and why).

The transport (multiplex.py) hands every caller one of three types, so that nobody downstream
reads a message to learn what happened:

- `Delivered`: the executor answered with a success envelope (code 200).
- `Refused`: the executor answered with an envelope that says no (its code and message).
- `NotDelivered`: no usable answer came back; `reason` says why (`Undelivered`), `unsure` says
  whether the whole request went out first (the executor may then have acted on it), and `msg`
  words it for people (a run row's trigger message, a log line) as the admin always has:
  "executor <address> is unreachable for /run: Connection refused", "... did not answer /run
  within 13 s".

`envelope` gives each outcome as the `Envelope` the wire would carry, for the code that reports
it (routing traces, run rows); `ok` and `msg` read as an Envelope's do.
"""

from __future__ import annotations

import enum
import http.client
import socket
import ssl
from dataclasses import dataclass

from shardcron.core.protocol import Envelope, ProtocolError, decode_json

#: Longest answer body read from an executor (a `/log` page is the big one).
MAX_ANSWER_BYTES = 5 * 1024 * 1024


class Undelivered(enum.StrEnum):
    """Why a call got no usable answer."""

    BAD_ADDRESS = "BAD_ADDRESS"  # the address or a header cannot make a request; nothing sent
    RESOLVE_FAILED = "RESOLVE_FAILED"  # the host name did not resolve
    CONNECT_REFUSED = "CONNECT_REFUSED"  # every resolved address refused the connection
    CONNECT_TIMEOUT = "CONNECT_TIMEOUT"  # no address accepted within the connect timeout
    CONNECT_FAILED = "CONNECT_FAILED"  # another connect error (no route, network down)
    TLS_FAILED = "TLS_FAILED"  # the TLS handshake failed (an unverified certificate, say)
    DEADLINE = "DEADLINE"  # connected, but the whole answer was not there by the call's deadline
    RESET = "RESET"  # the peer hung up or reset the connection before the answer was whole
    BAD_ANSWER = "BAD_ANSWER"  # the answer was not HTTP, or not an envelope, or too long


@dataclass(frozen=True, slots=True)
class Delivered:
    envelope: Envelope

    ok = True

    @property
    def msg(self) -> str | None:
        return self.envelope.msg


@dataclass(frozen=True, slots=True)
class Refused:
    code: int
    msg: str | None
    envelope: Envelope

    ok = False


@dataclass(frozen=True, slots=True)
class NotDelivered:
    reason: Undelivered
    msg: str
    unsure: bool = False  # the whole request went out, the answer did not come back whole

    ok = False

    @property
    def envelope(self) -> Envelope:
        return Envelope.failure(self.msg)


Outcome = Delivered | Refused | NotDelivered


def read_outcome(address: str, path: str, status: int, raw: bytes) -> Outcome:
    """The executor's whole answer as an outcome."""
    if len(raw) > MAX_ANSWER_BYTES:
        return NotDelivered(Undelivered.BAD_ANSWER, f"executor {address} answered /{path} with more than {MAX_ANSWER_BYTES} bytes")
    try:
        envelope = Envelope.from_wire(decode_json(raw))
    except ProtocolError as exc:
        return NotDelivered(Undelivered.BAD_ANSWER, f"executor {address} answered /{path} with HTTP {status} and no valid envelope: {exc}")
    if envelope.ok:
        return Delivered(envelope)
    return Refused(envelope.code, envelope.msg, envelope)


def not_delivered(address: str, path: str, reason: Undelivered, detail: str, *, unsure: bool = False) -> NotDelivered:
    """A call that got no answer, worded as the run rows have always read."""
    return NotDelivered(reason, f"executor {address} is unreachable for /{path}: {detail}", unsure)


def timed_out(address: str, path: str, reason: Undelivered, within_s: float, *, unsure: bool = False) -> NotDelivered:
    return NotDelivered(reason, f"executor {address} did not answer /{path} within {within_s:g} s", unsure)


def classify(exc: BaseException, *, connected: bool) -> Undelivered:
    """The reason for a call that failed with `exc` (before or after its connection was up)."""
    if isinstance(exc, socket.gaierror):
        return Undelivered.RESOLVE_FAILED
    if isinstance(exc, (http.client.InvalidURL, ValueError)):
        return Undelivered.BAD_ADDRESS
    if isinstance(exc, ssl.SSLError) and not isinstance(exc, (ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return Undelivered.TLS_FAILED if not connected or isinstance(exc, ssl.SSLCertVerificationError) else Undelivered.BAD_ANSWER
    if not connected:
        if isinstance(exc, ConnectionRefusedError):
            return Undelivered.CONNECT_REFUSED
        if isinstance(exc, TimeoutError):
            return Undelivered.CONNECT_TIMEOUT
        if isinstance(exc, (ssl.SSLEOFError, ConnectionResetError, BrokenPipeError)):
            return Undelivered.RESET  # hung up during the TLS handshake
        return Undelivered.CONNECT_FAILED
    if isinstance(exc, TimeoutError):
        return Undelivered.DEADLINE
    if isinstance(exc, (http.client.IncompleteRead, ConnectionError, ssl.SSLEOFError, ssl.SSLZeroReturnError)):
        return Undelivered.RESET  # RemoteDisconnected is a ConnectionResetError
    if isinstance(exc, http.client.HTTPException):
        return Undelivered.BAD_ANSWER
    return Undelivered.RESET  # another socket error on an established connection


def reason_text(exc: BaseException) -> str:
    """Short and readable: 'Connection refused' rather than '[Errno 111] Connection refused'."""
    text = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
    return text[:300] or type(exc).__name__
