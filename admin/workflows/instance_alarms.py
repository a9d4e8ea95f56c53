"""The alarms of a workflow instance that ended FAILED or TIMED_OUT.

Written by the caller that ends the instance, in its transaction (advance.end_instance, and
operate.stop_instance for an instance that does not start the next waiting one): the instance
is locked and its end is a guarded update, so of two nodes ending it only one writes them; the
unique key (workflow_instance_id, channel) holds them to one row per channel besides.

One row per channel the workflow has (its `alarm_emails`, its `alarm_webhook`), as the workflow
is set when the instance ends. An instance re-run by a person that ends FAILED or TIMED_OUT
again alarms again: its rows are sent again, as they would be new. CANCELLED (by a person, or
by overlap CANCEL_OTHER), SUCCEEDED and SKIPPED instances do not alarm. The step jobs' own
alarms are the jobs' business (their runs alarm as each job is set to).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import AlarmChannel, AlarmStatus, WorkflowStatus
from ..models import Alarm, Workflow
from ..upserts import insert_ignoring_duplicates

#: The ends of an instance that alarm.
ALARMED_ENDS = frozenset({WorkflowStatus.FAILED, WorkflowStatus.TIMED_OUT})


def alarm_targets(emails: str | None, webhook: str | None) -> list[tuple[AlarmChannel, str]]:
    """(channel, target) for each channel that is set."""
    pairs = ((AlarmChannel.EMAIL, (emails or "").strip()), (AlarmChannel.WEBHOOK, (webhook or "").strip()))
    return [(channel, target) for channel, target in pairs if target]


def write_instance_alarms(session: Session, instance_id: int, workflow_id: int, status: WorkflowStatus, now_ms: int) -> int:
    """Write the alarms of an instance that just ended `status` (see the module docstring);
    returns how many channels alarm (0 for an end that does not alarm, or a workflow without
    alarm settings)."""
    if status not in ALARMED_ENDS:
        return 0
    w = Workflow.__table__.c
    settings = session.execute(sa.select(w.alarm_emails, w.alarm_webhook).where(w.id == workflow_id)).first()
    if settings is None:
        return 0  # the workflow was deleted: nobody to tell
    targets = alarm_targets(settings.alarm_emails, settings.alarm_webhook)
    if not targets:
        return 0
    a = Alarm.__table__.c
    before = set(session.execute(sa.select(a.channel).where(a.workflow_instance_id == instance_id)).scalars())
    fresh = {"status": AlarmStatus.PENDING.value, "attempts": 0, "next_attempt_at_ms": now_ms, "created_at_ms": now_ms}
    for channel, target in targets:
        if channel.value in before:  # a re-run that ended badly again: the same row goes out again
            session.execute(
                sa.update(Alarm.__table__)
                .where(a.workflow_instance_id == instance_id, a.channel == channel.value)
                .values(target=target, last_error=None, sent_at_ms=None, **fresh)
            )
    insert_ignoring_duplicates(session, Alarm.__table__, [
        {"workflow_instance_id": instance_id, "run_log_id": None, "job_id": None, "channel": channel.value, "target": target, "job_paused": False, **fresh}
        for channel, target in targets if channel.value not in before
    ])  # fmt: skip
    return len(targets)
