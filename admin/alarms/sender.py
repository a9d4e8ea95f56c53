"""AlarmSender: the loop that delivers due sc_alarm rows, retried with backoff, outcome recorded.

A row is a failed run's alarm (message.build_message) or a workflow instance's
(instance_message.build_instance_message); both are claimed, retried and ended alike.

Claiming is a compare-and-set on `next_attempt_at_ms` (moved past the attempt's longest
duration), so several scheduler nodes share the work without sending an alarm twice; a node that
dies mid-attempt leaves the alarm to be picked up once the claim passes. The attempt itself
runs outside any transaction and is bounded by `alarm_timeout_s`. After `alarm_max_attempts`
failed attempts (or one that cannot succeed by retrying) the alarm is FAILED with `last_error`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import sqlalchemy as sa

from shardcron.core.clock import Clock

from ..config import Config
from ..db import Database, changed_rows
from ..enums import AlarmChannel, AlarmStatus
from ..models import Alarm, ExecutorGroup, Job, RunLog
from .delivery import AlarmDeliveryError
from .email import SmtpSettings, send_email
from ..texts import catalog_for
from .instance_message import build_instance_message, read_instance_facts
from .message import AlarmMessage, build_message
from .webhook import WebhookPoster

log = logging.getLogger("shardcron.admin.alarms")

#: Alarms attempted per tick; the rest wait for the next one.
BATCH = 20


@dataclass(frozen=True)
class _Claim:
    alarm_id: int
    claim_until_ms: int


class AlarmSender:
    name = "alarms"
    interval_s = 2.0

    def __init__(
        self,
        db: Database,
        clock: Clock,
        config: Config,
        *,
        email: Callable[[str, AlarmMessage], None] | None = None,
        webhook: Callable[[str, AlarmMessage], None] | None = None,
    ) -> None:
        self.db = db
        self.clock = clock
        self.max_attempts = config.alarm_max_attempts
        self.retry_delay_ms = config.alarm_retry_delay_s * 1000
        self.retry_max_delay_ms = config.alarm_retry_max_delay_s * 1000
        self.claim_ms = int(config.alarm_timeout_s * 2_000) + 30_000
        self.public_url = config.public_url
        #: Alarms are written in one configured language (not the reader's: a mailbox has none).
        self.catalog = catalog_for(config.alarm_language)
        smtp = SmtpSettings.from_config(config)
        self._poster = WebhookPoster(config.alarm_timeout_s)
        self._send = {
            AlarmChannel.EMAIL: email or (lambda target, message: send_email(smtp, target, message)),
            AlarmChannel.WEBHOOK: webhook or self._poster.post,
        }

    def tick(self, now_ms: int) -> None:
        for claim in self._claim_due(now_ms):
            self._attempt(claim)

    def retry_delay_for(self, attempts: int) -> int:
        """Wait after the `attempts`-th failed attempt: retry_delay * 2^(attempts-1), capped."""
        delay = self.retry_delay_ms
        for _ in range(attempts - 1):
            if delay >= self.retry_max_delay_ms:
                break
            delay *= 2
        return min(delay, self.retry_max_delay_ms)

    def _claim_due(self, now_ms: int) -> list[_Claim]:
        claims = []
        with self.db.session() as session:
            due = session.execute(
                sa.select(Alarm.id, Alarm.next_attempt_at_ms)
                .where(Alarm.status == AlarmStatus.PENDING, Alarm.next_attempt_at_ms <= now_ms)
                .order_by(Alarm.next_attempt_at_ms, Alarm.id)
                .limit(BATCH)
            ).all()
            for alarm_id, due_at in due:
                until = now_ms + self.claim_ms
                taken = changed_rows(session.execute(
                    sa.update(Alarm)
                    .where(Alarm.id == alarm_id, Alarm.status == AlarmStatus.PENDING, Alarm.next_attempt_at_ms == due_at)
                    .values(next_attempt_at_ms=until)
                ))
                if taken:
                    claims.append(_Claim(alarm_id, until))
        return claims

    def _attempt(self, claim: _Claim) -> None:
        with self.db.read_session() as session:
            alarm = session.get(Alarm, claim.alarm_id)
            if alarm is None:  # deleted since the claim (retention): nothing left to send
                return
            channel, target, attempts = alarm.channel, alarm.target, alarm.attempts + 1
            if alarm.workflow_instance_id is not None:  # a workflow instance's alarm: no run
                facts = read_instance_facts(session, alarm.workflow_instance_id)
                message = build_instance_message(facts, self.public_url, self.clock.now_ms(), self.catalog)
            else:
                run_id = alarm.run_log_id or 0
                run = session.get(RunLog, run_id)
                job = session.get(Job, alarm.job_id) if alarm.job_id is not None else None
                group = session.get(ExecutorGroup, job.group_id) if job else None
                message = build_message(run_id, run, job, group, self.public_url, self.clock.now_ms(), self.catalog, job_paused=alarm.job_paused)
        error: AlarmDeliveryError | None = None
        try:
            self._send[channel](target, message)
        except AlarmDeliveryError as exc:
            error = exc
        except Exception as exc:  # a bug must not stop the loop; it is recorded on the alarm
            log.exception("alarm %d: unexpected error", claim.alarm_id)
            error = AlarmDeliveryError(f"unexpected error: {type(exc).__name__}: {exc}")
        now_ms = self.clock.now_ms()
        values: dict = {"attempts": attempts}
        if error is None:
            values.update(status=AlarmStatus.SENT, sent_at_ms=now_ms, last_error=None)
            log.info("alarm %d sent by %s to %s", claim.alarm_id, channel, target)
        elif error.permanent or attempts >= self.max_attempts:
            values.update(status=AlarmStatus.FAILED, last_error=str(error))
            log.error("alarm %d by %s to %s FAILED after %d attempt(s): %s", claim.alarm_id, channel, target, attempts, error)
        else:
            values.update(next_attempt_at_ms=now_ms + self.retry_delay_for(attempts), last_error=str(error))
            log.warning("alarm %d by %s to %s failed (attempt %d of %d), retrying: %s", claim.alarm_id, channel, target, attempts, self.max_attempts, error)
        with self.db.session() as session:
            session.execute(
                sa.update(Alarm)
                .where(Alarm.id == claim.alarm_id, Alarm.status == AlarmStatus.PENDING, Alarm.next_attempt_at_ms == claim.claim_until_ms)
                .values(**values)
            )

    def close(self) -> None:
        self._poster.close()
