"""Workflow instances, read: the filtered, paged list and one instance with its steps and their runs.

A user sees the instances of the workflows listed under the groups granted to them (the
workflow's `group_id`, as for the workflow itself); an instance of a workflow since deleted is
seen by admins only. An instance the actor may not see is reported as not found (404).
The steps are read from the instance's own copy of the definition, each with its current state
(the step-run row with the highest generation) and the runs of that generation.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..enums import RunStatus, StepStatus, TriggerType, WorkflowStatus
from ..models import Job, RunLog, Workflow, WorkflowInstance, WorkflowStepRun
from ..texts import _t
from ..workflows.graph import Definition, load_definition, topological_order
from .access import scope_to_groups
from .actor import Actor
from .errors import FieldErrors, NotFound
from .numbers import filter_numbers
from .paging import Page, PageRequest, count_rows_capped

#: The list counts matching rows up to this many; past it the total reads "more than 10,000".
COUNT_CAP = 10_000
#: Instance states in which steps may still change (the console refreshes the page then).
ACTIVE = (WorkflowStatus.WAITING, WorkflowStatus.RUNNING)


@dataclass(frozen=True)
class InstanceFilter:
    workflow_id: int | None = None
    status: WorkflowStatus | None = None
    #: Creation time window, UTC epoch ms: from_ms <= created_at_ms < to_ms.
    from_ms: int | None = None
    to_ms: int | None = None

    @classmethod
    def parse(cls, args: dict[str, Any]) -> InstanceFilter:
        """From query-string style values (strings), naming every bad one."""
        errors = FieldErrors()
        values: dict[str, Any] = dict(filter_numbers(errors, args, ("workflow_id",)))
        raw_status = args.get("status")
        if raw_status not in (None, ""):
            try:
                values["status"] = WorkflowStatus(str(raw_status).upper())
            except ValueError:
                errors.add("status", _t("must be one of %(values)s", values=", ".join(s.value for s in WorkflowStatus)))
        if "from_ms" in values and "to_ms" in values and values["from_ms"] >= values["to_ms"]:
            errors.add("to_ms", _t("must be after from_ms"))
        errors.raise_if_any(_t("bad workflow instance filter"))
        return cls(**values)


@dataclass(frozen=True)
class InstanceView:
    id: int
    workflow_id: int
    #: None when the workflow has been deleted since.
    workflow_name: str | None
    workflow_version: int
    status: WorkflowStatus
    trigger_type: TriggerType
    planned_at_ms: int
    triggered_by: str
    message: str | None
    created_at_ms: int
    started_at_ms: int | None
    finished_at_ms: int | None
    #: Finished (or, while it runs, now) minus started; None before it starts.
    duration_ms: int | None


@dataclass(frozen=True)
class StepRunBrief:
    """One run of a step (one per shard of a broadcast, plus its retries)."""

    id: int
    status: RunStatus
    shard_index: int
    shard_total: int
    attempt: int
    trigger_at_ms: int
    handle_msg: str | None
    executor_address: str | None


@dataclass(frozen=True)
class StepView:
    key: str
    job_id: int
    job_name: str | None
    #: None: the step has no row yet (its instance has not started).
    status: StepStatus | None
    generation: int
    step_run_id: int | None
    fire_id: int | None
    #: The parameter it was sent with, templates filled in (None: the job's own).
    param: str | None
    message: str | None
    started_at_ms: int | None
    finished_at_ms: int | None
    duration_ms: int | None
    result: Any
    upstream: Any
    runs: list[StepRunBrief]


@dataclass(frozen=True)
class InstanceDetail:
    instance: InstanceView
    params: Any
    definition: dict[str, Any]
    deadline_at_ms: int
    #: Steps in an order where every step comes after the steps with an edge into it.
    steps: list[StepView]

    @property
    def active(self) -> bool:
        return self.instance.status in ACTIVE

    def graph(self) -> Definition:
        """The definition as a graph (what the console lays out)."""
        return load_definition(json.dumps(self.definition))


def _duration(started: int | None, finished: int | None, now_ms: int) -> int | None:
    if started is None:
        return None
    return max(0, (finished if finished is not None else now_ms) - started)


def _json(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return json.loads(text)
    except ValueError:
        return None


def _visible(actor: Actor) -> sa.Select:
    """Instances joined with their workflow (outer: a deleted workflow leaves its instances),
    scoped to the workflows the actor may see."""
    stmt = sa.select(WorkflowInstance, Workflow.name).outerjoin(Workflow, Workflow.id == WorkflowInstance.workflow_id)
    return scope_to_groups(stmt, Workflow.group_id, actor)


def _view(row: WorkflowInstance, name: str | None, now_ms: int) -> InstanceView:
    return InstanceView(
        id=row.id,
        workflow_id=row.workflow_id,
        workflow_name=name,
        workflow_version=row.workflow_version,
        status=WorkflowStatus(row.status),
        trigger_type=TriggerType(row.trigger_type),
        planned_at_ms=row.planned_at_ms,
        triggered_by=row.triggered_by,
        message=row.message,
        created_at_ms=row.created_at_ms,
        started_at_ms=row.started_at_ms,
        finished_at_ms=row.finished_at_ms,
        duration_ms=_duration(row.started_at_ms, row.finished_at_ms, now_ms),
    )


def list_instances(session: Session, actor: Actor, flt: InstanceFilter, page: PageRequest, *, now_ms: int) -> Page[InstanceView]:
    """Newest first (by id: instances are created in time order)."""
    stmt = _visible(actor)
    if flt.workflow_id is not None:
        stmt = stmt.where(WorkflowInstance.workflow_id == flt.workflow_id)
    if flt.status is not None:
        stmt = stmt.where(WorkflowInstance.status == flt.status)
    if flt.from_ms is not None:
        stmt = stmt.where(WorkflowInstance.created_at_ms >= flt.from_ms)
    if flt.to_ms is not None:
        stmt = stmt.where(WorkflowInstance.created_at_ms < flt.to_ms)
    total, exact = count_rows_capped(session, stmt, COUNT_CAP)
    rows = session.execute(stmt.order_by(WorkflowInstance.id.desc()).limit(page.per_page).offset(page.offset)).all()
    return Page([_view(row, name, now_ms) for row, name in rows], total, page.page, page.per_page, exact)


def load_visible_workflow(session: Session, actor: Actor, workflow_id: int) -> Workflow:
    """The workflow, or NotFound when it does not exist or the actor may not see it."""
    workflow = session.get(Workflow, workflow_id) if isinstance(workflow_id, int) else None
    if workflow is None or not actor.can_access_group(workflow.group_id):
        raise NotFound("workflow", workflow_id)
    return workflow


def load_instance(session: Session, actor: Actor, instance_id: int) -> tuple[WorkflowInstance, str | None]:
    """The instance and its workflow's name, or NotFound (also for one the actor may not see)."""
    found = session.execute(_visible(actor).where(WorkflowInstance.id == instance_id)).first() if isinstance(instance_id, int) else None
    if found is None:
        raise NotFound("workflow instance", instance_id)
    return found[0], found[1]


def current_step_runs(session: Session, instance_id: int) -> dict[str, WorkflowStepRun]:
    """Each step's row with the highest generation, by step key."""
    rows = session.scalars(sa.select(WorkflowStepRun).where(WorkflowStepRun.instance_id == instance_id).order_by(WorkflowStepRun.generation))
    return {row.step_key: row for row in rows}


def _runs_by_step_run(session: Session, step_run_ids: list[int]) -> dict[int, list[StepRunBrief]]:
    found: dict[int, list[StepRunBrief]] = {}
    if not step_run_ids:
        return found
    rows = session.scalars(sa.select(RunLog).where(RunLog.step_run_id.in_(step_run_ids)).order_by(RunLog.shard_index, RunLog.attempt, RunLog.id))
    for run in rows:
        assert run.step_run_id is not None
        found.setdefault(run.step_run_id, []).append(
            StepRunBrief(run.id, RunStatus(run.status), run.shard_index, run.shard_total, run.attempt, run.trigger_at_ms, run.handle_msg, run.executor_address)
        )
    return found


def get_instance(session: Session, actor: Actor, instance_id: int, *, now_ms: int) -> InstanceDetail:
    row, name = load_instance(session, actor, instance_id)
    definition = load_definition(row.definition_json)
    current = current_step_runs(session, row.id)
    runs = _runs_by_step_run(session, [step_run.id for step_run in current.values()])
    job_ids = definition.job_ids() | {step_run.job_id for step_run in current.values()}
    names = dict(session.execute(sa.select(Job.id, Job.name).where(Job.id.in_(job_ids))).all()) if job_ids else {}
    steps = []
    for key in topological_order(definition):
        step = definition.step(key)
        step_run = current.get(key)
        if step_run is None:
            steps.append(StepView(key, step.job_id, names.get(step.job_id), None, 0, None, None, None, None, None, None, None, None, None, []))
            continue
        steps.append(
            StepView(
                key=key,
                job_id=step_run.job_id,
                job_name=names.get(step_run.job_id),
                status=StepStatus(step_run.status),
                generation=step_run.generation,
                step_run_id=step_run.id,
                fire_id=step_run.fire_id,
                param=step_run.param,
                message=step_run.message,
                started_at_ms=step_run.started_at_ms,
                finished_at_ms=step_run.finished_at_ms,
                duration_ms=_duration(step_run.started_at_ms, step_run.finished_at_ms, now_ms),
                result=_json(step_run.result_json),
                upstream=_json(step_run.upstream_json),
                runs=runs.get(step_run.id, []),
            )
        )
    return InstanceDetail(_view(row, name, now_ms), _json(row.params_json), definition.to_obj(), row.deadline_at_ms, steps)


def step_of_run(session: Session, actor: Actor, step_run_id: int) -> tuple[int, str] | None:
    """(instance id, step key) of a workflow run's step, when the actor may see that instance."""
    step_run = session.get(WorkflowStepRun, step_run_id)
    if step_run is None:
        return None
    try:
        load_instance(session, actor, step_run.instance_id)
    except NotFound:
        return None
    return step_run.instance_id, step_run.step_key


def workflow_choices(session: Session, actor: Actor) -> list[tuple[int, str]]:
    """(id, name) of the workflows the actor may see, by name: the list's workflow filter."""
    stmt = scope_to_groups(sa.select(Workflow.id, Workflow.name), Workflow.group_id, actor)
    return [(row_id, name) for row_id, name in session.execute(stmt.order_by(Workflow.name))]
