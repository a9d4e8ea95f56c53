"""A fake external partner (a payment provider, say) for the request/callback example.

    POST /requests        {"request_no", "callback_url", "simulate", ...}  -> 202, idempotent per request_no
    GET  /requests/<no>                                                   -> {"request_no", "status", "result"}

How it answers depends on the request's `simulate` field:
  callback  calls `callback_url` back with DONE after `callback_delay_s`;
  reject    calls back with FAILED (a final refusal) after `callback_delay_s`;
  late      never calls back; its status turns DONE after `late_after_polls` status queries;
  never     never calls back and stays PROCESSING forever.
Until it has called back, a status query says PROCESSING, like a real partner still working.
"""

from __future__ import annotations

import threading
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import requests

from .json_http import JsonServer

SCENARIOS = ("callback", "reject", "late", "never")


@dataclass
class PartnerRequest:
    request_no: str
    callback_url: str
    simulate: str
    body: dict[str, Any]
    status: str = "PROCESSING"  # PROCESSING | DONE | FAILED
    result: dict[str, Any] | None = None
    polls: int = 0


@dataclass
class PartnerLog:
    """What the partner saw, for the story and for assertions."""

    received: Counter[str] = field(default_factory=Counter)  # POST /requests per request_no
    polls: Counter[str] = field(default_factory=Counter)
    callbacks: list[tuple[str, str, int]] = field(default_factory=list)  # (request_no, status, HTTP status)


class FakePartner:
    def __init__(self, *, callback_delay_s: float = 0.2, late_after_polls: int = 2, timeout_s: float = 5.0) -> None:
        self.callback_delay_s = callback_delay_s
        self.late_after_polls = late_after_polls
        self.timeout_s = timeout_s
        self.log = PartnerLog()
        self._requests: dict[str, PartnerRequest] = {}
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._callbacks: list[threading.Thread] = []
        self.server = JsonServer(self._route)

    @property
    def url(self) -> str:
        return self.server.url

    def close(self) -> None:
        self._stop.set()
        for thread in self._callbacks:
            thread.join(self.timeout_s + 1)
        self.server.close()

    # ------------------------------------------------------------------ HTTP

    def _route(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        if method == "POST" and path == "/requests":
            return self._accept(body)
        if method == "GET" and path.startswith("/requests/"):
            return self._status(path.removeprefix("/requests/"))
        return 404, {"error": f"no route {method} {path}"}

    def _accept(self, body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("request_no"), str) or not isinstance(body.get("callback_url"), str):
            return 400, {"error": "expected {request_no, callback_url, simulate}"}
        simulate = body.get("simulate", "callback")
        if simulate not in SCENARIOS:
            return 400, {"error": f"simulate must be one of {', '.join(SCENARIOS)}"}
        request_no = body["request_no"]
        with self._lock:
            self.log.received[request_no] += 1
            if request_no in self._requests:  # a re-sent request: same request number, same work
                return 202, {"request_no": request_no, "accepted": True, "duplicate": True}
            self._requests[request_no] = PartnerRequest(request_no, body["callback_url"], simulate, body)
        if simulate in ("callback", "reject"):
            thread = threading.Thread(target=self._call_back, args=(request_no,), name=f"callback-{request_no}", daemon=True)
            self._callbacks.append(thread)
            thread.start()
        return 202, {"request_no": request_no, "accepted": True}

    def _status(self, request_no: str) -> tuple[int, Any]:
        with self._lock:
            request = self._requests.get(request_no)
            if request is None:
                return 404, {"request_no": request_no, "status": "UNKNOWN"}
            request.polls += 1
            self.log.polls[request_no] += 1
            if request.simulate == "late" and request.polls >= self.late_after_polls:
                request.status, request.result = "DONE", {"paid": True, "via": "status query", "polls": request.polls}
            return 200, {"request_no": request_no, "status": request.status, "result": request.result}

    # ------------------------------------------------------------------ the callback

    def _call_back(self, request_no: str) -> None:
        if self._stop.wait(self.callback_delay_s):
            return
        with self._lock:
            request = self._requests[request_no]
            answer: dict[str, Any]
            if request.simulate == "callback":
                answer = {"request_no": request_no, "status": "DONE", "result": {"paid": True, "via": "callback"}}
            else:
                answer = {"request_no": request_no, "status": "FAILED", "reason": "card declined"}
        try:
            code = requests.post(request.callback_url, json=answer, timeout=self.timeout_s).status_code
        except requests.RequestException:
            code = 0
        with self._lock:
            # Delivered or not, the answer is final now: a status query will tell it too.
            request.status = answer["status"]
            request.result = answer.get("result") or {"reason": answer.get("reason")}
            self.log.callbacks.append((request_no, answer["status"], code))
