"""The probes and the settling question, as blocking calls through the scheduler's one transport.

FAILOVER/BUSYOVER routing (`routing.Prober`: `/beat`, `/idleBeat`) and settling (`settle.py`:
`/log`) run on dispatch worker threads and wait for each answer in turn; their calls go through
the same `Multiplexer` as every `/run` (its connections, bounds, resolver and deadlines), each
waited for with `Multiplexer.call`. They read the outcome as the Envelope the executor sent, or
the failure Envelope of a call that got none.
"""

from __future__ import annotations

from shardcron.core.protocol import Envelope, JobIdParam, LogParam, LogResult, ProtocolError, encode_json

from .multiplex import Multiplexer


class ExecutorCalls:
    def __init__(self, sender: Multiplexer) -> None:
        self._sender = sender

    def beat(self, address: str) -> Envelope:
        return self._sender.call(address, "beat", b"").envelope

    def idle_beat(self, address: str, job_id: int) -> Envelope:
        return self._sender.call(address, "idleBeat", encode_json(JobIdParam(job_id).to_wire())).envelope

    def log(self, address: str, log_date_ms: int, log_id: int, from_line: int = 1) -> LogResult | Envelope:
        """The page of the run's log, or a failure Envelope saying why it could not be read."""
        answer = self._sender.call(address, "log", encode_json(LogParam(log_id, log_date_ms, from_line).to_wire())).envelope
        if not answer.ok:
            return answer
        try:
            return LogResult.from_wire(answer.content)
        except ProtocolError as exc:
            return Envelope.failure(f"executor {address} sent a malformed log page: {exc}")
