"""Dispatch: each claimed fire's `/run` calls at their millisecond, through bounded senders.

Inside its claim transaction the fire loop has `Dispatcher.prepare_claimed` write the run rows
of the fires just claimed (see run_store; each send's `/run` body is encoded there), well before
their time; once that commits, `Dispatcher.accept` puts their sends in a heap ordered by fire
time, one entry per fire time. A timer thread sleeps until the earliest is due (a condition wait
with a millisecond deadline, not a 1 s ring) and hands the due sends to the `Multiplexer`
(multiplex.py): one thread, every call on its own non-blocking keep-alive connection, at most
`per_address` calls in flight per executor and `workers` in all, so a slow or dead executor
ties up only its own share and never delays other executors' fires. FAILOVER/BUSYOVER probes
and executors named by host name go through a `KeyedPool` of worker threads with the same
bounds, on the pooled blocking `ExecutorClient`. Answers go to a recorder thread that writes
them in batches (one transaction per batch).

With `workers=0` nothing runs in the background: `send_due(now_ms)` sends and records in the
caller's thread (tests drive it with a fake clock).
"""

from __future__ import annotations

import heapq
import itertools
import logging
import queue
import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy.orm import Session

from shardcron.executor.clock import SYSTEM_CLOCK, Clock
from shardcron.executor.dispatcher import REPEAT_TRIGGER
from shardcron.executor.protocol import Envelope

from ..enums import RouteStrategy
from ..metrics import TriggerFailure, record_fire, record_trigger_failure, record_trigger_lag

from .executor_client import ExecutorClient
from .fire_store import ClaimedFire
from .multiplex import Call, Multiplexer, handles
from .routing import RouteState, route_busyover, route_failover
from .run_store import Answer, Prepared, RunStore, Send

log = logging.getLogger("shardcron.admin.scheduling")

#: The part of the executor's refusal of a logId it already accepted (the adopter's re-send).
REPEAT_MARK = REPEAT_TRIGGER.split("{", 1)[0]
#: The longest the timer thread sleeps without looking at its heap again.
MAX_TIMER_WAIT_S = 0.5
#: How long the recorder keeps collecting answers after the first one of a batch, and the most
#: answers one batch records. A fire stays CLAIMED under its lease (seconds) until recorded, so
#: a fraction of a second here costs nothing but saves a transaction per handful of answers.
RECORD_LINGER_S = 0.2
RECORD_BATCH = 2000


def failure_reason(msg: str) -> TriggerFailure:
    """The metrics label of a run row that failed before any handler ran."""
    if msg.startswith("no live executor"):
        return TriggerFailure.NO_LIVE_EXECUTOR
    if msg.startswith("address override"):
        return TriggerFailure.ADDRESS_NOT_LIVE
    return TriggerFailure.ERROR


def _event(send: Send) -> dict:
    """What a log line about `send` says of it."""
    return {"job_id": send.job_id, "log_id": send.run_id, "shard": f"{send.shard_index}/{send.shard_total}", "fire_id": send.fire_id}


class KeyedPool:
    """Runs tasks on at most `workers` threads, at most `per_key` of them for one key at a time;
    a key's further tasks wait in its own FIFO queue, not in front of other keys' tasks."""

    def __init__(self, workers: int, per_key: int) -> None:
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="shardcron-dispatch")
        self._per_key = per_key
        self._lock = threading.Lock()
        self._active: Counter[str] = Counter()
        self._waiting: dict[str, deque[Callable[[], None]]] = {}

    def submit(self, key: str, task: Callable[[], None]) -> None:
        with self._lock:
            if self._active[key] >= self._per_key:
                self._waiting.setdefault(key, deque()).append(task)
                return
            self._active[key] += 1
        self._executor.submit(self._drain, key, task)

    def _drain(self, key: str, task: Callable[[], None] | None) -> None:
        while task is not None:
            try:
                task()
            except Exception:  # a task must never take a worker down with it
                log.exception("dispatch task failed")
            with self._lock:
                waiting = self._waiting.get(key)
                if waiting:
                    task = waiting.popleft()
                else:
                    self._waiting.pop(key, None)
                    self._active[key] -= 1
                    if not self._active[key]:
                        del self._active[key]
                    task = None

    def shutdown(self, wait: bool = True) -> None:
        self._executor.shutdown(wait=wait, cancel_futures=True)


class Dispatcher:
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
        self._sender = None if self.inline else Multiplexer(client, self._multiplexed_answer, per_address=per_address, total=workers)
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._heap: list[tuple[int, int, list[Send]]] = []  # (fire time, seq, its sends)
        self._seq = itertools.count()
        self._held: set[int] = set()  # fires prepared here and not yet finished
        self._outstanding: dict[int, int] = {}  # fire id -> sends not yet answered
        self._answers: queue.SimpleQueue[Answer] = queue.SimpleQueue()
        self._unrecorded = 0  # sends handed out whose answer is not yet written
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []

    # ------------------------------------------------------------------ fire loop side

    def prepare_claimed(self, session: Session, fires: list[ClaimedFire], now_ms: int) -> Prepared:
        """Write the run rows of fires claimed in `session`'s transaction (the fire loop's tick:
        claims and run rows commit together, or neither does). Fires already prepared here are
        left out."""
        with self._lock:
            fresh = [f for f in fires if f.id not in self._held]
        return self.runs.prepare_in(session, fresh, now_ms, self.route_state)

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
        per_fire = Counter(s.fire_id for s in prepared.sends)
        # One heap entry per fire time: a backlog or a busy second is one entry, not thousands.
        by_time: dict[int, list[Send]] = {}
        for send in prepared.sends:
            at = by_time.get(send.fire_at_ms)
            if at is None:
                by_time[send.fire_at_ms] = [send]
            else:
                at.append(send)
        with self._lock:
            for fire_id, count in per_fire.items():
                self._held.add(fire_id)
                self._outstanding[fire_id] = count
            self._unrecorded += len(prepared.sends)
            for fire_at_ms, sends in by_time.items():
                heapq.heappush(self._heap, (fire_at_ms, next(self._seq), sends))
            self._changed.notify_all()
        return len(prepared.sends)

    @property
    def held(self) -> set[int]:
        with self._lock:
            return set(self._held)

    def next_due_ms(self) -> int | None:
        with self._lock:
            return self._heap[0][0] if self._heap else None

    # ------------------------------------------------------------------ sending

    def send_due(self, now_ms: int) -> int:
        """Hand every send due at `now_ms` to the workers (inline: send and record them now)."""
        due: list[Send] = []
        with self._lock:
            while self._heap and self._heap[0][0] <= now_ms:
                due += heapq.heappop(self._heap)[2]
        if self._pool is None:
            for send in due:
                self._answers.put(self._execute(send))
            self.record_answers()
            return len(due)
        calls: list[Call] = []
        for send in due:
            if send.probe or not handles(send.address):
                key = send.address or f"probe:{send.job_id}"
                self._pool.submit(key, lambda send=send: self._answers.put(self._execute(send)))
            else:
                lag_ms = self._sending(send)
                calls.append(Call(send.address, "run", send.body, (send, lag_ms)))
        if calls:
            assert self._sender is not None
            self._sender.submit(calls)
        return len(due)

    def _execute(self, send: Send) -> Answer:
        """Route (a probe) and send in this thread, blocking."""
        address, trace = send.address, send.trace
        if send.probe:
            if not send.candidates:
                record_trigger_failure(TriggerFailure.NO_LIVE_EXECUTOR)
                log.warning("trigger failed", extra={**_event(send), "reason": "no live executor in the job's group"})
                return Answer(send.fire_id, send.run_id, False, "no live executor in the job's group", None)
            if send.strategy == RouteStrategy.BUSYOVER:
                route = route_busyover(send.candidates, send.job_id, self.client)
            else:
                route = route_failover(send.candidates, self.client)
            if route.address is None:
                record_trigger_failure(TriggerFailure.EXECUTOR_REFUSED)
                log.warning("trigger failed", extra={**_event(send), "reason": route.trace})
                return Answer(send.fire_id, send.run_id, False, route.trace, None)
            address, trace = route.address, route.trace
        assert address is not None
        lag_ms = self._sending(send)
        return self._answered(send, address, trace, lag_ms, self.client.run_encoded(address, send.body))

    def _multiplexed_answer(self, token: object, answer: Envelope) -> None:
        send, lag_ms = token  # type: ignore[misc]
        self._answers.put(self._answered(send, send.address, send.trace, lag_ms, answer))

    def _sending(self, send: Send) -> int:
        lag_ms = self.clock.now_ms() - send.fire_at_ms
        record_trigger_lag(lag_ms)
        return lag_ms

    def _answered(self, send: Send, address: str, trace: str, lag_ms: int, answer: Envelope) -> Answer:
        """The executor's answer to `send` (made to `address`) as the Answer the recorder writes;
        metrics and the log line."""
        msg = answer.msg or ""
        accepted = answer.ok or msg.startswith(REPEAT_MARK)
        if accepted:
            if log.isEnabledFor(logging.INFO):
                log.info("run sent", extra={**_event(send), "address": address, "lag_ms": lag_ms})
        else:
            # ExecutorClient words every transport failure as "executor <address> ..."
            transport = msg.startswith(f"executor {address} ")
            record_trigger_failure(TriggerFailure.TRANSPORT if transport else TriggerFailure.EXECUTOR_REFUSED)
            log.warning("run refused" if not transport else "run not delivered", extra={**_event(send), "address": address, "lag_ms": lag_ms, "reason": msg})
        if accepted and not trace:
            msg = ""  # "accepted, logId:N" says nothing the row's status does not
        elif trace:
            msg = f"{trace}; run: {msg}" if msg else trace
        return Answer(send.fire_id, send.run_id, accepted, msg, address if send.probe else None)

    # ------------------------------------------------------------------ recording

    def record_answers(self, block_s: float = 0.0, linger_s: float = 0.0) -> int:
        """Write the answers received so far in one transaction; fires fully answered become DONE.

        `block_s`: wait that long for a first answer. `linger_s`: after the first one, let more
        arrive for that long (a stop cuts the wait short), then take up to RECORD_BATCH, so that a
        steady trickle of answers costs one transaction per linger period instead of one per
        handful. The recorder sleeps through the linger rather than waking for each answer: a
        wake-up per answer cost the dispatch threads the interpreter lock once per /run."""
        answers: list[Answer] = []
        try:
            answers.append(self._answers.get(timeout=block_s) if block_s > 0 else self._answers.get_nowait())
            if linger_s > 0:
                self._stop.wait(linger_s)  # a real wait in the recorder thread
            while len(answers) < RECORD_BATCH:
                answers.append(self._answers.get_nowait())
        except queue.Empty:
            pass
        if not answers:
            return 0
        finished: list[int] = []
        with self._lock:
            for a in answers:
                left = self._outstanding.get(a.fire_id, 0) - 1
                if left <= 0:
                    self._outstanding.pop(a.fire_id, None)
                    finished.append(a.fire_id)
                else:
                    self._outstanding[a.fire_id] = left
        try:
            self.runs.record(answers, finished, self.clock.now_ms())
        except Exception:
            log.exception("recording %d /run answers failed; retrying", len(answers))
            with self._lock:
                for fire_id in finished:
                    self._outstanding[fire_id] = self._outstanding.get(fire_id, 0)
                for a in answers:
                    self._outstanding[a.fire_id] = self._outstanding.get(a.fire_id, 0) + 1
            for a in answers:
                self._answers.put(a)
            return 0
        with self._lock:
            self._held.difference_update(finished)
            self._unrecorded -= len(answers)
            self._changed.notify_all()
        return len(answers)

    # ------------------------------------------------------------------ threads

    def start(self) -> None:
        if self.inline:
            raise RuntimeError("an inline dispatcher (workers=0) has no threads to start")
        assert self._sender is not None
        self._sender.start()
        for name, target in (("shardcron-timer", self._timer_loop), ("shardcron-recorder", self._recorder_loop)):
            thread = threading.Thread(target=target, name=name, daemon=True)
            thread.start()
            self._threads.append(thread)

    def alive(self) -> bool:
        """True while started and the timer, recorder and sending threads all run."""
        return bool(self._threads) and all(t.is_alive() for t in self._threads) and (self._sender is None or self._sender.alive)

    def _timer_loop(self) -> None:
        while not self._stop.is_set():
            with self._lock:
                if not self._heap:
                    self._changed.wait(MAX_TIMER_WAIT_S)
                    continue
                delay_ms = self._heap[0][0] - self.clock.now_ms()
                if delay_ms > 0:
                    self._changed.wait(min(delay_ms / 1000, MAX_TIMER_WAIT_S))
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
            while self._unrecorded > 0:
                left = deadline - SYSTEM_CLOCK.monotonic()
                if left <= 0:
                    return False
                self._changed.wait(min(left, 0.1))
            return True

    def stop(self, timeout_s: float = 10.0) -> None:
        """Send what is due within `timeout_s`, record every answer, stop the threads. Sends
        still waiting stay PENDING under their fire's lease: another node re-sends them."""
        if self._threads:  # without the recorder thread nothing would ever become idle
            self.wait_idle(timeout_s)
        self._stop.set()
        with self._lock:
            self._changed.notify_all()
        if self._sender is not None:
            self._sender.stop(timeout_s)
        if self._pool is not None:
            self._pool.shutdown(wait=True)
        for thread in self._threads:
            thread.join(timeout=timeout_s)
        self.record_answers()
