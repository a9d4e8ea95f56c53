"""Planning and applying an XXL-JOB import into the admin database.

Re-running an import is safe: a group whose app_name already exists in shardcron is reused
unchanged, and a job whose (group, name) already exists there is left as it is (an operator may
have edited it since); only what is missing is created. Existing rows are never updated.
XXL-JOB does not require job names to be unique within a group; jobs sharing a name get
" (xxl-job <id>)" appended, so every imported job keeps a stable identity for the next run.

`plan_import` only reads the admin database (a dry run stops there); `apply_plan` writes every
group and job of the plan in the caller's one transaction, then maps child job ids to the new ids.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from shardcron.admin.enums import ActorKind, AuditAction, AuditTarget, UserRole
from shardcron.admin.models import ExecutorGroup, Job
from shardcron.admin.services import audit
from shardcron.admin.services.actor import Actor
from shardcron.admin.services.glue_versions import record_version
from shardcron.admin.services.job_form import MAX_CHILD_JOBS, current_values
from shardcron.core.protocol import GlueType

from .actions import Action
from .chains import PlannedChain, create_chains, plan_chains
from .convert import MAX_CHILD_IDS_CHARS, MAX_NAME_CHARS, GroupDraft, Issue, JobDraft, convert_group, convert_job
from .source import XxlSnapshot


@dataclass
class PlannedGroup:
    draft: GroupDraft
    action: Action
    existing_id: int | None = None
    new_id: int | None = None

    @property
    def target_id(self) -> int | None:
        return self.existing_id if self.existing_id is not None else self.new_id


@dataclass
class PlannedJob:
    draft: JobDraft
    action: Action
    group: PlannedGroup | None
    existing_id: int | None = None
    new_id: int | None = None

    @property
    def target_id(self) -> int | None:
        return self.existing_id if self.existing_id is not None else self.new_id


@dataclass
class ImportPlan:
    source_url: str
    source_schema: str
    groups: list[PlannedGroup] = field(default_factory=list)
    jobs: list[PlannedJob] = field(default_factory=list)
    issues: list[Issue] = field(default_factory=list)
    #: With --child-jobs-as-workflows: the workflows carrying the child-job chains.
    chains: list[PlannedChain] = field(default_factory=list)

    def count(self, kind: str, action: Action) -> int:
        rows = self.groups if kind == "groups" else self.jobs
        return sum(1 for row in rows if row.action is action)


def _dedupe_names(drafts: list[tuple[JobDraft, str]]) -> None:
    """Give jobs that share a (group, name) a name that tells them apart (stable across runs)."""
    seen = Counter((app_name, draft.values["name"]) for draft, app_name in drafts)
    for draft, app_name in drafts:
        name = draft.values["name"]
        if seen[(app_name, name)] > 1:
            suffix = f" (xxl-job {draft.source.id})"
            renamed = name[: MAX_NAME_CHARS - len(suffix)] + suffix
            draft.issues.append(Issue(draft.subject, "job_desc", repr(name), f"shared by {seen[(app_name, name)]} jobs of group {app_name!r}; named {renamed!r}"))
            draft.values["name"] = renamed


def plan_import(
    session: Session, snapshot: XxlSnapshot, *, timezone: str, now_ms: int, stop_all: bool = False, children_as_workflows: bool = False
) -> ImportPlan:
    """What an import of `snapshot` would do to the admin database behind `session` (read only).
    With `children_as_workflows`, child-job chains become workflows (chains.py)."""
    plan = ImportPlan(snapshot.url, snapshot.schema)
    existing_groups = {g.app_name: g.id for g in session.scalars(select(ExecutorGroup))}
    by_xxl_group: dict[int, PlannedGroup] = {}
    by_app_name: dict[str, PlannedGroup] = {}
    for group in snapshot.groups:
        draft = convert_group(group)
        if not draft.usable:
            planned = PlannedGroup(draft, Action.SKIP)
        elif draft.app_name in by_app_name:
            first = by_app_name[draft.app_name]
            draft.issues.append(Issue(draft.subject, "app_name", repr(group.app_name), f"also used by group {first.draft.source.id}; its jobs join that group"))
            by_xxl_group[group.id] = first
            plan.issues.extend(draft.issues)
            continue
        elif draft.app_name in existing_groups:
            planned = PlannedGroup(draft, Action.EXISTS, existing_id=existing_groups[draft.app_name])
        else:
            planned = PlannedGroup(draft, Action.CREATE)
        plan.groups.append(planned)
        by_xxl_group[group.id] = planned
        if planned.action is not Action.SKIP:
            by_app_name[draft.app_name] = planned
        plan.issues.extend(draft.issues)

    drafts: list[tuple[JobDraft, PlannedGroup | None]] = []
    for job in snapshot.jobs:
        job_draft = convert_job(job, timezone=timezone, now_ms=now_ms, stop_all=stop_all)
        drafts.append((job_draft, by_xxl_group.get(job.job_group)))
    _dedupe_names([(d, g.draft.app_name) for d, g in drafts if g is not None and g.action is not Action.SKIP])

    existing_jobs: dict[tuple[int, str], int] = {}
    existing_group_ids = {g.existing_id for g in plan.groups if g.existing_id is not None}
    if existing_group_ids:
        rows = session.execute(select(Job.id, Job.group_id, Job.name).where(Job.group_id.in_(existing_group_ids)))
        existing_jobs = {(row.group_id, row.name): row.id for row in rows}

    for job_draft, group_plan in drafts:
        if group_plan is None:
            job_draft.issues.insert(0, Issue(job_draft.subject, "job_group", str(job_draft.source.job_group), "no such executor group in the XXL-JOB database; job skipped"))
            planned_job = PlannedJob(job_draft, Action.SKIP, None)
        elif group_plan.action is Action.SKIP:
            job_draft.issues.insert(0, Issue(job_draft.subject, "job_group", str(job_draft.source.job_group), "its group was skipped; job skipped"))
            planned_job = PlannedJob(job_draft, Action.SKIP, group_plan)
        elif group_plan.existing_id is not None and (group_plan.existing_id, job_draft.values["name"]) in existing_jobs:
            planned_job = PlannedJob(job_draft, Action.EXISTS, group_plan, existing_id=existing_jobs[(group_plan.existing_id, job_draft.values["name"])])
        else:
            planned_job = PlannedJob(job_draft, Action.CREATE, group_plan)
        plan.jobs.append(planned_job)

    _plan_children(plan)
    if children_as_workflows:
        plan.chains = plan_chains(session, plan)
    for job_plan in plan.jobs:
        if job_plan.action is Action.CREATE or job_plan.action is Action.SKIP:
            plan.issues.extend(job_plan.draft.issues)
    return plan


def _reaches(graph: dict[int, list[int]], start: int, target: int) -> bool:
    stack, seen = [start], {start}
    while stack:
        node = stack.pop()
        if node == target:
            return True
        for child in graph.get(node, []):
            if child not in seen:
                seen.add(child)
                stack.append(child)
    return False


def _plan_children(plan: ImportPlan) -> None:
    """Drop child references that cannot be mapped or would make a loop, with a note (the
    mapping itself needs the new ids). Jobs already in shardcron only point at jobs that were
    there before the import, so a loop can only run through jobs this import creates."""
    importable = {p.draft.source.id for p in plan.jobs if p.action is not Action.SKIP}
    graph: dict[int, list[int]] = {}
    for planned in plan.jobs:
        if planned.action is not Action.CREATE:
            continue
        draft = planned.draft
        kept: list[int] = []
        for child in draft.child_xxl_ids:
            if child == draft.source.id:
                draft.issues.append(Issue(draft.subject, "child_jobid", str(child), "the job itself; dropped (XXL-JOB never fired it either)"))
            elif child not in importable:
                draft.issues.append(Issue(draft.subject, "child_jobid", str(child), "no such job in the import (missing or skipped); dropped"))
            elif _reaches(graph, child, draft.source.id):
                draft.issues.append(Issue(draft.subject, "child_jobid", str(child), "would close a loop of child jobs (each success firing the next forever); dropped"))
            elif len(kept) >= MAX_CHILD_JOBS:
                draft.issues.append(Issue(draft.subject, "child_jobid", str(child), f"more than {MAX_CHILD_JOBS} child jobs; dropped"))
            else:
                kept.append(child)
                graph.setdefault(draft.source.id, []).append(child)
        draft.child_xxl_ids = kept


#: The author of the first kept version of an imported script job, and of the import's audit entries.
IMPORT_ACTOR = Actor(user_id=None, username="import-xxljob", role=UserRole.ADMIN, kind=ActorKind.CLI, client_address="local")


def apply_plan(session: Session, plan: ImportPlan, *, now_ms: int, max_workflow_steps: int = 1000) -> None:
    """Create the plan's new groups, jobs and chain workflows in `session`'s transaction; fills
    in their new ids."""
    for group in plan.groups:
        if group.action is not Action.CREATE:
            continue
        row = ExecutorGroup(
            app_name=group.draft.app_name,
            title=group.draft.title,
            address_type=group.draft.address_type,
            manual_addresses=group.draft.manual_addresses,
            created_at_ms=now_ms,
            updated_at_ms=now_ms,
        )
        session.add(row)
        session.flush()
        group.new_id = row.id
        after: dict[str, Any] = {"app_name": row.app_name, "title": row.title, "address_type": row.address_type, "manual_addresses": row.manual_addresses}
        audit.record(session, IMPORT_ACTOR, AuditAction.GROUP_CREATE, AuditTarget.GROUP, target_id=row.id, target_name=row.app_name, group_id=row.id, after=after, now_ms=now_ms)
    created: list[tuple[PlannedJob, Job]] = []
    for job in plan.jobs:
        if job.action is not Action.CREATE:
            continue
        assert job.group is not None and job.group.target_id is not None
        job_row = Job(group_id=job.group.target_id, child_job_ids="", created_at_ms=now_ms, updated_at_ms=now_ms, **job.draft.values)
        session.add(job_row)
        created.append((job, job_row))
    session.flush()
    target_ids = {}
    for job, job_row in created:
        job.new_id = job_row.id
    for job in plan.jobs:
        if job.target_id is not None:
            target_ids[job.draft.source.id] = job.target_id
    for job, job_row in created:
        children = [str(target_ids[c]) for c in job.draft.child_xxl_ids if c in target_ids]
        text = ",".join(children)
        while len(text) > MAX_CHILD_IDS_CHARS:
            dropped = children.pop()
            issue = Issue(job.draft.subject, "child_jobid", dropped, f"dropped: the list is longer than {MAX_CHILD_IDS_CHARS} characters")
            job.draft.issues.append(issue)
            plan.issues.append(issue)
            text = ",".join(children)
        job_row.child_job_ids = text
    session.flush()
    for job, job_row in created:
        after = {**current_values(job_row), "enabled": job_row.enabled, "xxl_job_id": job.draft.source.id}
        audit.record(session, IMPORT_ACTOR, AuditAction.JOB_CREATE, AuditTarget.JOB, target_id=job_row.id, target_name=job_row.name, group_id=job_row.group_id, after=after, now_ms=now_ms)
        if job_row.glue_type != GlueType.BEAN.value:
            # Its script as XXL-JOB last saved it is the first version shardcron keeps.
            record_version(session, IMPORT_ACTOR, job_row, job.draft.glue_remark or "imported from XXL-JOB", now_ms=job_row.glue_updated_at_ms or now_ms)
    if plan.chains:
        group_ids = {job.draft.source.id: job.group.target_id for job in plan.jobs if job.group is not None and job.group.target_id is not None}
        create_chains(session, IMPORT_ACTOR, plan.chains, target_ids, group_ids, now_ms=now_ms, max_steps=max_workflow_steps)
