"""The chaos checker: every planned (job, fire second) against its `/run` arrivals. Pure.

Counted separately, because they have different causes:

- **missed**: a planned fire with no arrival at all;
- **duplicates, same logId**: arrivals beyond the first under one logId (a `/run` sent again
  whose first sending had reached the executor: a re-send after an unrecorded answer, or a
  stalled node sending after another node took its fires over);
- **duplicates, other logId**: more than one logId arriving for one planned fire (two run rows
  dispatched), and, from the database, run rows beyond the first for one planned fire;
- run rows per status, as strings (a status added later is counted like any other).

Lateness of a fire = its first arrival's wall time - its planned time. A fault is a time window
(from its start — for a stall, to its end too — plus `window_after_ms`) and the fires the stopped
node held when it was stopped. Fires held by a fault or planned inside a window are *affected*:
their lateness is the **takeover** time. Sharper, because a window holds many fires the other
nodes fired as usual: the lateness of the held fires that had not arrived before the fault began
(**held takeover**; held fires delivered before it are counted apart). The lateness of every
other fire shows what the faults cost the fires they did not hit (and what the machine's load
costs every fire).
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .accepting_executor import Arrival

Fire = tuple[int, int]  # (job id, planned fire time in ms)


@dataclass(frozen=True)
class Plan:
    """Every job fires once a second from `first_fire_ms`, `seconds` times."""

    job_ids: tuple[int, ...]
    first_fire_ms: int
    seconds: int

    @property
    def last_fire_ms(self) -> int:
        return self.first_fire_ms + (self.seconds - 1) * 1000

    def fires(self) -> set[Fire]:
        return {(job, self.first_fire_ms + k * 1000) for job in self.job_ids for k in range(self.seconds)}


@dataclass(frozen=True)
class FaultWindow:
    """One injected fault: `kind` ("kill" or "stall") of `node`, from `started_ms` to `ended_ms`
    (a kill: the same instant), and the fires the node held (CLAIMED, its owner) at that moment;
    `in_flight` of them were planned at or before `started_ms` (sent, or being sent)."""

    kind: str
    node: str
    started_ms: int
    ended_ms: int
    held: frozenset[Fire]
    in_flight: int = 0


@dataclass(frozen=True)
class RunRow:
    job_id: int
    fire_at_ms: int
    log_id: int
    status: str
    trigger_type: str


@dataclass(frozen=True)
class Spread:
    """Percentiles (nearest rank) of a set of millisecond figures."""

    count: int
    p50_ms: int | None
    p99_ms: int | None
    max_ms: int | None

    @classmethod
    def of(cls, values: Iterable[int]) -> Spread:
        ordered = sorted(values)
        if not ordered:
            return cls(0, None, None, None)

        def rank(q: float) -> int:
            return ordered[max(0, math.ceil(q * len(ordered)) - 1)]

        return cls(len(ordered), rank(0.50), rank(0.99), ordered[-1])

    def text(self) -> str:
        if not self.count:
            return "n=0"
        return f"p50 {_s(self.p50_ms)} p99 {_s(self.p99_ms)} max {_s(self.max_ms)} (n={self.count})"


def _s(ms: int | None) -> str:
    return "-" if ms is None else f"{ms / 1000:.2f}s"


@dataclass(frozen=True)
class FaultFigures:
    fault: FaultWindow
    offset_ms: int  # the fault's start, after the first planned fire
    takeover: Spread  # lateness of the fires it held that had not arrived before it began
    delivered_before: int  # fires it held that had arrived before it began
    window: Spread  # lateness of the fires planned inside its window
    same_log_id_duplicates: int  # among the fires it held
    missed: int  # among the fires it held or planned inside its window

    def line(self) -> str:
        what = f"{self.fault.kind} {self.fault.node} at +{self.offset_ms / 1000:.1f}s"
        if self.fault.kind == "stall":
            what += f" for {(self.fault.ended_ms - self.fault.started_ms) / 1000:.1f}s"
        return (
            f"{what}: held {len(self.fault.held)} fires ({self.fault.in_flight} due, {self.delivered_before} delivered before it), "
            f"takeover of the rest {self.takeover.text()}; "
            f"window {self.window.text()}; duplicates same-logId {self.same_log_id_duplicates}, missed {self.missed}"
        )


@dataclass(frozen=True)
class Report:
    planned: int
    arrivals: int
    missed: int
    duplicates_same_log_id: int
    duplicates_other_log_id: int
    extra_run_rows: int
    unplanned_arrivals: int  # for a job/second in the fire window that was not planned
    run_rows_by_status: dict[str, int]
    run_rows_by_trigger: dict[str, int]
    takeover: Spread  # fires held by a fault or planned inside a fault window
    held_takeover: Spread  # fires held by a fault that had not arrived before it began
    unaffected: Spread  # every other fire
    faults: list[FaultFigures]
    missed_examples: list[Fire] = field(default_factory=list)

    @property
    def duplicates(self) -> int:
        return self.duplicates_same_log_id + self.duplicates_other_log_id + self.extra_run_rows

    def summary_line(self) -> str:
        return (
            f"planned {self.planned}, arrivals {self.arrivals}, missed {self.missed}, "
            f"duplicates same-logId {self.duplicates_same_log_id} other-logId {self.duplicates_other_log_id} "
            f"extra-run-rows {self.extra_run_rows}, unplanned {self.unplanned_arrivals}, "
            f"run rows {dict(sorted(self.run_rows_by_status.items()))}, "
            f"takeover (fault windows) {self.takeover.text()}, held takeover {self.held_takeover.text()}, unaffected {self.unaffected.text()}"
        )

    def lines(self) -> list[str]:
        out = [self.summary_line()] + [f"  {f.line()}" for f in self.faults]
        if self.missed_examples:
            out.append(f"  first misses (job, fire ms): {self.missed_examples}")
        return out


def check(plan: Plan, arrivals: Iterable[Arrival], run_rows: Iterable[RunRow], faults: Iterable[FaultWindow], *, window_after_ms: int) -> Report:
    planned = plan.fires()
    faults = sorted(faults, key=lambda f: f.started_ms)
    log_ids: dict[Fire, Counter[int]] = defaultdict(Counter)
    first_ms: dict[Fire, int] = {}
    unplanned = counted = 0
    for a in arrivals:
        if not plan.first_fire_ms <= a.log_date_ms <= plan.last_fire_ms:
            continue  # the schedulers keep firing after the window; those fires are not checked
        counted += 1
        key = (a.job_id, a.log_date_ms)
        if key not in planned:
            unplanned += 1
            continue
        log_ids[key][a.log_id] += 1
        if key not in first_ms or a.arrived_ms < first_ms[key]:
            first_ms[key] = a.arrived_ms
    rows = [r for r in run_rows if plan.first_fire_ms <= r.fire_at_ms <= plan.last_fire_ms]
    rows_per_fire = Counter((r.job_id, r.fire_at_ms) for r in rows if (r.job_id, r.fire_at_ms) in planned)
    missed = sorted(planned - first_ms.keys(), key=lambda f: (f[1], f[0]))
    lateness = {key: at - key[1] for key, at in first_ms.items()}

    def in_window(fire: Fire, fault: FaultWindow) -> bool:
        return fault.started_ms <= fire[1] <= fault.ended_ms + window_after_ms

    affected: set[Fire] = set()
    taken_over: list[int] = []
    figures: list[FaultFigures] = []
    for fault in faults:
        window = {f for f in planned if in_window(f, fault)}
        hit = (fault.held & planned) | window
        affected |= hit
        late = [lateness[f] for f in fault.held if f in first_ms and first_ms[f] >= fault.started_ms]
        taken_over += late
        figures.append(FaultFigures(
            fault=fault,
            offset_ms=fault.started_ms - plan.first_fire_ms,
            takeover=Spread.of(late),
            delivered_before=sum(1 for f in fault.held if f in first_ms and first_ms[f] < fault.started_ms),
            window=Spread.of(lateness[f] for f in window if f in lateness),
            same_log_id_duplicates=sum(n - 1 for f in fault.held for n in log_ids.get(f, Counter()).values()),
            missed=sum(1 for f in hit if f not in first_ms),
        ))
    return Report(
        planned=len(planned),
        arrivals=counted,
        missed=len(missed),
        duplicates_same_log_id=sum(n - 1 for ids in log_ids.values() for n in ids.values()),
        duplicates_other_log_id=sum(len(ids) - 1 for ids in log_ids.values()),
        extra_run_rows=sum(n - 1 for n in rows_per_fire.values()),
        unplanned_arrivals=unplanned,
        run_rows_by_status=dict(Counter(r.status for r in rows)),
        run_rows_by_trigger=dict(Counter(r.trigger_type for r in rows)),
        takeover=Spread.of(ms for f, ms in lateness.items() if f in affected),
        held_takeover=Spread.of(taken_over),
        unaffected=Spread.of(ms for f, ms in lateness.items() if f not in affected),
        faults=figures,
        missed_examples=missed[:5],
    )


# ---------------------------------------------------------------------- workflows


@dataclass(frozen=True)
class StepRunRow:
    id: int
    instance_id: int
    step_key: str
    generation: int
    status: str
    job_id: int


@dataclass(frozen=True)
class WorkflowReport:
    """Every planned instance of the window against what the executor received for its steps.

    - **missing instances**: a planned (workflow, time) with no instance row;
    - **steps not sent**: a step run with no `/run` arrival for any of its runs;
    - **duplicates, same logId**: arrivals beyond the first under one logId of a step's run, for
      jobs whose delivery is not AT_LEAST_ONCE (which re-sends under the same logId by design);
    - **duplicates, other logId**: a step run whose `/run` arrived under more than one logId;
    - **extra run rows**: run rows beyond the first for one step run (no job here retries);
    - **stray arrivals**: arrivals for the steps' jobs whose logId has no run row of a step.
    """

    instances_expected: int
    instances_by_status: dict[str, int]
    missing_instances: int
    step_runs: int
    step_runs_by_status: dict[str, int]
    steps_not_sent: int
    duplicates_same_log_id: int
    duplicates_other_log_id: int
    extra_run_rows: int
    stray_arrivals: int
    end_to_end: Spread  # planned time -> the instance's end
    missing_examples: list[tuple[int, int]] = field(default_factory=list)
    not_sent_examples: list[tuple[int, str]] = field(default_factory=list)  # (instance id, step key)

    @property
    def duplicates(self) -> int:
        return self.duplicates_same_log_id + self.duplicates_other_log_id + self.extra_run_rows

    def lines(self) -> list[str]:
        out = [
            f"workflow instances: expected {self.instances_expected}, by status {dict(sorted(self.instances_by_status.items()))}, "
            f"missing {self.missing_instances}; step runs {self.step_runs} {dict(sorted(self.step_runs_by_status.items()))}, not sent {self.steps_not_sent}; "
            f"duplicates same-logId {self.duplicates_same_log_id} other-logId {self.duplicates_other_log_id} extra-run-rows {self.extra_run_rows}, "
            f"stray arrivals {self.stray_arrivals}; planned -> ended {self.end_to_end.text()}"
        ]
        if self.missing_examples:
            out.append(f"  first missing instances (workflow, planned ms): {self.missing_examples}")
        if self.not_sent_examples:
            out.append(f"  first steps not sent (instance, step): {self.not_sent_examples}")
        return out


@dataclass(frozen=True)
class InstanceRow:
    id: int
    workflow_id: int
    planned_at_ms: int
    status: str
    finished_at_ms: int | None


def check_workflows(
    expected: set[tuple[int, int]], instances: Iterable[InstanceRow], steps: Iterable[StepRunRow], runs: Iterable[tuple[int, int]],
    arrivals: Iterable[Arrival], *, at_least_once_jobs: frozenset[int] = frozenset(),
) -> WorkflowReport:
    """`expected`: (workflow id, planned time) of the window; `instances`, `steps`: their rows;
    `runs`: (log id, step run id) of every run row that carries a step."""
    mine = [i for i in instances if (i.workflow_id, i.planned_at_ms) in expected]
    ids = {i.id for i in mine}
    step_rows = [s for s in steps if s.instance_id in ids]
    step_ids = {s.id for s in step_rows}
    step_job = {s.id: s.job_id for s in step_rows}
    every_run = dict(runs)
    log_step = {log_id: step_id for log_id, step_id in every_run.items() if step_id in step_ids}
    rows_per_step = Counter(log_step.values())
    per_log: Counter[int] = Counter()
    stray = 0
    jobs = set(step_job.values())
    for a in arrivals:
        if a.log_id in log_step:
            per_log[a.log_id] += 1
        elif a.job_id in jobs and a.log_id not in every_run:
            stray += 1  # (runs of instances planned after the window are not checked)
    logs_per_step: dict[int, set[int]] = defaultdict(set)
    for log_id in per_log:
        logs_per_step[log_step[log_id]].add(log_id)
    missing = sorted(expected - {(i.workflow_id, i.planned_at_ms) for i in mine}, key=lambda k: (k[1], k[0]))
    not_sent = sorted((s.instance_id, s.step_key) for s in step_rows if not logs_per_step.get(s.id))
    return WorkflowReport(
        instances_expected=len(expected),
        instances_by_status=dict(Counter(i.status for i in mine)),
        missing_instances=len(missing),
        step_runs=len(step_rows),
        step_runs_by_status=dict(Counter(s.status for s in step_rows)),
        steps_not_sent=len(not_sent),
        duplicates_same_log_id=sum(n - 1 for log_id, n in per_log.items() if step_job[log_step[log_id]] not in at_least_once_jobs),
        duplicates_other_log_id=sum(len(logs) - 1 for logs in logs_per_step.values()),
        extra_run_rows=sum(n - 1 for n in rows_per_step.values()),
        stray_arrivals=stray,
        end_to_end=Spread.of(i.finished_at_ms - i.planned_at_ms for i in mine if i.finished_at_ms is not None),
        missing_examples=missing[:5],
        not_sent_examples=not_sent[:5],
    )
