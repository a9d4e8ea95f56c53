"""Importing an export document: check all of it, then write all of it in one transaction.

`import_document` reads the database to make a plan (`plan.ImportPlan`), reports every problem
at once with its place in the document, and writes nothing unless there is none; a dry run
stops after the plan. Writing goes through the services (apply.py) in the caller's session, so
each group, calendar and job is checked, audited and rolled back with the rest.

The document has one top-level key per section besides `shardcron_export`; each section is one
pair of functions (`SECTIONS`: check and plan, then apply), in the order they depend on each
other.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from ..services.actor import Actor
from ..services.errors import ServiceError
from ..texts import _nt, _t
from .apply import apply_calendars, apply_groups, apply_jobs, apply_workflows
from .fields import EXPORT_VERSION
from .plan import ImportOptions, ImportPlan, Problem
from .plan_calendars import plan_calendars
from .plan_children import Node, plan_children
from .plan_groups import plan_groups
from .plan_jobs import plan_jobs
from .plan_workflows import plan_workflows

VERSION_KEY = "shardcron_export"


class ImportRefused(ServiceError):
    """The document has problems; nothing was written. `problems` lists each with its place."""

    def __init__(self, problems: list[Problem]) -> None:
        detail = tuple(problem.line() for problem in problems)
        super().__init__(
            _nt("import refused: %(num)d problem (%(detail)s)", "import refused: %(num)d problems (%(detail)s)", len(problems), detail=detail),
            field_errors={problem.place: problem.message for problem in reversed(problems)},
        )
        self.problems = problems


@dataclass
class ImportRun:
    """What one import shares between its sections."""

    session: Session
    actor: Actor
    now_ms: int
    default_timezone: str
    #: Most entries one calendar may hold (setting calendar_max_entries).
    max_calendar_entries: int
    plan: ImportPlan
    #: Most steps one workflow may have (setting workflow_max_steps).
    max_workflow_steps: int = 1000
    resolved_children: dict[int, list[Node]] = field(default_factory=dict)


def _plan_groups(run: ImportRun, entries: list[Any]) -> None:
    plan_groups(run.plan, run.session, run.actor, entries)


def _plan_calendars(run: ImportRun, entries: list[Any]) -> None:
    plan_calendars(run.plan, run.session, run.actor, entries, now_ms=run.now_ms, default_timezone=run.default_timezone, max_entries=run.max_calendar_entries)


def _plan_jobs(run: ImportRun, entries: list[Any]) -> None:
    plan_jobs(run.plan, run.session, run.actor, entries, now_ms=run.now_ms, default_timezone=run.default_timezone)
    run.resolved_children = plan_children(run.plan, run.session, run.actor)


def _plan_workflows(run: ImportRun, entries: list[Any]) -> None:
    plan_workflows(run.plan, run.session, run.actor, entries, now_ms=run.now_ms, default_timezone=run.default_timezone, max_steps=run.max_workflow_steps)


def _apply_groups(run: ImportRun) -> None:
    apply_groups(run.plan, run.session, run.actor, now_ms=run.now_ms)


def _apply_calendars(run: ImportRun) -> None:
    apply_calendars(run.plan, run.session, run.actor, now_ms=run.now_ms, default_timezone=run.default_timezone, max_entries=run.max_calendar_entries)


def _apply_jobs(run: ImportRun) -> None:
    apply_jobs(run.plan, run.session, run.actor, run.resolved_children, now_ms=run.now_ms, default_timezone=run.default_timezone)


def _apply_workflows(run: ImportRun) -> None:
    apply_workflows(run.plan, run.session, run.actor, now_ms=run.now_ms, default_timezone=run.default_timezone, max_steps=run.max_workflow_steps)


@dataclass(frozen=True)
class Section:
    key: str
    plan: Callable[[ImportRun, list[Any]], None]
    apply: Callable[[ImportRun], None]


#: The document's sections in the order they are planned and applied (jobs name their groups
#: and calendars; a job is saved only with calendars that leave it a planned time; workflows
#: name their groups and their steps' jobs).
SECTIONS = (
    Section("groups", _plan_groups, _apply_groups),
    Section("calendars", _plan_calendars, _apply_calendars),
    Section("jobs", _plan_jobs, _apply_jobs),
    Section("workflows", _plan_workflows, _apply_workflows),
)


def _check_version(plan: ImportPlan, document: dict[str, Any]) -> bool:
    version = document.get(VERSION_KEY)
    if version is None:
        plan.problem(VERSION_KEY, _t("is required: the version of the export document (%(version)s)", version=EXPORT_VERSION))
    elif isinstance(version, bool) or version != EXPORT_VERSION:
        plan.problem(VERSION_KEY, _t("version %(found)s is not read here; this admin reads version %(version)s", found=repr(version), version=EXPORT_VERSION))
    else:
        return True
    return False


def plan_import(
    session: Session, actor: Actor, document: dict[str, Any], options: ImportOptions, *, now_ms: int, default_timezone: str, max_calendar_entries: int,
    max_workflow_steps: int = 1000,
) -> ImportRun:
    """Check the whole document against the database (read only); the plan lists every problem."""
    run = ImportRun(session, actor, now_ms, default_timezone, max_calendar_entries, ImportPlan(options), max_workflow_steps)
    known = {VERSION_KEY} | {section.key for section in SECTIONS}
    for key in sorted(set(document) - known, key=str):
        run.plan.problem(str(key), _t("unknown field"))
    if not _check_version(run.plan, document):
        return run
    for section in SECTIONS:
        entries = document.get(section.key, [])
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            run.plan.problem(section.key, _t("must be a list"))
            continue
        section.plan(run, entries)
    return run


def import_document(
    session: Session,
    actor: Actor,
    document: dict[str, Any],
    options: ImportOptions,
    *,
    dry_run: bool,
    now_ms: int,
    default_timezone: str,
    max_calendar_entries: int,
    max_workflow_steps: int = 1000,
) -> ImportPlan:
    """The plan of the import, carried out in `session` unless `dry_run`; ImportRefused (400)
    with every problem when there is any, before anything is written."""
    run = plan_import(
        session, actor, document, options, now_ms=now_ms, default_timezone=default_timezone, max_calendar_entries=max_calendar_entries,
        max_workflow_steps=max_workflow_steps,
    )  # fmt: skip
    if run.plan.problems:
        raise ImportRefused(run.plan.problems)
    if not dry_run:
        for section in SECTIONS:
            section.apply(run)
    return run.plan
