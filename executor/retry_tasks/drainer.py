"""The drainer: the built-in job handler that works off the due rows of one shard.

Set it up as a SHARDING_BROADCAST job with the DISCARD_LATER block strategy, fired every few
seconds: every executor receives shard i of n and drains the due rows with `id % n == i`. A run
claims batches until no due row is left, its time budget is spent, or it is cancelled; it then
finishes the rows it started, releases the ones it did not, and reports its counts.
"""

from __future__ import annotations

import itertools
import logging
import random
import secrets
import threading
from contextlib import closing, nullcontext
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any

from shardcron.core.clock import Clock
from ..context import JobContext, JobResult
from .backoff import Backoff
from .batch import BatchRunner, HandlerSpec
from .errors import RetryTaskError
from .maintenance import Maintenance
from .params import DrainerParams, parse_drainer_params
from .held_claim import HeldClaims, collect_claim_records
from .store import TaskStore, WriteCounts

#: The handler name the drainer is registered under (the job's executorHandler).
DRAINER_HANDLER = "retryTaskDrainer"
#: Progress is reported at most this often (it may travel to the admin).
PROGRESS_INTERVAL_S = 1.0
#: A running batch writes the outcomes it has this often (see BatchRunner).
FLUSH_INTERVAL_S = 1.0
#: Pause before claiming again when every due row was locked by another claim at that instant.
CONTENDED_WAIT_S = 0.02

log = logging.getLogger("shardcron.retry_tasks")


@dataclass
class DrainReport:
    shard_index: int
    shard_total: int
    claimed: int = 0
    succeeded: int = 0
    retried: int = 0
    dead: int = 0
    #: Rows finished meanwhile by a callback (or re-claimed after a lapsed lease): left alone.
    skipped: int = 0
    #: Rows claimed but never started (budget spent or cancelled), given back at once (attempt too).
    released: int = 0
    #: Rows whose previous attempt ended without an outcome: its lease expired because the drainer
    #: running it died or stalled. Run again if attempts were left, else made DEAD by the claim
    #: (counted in `dead` too).
    lease_expired: int = 0
    redriven: int = 0
    batches: int = 0
    elapsed_s: float = 0.0
    #: Why the run stopped claiming: "drained", "budget" or "cancelled".
    stopped: str = "drained"

    @property
    def processed(self) -> int:
        return self.succeeded + self.retried + self.dead + self.skipped

    def counts(self) -> dict[str, int]:
        return {k: v for k, v in asdict(self).items() if isinstance(v, int) and k not in ("shard_index", "shard_total")}

    def as_data(self) -> dict[str, Any]:
        data: dict[str, Any] = self.counts()
        data.update(shard=f"{self.shard_index}/{self.shard_total}", elapsed_s=round(self.elapsed_s, 3), stopped=self.stopped)
        return data

    def summary(self) -> str:
        text = (
            f"shard {self.shard_index}/{self.shard_total}: claimed {self.claimed}, succeeded {self.succeeded}, "
            f"retried {self.retried}, dead {self.dead}"
        )
        extras = [f"{name} {value}" for name, value in (("skipped", self.skipped), ("released", self.released), ("lease expired", self.lease_expired), ("re-driven", self.redriven)) if value]
        if extras:
            text += ", " + ", ".join(extras)
        return text + f" in {self.elapsed_s:.1f} s (stopped: {self.stopped})"


@dataclass(frozen=True)
class DrainHooks:
    """How a run talks to whoever started it (the job context, or a plain caller)."""

    cancelled: Callable[[], bool] = lambda: False
    log: Callable[[str], None] = lambda text: None
    progress: Callable[[DrainReport], None] = lambda report: None
    #: Pause up to `seconds`, returning early when cancelled.
    wait: Callable[[float], object] = threading.Event().wait


class Drainer:
    def __init__(
        self,
        *,
        store: TaskStore,
        maintenance: Maintenance,
        handlers: Callable[[], Mapping[str, HandlerSpec]],
        default_backoff: Backoff,
        clock: Clock,
        rng: random.Random,
        owner: str,
    ) -> None:
        self.store = store
        self.maintenance = maintenance
        self.handlers = handlers
        self.default_backoff = default_backoff
        self.clock = clock
        self.rng = rng
        # Tokens must differ between processes even when two are configured with one owner name.
        self._token_prefix = f"{owner}/{secrets.token_hex(3)}"
        self._claim_seq = itertools.count(1)
        #: How often a batch writes the outcomes it has (and a held batch goes over to leases).
        self.flush_interval_s = FLUSH_INTERVAL_S
        self._told_no_claim_table = False
        self._rng_lock = threading.Lock()

    # ------------------------------------------------------------------ as a job handler

    def run_job(self, ctx: JobContext) -> JobResult:
        """The job handler: `executor.job(DRAINER_HANDLER)(tasks.drainer)`."""
        try:
            params = parse_drainer_params(ctx.param)
        except RetryTaskError as exc:
            ctx.log(str(exc))
            return JobResult.fail(str(exc))
        budget_s = params.effective_budget_s(ctx.timeout_s)
        ctx.log(f"draining shard {ctx.shard_index}/{ctx.shard_total} ({params.to_text()}, budget {budget_s:g} s)")
        last_progress = [float("-inf")]

        def progress(report: DrainReport) -> None:
            now = self.clock.monotonic()
            if now - last_progress[0] >= PROGRESS_INTERVAL_S:
                last_progress[0] = now
                ctx.progress(report.processed, None, **report.counts())

        report = DrainReport(ctx.shard_index, ctx.shard_total)
        hooks = DrainHooks(cancelled=lambda: ctx.cancelled, log=ctx.log, progress=progress, wait=ctx.wait)
        try:
            self.drain(report, params, budget_s, hooks)
        except RetryTaskError as exc:
            ctx.result_data.update(report.as_data())
            ctx.log(f"stopped: {exc}")
            return JobResult.fail(f"{exc} ({report.summary()})", report.as_data())
        ctx.progress(report.processed, None, **report.counts())
        ctx.result_data.update(report.as_data())
        ctx.log(report.summary())
        # A cancelled run ends the way every cancelled run does, once its rows are written.
        ctx.check_cancelled()
        return JobResult.success(report.summary(), report.as_data())

    # ------------------------------------------------------------------ the loop

    def drain(self, report: DrainReport, params: DrainerParams, budget_s: float, hooks: DrainHooks = DrainHooks()) -> DrainReport:
        """Drain shard `report.shard_index` of `report.shard_total`, filling `report` as it goes."""
        started = self.clock.monotonic()
        deadline = started + budget_s
        lease_ms = round(params.lease_s * 1000)
        if params.redrive is not None:
            report.redriven = self.maintenance.redrive(params.redrive, shard_index=report.shard_index, shard_total=report.shard_total)
            hooks.log(f"re-drove {report.redriven} dead tasks ({params.redrive.to_text()})")

        def out_of_budget() -> bool:
            return self.clock.monotonic() >= deadline

        def should_stop() -> bool:
            return hooks.cancelled() or out_of_budget()

        def on_flush(written: WriteCounts) -> None:
            report.succeeded += written.succeeded
            report.retried += written.retried
            report.dead += written.dead
            report.skipped += written.lost
            report.elapsed_s = self.clock.monotonic() - started
            hooks.progress(report)

        token = f"{self._token_prefix}/{next(self._claim_seq)}"
        held = self._held_claims()
        handlers = dict(self.handlers())
        with self._rng_lock:  # one generator per run: random.Random is not shared across threads
            run_rng = random.Random(self.rng.getrandbits(64))
        committer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="retry-task-commit") if held is not None else None
        with (
            ThreadPoolExecutor(max_workers=params.concurrency, thread_name_prefix="retry-task") as pool,
            closing(held) if held is not None else nullcontext(),
            committer if committer is not None else nullcontext(),
        ):
            runner = BatchRunner(
                store=self.store,
                token=token,
                handlers=handlers,
                default_backoff=self.default_backoff,
                clock=self.clock,
                rng=run_rng,
                pool=pool,
                concurrency=params.concurrency,
                lease_ms=lease_ms,
                should_stop=should_stop,
                on_flush=on_flush,
                run_log=hooks.log,
                flush_interval_s=self.flush_interval_s,
                committer=committer,
            )
            try:
                self._claim_and_run(report, params, token, held, runner, hooks, out_of_budget, started)
            finally:
                runner.settle()
        report.elapsed_s = self.clock.monotonic() - started
        log.info(
            "retry tasks drained",
            extra={"shard": f"{report.shard_index}/{report.shard_total}", **report.counts(), "stopped": report.stopped},
        )
        return report

    def _held_claims(self) -> HeldClaims | None:
        """On PostgreSQL a batch's rows are held by its claim's transaction rather than leased
        (held_claim.py); that needs the claim table of revision 0002. Without it (the table not
        upgraded yet) the run leases its rows, as every drainer did before, and says so."""
        if not self.store.db.is_postgresql:
            return None
        if collect_claim_records(self.store.db) is None:
            if not self._told_no_claim_table:
                self._told_no_claim_table = True
                log.warning(
                    "retry-task table without its claim table (revision 0001): draining with leases; run `shardcron tasks upgrade` to claim PostgreSQL rows faster",
                )
            return None
        return HeldClaims(self.store.db)

    def _claim_and_run(
        self, report: DrainReport, params: DrainerParams, token: str, held: HeldClaims | None, runner: BatchRunner, hooks: DrainHooks, out_of_budget: Callable[[], bool], started: float
    ) -> None:
        """Claim batches and run them until none is due, the budget is spent or the run is cancelled."""
        lease_ms = round(params.lease_s * 1000)
        while True:
            if hooks.cancelled():
                report.stopped = "cancelled"
                return
            if out_of_budget():
                report.stopped = "budget"
                return
            now_ms = self.clock.now_ms()
            if held is not None:
                claim = held.claim(
                    token=token,
                    shard_index=report.shard_index,
                    shard_total=report.shard_total,
                    task_codes=params.task_codes,
                    limit=params.batch,
                    now_ms=now_ms,
                    lease_until_ms=now_ms + lease_ms,
                )
            else:
                claim = self.store.claim(
                    token=token,
                    shard_index=report.shard_index,
                    shard_total=report.shard_total,
                    limit=params.batch,
                    now_ms=now_ms,
                    lease_until_ms=now_ms + lease_ms,
                    task_codes=params.task_codes,
                )
            if claim.empty:
                if runner.settle():
                    continue  # the previous batch was still committing: its rows may have hidden due ones
                if claim.contended:
                    hooks.wait(CONTENDED_WAIT_S)
                    continue
                report.stopped = "drained"
                return
            report.claimed += len(claim.rows) + len(claim.exhausted)
            report.batches += 1
            report.dead += len(claim.exhausted)
            report.lease_expired += claim.lapsed
            if claim.exhausted or claim.lapsed:
                runner.note_lapses(claim)
            if claim.held is not None:
                try:
                    runner.settle()  # the previous batch's commit, before this batch runs anything
                except BaseException:
                    claim.held.abandon(started=False)
                    raise
            if claim.rows:
                counts = runner.run(claim.rows, claim.held)
                report.released += counts.released
            else:  # only rows made DEAD by the claim: nothing to run, report them all the same
                report.elapsed_s = self.clock.monotonic() - started
                hooks.progress(report)
