"""`Executor`: the object an application creates, registers its handlers on and runs.

    executor = Executor(app_name="billing", admin_addresses=["http://admin:8080/"], access_token="...")

    @executor.job("syncInvoices")
    def sync_invoices(ctx):
        ctx.log("shard %s of %s", ctx.shard_index, ctx.shard_total)

    executor.run()          # blocking, until SIGTERM/SIGINT or executor.stop()
    executor.start()        # or in the background of a host application
    executor.start(serve=False) + mount executor.wsgi_app in the host's own WSGI server

Building an Executor starts nothing; `start()` binds the server, replays the callback spool,
starts the background loops, opens the dispatcher, then serves (a connection made in between
waits in the backlog: no /run is refused as "not running") and registers with the admins.
`stop()` is the graceful shutdown: deregister, refuse new triggers, wait a bounded time for
running jobs, flush callbacks.
"""

from __future__ import annotations

import dataclasses
import logging
import signal
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from .admin_client import AdminClient
from .callback import CallbackSender
from shardcron.core.clock import SYSTEM_CLOCK, Clock
from .config import ExecutorConfig, advertised_address, load_executor_config
from .dispatcher import Dispatcher
from .embedded import EmbeddedServer
from shardcron.core.errors import ConfigError, ShardcronError
from .glue import ScriptRunner
from .handlers import Handler, HandlerRegistry, JobHandler
from .heartbeat import Registrar
from .joblog import RunLogStore
from .loop import Loop
from .metrics import ExecutorCollector, RetryTaskStats, RunTally
from .ops import ExecutorOps, ReadinessInputs
from .progress import ProgressReporter
from .checkpoints import CheckpointReporter
from shardcron.core.protocol import CallbackParam, GlueType
from .server import ExecutorWsgiApp
from shardcron.core.settings import load_settings
from .spool import CallbackSpool

log = logging.getLogger("shardcron.executor")

LOG_CLEANUP_INTERVAL_S = 3600.0
#: A finished run's result waits this long for others to share its callback POST (it is
#: already safe in the spool): at high rates one POST carries up to 50 results.
CALLBACK_LINGER_S = 0.02
#: After shutdown cancelled the runs still going, how long their handlers get to return.
CANCEL_GRACE_S = 2.0


class Executor:
    def __init__(
        self,
        app_name: str | None = None,
        admin_addresses: Iterable[str] | str | None = None,
        access_token: str | None = None,
        *,
        config: ExecutorConfig | None = None,
        config_file: Path | str | None = None,
        env: dict[str, str] | None = None,
        clock: Clock = SYSTEM_CLOCK,
        **settings: Any,
    ) -> None:
        """Settings come from `config` when given, else from the defaults, a TOML file, the
        `SHARDCRON_EXECUTOR_*` environment and these keyword arguments (see ExecutorConfig)."""
        if config is None:
            overrides = dict(settings, app_name=app_name, access_token=access_token)
            if admin_addresses is not None:
                overrides["admin_addresses"] = [admin_addresses] if isinstance(admin_addresses, str) else list(admin_addresses)
            config = load_executor_config(file=config_file, env=env, overrides=overrides)
        elif app_name or admin_addresses or access_token or settings or config_file:
            raise ShardcronError("Executor(): pass either config= or individual settings, not both")
        self.clock = clock
        self.handlers = HandlerRegistry()
        self._state = "new"
        self._state_lock = threading.Lock()
        self._stop_requested = threading.Event()
        self._stopped = threading.Event()
        self._server: EmbeddedServer | None = None
        self.address: str | None = None
        # metrics outlive a reconfiguration (configure() rebuilds the parts below)
        self.tally = RunTally()
        self.metrics = ExecutorCollector(_LiveState(self), clock)
        self._build(config)

    # ------------------------------------------------------------------ handlers

    def job(self, name: str, *, init: Callable[[], Any] | None = None, destroy: Callable[[], Any] | None = None) -> Callable[[Handler], Handler]:
        """Register `handler(ctx)` under `name`; a duplicate name is an error right here."""

        def register(func: Handler) -> Handler:
            self.handlers.register(JobHandler(name=name, func=func, init=init, destroy=destroy))
            return func

        return register

    # ------------------------------------------------------------------ configuration

    def _build(self, config: ExecutorConfig) -> None:
        config.check_complete()
        self.config = config
        admins = config.normalized_admin_addresses

        def client() -> AdminClient:
            return AdminClient(admins, config.access_token, config.admin_timeout_s)

        self.logs = RunLogStore(config.effective_log_dir, self.clock, config.log_retention_days)
        self.spool = CallbackSpool(config.effective_spool_dir)
        self.callbacks = CallbackSender(self.spool, client(), self.clock, config.callback_retry_s)
        self.progress = ProgressReporter(client(), self.clock, config.progress_interval_s)
        self.checkpoints = CheckpointReporter(config.effective_spool_dir, client(), self.clock, config.progress_interval_s, config.callback_retry_s)
        self.registrar = Registrar(client(), self.clock, str(config.app_name), config.registry_interval_s, insecure=config.insecure)
        scripts = None
        if config.glue_enabled:
            interpreters = {GlueType.GLUE_SHELL.value: config.glue_shell, GlueType.GLUE_PYTHON.value: config.glue_python}
            scripts = ScriptRunner(config.glue_dir, interpreters)
        self.dispatcher = Dispatcher(
            self.handlers,
            self.logs,
            self.clock,
            submit_result=self._submit_result,
            is_result_pending=self.callbacks.is_pending,
            progress_sink=self.progress.report,
            progress_finish=self.progress.finish,
            scripts=scripts,
            queue_limit=config.queue_limit,
            idle_worker_s=config.idle_worker_s,
            on_deadline=lambda: self._loops["maintenance"].wake(),
            checkpoint_sink=self.checkpoints.record,
        )
        ops = ExecutorOps(
            ReadinessInputs(running=lambda: self._state == "started", registered=lambda: self.registrar.registered, spool_dir=config.effective_spool_dir),
            self.metrics,
            config.metrics_token,
        )
        self._app = ExecutorWsgiApp(self.dispatcher, self.logs, config.access_token, insecure=config.insecure, ops=ops)
        self._next_cleanup_s = 0.0
        self._loops = {
            "maintenance": Loop("shardcron-executor-maintenance", self._maintain),
            "registry": Loop("shardcron-executor-registry", self.registrar.tick),
            "callback": Loop("shardcron-executor-callback", self.callbacks.tick, linger_s=CALLBACK_LINGER_S),
            "progress": Loop("shardcron-executor-progress", self.progress.tick),
            "checkpoint": Loop("shardcron-executor-checkpoint", self.checkpoints.tick),
        }
        self.callbacks.on_submit = self._loops["callback"].wake
        self.progress.on_due = self._loops["progress"].wake
        self.checkpoints.on_due = self._loops["checkpoint"].wake

    def _submit_result(self, result: CallbackParam, on_durable: Callable[[], None]) -> None:
        self.tally.count(result.handle_code)

        def durable() -> None:
            self.checkpoints.result_spooled(result.log_id)  # the result carries the last checkpoint
            on_durable()

        self.callbacks.submit(result, durable)

    def watch_retry_tasks(self, tasks: RetryTaskStats) -> None:
        """Report this retry-task table's rows by status on /metrics (RetryTasks.register_drainer
        calls it)."""
        self.metrics.watch(tasks)

    def configure(self, **overrides: Any) -> None:
        """Change settings before `start()` (used by `shardcron executor run` for its flags)."""
        if self._state != "new":
            raise ShardcronError("an executor's settings cannot change once it started")
        clean = {k: v for k, v in overrides.items() if v is not None}
        if not clean:
            return
        merged = {**dataclasses.asdict(self.config), **clean}
        self._build(load_settings(ExecutorConfig, prefix="", env={}, overrides=merged))

    # ------------------------------------------------------------------ serving

    def wsgi_app(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        """The executor's endpoints as a WSGI app, for hosts that mount it in their own server
        (then start with `start(serve=False)` and set `advertise_address`)."""
        return self._app(environ, start_response)

    @property
    def port(self) -> int | None:
        return self._server.port if self._server is not None else None

    def start(self, *, serve: bool = True) -> Executor:
        """Start in the background: server (unless `serve=False`), loops, registration."""
        with self._state_lock:
            if self._state != "new":
                raise ShardcronError(f"executor {self.config.app_name} was already started (an Executor runs once)")
            if not serve and not self.config.advertise_address:
                raise ConfigError("advertise_address", None, "required when the host serves the executor's WSGI app (start(serve=False))")
            self.spool.prepare()
            server = None
            bound_port = 0
            if serve:
                server = EmbeddedServer(self.wsgi_app, self.config.listen, threads=self.config.server_threads)
                try:
                    bound_port = server.bind()  # serves once the dispatcher is open (below)
                except ShardcronError:
                    self.spool.close()  # free the spool folder for another attempt
                    raise
            self._server = server
            self.address = advertised_address(self.config, bound_port)
            self._state = "started"
        self.dispatcher.remember(self.callbacks.replay())
        self.checkpoints.replay()
        self.callbacks.start()
        for loop in self._loops.values():
            loop.start()
        self.dispatcher.open()
        if self._server is not None:
            self._server.serve()  # only now: a /run never meets a dispatcher that is not open yet
        self.registrar.set_address(self.address)
        self._loops["registry"].wake()
        if self.config.insecure:
            log.warning(
                "INSECURE executor: every caller that reaches %s can run its jobs; no access token is checked",
                self.address,
                extra={"app_name": self.config.app_name},
            )
        log.info(
            "executor started",
            extra={
                "app_name": self.config.app_name,
                "address": self.address,
                "handlers": ",".join(self.handlers.names()) or "-",
                "glue_enabled": self.config.glue_enabled,
                "spooled_results": self.callbacks.pending_count,
            },
        )
        return self

    def run(self) -> None:
        """Start, then block until SIGTERM/SIGINT (in the main thread) or `stop()`; stop gracefully."""
        previous: dict[int, Any] = {}
        if threading.current_thread() is threading.main_thread():
            for stop_signal in (signal.SIGTERM, signal.SIGINT):
                previous[stop_signal] = signal.signal(stop_signal, lambda *_: self._stop_requested.set())
        try:
            self.start()
            self._stop_requested.wait()
        finally:
            try:
                self.stop()
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)

    def request_stop(self) -> None:
        """Ask a blocking `run()` to stop (safe from any thread and from signal handlers)."""
        self._stop_requested.set()

    def stop(self, timeout_s: float | None = None) -> None:
        """Graceful shutdown; waits up to `timeout_s` (default shutdown_timeout_s) for running jobs."""
        with self._state_lock:
            state, self._state = self._state, "stopping" if self._state == "started" else self._state
        if state == "stopping":
            self._stopped.wait()
            return
        if state != "started":
            return
        self._stop_requested.set()
        timeout_s = self.config.shutdown_timeout_s if timeout_s is None else timeout_s
        try:
            self._loops["registry"].stop()
            self.registrar.deregister()
            self.dispatcher.stop_accepting()
            if not self.dispatcher.wait_idle(timeout_s):
                cancelled = self.dispatcher.cancel_running("executor shut down before the run finished")
                log.warning("running jobs cancelled by shutdown", extra={"runs": cancelled, "waited_s": timeout_s})
                self.dispatcher.wait_idle(CANCEL_GRACE_S)
            self._loops["maintenance"].stop()
            if self._server is not None:
                self._server.stop()
            self.callbacks.stop_commits()
            self._loops["callback"].stop()
            flush_s = self.config.admin_timeout_s * len(self.config.admin_addresses) + 1.0
            if not self.callbacks.flush(flush_s):
                log.warning("results not yet accepted stay in the spool for the next start", extra={"pending": self.callbacks.pending_count})
            self._loops["progress"].stop()
            self.progress.tick()
            self._loops["checkpoint"].stop()
            self.checkpoints.tick()  # what is not accepted stays on disk for the next start
            self.dispatcher.retire_all()
        finally:
            for component in (self.callbacks, self.progress, self.checkpoints, self.registrar):
                component.close()
            with self._state_lock:
                self._state = "stopped"
            self._stopped.set()
            log.info("executor stopped", extra={"app_name": self.config.app_name})

    def __enter__(self) -> Executor:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # ------------------------------------------------------------------ the clock-driven duties

    def _maintain(self) -> float:
        delay_s = self.dispatcher.tick()
        now_s = self.clock.monotonic()
        if now_s >= self._next_cleanup_s:
            self._next_cleanup_s = now_s + LOG_CLEANUP_INTERVAL_S
            self.logs.cleanup(self.clock.now_ms())
        return min(delay_s, self._next_cleanup_s - now_s)

    def tick(self) -> None:
        """Run every periodic duty once, now (tests drive a FakeClock through this)."""
        self._maintain()
        self.registrar.tick()
        self.callbacks.tick()
        self.progress.tick()
        self.checkpoints.tick()


class _LiveState:
    """An executor's current numbers, for its metrics collector."""

    def __init__(self, executor: Executor) -> None:
        self._executor = executor
        self.tally = executor.tally

    @property
    def running_runs(self) -> int:
        return self._executor.dispatcher.running_count

    @property
    def spooled_results(self) -> int:
        return self._executor.callbacks.pending_count

    @property
    def registered(self) -> bool:
        return self._executor.registrar.registered
