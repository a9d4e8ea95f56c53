"""What the Demo page shows of the demo's workflow "nightly-pipeline" (admin/demo/pipeline.py),
read from the database as it is now: the workflow (found by its name and its group's app name,
among those the viewer may see), its schedule, its latest instances with their states, and for
each of those the states of the step that fails now and then and of its compensation."""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..demo import pipeline
from ..enums import OverlapPolicy, ScheduleType, StepStatus
from ..models import ExecutorGroup, Workflow, WorkflowStepRun
from ..services import workflow_instances as instances
from ..services.access import scope_to_groups
from ..services.actor import Actor
from ..services.paging import PageRequest

#: The latest instances the page lists (the workflow's instances page has them all).
LATEST = 5
#: The step that fails in some instances, and the one its failure edge runs.
FLAKY_STEP = f"load_{pipeline.COMPENSATED}"
COMPENSATION_STEP = f"compensate_{pipeline.COMPENSATED}"


@dataclass(frozen=True)
class PipelineInstance:
    view: instances.InstanceView
    #: The states of FLAKY_STEP and COMPENSATION_STEP; None before the step has a row.
    flaky: StepStatus | None
    compensation: StepStatus | None


@dataclass(frozen=True)
class DemoPipeline:
    workflow_id: int
    enabled: bool
    schedule_type: ScheduleType
    schedule_conf: str
    timezone: str
    overlap_policy: OverlapPolicy
    next_fire_at_ms: int
    #: Newest first, at most LATEST.
    latest: list[PipelineInstance]

    @property
    def active(self) -> bool:
        """An instance may still change, or the schedule starts new ones."""
        return self.enabled or any(item.view.status in instances.ACTIVE for item in self.latest)


def _step_states(session: Session, instance_ids: list[int]) -> dict[tuple[int, str], StepStatus]:
    """(instance id, step key) -> the state of the step's latest generation, for the two steps."""
    if not instance_ids:
        return {}
    rows = session.execute(
        sa.select(WorkflowStepRun.instance_id, WorkflowStepRun.step_key, WorkflowStepRun.status)
        .where(WorkflowStepRun.instance_id.in_(instance_ids), WorkflowStepRun.step_key.in_((FLAKY_STEP, COMPENSATION_STEP)))
        .order_by(WorkflowStepRun.generation)
    )
    return {(instance_id, key): StepStatus(status) for instance_id, key, status in rows}


def read_demo_pipeline(session: Session, actor: Actor, *, now_ms: int) -> DemoPipeline | None:
    """The demo's workflow as the viewer may see it, or None when it is not here (no demo ran
    on this database, it was renamed or deleted, or its group is not the viewer's)."""
    stmt = (
        sa.select(Workflow)
        .join(ExecutorGroup, ExecutorGroup.id == Workflow.group_id)
        .where(Workflow.name == pipeline.WORKFLOW_NAME, ExecutorGroup.app_name == pipeline.PIPELINE_APP)
    )
    workflow = session.scalar(scope_to_groups(stmt, Workflow.group_id, actor))
    if workflow is None:
        return None
    page = instances.list_instances(session, actor, instances.InstanceFilter(workflow_id=workflow.id), PageRequest(1, LATEST), now_ms=now_ms)
    states = _step_states(session, [item.id for item in page.items])
    latest = [PipelineInstance(item, states.get((item.id, FLAKY_STEP)), states.get((item.id, COMPENSATION_STEP))) for item in page.items]
    return DemoPipeline(
        workflow_id=workflow.id, enabled=workflow.enabled, schedule_type=ScheduleType(workflow.schedule_type), schedule_conf=workflow.schedule_conf,
        timezone=workflow.timezone, overlap_policy=OverlapPolicy(workflow.overlap_policy), next_fire_at_ms=workflow.next_fire_at_ms if workflow.enabled else 0,
        latest=latest,
    )  # fmt: skip
