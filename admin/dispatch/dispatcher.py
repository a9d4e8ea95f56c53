"""Dispatch: each claimed fire's `/run` calls at their millisecond, through bounded senders.

Inside its claim transaction the fire loop has `FireDispatcher.prepare_claimed` write the run
rows of the fires just claimed (see run_store; each send's `/run` body is encoded there), well
before their time; once that commits, `FireDispatcher.accept` puts their sends in a heap ordered by
fire time, one entry per fire time (timers.py). A timer thread sleeps until the earliest is due (a condition wait
with a millisecond deadline, not a 1 s ring) and hands the due sends to the `Multiplexer`
(multiplex.py), the one way the scheduler calls executors: one thread, every call on its own
non-blocking keep-alive connection, at most `per_address` calls in flight per executor and
`workers` in all, so a slow or dead executor ties up only its own share and never delays other
executors' fires. FAILOVER/BUSYOVER probes and settlements wait for answers in turn, so they run
on a `KeyedPool` of worker threads (keyed by executor, same bounds); their calls (`/beat`,
`/idleBeat`, `/log`, then the `/run`) still go through the Multiplexer. Every call ends in a
typed outcome (outcome.py); what is recorded and counted follows its type and reason, never its
wording. Answers go to a recorder thread that writes
them in batches (one transaction per batch; answers.py).

Every send carries the lease term it was claimed under (node_lease) and goes out only if the
term still holds at the instant before its first byte is written; a send that may not go out is
dropped, and when a term ends every send of it still queued is dropped with it (its fires are
adopted and settled by whichever node takes the term over). A send whose outcome is unknown
(adopted from an ended term that may have sent it, or a call that timed out or was cut after
its request went out) is settled first (settle.py): the executor is asked about the logId, and
it is sent again only if the executor never got it — or, when the executor cannot tell, if the
job's delivery is AT_LEAST_ONCE; an AT_MOST_ONCE run is recorded UNKNOWN instead.

With `workers=0` nothing runs in the background: `send_due(now_ms)` runs the same Multiplexer
in the caller's thread until every due send is answered, then records (tests drive it with a
fake clock).
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from typing import NamedTuple, cast

from sqlalchemy.orm import Session

from shardcron.core.clock import SYSTEM_CLOCK, Clock

from ..enums import RouteStrategy
from ..firing.fire_store import ClaimedFire
from ..firing.node_lease import LeaseTerm
from ..firing.run_store import Answer, Prepared, RunStore, Send
from ..firing.settle import SETTLE_ROUNDS, is_repeat_refusal, outcome_stands, settle_send
from ..metrics import TriggerFailure, record_fence_drops, record_fire, record_trigger_failure, record_trigger_lag
from ..schedules.routing import RouteState, route_busyover, route_failover
from ..transport.calls import Call
from ..transport.executor_calls import ExecutorCalls
from ..transport.executor_client import ExecutorClient
from ..transport.multiplex import Multiplexer
from ..transport.outcome import Delivered, NotDelivered, Outcome
from .answers import RECORD_LINGER_S, AnswerRecorder, FireLedger
from .keyed_pool import KeyedPool
from .timers import SendTimers

log = logging.getLogger("shardcron.admin.scheduling")

class _RunToken(NamedTuple):
    """What a `/run` handed to the sender carries back with its outcome."""

    send: Send
    address: str
    trace: str
    lag_ms: int


def failure_reason(msg: str) -> TriggerFailure:
    """The metrics label of a run row that failed before any handler ran."""
    if msg.startswith("no live executor"):
        return TriggerFailure.NO_LIVE_EXECUTOR
    if msg.startswith("address override"):
        return TriggerFailure.ADDRESS_NOT_LIVE
    return TriggerFailure.ERROR


class FireDispatcher:
    """Sends each claimed fire's `/run` calls at their millisecond and records the answers (named
    apart from the executor's `Dispatcher`, which runs jobs by block strategy)."""

    def __init__(
        self,
        runs: RunStore,
        client: ExecutorClient,
        clock: Clock,
        *,
        workers: int = 64,
        per_address: int | None = None,
        route_state: RouteState | None = None,
    ) -> None:
        self.runs = runs
        self.client = client
        self.clock = clock
        self.route_state = route_state or RouteState()
        self.inline = workers == 0
        per_address = per_address or max(1, workers // 4)
        self._pool = None if self.inline else KeyedPool(workers, per_address)
        self._sender = Multiplexer(
            client, self._sent, per_address=per_address, total=max(workers, 1), on_dropped=self._sent_dropped, inline=self.inline
        )
        self._calls = ExecutorCalls(self._sender)
        self._inline_work: list[Send] = []  # inline: probes and settlements to run after the sends
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        # The timers and the ledger are changed only with self._lock held.
        self._timers = SendTimers()
        self._ledger = FireLedger()
        self._stop = threading.Event()
        self._recorder = AnswerRecorder(runs, clock, self._ledger, self._changed, self._stop)
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ fire loop side

    def prepare_claimed(self, session: Session, fires: list[ClaimedFire], now_ms: int, term: LeaseTerm) -> Prepared:
        """Write the run rows of fires claimed under `term` in `session`'s transaction (the fire
        loop's tick: claims and run rows commit together, or neither does). Fires already
        prepared here are left out."""
        with self._lock:
            fresh = [f for f in fires if f.id not in self._ledger.held]
        prepared = self.runs.prepare_in(session, fresh, now_ms, self.route_state, term)
        prepared.term = term
        return prepared

    def accept(self, prepared: Prepared) -> int:
        """Queue the sends of prepared fires (after their transaction committed); returns how many."""
        for trigger_type, count in Counter(fire.trigger_type for fire in prepared.fired).items():
            record_fire(trigger_type, count)
        for fire, run_id, shard, reason in prepared.failed:
            record_trigger_failure(failure_reason(reason))
            log.warning(
                "trigger failed",
                extra={"job_id": fire.job_id, "log_id": run_id, "shard": shard, "fire_id": fire.id, "trigger_type": str(fire.trigger_type), "reason": reason},
            )
        if prepared.kills:
            self._kill_overlapping(prepared.kills)
        if not prepared.sends:
            return 0
        term = prepared.term
        assert term is not None
        per_fire = Counter(s.fire_id for s in prepared.sends)
        with self._lock:
            if term.over:
                return 0  # it ended while the claim committed: its fires are adopted and settled
            self._ledger.take(term.owner, per_fire, len(prepared.sends))
            self._timers.push(prepared.sends)
            self._changed.notify_all()
        return len(prepared.sends)

    def _kill_overlapping(self, kills: list[tuple[str, int, int]]) -> None:
        """Ask executors to kill the runs an overlap policy stops (CANCEL_OTHER, TERMINATE_OTHER),
        before any send of the same claim is queued: `/kill` names a job, not a run, so it must
        reach the executor before the run that replaces it. Blocking, one call per run; a kill
        that fails leaves the run to its timeout or to lost-run detection."""
        for address, job_id, run_id in kills:
            answer = self.client.kill(address, job_id)
            level = logging.INFO if answer.ok else logging.WARNING
            log.log(level, "overlap policy: kill %s", "sent" if answer.ok else f"failed: {answer.msg}", extra={"job_id": job_id, "log_id": run_id, "address": address})

    @property
    def held(self) -> set[int]:
        with self._lock:
            return set(self._ledger.held)

    def next_due_ms(self) -> int | None:
        with self._lock:
            return self._timers.next_due_ms()

    # ------------------------------------------------------------------ lease terms

    def term_ended(self, term: LeaseTerm) -> None:
        """`term` may send nothing any more: drop its queued sends and forget its fires (their
        answers still in flight are recorded while its lease row exists; the adopter settles the
        rest)."""
        with self._lock:
            fires = self._ledger.end_term(term.owner)
            dropped = self._timers.drop_term(term)
            self._ledger.unrecorded -= dropped
            self._changed.notify_all()
        if dropped:
            record_fence_drops(dropped)
        log.warning(
            "lease term ended: %d queued send(s) of %d fire(s) dropped; the fires are adopted and settled", dropped, len(fires),
            extra={"owner": term.owner},
        )

    def _dropped(self, send: Send) -> None:
        """`send` may not go out (its term no longer holds): nothing of it was sent."""
        with self._lock:
            self._ledger.drop_send(send.term.owner, send.fire_id)
            self._changed.notify_all()
        record_fence_drops(1)
        log.warning("run not sent: its lease term no longer holds", extra={**send.log_fields(), "owner": send.term.owner})

    # ------------------------------------------------------------------ sending

    def send_due(self, now_ms: int) -> int:
        """Hand every send due at `now_ms` to the sender (inline: send and record them now)."""
        with self._lock:
            due = self._timers.pop_due(now_ms)
        calls: list[Call] = []
        for send in due:
            if send.probe or send.settle:
                self._submit_blocking(send)
            else:
                assert send.address is not None  # only a probe's is chosen at send time
                calls.append(self._run_call(send, send.address, send.trace))
        if calls:
            self._sender.submit(calls)
        if self._pool is None:
            self._work_inline()
            self.record_answers()
        return len(due)

    def _run_call(self, send: Send, address: str, trace: str) -> Call:
        """`send`'s `/run` to `address`, guarded by its lease term; answered in `_sent`."""
        return Call(address, "run", send.body, _RunToken(send, address, trace, self._sending(send)), send.term, send.fire_at_ms)

    def _submit_blocking(self, send: Send) -> None:
        if self._pool is None:
            self._inline_work.append(send)
            return
        key = send.address or f"probe:{send.job_id}"
        self._pool.submit(key, lambda: self._execute(send))

    def _work_inline(self) -> None:
        """(Inline.) Drive the sender until every call is answered, settling and probing (which
        wait for answers in turn) between rounds, never from inside the sender's callbacks."""
        while True:
            self._sender.drive_until_idle(2 * (self.client.connect_timeout_s + self.client.read_timeout_s) + 5)
            if not self._inline_work:
                return
            work, self._inline_work = self._inline_work, []
            for send in work:
                self._execute(send)

    def _execute(self, send: Send) -> None:
        """Settle and route (a probe), waiting for each answer in this thread; then hand the
        `/run` to the sender."""
        if send.settle:
            send.settle = False
            send.asked += 1
            answer, resend = settle_send(self._calls, send)
            if not resend:
                self._recorder.put(answer)
                return
        address, trace = send.address, send.trace
        if send.probe:
            if not send.candidates:
                record_trigger_failure(TriggerFailure.NO_LIVE_EXECUTOR)
                log.warning("trigger failed", extra={**send.log_fields(), "reason": "no live executor in the job's group"})
                self._recorder.put(self._answer(send, False, "no live executor in the job's group"))
                return
            if send.strategy == RouteStrategy.BUSYOVER:
                route = route_busyover(send.candidates, send.job_id, self._calls)
            else:
                route = route_failover(send.candidates, self._calls)
            if route.address is None:
                record_trigger_failure(TriggerFailure.EXECUTOR_REFUSED)
                log.warning("trigger failed", extra={**send.log_fields(), "reason": route.trace})
                self._recorder.put(self._answer(send, False, route.trace))
                return
            address, trace = route.address, route.trace
        assert address is not None
        self._sender.submit([self._run_call(send, address, trace)])

    def _sent(self, token: object, outcome: Outcome) -> None:
        """(The sender's thread.) The outcome of a `/run`."""
        send, address, trace, lag_ms = cast(_RunToken, token)
        if isinstance(outcome, NotDelivered) and outcome.unsure:
            self._recorder.put(self._unsure(send, address, outcome))
            return
        self._recorder.put(self._answered(send, address, trace, lag_ms, outcome))

    def _sent_dropped(self, token: object) -> None:
        self._dropped(cast(_RunToken, token).send)

    def _unsure(self, send: Send, address: str, outcome: NotDelivered) -> Answer | None:
        """A `/run` went out whole but its answer did not come back: settle it before anything
        else (on a worker thread; inline: after this round of sends)."""
        if send.probe:
            send.address, send.probe, send.candidates = address, False, ()
        if send.asked >= SETTLE_ROUNDS:  # asked before, sent again, and again no answer: it stands
            return outcome_stands(send, address, outcome.msg)
        log.warning("run outcome unknown; asking the executor", extra={**send.log_fields(), "address": address, "reason": outcome.msg})
        send.settle = True
        self._submit_blocking(send)
        return None

    def _answer(self, send: Send, accepted: bool, msg: str, address: str | None = None) -> Answer:
        return Answer(send.fire_id, send.run_id, accepted, msg, address, send.term.owner)

    def _sending(self, send: Send) -> int:
        lag_ms = self.clock.now_ms() - send.send_at_ms  # late against its send time: jitter is not lateness
        record_trigger_lag(lag_ms)
        return lag_ms

    def _answered(self, send: Send, address: str, trace: str, lag_ms: int, outcome: Outcome) -> Answer:
        """The outcome of `send` (made to `address`) as the Answer the recorder writes; metrics
        and the log line."""
        msg = outcome.msg or ""
        accepted = isinstance(outcome, Delivered) or (not isinstance(outcome, NotDelivered) and is_repeat_refusal(msg))
        if accepted:
            if log.isEnabledFor(logging.INFO):
                log.info("run sent", extra={**send.log_fields(), "address": address, "lag_ms": lag_ms})
        elif isinstance(outcome, NotDelivered):
            record_trigger_failure(TriggerFailure.TRANSPORT)
            log.warning(
                "run not delivered",
                extra={**send.log_fields(), "address": address, "lag_ms": lag_ms, "reason": msg, "cause": str(outcome.reason)},
            )
        else:
            record_trigger_failure(TriggerFailure.EXECUTOR_REFUSED)
            log.warning("run refused", extra={**send.log_fields(), "address": address, "lag_ms": lag_ms, "reason": msg})
        if accepted and not trace:
            msg = ""  # "accepted, logId:N" says nothing the row's status does not
        elif trace:
            msg = f"{trace}; run: {msg}" if msg else trace
        return Answer(send.fire_id, send.run_id, accepted, msg, address if send.probe else None, send.term.owner)

    # ------------------------------------------------------------------ recording

    def record_answers(self, block_s: float = 0.0, linger_s: float = 0.0) -> int:
        """Write the answers received so far (AnswerRecorder.record); returns how many."""
        return self._recorder.record(block_s, linger_s)

    # ------------------------------------------------------------------ threads

    def start(self) -> None:
        if self.inline:
            raise RuntimeError("an inline dispatcher (workers=0) has no threads to start")
        self._sender.start()
        for name, target in (("shardcron-timer", self._timer_loop), ("shardcron-recorder", self._recorder_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def alive(self) -> bool:
        """True while started and the timer, recorder and sending threads all run."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads) and self._sender.alive

    def _timer_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                wait_s = self._timers.wait_s(self.clock)
                if wait_s > 0:
                    self._changed.wait(wait_s)
                    continue
            self.send_due(self.clock.now_ms())

    def _recorder_loop(self) -> None:
        while not self._stop.is_set():
            try:
                self.record_answers(block_s=0.05, linger_s=RECORD_LINGER_S)
            except Exception:
                log.exception("recorder failed")

    def wait_idle(self, timeout_s: float) -> bool:
        """True once every queued send has been sent and its answer recorded (for a clean stop
        and for tests)."""
        deadline = SYSTEM_CLOCK.monotonic() + timeout_s  # a real-time bound on a real wait
        with self._lock:
            while self._ledger.unrecorded > 0:
                left = deadline - SYSTEM_CLOCK.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.1))
            return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Send what is due within `timeout_s`, record every answer, stop the threads. Sends
        still waiting stay PENDING under their fire's lease term: its adopter settles them."""
        if self._threads:  # without the recorder thread nothing would ever become idle
            self.wait_idle(timeout_s)
        self._stop.set()
        with self._lock:
            self._changed.notify_all()
        self._sender.stop(timeout_s)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self.record_answers()
