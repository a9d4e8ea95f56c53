"""Triggers -> runs: one worker per jobId, block strategies, kill, timeouts, idle workers.

  SERIAL_EXECUTION  queued behind the running run (FIFO, at most `queue_limit` waiting)
  DISCARD_LATER     refused at once while the job is running or has queued runs
  COVER_EARLY       the running run is cancelled and reports 500, queued runs are dropped (each
                    reporting 500), the new run runs as soon as the old handler has returned

`/kill` cancels the running run and drops the queued ones, each reporting 500. A run whose
`executorTimeout` passes is cancelled and reports 502. A duplicate logId (recently accepted here,
or with its result still waiting for an admin) is refused with "repeat trigger job, logId:N".
`tick()` enforces timeouts and retires idle workers; it reads only the injected clock.
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable

from shardcron.core.clock import SYSTEM_CLOCK, Clock
from .context import CheckpointSink, JobContext, ProgressSink, _ignore_checkpoint
from shardcron.core.errors import ShardcronError
from .glue import ScriptRunner
from .handlers import HandlerRegistry, JobHandler, destroy_handler, init_handler
from .joblog import RunLogFile, RunLogStore
from .outcome import Outcome, merge_result_data, outcome_of_error, outcome_of_return
from shardcron.core.protocol import BlockStrategy, CallbackParam, CheckpointParam, GlueType, ResultCode, TriggerParam
from .runs import Run
from .worker import JobWorker, RunnerPool

log = logging.getLogger("shardcron.executor.dispatcher")

#: How many accepted logIds are remembered for duplicate detection (besides unsent results).
RECENT_LOG_IDS = 50_000
REPEAT_TRIGGER = "repeat trigger job, logId:{log_id}"
#: How long a run's end waits for a report another thread is writing (a spool write: local disk).
REPORT_WAIT_S = 60.0


class TriggerRefused(ShardcronError):
    """A /run this executor does not accept; the message is the envelope's msg."""


class Dispatcher:
    def __init__(
        self,
        handlers: HandlerRegistry,
        logs: RunLogStore,
        clock: Clock,
        *,
        submit_result: Callable[[CallbackParam, Callable[[], None]], None],
        is_result_pending: Callable[[int], bool],
        progress_sink: ProgressSink,
        progress_finish: Callable[[int], None],
        scripts: ScriptRunner | None,
        queue_limit: int,
        idle_worker_s: float,
        on_deadline: Callable[[], None] = lambda: None,
        checkpoint_sink: CheckpointSink = _ignore_checkpoint,
    ) -> None:
        self._handlers = handlers
        self._logs = logs
        self._clock = clock
        self._submit_result = submit_result
        self._is_result_pending = is_result_pending
        self._progress_sink = progress_sink
        self._progress_finish = progress_finish
        self._checkpoint_sink = checkpoint_sink
        self._scripts = scripts
        self._queue_limit = queue_limit
        self._idle_worker_s = idle_worker_s
        self._on_deadline = on_deadline
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified whenever a run ends
        self._workers: dict[int, JobWorker] = {}
        self._pool = RunnerPool(self._lock, clock, self._run_worker)
        self._active: dict[int, Run] = {}  # log id -> queued or running run
        self._recent: set[int] = set()
        self._recent_order: deque[int] = deque()
        self._refusal: str | None = "executor is not running"  # why triggers are refused, None = open

    # ------------------------------------------------------------------ admin calls

    def has_accepted(self, log_id: int) -> bool:
        """Whether a trigger with this logId was accepted here: queued or running, among the last
        RECENT_LOG_IDS accepted, or with a result not yet taken by an admin."""
        with self._lock:
            if log_id in self._active or log_id in self._recent:
                return True
        return self._is_result_pending(log_id)

    def result_pending(self, log_id: int) -> bool:
        """Whether the run of `log_id` ended here and no admin has accepted its result yet: from
        the moment its result is decided (reported, or a queued run taken from its worker to be
        dropped) until an admin took it from the callback spool, including results replayed from
        the spool at start. False while the run is still going, and for a logId never taken.

        The instant `/idleBeat` turns idle for the job, this is already true: a run's result is
        handed to the spool before its worker lets go of it."""
        with self._lock:
            run = self._active.get(log_id)
            ended = run is not None and (run.reported or not self._holds(run))
        return ended or self._is_result_pending(log_id)

    def _holds(self, run: Run) -> bool:
        """Under the lock: whether the run's job worker still runs or queues it."""
        worker = self._workers.get(run.job_id)
        return worker is not None and (worker.current is run or run in worker.queue)

    def submit(self, trigger: TriggerParam) -> str:
        """Accept a trigger (it runs asynchronously) or raise TriggerRefused with the reason."""
        handler = self._resolve(trigger)
        run = self._new_run(trigger, handler)  # built outside the lock: it is the hot path
        covered: list[Run] = []
        spawn = False
        with self._lock:
            if self._refusal is not None:
                raise TriggerRefused(f"{self._refusal}, trigger logId:{trigger.log_id} refused")
            if trigger.log_id in self._recent or self._is_result_pending(trigger.log_id):
                raise TriggerRefused(REPEAT_TRIGGER.format(log_id=trigger.log_id))
            worker = self._workers.get(trigger.job_id)
            if worker is not None and worker.busy:
                strategy = trigger.executor_block_strategy
                if strategy is BlockStrategy.DISCARD_LATER:
                    raise TriggerRefused(
                        f"block strategy effect: Discard Later (job {trigger.job_id} is running or has queued triggers), logId:{trigger.log_id}"
                    )
                if strategy is BlockStrategy.COVER_EARLY:
                    covered = self._take_runs(worker)
                elif len(worker.queue) >= self._queue_limit:
                    raise TriggerRefused(
                        f"job {trigger.job_id} queue is full ({self._queue_limit} triggers waiting), logId:{trigger.log_id} refused"
                    )
            if worker is None:
                worker = self._workers[trigger.job_id] = JobWorker(trigger.job_id, self._clock.monotonic())
            worker.queue.append(run)
            if not worker.scheduled:
                spawn = self._pool.schedule(worker)
            self._active[run.log_id] = run
            self._remember(run.log_id)
        if spawn:
            self._pool.spawn()  # outside the lock: starting a thread takes a while
        if covered:
            self._stop_runs(covered, f"covered by a newer trigger (COVER_EARLY), logId:{trigger.log_id:d}")
        if log.isEnabledFor(logging.DEBUG):  # the hot path: build the fields only when they are printed
            log.debug("trigger accepted", extra={"job_id": trigger.job_id, "log_id": trigger.log_id, "shard": run.shard})
        return f"accepted, logId:{trigger.log_id}"

    def kill(self, job_id: int) -> str:
        with self._lock:
            worker = self._workers.get(job_id)
            runs = self._take_runs(worker) if worker is not None else []
        if not runs:
            return "job thread already killed."
        self._stop_runs(runs, "killed by /kill")
        return f"job {job_id} killed ({len(runs)} run(s) stopped)"

    def is_busy(self, job_id: int) -> bool:
        with self._lock:
            worker = self._workers.get(job_id)
            return worker is not None and worker.busy

    def is_active(self, log_id: int) -> bool:
        """True until the run is over: queued, running, or its result not yet in the spool."""
        with self._lock:
            return log_id in self._active

    def live_log(self, log_id: int) -> RunLogFile | None:
        """The run's log while the run is not over (queued, running, or its result not yet in the
        spool); None once it is, or for a run unknown here."""
        with self._lock:
            run = self._active.get(log_id)
        return run.log if run is not None else None

    @property
    def worker_count(self) -> int:
        with self._lock:
            return len(self._workers)

    @property
    def threads(self) -> tuple[int, int]:
        """(threads, idle threads) of the run pool; its threads serve any job."""
        with self._lock:
            return self._pool.thread_count, self._pool.idle_thread_count

    @property
    def running_count(self) -> int:
        with self._lock:
            return sum(1 for w in self._workers.values() if w.current is not None)

    # ------------------------------------------------------------------ the clock-driven duties

    def tick(self) -> float:
        """Time out overdue runs, retire idle workers and threads; returns the seconds until the next duty."""
        now_s = self._clock.monotonic()
        overdue: list[Run] = []
        retired: list[JobWorker] = []
        with self._lock:
            next_s = now_s + self._pool.tick(now_s, self._idle_worker_s)
            for job_id, worker in list(self._workers.items()):
                run = worker.current
                if run is not None:
                    if run.deadline_s is not None and not run.reported:
                        if now_s >= run.deadline_s:
                            overdue.append(run)
                        else:
                            next_s = min(next_s, run.deadline_s)
                elif not worker.queue and not worker.scheduled:
                    idle_until_s = worker.idle_since_s + self._idle_worker_s
                    if now_s >= idle_until_s:
                        worker.retired = True
                        del self._workers[job_id]
                        retired.append(worker)
                    else:
                        next_s = min(next_s, idle_until_s)
        for worker in retired:
            if worker.initialized is not None:
                destroy_handler(worker.initialized, worker.job_id)
            log.debug("idle job worker retired", extra={"job_id": worker.job_id})
        for run in overdue:
            seconds = run.trigger.executor_timeout_s
            claimed = run.claim_report()
            run.ctx.cancel(f"timeout after {seconds}s")
            if claimed:
                run.log.write(f"run timed out after {seconds}s; its handler was asked to stop")
                self._report(run, Outcome.timeout(f"job execute timeout: exceeded {seconds}s"))
                log.warning("run timed out", extra={"job_id": run.job_id, "log_id": run.log_id, "timeout_s": seconds})
        return max(0.0, next_s - now_s)

    # ------------------------------------------------------------------ start and graceful stop

    def open(self) -> None:
        """Start accepting triggers."""
        with self._lock:
            self._refusal = None

    def stop_accepting(self) -> None:
        """Refuse new triggers and drop the queued runs (each reports 500)."""
        dropped: list[Run] = []
        with self._lock:
            self._refusal = "executor is shutting down"
            for worker in self._workers.values():
                dropped.extend(worker.queue)
                worker.queue.clear()
        self._stop_runs(dropped, "executor is shutting down")

    def wait_idle(self, timeout_s: float) -> bool:
        """Wait up to `timeout_s` for every running handler to return; True if they all did.

        The bound is real time even when the executor runs on a fake clock: it limits how long a
        caller (shutdown) blocks on handler threads, which a fake clock never advances.
        """
        deadline_s = SYSTEM_CLOCK.monotonic() + timeout_s
        with self._idle:
            while self._active:
                remaining_s = deadline_s - SYSTEM_CLOCK.monotonic()
                if remaining_s <= 0:
                    return False
                self._idle.wait(min(remaining_s, 0.5))
            return True

    def cancel_running(self, reason: str) -> int:
        """Cancel every running run (each reports 500 unless it already reported)."""
        with self._lock:
            running = [w.current for w in self._workers.values() if w.current is not None]
        self._stop_runs(running, reason)
        return len(running)

    def retire_all(self) -> None:
        """End of the executor: destroy initialized handlers (a run still going does it when it
        ends) and let the pool's threads end."""
        idle: list[JobWorker] = []
        with self._lock:
            for worker in self._workers.values():
                worker.retired = True
                if not worker.scheduled:
                    idle.append(worker)
            self._workers.clear()
        for worker in idle:
            if worker.initialized is not None:
                destroy_handler(worker.initialized, worker.job_id)
        self._pool.stop()

    # ------------------------------------------------------------------ internals

    def _resolve(self, trigger: TriggerParam) -> JobHandler | None:
        glue_type = trigger.glue_type
        if glue_type == GlueType.BEAN:
            handler = self._handlers.get(trigger.executor_handler)
            if handler is None:
                raise TriggerRefused(f"job handler [{trigger.executor_handler}] not found.")
            return handler
        if self._scripts is None:
            raise TriggerRefused(
                f"glueType[{glue_type}] is disabled on this executor: script jobs run only where the executor opts in (glue_enabled)"
            )
        if not self._scripts.supports(glue_type):
            raise TriggerRefused(f"glueType[{glue_type}] is not valid. (this executor runs BEAN, GLUE_SHELL and GLUE_PYTHON)")
        return None

    def _new_run(self, trigger: TriggerParam, handler: JobHandler | None) -> Run:
        run_log = self._logs.open(trigger.log_id, trigger.log_date_time_ms)
        ctx = JobContext(trigger=trigger, write_log=run_log.write, progress_sink=self._progress_sink, clock=self._clock,
                         checkpoint_sink=self._checkpoint_sink)
        return Run(trigger=trigger, ctx=ctx, log=run_log, handler=handler)

    def remember(self, log_ids: list[int]) -> None:
        """Treat these logIds as accepted here (results replayed from the spool at start)."""
        with self._lock:
            for log_id in log_ids:
                self._remember(log_id)

    def _remember(self, log_id: int) -> None:
        if log_id in self._recent:
            return
        self._recent.add(log_id)
        self._recent_order.append(log_id)
        if len(self._recent_order) > RECENT_LOG_IDS:
            self._recent.discard(self._recent_order.popleft())

    def _take_runs(self, worker: JobWorker) -> list[Run]:
        """Under the lock: the worker's running run (if not reported yet) and its queued runs,
        which leave the queue at once (and the active set once `_stop_runs` reported them)."""
        runs = [worker.current] if worker.current is not None and not worker.current.reported else []
        runs.extend(worker.queue)
        worker.queue.clear()
        return runs

    def _stop_runs(self, runs: list[Run], reason: str) -> None:
        """Outside the lock: cancel running runs and report every run as failed with `reason`."""
        for run in runs:
            started = run.started_at_s is not None
            claimed = run.claim_report()  # before cancelling, so the handler's end waits for this report
            run.ctx.cancel(reason)
            if not claimed:
                continue
            if started:
                run.log.write(f"run cancelled: {reason}; its handler was asked to stop")
                self._report(run, Outcome.fail(f"job killed while running: {reason}"))
            else:
                run.log.write(f"run dropped before it started: {reason}")
                self._report(run, Outcome.fail(f"job not executed, removed from the queue: {reason}"))
                run.log.close()
                self._progress_finish(run.log_id)
                self._settle(run)  # it never runs: that end is reached now
            log.info("run stopped", extra={"job_id": run.job_id, "log_id": run.log_id, "reason": reason, "started": started})

    def _run_worker(self, worker: JobWorker) -> None:
        """In a pool thread: run the worker's queued runs one after another, then let it go idle."""
        while True:
            with self._lock:
                if not worker.queue:
                    worker.scheduled = False
                    worker.idle_since_s = self._clock.monotonic()
                    owed = worker.initialized if worker.retired else None
                    break
                run = worker.queue.popleft()
                worker.current = run
                run.start(self._clock.monotonic())
            if run.deadline_s is not None:
                self._on_deadline()
            outcome = self._prepare_handler(worker, run) or self._execute(run)
            self._end_run(worker, run, outcome)
        if owed is not None:  # retired (shutdown) while this run was going
            destroy_handler(owed, worker.job_id)

    def _prepare_handler(self, worker: JobWorker, run: Run) -> Outcome | None:
        """Init the run's handler for this job if needed (destroying the one it replaces)."""
        if run.handler is None or run.handler is worker.initialized or run.ctx.cancelled:
            return None
        if worker.initialized is not None:
            destroy_handler(worker.initialized, worker.job_id)
            worker.initialized = None
        failed = init_handler(run.handler, run.log.write)
        if failed is None:
            worker.initialized = run.handler
        return failed

    def _execute(self, run: Run) -> Outcome:
        """Run the handler or script, turning anything it does into an Outcome."""
        if run.ctx.cancelled:
            return Outcome.fail(f"job killed: {run.ctx.cancel_reason}")
        run.log.hold(run.describe)  # on disk (and formatted) only if the run logs more than a plain success
        if run.handler is None:
            assert self._scripts is not None
            return self._scripts.run(run.ctx)
        try:
            return outcome_of_return(run.handler.func(run.ctx))
        except (Exception, SystemExit) as exc:
            return outcome_of_error(exc)

    def _end_run(self, worker: JobWorker, run: Run, outcome: Outcome) -> None:
        """After the handler returned: report (if nobody did) and free the job for its next run."""
        if run.claim_report():
            self._report(run, outcome)
        else:
            run.wait_report(REPORT_WAIT_S)
            for line in outcome.log_lines:
                run.log.write(line)
            run.log.write(f"handler returned after the run's result was reported; ignored: code {outcome.code} {outcome.msg or ''}".rstrip())
        run.log.close()
        self._progress_finish(run.log_id)
        with self._lock:
            worker.current = None
        self._settle(run)

    def _settle(self, run: Run) -> None:
        """A run is over (no longer active: /log says isEnd, shutdown stops waiting for it) once
        its handler returned and its result is durable, in whichever order they happen."""
        if run.settle():
            with self._lock:
                self._active.pop(run.log_id, None)
                self._idle.notify_all()

    def _report(self, run: Run, outcome: Outcome) -> None:
        """Write the outcome to the run log and hand the result to the callback spool (durable)."""
        data, note = merge_result_data(run.ctx.result_data, outcome)
        for line in outcome.log_lines:
            run.log.write(line)
        if note:
            run.log.write(note)
        result_line = f"result: code {outcome.code}" + (f", {outcome.msg}" if outcome.msg else "")
        if outcome.code == ResultCode.SUCCESS:
            run.log.hold(result_line)  # a quiet success leaves no log file (joblog.RunLogFile)
        else:
            run.log.write(result_line)
        last = run.ctx.last_checkpoint
        checkpoint = CheckpointParam(run.log_id, last[0], last[1]) if last is not None else None
        result = CallbackParam(run.log_id, run.trigger.log_date_time_ms, outcome.code, outcome.msg, result_data=data, checkpoint=checkpoint)
        try:
            self._submit_result(result, lambda: self._settle(run))
        finally:
            run.report_finished()
