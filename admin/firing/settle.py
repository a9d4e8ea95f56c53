"""Settling a `/run` whose outcome is unknown: ask the executor whether it has that logId.

A `/run` may have reached its executor without its answer being recorded: the lease term that
sent it ended (its node died or stalled), or the call timed out or was cut after the whole
request went out. Before such a run is sent again, its executor is asked with `/log` — the call
for a run's log, which every XXL-JOB-compatible executor answers:

| executor | a logId it has | a logId it never got |
|---|---|---|
| shardcron | `logIdKnown: true` (a protocol extension) | `logIdKnown: false` |
| pyxxl | its log lines | `logContent` "No such logid logs." |
| XXL-JOB's Java executor (and ports) | its log lines | `logContent` "readLog fail, logFile not exists" |

KNOWN: the executor has the run; it is recorded as accepted and never sent again. NOT_KNOWN: it
is sent (same logId). UNSURE: the answer cannot tell (no answer, a refusal, an empty page, a log
path that is not configured): the job's `delivery` setting decides (dispatch).

Known limits, as documented in docs/scheduling.md: an XXL-JOB executor creates a run's log file
when the run starts, so a run it still holds in a SERIAL_EXECUTION queue reads as NOT_KNOWN; a
re-send is then refused by its own repeat check ("repeate trigger job"), which counts as
accepted. pyxxl keeps no such check for queued runs.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Protocol

import logging

from shardcron.core.protocol import Envelope, LogResult

from ..enums import Delivery
from ..metrics import SettleOutcome, TriggerFailure, record_settled, record_trigger_failure
from .run_store import Answer, Send

log = logging.getLogger("shardcron.admin.scheduling")

#: How often one run is settled (asked about, then sent again) before an unknown outcome stands.
SETTLE_ROUNDS = 2

#: What pyxxl and XXL-JOB's executors write as the log of a logId they never got.
NEVER_GOT = ("no such logid logs.", "readlog fail, logfile not exists")
#: An executor refusing a logId it has already accepted: shardcron's "repeat trigger job",
#: XXL-JOB's "repeate trigger job" (and "repeated" in later releases).
_REPEAT = re.compile(r"^\s*(?:>+\s*)?repeat(?:e|ed)? trigger job, logId:", re.IGNORECASE)


def is_repeat_refusal(msg: str) -> bool:
    """Whether `/run` was refused because the executor already has this logId."""
    return bool(_REPEAT.match(msg))


class LogReader(Protocol):
    """Reads a run's log page from an executor (dispatch: through its one transport)."""

    def log(self, address: str, log_date_ms: int, log_id: int, from_line: int = 1) -> LogResult | Envelope: ...


class Knowledge(enum.Enum):
    KNOWN = "known"
    NOT_KNOWN = "not known"
    UNSURE = "unsure"


@dataclass(frozen=True)
class Verdict:
    knowledge: Knowledge
    #: How the executor's answer reads, for the run's trigger message.
    reason: str


def read_verdict(address: str, log_id: int, answer: LogResult | Envelope) -> Verdict:
    """What an executor's `/log` answer says about `log_id`."""
    if isinstance(answer, Envelope):
        return Verdict(Knowledge.UNSURE, f"executor {address} could not be asked about logId {log_id}: {answer.msg or 'no reason given'}")
    if answer.log_id_known is not None:
        knowledge = Knowledge.KNOWN if answer.log_id_known else Knowledge.NOT_KNOWN
        return Verdict(knowledge, f"executor {address} says it {'has' if answer.log_id_known else 'never got'} logId {log_id}")
    content = answer.log_content.strip()
    if content.lower() in NEVER_GOT:
        return Verdict(Knowledge.NOT_KNOWN, f"executor {address} has no log of logId {log_id} ({content!r})")
    if content and not content.lower().startswith("readlog fail"):
        return Verdict(Knowledge.KNOWN, f"executor {address} has a log of logId {log_id}")
    shown = f"{content!r}" if content else "an empty page"
    return Verdict(Knowledge.UNSURE, f"executor {address} answered /log for logId {log_id} with {shown}, which cannot tell")


def ask_executor(client: LogReader, address: str, log_id: int, log_date_ms: int) -> Verdict:
    """Ask `address` whether it has `log_id` (blocking; one `/log` call)."""
    return read_verdict(address, log_id, client.log(address, log_date_ms, log_id, 1))


def settle_send(client: LogReader, send: Send) -> tuple[Answer | None, bool]:
    """Ask the executor(s) whether they have `send`'s logId (every live candidate of a probe
    route). Returns the answer to record, if the question settled it or the job delivers at most
    once, and whether to send it (blocking: one `/log` per address)."""
    addresses = [send.address] if send.address else list(send.candidates)
    # The logDateTime the /run carried: the executor keeps the run's log under that day.
    verdicts = [(address, ask_executor(client, address, send.run_id, send.log_date_ms)) for address in addresses]
    known = [(address, v) for address, v in verdicts if v.knowledge is Knowledge.KNOWN]
    if known:
        address, verdict = known[0]
        record_settled(SettleOutcome.KNOWN)
        log.info("run settled: the executor has it", extra={**send.log_fields(), "address": address})
        msg = f"settled: {verdict.reason}; not sent again"
        return Answer(send.fire_id, send.run_id, True, msg, address if send.probe else None, send.term.owner), False
    reasons = "; ".join(v.reason for _, v in verdicts) or "no live executor to ask"
    if verdicts and all(v.knowledge is Knowledge.NOT_KNOWN for _, v in verdicts):
        record_settled(SettleOutcome.NOT_KNOWN)
        log.info("run settled: the executor never got it; sending it", extra=send.log_fields())
        return None, True
    if send.delivery == Delivery.AT_LEAST_ONCE:
        record_settled(SettleOutcome.UNSURE_RESENT)
        log.warning("run outcome unknown; sending it again (at least once)", extra={**send.log_fields(), "reason": reasons})
        return None, True
    record_settled(SettleOutcome.UNSURE_SKIPPED)
    log.warning("run outcome unknown; not sent again (at most once)", extra={**send.log_fields(), "reason": reasons})
    msg = f"outcome unknown: {reasons}; not sent again (delivery AT_MOST_ONCE)"
    return Answer(send.fire_id, send.run_id, False, msg, None, send.term.owner, unknown=True), False


def outcome_stands(send: Send, address: str, reason: str | None) -> Answer:
    """`send` was settled, sent again, and again its answer never came: the unknown outcome
    stands — UNKNOWN (AT_MOST_ONCE), or FAILED so that the job's retries apply (AT_LEAST_ONCE)."""
    msg = f"outcome unknown after {send.asked + 1} sends: {reason or 'no answer'}"
    if send.delivery == Delivery.AT_MOST_ONCE:
        record_settled(SettleOutcome.UNSURE_SKIPPED)
        log.warning("run outcome unknown; not sent again (at most once)", extra={**send.log_fields(), "address": address, "reason": reason})
        return Answer(send.fire_id, send.run_id, False, f"{msg}; not sent again (delivery AT_MOST_ONCE)", None, send.term.owner, unknown=True)
    record_trigger_failure(TriggerFailure.TRANSPORT)
    return Answer(send.fire_id, send.run_id, False, f"{msg}; failed, so the job's retries apply (delivery AT_LEAST_ONCE)", None, send.term.owner)
