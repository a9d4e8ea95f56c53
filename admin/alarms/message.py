"""The content of an alarm: a subject and text for e-mail, a JSON document for webhooks.

Alarms are raised for FAILED runs and for UNKNOWN ones (whether the executor got the /run could
not be known after a scheduler failure). An UNKNOWN run's alarm says "outcome unknown", never
"failed": it may well have run. The message is built when the alarm is sent, from the run as it
is then, so a run whose result came in meanwhile is described as it ended.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shardcron.core.clock import ms_to_datetime

from ..enums import RunStatus
from ..models import ExecutorGroup, Job, RunLog

#: What a run whose outcome could not be known is called (subject, text, webhook event).
UNKNOWN_OUTCOME = "outcome unknown"
UNKNOWN_EXPLAINED = (
    "Whether the executor received this run could not be confirmed after a scheduler failure; "
    "it was not sent again (the job delivers at most once)."
)


@dataclass(frozen=True)
class AlarmMessage:
    subject: str
    text: str
    payload: dict[str, Any]
    #: When it was composed (the e-mail's Date header; no hidden wall-clock reads).
    composed_at_ms: int


def _iso(at_ms: int | None) -> str | None:
    return None if not at_ms else ms_to_datetime(at_ms).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _what_happened(run: RunLog | None) -> tuple[str, str]:
    """(subject phrase, webhook event) for the run's status when the alarm goes out."""
    if run is None or run.status == RunStatus.FAILED:
        return "failed", "run_failed"
    if run.status == RunStatus.UNKNOWN:
        return UNKNOWN_OUTCOME, "run_outcome_unknown"
    # Only an UNKNOWN run is alarmed without having failed; its result arrived before the alarm went out.
    return f"{UNKNOWN_OUTCOME} at first, now {run.status}", "run_outcome_unknown"


def build_message(
    run_id: int, run: RunLog | None, job: Job | None, group: ExecutorGroup | None, public_url: str | None, now_ms: int
) -> AlarmMessage:
    job_name = job.name if job else "(deleted job)"
    job_id = job.id if job else (run.job_id if run else None)
    what, event = _what_happened(run)
    subject = f"[shardcron] job {job_name} (#{job_id}) {what}: run {run_id}"
    # The console's run page (web blueprint at /); only when the admin knows its public URL.
    console_url = f"{public_url.rstrip('/')}/runs/{run_id}" if public_url else None
    run_doc: dict[str, Any] = {"id": run_id}
    if run is not None:
        run_doc.update(
            status=str(run.status),
            trigger_type=str(run.trigger_type),
            attempt=run.attempt,
            shard_index=run.shard_index,
            shard_total=run.shard_total,
            executor_address=run.executor_address,
            param=run.param,
            trigger_code=run.trigger_code,
            trigger_msg=run.trigger_msg,
            handle_code=run.handle_code,
            handle_msg=run.handle_msg,
            fire_at=_iso(run.fire_at_ms),
            trigger_at=_iso(run.trigger_at_ms),
            handle_at=_iso(run.handle_at_ms),
        )
    payload = {
        "event": event,
        "text": subject,
        "job": {"id": job_id, "name": job_name, "handler": job.handler if job else None, "retry_count": job.retry_count if job else None},
        "group": {"id": group.id, "app_name": group.app_name, "title": group.title} if group else None,
        "run": run_doc,
        "console_url": console_url,
    }
    lines = [subject, ""]
    lines.append(f"Job:       {job_name} (#{job_id})" + (f", group {group.app_name}" if group else ""))
    if run is None:
        lines.append(f"Run:       {run_id} (no longer in the run log)")
    else:
        lines += [
            f"Run:       {run_id}, {run.trigger_type} trigger, attempt {run.attempt}, shard {run.shard_index}/{run.shard_total}",
            f"Executor:  {run.executor_address or '-'}",
            f"Planned:   {_iso(run.fire_at_ms)}",
            f"Triggered: {_iso(run.trigger_at_ms)} -> {run.trigger_code} {run.trigger_msg or ''}".rstrip(),
            f"Result:    {_iso(run.handle_at_ms) or '-'} -> {run.handle_code} {run.handle_msg or ''}".rstrip(),
        ]
        if event == "run_outcome_unknown":
            lines += ["", UNKNOWN_EXPLAINED]
    if console_url:
        lines += ["", f"Console:   {console_url}"]
    return AlarmMessage(subject=subject, text="\n".join(lines) + "\n", payload=payload, composed_at_ms=now_ms)
