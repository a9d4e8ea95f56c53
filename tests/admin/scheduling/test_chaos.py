"""Exactly once under faults (issue 16), end to end: 3 `shardcron scheduler` processes on one
MariaDB, 150 jobs firing every second for 36 s into an executor that accepts every `/run`, a
repeated logId included (as XXL-JOB's Java executor and pyxxl do), while the fault script kills
(-9) the node holding claimed fires twice and stalls one (SIGSTOP for longer than the
lease, then SIGCONT). tests/support/chaos.py runs it; chaos_check.py matches every planned
(job, second) to its arrivals.

Asserted: no planned fire missed (the misfire grace is 60 s, so none is a deliberate skip), no
duplicate of any kind (same logId sent again, a second logId, a second run row), every run
accepted and every fire finished, the takeover
time within MAX_TAKEOVER_P99_MS at the 99th percentile (of the fires planned in a fault's window
or held by the stopped node, and of the held fires alone that had not arrived before the fault),
every fault caught a node holding fires, killed nodes died of SIGKILL and every other node
exits 0 on SIGTERM. About 50 s of wall time (bounded for CI: bench/takeover_bench.py runs the
longer scenario).
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.chaos import ChaosRun, Fault, FaultKind, Scenario

pytestmark = pytest.mark.mysql

NODES = 3
JOBS = 150
SECONDS = 36
#: Kills just after a second's sends went out (answers not yet recorded: the ambiguous case), a
#: stall while the node holds fires not yet due; each restarted 4 s after its kill. The second
#: kill lands after the stalled node has resumed, so it may hit a node that was stalled.
FAULTS = (
    Fault(FaultKind.KILL, 6.05),
    Fault(FaultKind.STALL, 14.5),
    Fault(FaultKind.KILL, 26.05),
)
MAX_MISSED = 0
MAX_DUPLICATES = 0
MAX_TAKEOVER_P99_MS = 3000


def test_kills_and_stalls_lose_nothing_and_send_nothing_twice(mysql_url: str, tmp_path: Path) -> None:
    scenario = Scenario(nodes=NODES, jobs=JOBS, seconds=SECONDS, faults=FAULTS)
    outcome = ChaosRun(mysql_url, scenario, tmp_path).run()
    text = "\n".join(outcome.lines())
    print(text)
    report = outcome.report

    assert len(outcome.faults) == len(FAULTS), text
    assert all(f.held for f in outcome.faults), "a fault caught a node holding no fires: the takeover path was not exercised\n" + text
    assert report.missed <= MAX_MISSED, text
    assert report.duplicates_same_log_id <= MAX_DUPLICATES, text
    assert report.duplicates_other_log_id + report.extra_run_rows + report.unplanned_arrivals <= MAX_DUPLICATES, text
    # Every run was accepted by the executor (none lost, none left UNKNOWN: it always answers
    # /log), and every fire of the window is finished.
    assert report.run_rows_by_status == {"RUNNING": JOBS * SECONDS}, text
    assert outcome.fire_statuses == {"DONE": JOBS * SECONDS}, text
    assert report.takeover.p99_ms is not None and report.takeover.p99_ms <= MAX_TAKEOVER_P99_MS, text
    assert report.held_takeover.p99_ms is not None and report.held_takeover.p99_ms <= MAX_TAKEOVER_P99_MS, text
    assert outcome.alive_at_end == set(outcome.exit_codes) - outcome.killed, text
    expected_codes = {node: -signal.SIGKILL if node in outcome.killed else 0 for node in outcome.exit_codes}
    assert outcome.exit_codes == expected_codes, text
