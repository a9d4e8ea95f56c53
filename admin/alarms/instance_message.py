"""The content of a workflow instance's alarm (it ended FAILED or TIMED_OUT).

The webhook JSON keeps the run alarm's keys (message.build_message) — `event`, `text`, `job`,
`group`, `run`, `console_url` — with `job` and `run` null (an instance is no run), and adds a
`workflow` object: the workflow, the instance and its failed steps, each with the ids of its
runs. The event is `workflow_failed` or `workflow_timed_out`. As for run alarms, the human text
is written in the `alarm_language`, the keys and values are the same in every language, and
the message is built when the alarm is sent, from the instance as it is then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import StepStatus, WorkflowStatus
from ..models import ExecutorGroup, RunLog, Workflow, WorkflowInstance, WorkflowStepRun
from ..texts import ENGLISH, Catalog, Text, _t, render
from .message import AlarmMessage, _iso

#: Steps listed in an alarm; the rest are counted (a 1,000-step instance stays readable).
MAX_STEPS = 50
#: Run ids listed per step (its shards and retries); the newest are kept.
MAX_RUNS_PER_STEP = 20
#: The step states an alarm lists: failed ones, and those a timeout cancelled while they ran.
_LISTED = (StepStatus.FAILED, StepStatus.CANCELLED)


@dataclass(frozen=True)
class FailedStep:
    key: str
    status: StepStatus
    job_id: int
    message: str | None
    run_ids: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class InstanceFacts:
    """What an instance alarm tells, read in one session (None: deleted since the alarm)."""

    instance_id: int
    instance: WorkflowInstance | None
    workflow: Workflow | None
    group: ExecutorGroup | None
    steps: list[FailedStep]
    more_steps: int


def read_instance_facts(session: Session, instance_id: int) -> InstanceFacts:
    """The instance, its workflow and group, and its failed (or cancelled) current steps."""
    instance = session.get(WorkflowInstance, instance_id)
    workflow = session.get(Workflow, instance.workflow_id) if instance else None
    group = session.get(ExecutorGroup, workflow.group_id) if workflow else None
    s = WorkflowStepRun.__table__.c
    current: dict[str, Any] = {}
    for row in session.execute(
        sa.select(s.id, s.step_key, s.generation, s.job_id, s.status, s.message).where(s.instance_id == instance_id).order_by(s.generation, s.id)
    ):
        current[row.step_key] = row  # the highest generation is the step's current row
    listed = sorted((row for row in current.values() if row.status in _LISTED), key=lambda row: row.id)
    shown = listed[:MAX_STEPS]
    runs: dict[int, list[int]] = {row.id: [] for row in shown}
    if runs:
        r = RunLog.__table__.c
        for run_id, step_id in session.execute(sa.select(r.id, r.step_run_id).where(r.step_run_id.in_(sorted(runs))).order_by(r.id)):
            runs[step_id].append(run_id)
    steps = [FailedStep(row.step_key, StepStatus(row.status), row.job_id, row.message, runs[row.id][-MAX_RUNS_PER_STEP:]) for row in shown]
    return InstanceFacts(instance_id, instance, workflow, group, steps, len(listed) - len(shown))


def _subject(facts: InstanceFacts, name: str, workflow_id: int | None) -> tuple[Text, str]:
    names = {"name": name, "id": workflow_id, "instance": facts.instance_id}
    status = facts.instance.status if facts.instance else None
    if status == WorkflowStatus.TIMED_OUT:
        return _t("[shardcron] workflow %(name)s (#%(id)s) timed out: instance %(instance)s", **names), "workflow_timed_out"
    if status is None or status == WorkflowStatus.FAILED:
        return _t("[shardcron] workflow %(name)s (#%(id)s) failed: instance %(instance)s", **names), "workflow_failed"
    # Re-run by a person since it ended: the alarm says how it is now.
    return _t("[shardcron] workflow %(name)s (#%(id)s) ended badly, now %(status)s: instance %(instance)s", status=str(status), **names), "workflow_failed"


def build_instance_message(facts: InstanceFacts, public_url: str | None, now_ms: int, catalog: Catalog = ENGLISH) -> AlarmMessage:
    """The alarm of an instance in the language of `catalog` (see the module docstring)."""
    instance, workflow, group = facts.instance, facts.workflow, facts.group
    name: str = workflow.name if workflow else _t("(deleted workflow)")
    workflow_id = workflow.id if workflow else (instance.workflow_id if instance else None)
    subject_text, event = _subject(facts, name, workflow_id)
    subject = render(subject_text, catalog)
    console_url = f"{public_url.rstrip('/')}/workflow-instances/{facts.instance_id}" if public_url else None
    instance_doc: dict[str, Any] = {"id": facts.instance_id}
    if instance is not None:
        instance_doc.update(
            status=str(instance.status),
            message=instance.message,
            version=instance.workflow_version,
            trigger_type=str(instance.trigger_type),
            triggered_by=instance.triggered_by,
            planned_at=_iso(instance.planned_at_ms),
            started_at=_iso(instance.started_at_ms),
            finished_at=_iso(instance.finished_at_ms),
        )
    instance_doc["failed_steps"] = [
        {"key": step.key, "status": str(step.status), "job_id": step.job_id, "message": step.message, "run_ids": step.run_ids} for step in facts.steps
    ]
    instance_doc["more_failed_steps"] = facts.more_steps
    payload: dict[str, Any] = {
        "event": event,
        "text": subject,
        "job": None,
        "group": {"id": group.id, "app_name": group.app_name, "title": group.title} if group else None,
        "run": None,
        "console_url": console_url,
        "workflow": {"id": workflow_id, "name": str(name), "instance": instance_doc},
    }
    lines: list[Text | str] = [subject, ""]
    if group:
        lines.append(_t("Workflow:  %(name)s (#%(id)s), group %(group)s", name=name, id=workflow_id, group=group.app_name))
    else:
        lines.append(_t("Workflow:  %(name)s (#%(id)s)", name=name, id=workflow_id))
    if instance is None:
        lines.append(_t("Instance:  %(instance)s (no longer kept)", instance=facts.instance_id))
    else:
        lines += [
            _t("Instance:  %(instance)s, %(trigger)s trigger, version %(version)s, %(status)s",
               instance=facts.instance_id, trigger=str(instance.trigger_type), version=instance.workflow_version, status=str(instance.status)),
            _t("Planned:   %(at)s", at=_iso(instance.planned_at_ms)),
            _t("Started:   %(at)s, ended %(end)s", at=_iso(instance.started_at_ms) or "-", end=_iso(instance.finished_at_ms) or "-"),
            _t("Message:   %(message)s", message=instance.message or "-"),
        ]  # fmt: skip
    for step in facts.steps:
        runs = ", ".join(str(run_id) for run_id in step.run_ids) or "-"
        lines.append(_t("Step:      %(key)s %(status)s (job #%(job)s), runs %(runs)s: %(message)s",
                        key=step.key, status=str(step.status), job=step.job_id, runs=runs, message=step.message or ""))  # fmt: skip
    if facts.more_steps:
        lines.append(_t("More:      %(count)s more step(s), listed in the console", count=facts.more_steps))
    if console_url:
        lines += ["", _t("Console:   %(url)s", url=console_url)]
    text = "\n".join(render(line, catalog).rstrip() for line in lines) + "\n"
    return AlarmMessage(subject=subject, text=text, payload=payload, composed_at_ms=now_ms)
