"""The content of an alarm: a subject and text for e-mail, a JSON document for webhooks.

Alarms are raised for FAILED runs and for UNKNOWN ones (whether the executor got the /run could
not be known after a scheduler failure). The alarm of a failed run that paused its job (pause on
failure) announces the pause: event `job_paused`, and the job's reason. An UNKNOWN run's alarm says "outcome unknown", never
"failed": it may well have run. The message is built when the alarm is sent, from the run as it
is then, so a run whose result came in meanwhile is described as it ended.

The human text (subject, e-mail body, the webhook's `text`) is written in the language the
`alarm_language` setting names (en or zh), through the console's gettext catalog; the webhook's
keys, its `event` and the run's values are the same in every language.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from shardcron.core.clock import ms_to_datetime

from ..enums import RunStatus
from ..models import ExecutorGroup, Job, RunLog
from ..texts import ENGLISH, Catalog, Text, _t, render

#: Why an UNKNOWN run's alarm does not say "failed".
UNKNOWN_EXPLAINED = _t(
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


#: What a pause alarm adds to the run's failure.
PAUSE_EXPLAINED = _t(
    "The job stopped itself after this failure: it reached its limit of consecutive failed runs (pause on failure). "
    "No scheduled run starts until it is started again, which also sets the count back to 0."
)


def _subject(run_id: int, run: RunLog | None, job_name: str, job_id: int | None, job_paused: bool) -> tuple[Text, str]:
    """(subject, webhook event) for the run's status when the alarm goes out."""
    names = {"name": job_name, "id": job_id, "run": run_id}
    if job_paused:
        return _t("[shardcron] job %(name)s (#%(id)s) paused after consecutive failed runs: run %(run)s", **names), "job_paused"
    if run is None or run.status == RunStatus.FAILED:
        return _t("[shardcron] job %(name)s (#%(id)s) failed: run %(run)s", **names), "run_failed"
    if run.status == RunStatus.UNKNOWN:
        return _t("[shardcron] job %(name)s (#%(id)s) outcome unknown: run %(run)s", **names), "run_outcome_unknown"
    # Only an UNKNOWN run is alarmed without having failed; its result arrived before the alarm went out.
    return _t("[shardcron] job %(name)s (#%(id)s) outcome unknown at first, now %(status)s: run %(run)s", status=str(run.status), **names), "run_outcome_unknown"


def build_message(
    run_id: int, run: RunLog | None, job: Job | None, group: ExecutorGroup | None, public_url: str | None, now_ms: int,
    catalog: Catalog = ENGLISH, *, job_paused: bool = False,
) -> AlarmMessage:
    """The alarm in the language of `catalog` (`alarm_language`): the subject, the e-mail's text
    and the webhook's `text`; the webhook's keys, its `event` and the run's values never change.
    `job_paused`: the run's failure paused its job (the alarm row says so)."""
    # A deleted job's placeholder name is translated in the text, English in the JSON (data).
    job_name: str = job.name if job else _t("(deleted job)")
    job_id = job.id if job else (run.job_id if run else None)
    subject_text, event = _subject(run_id, run, job_name, job_id, job_paused)
    subject = render(subject_text, catalog)
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
            # The time the job ran for: a retry's keeps the planned time of the run it re-ran.
            planned_at=_iso(run.log_date_ms),
            trigger_at=_iso(run.trigger_at_ms),
            handle_at=_iso(run.handle_at_ms),
        )
    payload = {
        "event": event,
        "text": subject,
        "job": {"id": job_id, "name": str(job_name), "handler": job.handler if job else None, "retry_count": job.retry_count if job else None},
        "group": {"id": group.id, "app_name": group.app_name, "title": group.title} if group else None,
        "run": run_doc,
        "console_url": console_url,
    }
    if job_paused:
        # The job as it is now: started again since, it shows no pause (paused_at null).
        payload["pause"] = {
            "pause_after_failures": job.pause_after_failures if job else None,
            "consecutive_failures": job.consecutive_failures if job else None,
            "paused_at": _iso(job.paused_at_ms) if job else None,
            "reason": job.paused_reason if job else None,
        }
    lines: list[Text | str] = [subject, ""]
    if group:
        lines.append(_t("Job:       %(name)s (#%(id)s), group %(group)s", name=job_name, id=job_id, group=group.app_name))
    else:
        lines.append(_t("Job:       %(name)s (#%(id)s)", name=job_name, id=job_id))
    if run is None:
        lines.append(_t("Run:       %(run)s (no longer in the run log)", run=run_id))
    else:
        lines += [
            _t("Run:       %(run)s, %(trigger)s trigger, attempt %(attempt)s, shard %(index)s/%(total)s",
               run=run_id, trigger=str(run.trigger_type), attempt=run.attempt, index=run.shard_index, total=run.shard_total),
            _t("Executor:  %(address)s", address=run.executor_address or "-"),
            _t("Planned:   %(at)s", at=_iso(run.log_date_ms)),
            _t("Triggered: %(at)s -> %(code)s %(message)s", at=_iso(run.trigger_at_ms), code=run.trigger_code, message=run.trigger_msg or ""),
            _t("Result:    %(at)s -> %(code)s %(message)s", at=_iso(run.handle_at_ms) or "-", code=run.handle_code, message=run.handle_msg or ""),
        ]  # fmt: skip
        if event == "run_outcome_unknown":
            lines += ["", UNKNOWN_EXPLAINED]
    if job_paused:
        if job is not None and job.paused_at_ms:
            lines.append(_t("Paused:    %(at)s, %(reason)s", at=_iso(job.paused_at_ms), reason=job.paused_reason or ""))
        else:
            lines.append(_t("Paused:    the job has been started again since"))
        lines += ["", PAUSE_EXPLAINED]
    if console_url:
        lines += ["", _t("Console:   %(url)s", url=console_url)]
    text = "\n".join(render(line, catalog).rstrip() for line in lines) + "\n"
    return AlarmMessage(subject=subject, text=text, payload=payload, composed_at_ms=now_ms)
