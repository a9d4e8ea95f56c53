"""Reading an executor's `/log` answer about a logId: has it, never got it, or cannot tell."""

from __future__ import annotations

import pytest

from shardcron.admin.firing.settle import Knowledge, is_repeat_refusal, read_verdict
from shardcron.core.protocol import Envelope, LogResult

ADDRESS = "http://10.0.0.7:9999"


@pytest.mark.parametrize(
    ("answer", "knowledge", "reason"),
    [
        (LogResult(1, 0, "", True, log_id_known=True), Knowledge.KNOWN, "says it has logId 5"),
        (LogResult(1, 0, "", True, log_id_known=False), Knowledge.NOT_KNOWN, "says it never got logId 5"),
        (LogResult(1, 1, "No such logid logs.", False), Knowledge.NOT_KNOWN, "has no log of logId 5 ('No such logid logs.')"),  # pyxxl
        (LogResult(1, 0, "readLog fail, logFile not exists", True), Knowledge.NOT_KNOWN, "has no log of logId 5"),  # XXL-JOB
        (LogResult(1, 3, "2026-12-04 10:00:00 start\nok\n", True), Knowledge.KNOWN, "has a log of logId 5"),
        (LogResult(1, 0, "", True), Knowledge.UNSURE, "answered /log for logId 5 with an empty page, which cannot tell"),
        (LogResult(1, 0, "readLog fail, logFile not found", True), Knowledge.UNSURE, "'readLog fail, logFile not found', which cannot tell"),
        (Envelope.failure("executor http://10.0.0.7:9999 did not answer /log within 6 s"), Knowledge.UNSURE, "could not be asked about logId 5"),
        (Envelope.failure(None), Knowledge.UNSURE, "could not be asked about logId 5: no reason given"),
    ],
)
def test_log_answers_read_as_the_executor_meant_them(answer, knowledge: Knowledge, reason: str) -> None:
    verdict = read_verdict(ADDRESS, 5, answer)
    assert verdict.knowledge is knowledge
    assert reason in verdict.reason and verdict.reason.startswith(f"executor {ADDRESS}")


@pytest.mark.parametrize(
    ("msg", "repeat"),
    [
        ("repeat trigger job, logId:12", True),  # shardcron
        ("repeate trigger job, logId:12", True),  # XXL-JOB up to 3.x
        ("repeated trigger job, logId:12", True),  # later XXL-JOB
        (">>>>>>>>>>> repeate trigger job, logId:12", True),
        ("block strategy effect: Discard Later", False),
        ("trigger job, logId:12", False),
        ("", False),
    ],
)
def test_a_refusal_of_a_logid_the_executor_already_has_is_recognised(msg: str, repeat: bool) -> None:
    assert is_repeat_refusal(msg) is repeat


def test_log_results_carry_the_known_flag_only_when_the_executor_gives_it() -> None:
    plain = LogResult(1, 0, "", True)
    assert "logIdKnown" not in plain.to_wire() and LogResult.from_wire(plain.to_wire()).log_id_known is None
    flagged = LogResult(1, 0, "", True, log_id_known=False)
    assert flagged.to_wire()["logIdKnown"] is False and LogResult.from_wire(flagged.to_wire()) == flagged
