"""Workflows exactly once under faults (issue 22), end to end: 3 `shardcron scheduler` processes
on one MariaDB plan and run scheduled workflows — 3-step chains and fan-out/joins (root, 4
branches, join), every step its own job — every 2 s for 16 s, while the fault script kills (-9)
a node holding claimed fires, stalls one (SIGSTOP past the lease, then SIGCONT), and kills one
again. Step results come back through a real `shardcron admin` process's `/api/callback`, sent
by the accepting executor for every run it accepts (tests/support/workflow_chaos.py).

Asserted: every planned instance of the window exists and ended SUCCEEDED, every step of every
instance reached the executor, none twice (no logId sent again — no job here is AT_LEAST_ONCE —,
no second logId, no second run row for a step), every fault caught a node holding fires, and the
nodes exited as signalled. About 50 s of wall time.
"""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tests.support.chaos import Fault, FaultKind, Scenario
from tests.support.workflow_chaos import WorkflowChaosRun, WorkflowShape

pytestmark = pytest.mark.mysql

SHAPE = WorkflowShape(chains=6, fanouts=6, fan_width=4, period_s=2)
SECONDS = 16
FAULTS = (
    Fault(FaultKind.KILL, 3.05),
    Fault(FaultKind.STALL, 6.5),
    Fault(FaultKind.KILL, 10.05),
)


def test_workflows_under_kills_and_stalls_run_every_step_once(mysql_url: str, tmp_path: Path) -> None:
    scenario = Scenario(nodes=3, jobs=0, seconds=SECONDS, faults=FAULTS, drain_timeout_s=30.0, catch_timeout_s=10.0)
    outcome = WorkflowChaosRun(mysql_url, scenario, SHAPE, tmp_path).run()
    text = "\n".join(outcome.lines())
    print(text)
    report = outcome.report
    chain_steps, fan_steps = SHAPE.steps_per_instance()
    per_time = SHAPE.chains * chain_steps + SHAPE.fanouts * fan_steps

    assert len(outcome.faults) == len(FAULTS), text
    assert all(f.held for f in outcome.faults), "a fault caught a node holding no fires\n" + text
    assert report.instances_expected == (SHAPE.chains + SHAPE.fanouts) * (SECONDS // SHAPE.period_s)
    assert report.missing_instances == 0, text
    assert report.instances_by_status == {"SUCCEEDED": report.instances_expected}, text
    assert report.step_runs == per_time * (SECONDS // SHAPE.period_s), text
    assert report.step_runs_by_status == {"SUCCEEDED": report.step_runs}, text
    assert report.steps_not_sent == 0, text
    assert report.duplicates == 0 and report.stray_arrivals == 0, text
    assert outcome.alive_at_end == set(outcome.exit_codes) - outcome.killed, text
    expected_codes = {node: -signal.SIGKILL if node in outcome.killed else 0 for node in outcome.exit_codes}
    assert outcome.exit_codes == expected_codes, text
