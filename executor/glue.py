"""Script jobs (GLUE_SHELL, GLUE_PYTHON): the admin sends the source, the executor runs it.

Off unless the executor opts in (`glue_enabled`): a script job is code the admin runs on this
machine. When enabled, the source is written once per version to
`{glue_dir}/{jobId}_{glueUpdatetime}_{sha256[:12]}{suffix}` and run as
`interpreter file param shard_index shard_total` in its own process group, with its output
(stdout and stderr) going line by line into the run log. Exit code 0 is success. Cancellation
(kill, COVER_EARLY, timeout, shutdown) is real here: SIGTERM to the whole group, then SIGKILL
after a grace period.
"""

from __future__ import annotations

import hashlib
import logging
import os
import signal
import subprocess
import threading
from pathlib import Path

from .context import JobContext
from .outcome import Outcome
from shardcron.core.protocol import GlueType, ResultCode

log = logging.getLogger("shardcron.executor.glue")

SCRIPT_SUFFIXES = {GlueType.GLUE_SHELL.value: ".sh", GlueType.GLUE_PYTHON.value: ".py"}
#: Environment variables of the executor that a script never sees.
HIDDEN_ENV = ("SHARDCRON_EXECUTOR_ACCESS_TOKEN",)
#: How often the runner looks at its process while waiting for it or for a cancellation.
POLL_S = 0.05


class ScriptRunner:
    def __init__(self, glue_dir: Path, interpreters: dict[str, str], *, kill_grace_s: float = 5.0) -> None:
        self.glue_dir = glue_dir
        self.interpreters = interpreters
        self.kill_grace_s = kill_grace_s
        self._lock = threading.Lock()

    def supports(self, glue_type: str) -> bool:
        return glue_type in SCRIPT_SUFFIXES

    def script_path(self, ctx: JobContext) -> Path:
        """Write this version of the job's script (once) and remove its older versions."""
        t = ctx.trigger
        digest = hashlib.sha256(t.glue_source.encode("utf-8")).hexdigest()[:12]
        path = self.glue_dir / f"{t.job_id}_{t.glue_updatetime_ms}_{digest}{SCRIPT_SUFFIXES[t.glue_type]}"
        with self._lock:
            if not path.exists():
                self.glue_dir.mkdir(parents=True, exist_ok=True)
                temp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
                temp.write_text(t.glue_source, encoding="utf-8")
                temp.chmod(0o700)
                os.replace(temp, path)
            for old in self.glue_dir.glob(f"{t.job_id}_*"):
                if old != path:
                    old.unlink(missing_ok=True)
        return path

    def run(self, ctx: JobContext) -> Outcome:
        t = ctx.trigger
        interpreter = self.interpreters[t.glue_type]
        try:
            path = self.script_path(ctx)
        except OSError as exc:
            return Outcome.fail(f"script of job {t.job_id} cannot be written to {self.glue_dir}: {exc.strerror}")
        command = [interpreter, str(path), t.executor_params, str(t.broadcast_index), str(t.broadcast_total)]
        ctx.log("script started: %s", " ".join(command[:2]))
        try:
            proc = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                cwd=self.glue_dir,
                env=_script_env(ctx),
                start_new_session=True,  # its own process group, so a kill reaches its children
            )
        except FileNotFoundError:
            return Outcome.fail(f"interpreter {interpreter!r} for {t.glue_type} not found on this executor")
        except OSError as exc:
            return Outcome.fail(f"script of job {t.job_id} could not start: {exc.strerror}")
        reader = threading.Thread(target=_copy_output, args=(proc, ctx), name=f"glue-output-{t.log_id}", daemon=True)
        reader.start()
        while proc.poll() is None:
            if ctx.cancel_event.wait(POLL_S):
                self._kill_group(proc, ctx)
                break
        code = proc.wait()
        reader.join(1.0)
        if ctx.cancelled:
            return Outcome.fail(f"job killed: {ctx.cancel_reason}; script process group terminated")
        if code == 0:
            return Outcome(int(ResultCode.SUCCESS), "script exit code 0")
        if code < 0:
            return Outcome.fail(f"script killed by signal {signal.Signals(-code).name}")
        return Outcome.fail(f"script exit code {code}")

    def _kill_group(self, proc: subprocess.Popen, ctx: JobContext) -> None:
        ctx.log("stopping the script's process group (%s)", ctx.cancel_reason)
        _signal_group(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=self.kill_grace_s)
        except subprocess.TimeoutExpired:
            ctx.log("script still running %.0fs after SIGTERM, sending SIGKILL", self.kill_grace_s)
        # SIGKILL the group in any case: children may outlive a leader that obeyed SIGTERM.
        _signal_group(proc.pid, signal.SIGKILL)


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _copy_output(proc: subprocess.Popen, ctx: JobContext) -> None:
    assert proc.stdout is not None
    with proc.stdout:
        for raw in proc.stdout:
            ctx.write_log(raw.decode("utf-8", errors="replace").rstrip("\n"))


def _script_env(ctx: JobContext) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in HIDDEN_ENV}
    env.update(
        {
            "SHARDCRON_JOB_ID": str(ctx.job_id),
            "SHARDCRON_LOG_ID": str(ctx.log_id),
            "SHARDCRON_JOB_PARAM": ctx.param,
            "SHARDCRON_SHARD_INDEX": str(ctx.shard_index),
            "SHARDCRON_SHARD_TOTAL": str(ctx.shard_total),
            "SHARDCRON_TRIGGER_TIME_MS": str(ctx.trigger_time_ms),
        }
    )
    return env
