"""What an import would do: one step per group, calendar and job of the document, and every problem found.

A plan is made by `importer.plan_import` (reading the database only) and carried out by
`apply.apply_plan` in the same transaction. Places name the document's parts the way a reader
finds them: `groups[0].app_name`, `calendars[1].entries`, `jobs[3].schedule_conf`, `jobs[3].children[1]`,
`workflows[0].definition.steps[2].job`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from ..schedules.exclusions import DateRange
from ..texts import Text, _t


class OnConflict(StrEnum):
    """What to do with a group or job of the document that already exists."""

    SKIP = "skip"  # leave it as it is (the default)
    UPDATE = "update"  # overwrite its settings with the document's
    FAIL = "fail"  # refuse the whole import


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    SKIP = "skip"  # exists already and is left as it is


@dataclass(frozen=True)
class ImportOptions:
    on_conflict: OnConflict = OnConflict.SKIP
    #: Give imported jobs the `enabled` state the document has; otherwise new jobs arrive
    #: stopped and updated jobs keep the state they have.
    keep_state: bool = False


@dataclass(frozen=True)
class Problem:
    place: str
    message: Text

    def line(self) -> Text:
        return _t("%(field)s: %(problem)s", field=self.place, problem=self.message)


class _Target:
    """A step's row: the one that exists before the import, else the one the import creates."""

    existing_id: int | None
    new_id: int | None

    @property
    def target_id(self) -> int | None:
        return self.existing_id if self.existing_id is not None else self.new_id


@dataclass
class GroupStep(_Target):
    index: int
    app_name: str
    values: dict[str, Any]
    action: Action
    existing_id: int | None = None
    #: Whether an update would change nothing.
    unchanged: bool = False
    new_id: int | None = None


@dataclass
class CalendarStep(_Target):
    index: int
    name: str
    #: The calendar service's fields (name, timezone, description, entries as the document gave them).
    values: dict[str, Any]
    #: The checked entries, for the jobs' check that they keep a planned time.
    ranges: list[DateRange]
    timezone: str
    action: Action
    existing_id: int | None = None
    #: Whether an update would change nothing.
    unchanged: bool = False
    new_id: int | None = None


@dataclass
class JobStep(_Target):
    index: int
    app_name: str
    name: str
    #: Job-form fields (services.job_form.JOB_FIELDS) as the document gave them, without group and children.
    values: dict[str, Any]
    enabled: bool
    children: list[tuple[str, str]]
    action: Action
    #: The calendars the job names (None: the document does not say; an updated job keeps its own).
    calendars: list[str] | None = None
    existing_id: int | None = None
    #: The group's id when it exists before the import.
    group_id: int | None = None
    #: Whether the job will be enabled after the import.
    ends_enabled: bool = False
    new_id: int | None = None

    @property
    def key(self) -> tuple[str, str]:
        return (self.app_name, self.name)


@dataclass
class WorkflowStep(_Target):
    index: int
    app_name: str
    name: str
    #: Workflow fields (services.workflow_form.WORKFLOW_FIELDS) as the document gave them, without
    #: group and definition.
    values: dict[str, Any]
    #: The definition with each step's job as (group app name, job name) in `job` (None: unnamed).
    definition: dict[str, Any]
    action: Action
    existing_id: int | None = None
    #: Whether the workflow will be enabled after the import.
    ends_enabled: bool = False
    new_id: int | None = None


@dataclass
class ImportPlan:
    options: ImportOptions
    groups: list[GroupStep] = field(default_factory=list)
    calendars: list[CalendarStep] = field(default_factory=list)
    jobs: list[JobStep] = field(default_factory=list)
    workflows: list[WorkflowStep] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    #: App names of the document's groups that were refused: their jobs are still checked,
    #: without a second complaint about the group.
    refused_groups: set[str] = field(default_factory=set)
    #: Names of the document's calendars that were refused (their jobs are not blamed again).
    refused_calendars: set[str] = field(default_factory=set)

    def problem(self, place: str, message: Text) -> None:
        self.problems.append(Problem(place, message))

    def count(self, kind: str, action: Action) -> int:
        by_kind: dict[str, list[Any]] = {"groups": self.groups, "calendars": self.calendars, "workflows": self.workflows}
        steps = by_kind.get(kind, self.jobs)
        return sum(1 for step in steps if step.action is action)
