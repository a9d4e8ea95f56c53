"""`import-xxljob --child-jobs-as-workflows`: XXL-JOB child-job chains as shardcron workflows.

In XXL-JOB a job's success fires each of its child jobs. With this option the import leaves the
created jobs' `child_job_ids` empty and makes one workflow per chain instead: its root (a created
job with children that no other created job names as a child) and every job reached from it
through the child references kept by the plan (loops already dropped), one step each, with a
SUCCESS edge from each parent to each child. A job reached from two parents waits for ANY of
them (XXL-JOB fired it after each; the workflow runs it once).

The workflow takes over the root's schedule (type, expression, zone, misfire strategy when a
workflow has it, else DO_NOTHING) and its enabled state; the root job itself is then created
stopped with no schedule of its own, so it is not fired twice. Workflows are named
`<root job name> (chain)`; one whose name is taken is left out with a note.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import sqlalchemy as sa
from sqlalchemy.orm import Session

from shardcron.admin.enums import ScheduleType
from shardcron.admin.models import Workflow
from shardcron.admin.services.actor import Actor
from shardcron.admin.services.workflow_form import WORKFLOW_MISFIRE_STRATEGIES
from shardcron.admin.services.workflows import create_workflow, start_workflow

from .actions import Action

from .convert import Issue

NAME_SUFFIX = " (chain)"
MAX_WORKFLOW_NAME = 128


@dataclass
class PlannedChain:
    """One workflow to create: its root, its steps (XXL-JOB ids, root first) and edges."""

    name: str
    root_xxl_id: int
    steps: list[int]
    edges: list[tuple[int, int]]
    #: The root's schedule and state, moved to the workflow.
    schedule: dict[str, Any] = field(default_factory=dict)
    enabled: bool = False
    new_id: int | None = None


def step_key(xxl_id: int) -> str:
    return f"job-{xxl_id}"


def plan_chains(session: Session, plan: Any) -> list[PlannedChain]:
    """The chains among the plan's created jobs (their kept child ids); roots lose their
    schedule to their workflow. `plan` is importer.ImportPlan (jobs already planned)."""

    created = {job.draft.source.id: job for job in plan.jobs if job.action is Action.CREATE}
    children = {xxl_id: [c for c in job.draft.child_xxl_ids] for xxl_id, job in created.items()}
    named_as_child = {c for kids in children.values() for c in kids}
    taken = set(session.scalars(sa.select(Workflow.name)))
    chains: list[PlannedChain] = []
    for xxl_id, job in created.items():
        if not children[xxl_id] or xxl_id in named_as_child:
            continue
        steps, edges, stack = [xxl_id], [], [xxl_id]
        while stack:
            node = stack.pop()
            for child in children.get(node, []):
                edges.append((node, child))
                if child not in steps:
                    steps.append(child)
                    stack.append(child)
        name = job.draft.values["name"][: MAX_WORKFLOW_NAME - len(NAME_SUFFIX)] + NAME_SUFFIX
        if name in taken:
            issue = Issue(job.draft.subject, "child_jobid", ",".join(map(str, children[xxl_id])), f"a workflow is named {name!r} already; this chain's child jobs are not carried over")
            plan.issues.append(issue)
            continue
        taken.add(name)
        values = job.draft.values
        misfire = values["misfire_strategy"] if values["misfire_strategy"] in WORKFLOW_MISFIRE_STRATEGIES else WORKFLOW_MISFIRE_STRATEGIES[0]
        chain = PlannedChain(
            name, xxl_id, steps, edges,
            {"schedule_type": values["schedule_type"], "schedule_conf": values["schedule_conf"], "timezone": values["timezone"], "misfire_strategy": misfire},
            bool(values["enabled"]),
        )  # fmt: skip
        if chain.schedule["schedule_type"] != ScheduleType.NONE:
            job.draft.issues.append(Issue(job.draft.subject, "schedule_conf", repr(values["schedule_conf"]), f"moved with its child jobs to workflow {name!r}; the job has no schedule of its own"))
        # The workflow fires the chain now: the root alone no longer does.
        values.update(schedule_type=ScheduleType.NONE, schedule_conf="", enabled=False, next_fire_at_ms=0)
        chains.append(chain)
    for job in created.values():
        job.draft.child_xxl_ids = []  # the workflows carry them
    return chains


def create_chains(
    session: Session, actor: Actor, chains: list[PlannedChain], target_ids: dict[int, int], group_ids: dict[int, int], *, now_ms: int, max_steps: int
) -> None:
    """Create (and start, when the root was enabled) each chain's workflow in the root's group;
    `target_ids`: XXL-JOB job id -> shardcron job id, `group_ids`: XXL-JOB job id -> group id."""
    for chain in chains:
        definition = {
            "steps": [{"key": step_key(xxl_id), "job_id": target_ids[xxl_id]} | ({"join": "ANY"} if sum(1 for _, c in chain.edges if c == xxl_id) > 1 else {}) for xxl_id in chain.steps],
            "edges": [{"from": step_key(parent), "to": step_key(child), "on": "SUCCESS"} for parent, child in chain.edges],
        }
        data = {"group_id": group_ids[chain.root_xxl_id], "name": chain.name, "author": actor.username, "definition": definition, **chain.schedule}
        chain.new_id = create_workflow(session, actor, data, now_ms=now_ms, max_steps=max_steps).id
        if chain.enabled and chain.schedule["schedule_type"] != ScheduleType.NONE:
            start_workflow(session, actor, chain.new_id, now_ms=now_ms)
