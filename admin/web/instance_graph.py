"""An instance's graph for its page: the workflow's layout (workflows/layout.py) drawn by the
workflow graph macro (_workflow_graph.html), each step marked by its state in three ways at
once so it reads without colour too: a fill colour, a border pattern (console.css,
`wf-state-*`) and, in the box, a symbol with the state's name (`LEGEND` says which is which)."""

from __future__ import annotations

from dataclasses import dataclass

from flask_babel import lazy_gettext as _l
from flask_babel.speaklater import LazyString

from ..enums import StepStatus
from ..workflows.graph import Definition
from ..workflows.layout import Layout, layout_definition


@dataclass(frozen=True)
class StateMark:
    #: The CSS class of the state (`wf-state-failed`, ...): fill and border pattern.
    css: str
    symbol: str
    label: str | LazyString


MARKS: dict[StepStatus, StateMark] = {
    state: StateMark(f"wf-state-{state.value.lower()}", symbol, label)
    for state, symbol, label in (
        (StepStatus.WAITING, "…", _l("WAITING")),
        (StepStatus.FIRED, "▶", _l("FIRED")),
        (StepStatus.SUCCEEDED, "✓", _l("SUCCEEDED")),
        (StepStatus.FAILED, "✗", _l("FAILED")),
        (StepStatus.SKIPPED, "↷", _l("SKIPPED")),
        (StepStatus.NOT_RUN, "–", _l("NOT_RUN")),
        (StepStatus.CANCELLED, "⊘", _l("CANCELLED")),
    )
}
LEGEND: list[tuple[StepStatus, StateMark]] = list(MARKS.items())


@dataclass(frozen=True)
class InstanceGraph:
    """What the graph macro takes: the layout, and per step key its state, its box's second
    line (the state's symbol and name) and its link (the step's row on the page)."""

    layout: Layout
    states: dict[str, str]
    labels: dict[str, str]
    links: dict[str, str]


def draw_instance(definition: Definition, states: dict[str, StepStatus | None]) -> InstanceGraph:
    """The graph with each step marked by its state in `states` (None or absent: a step whose
    instance has not started it yet, drawn WAITING as it will be)."""
    marked = {key: states.get(key) or StepStatus.WAITING for key in definition.keys}
    return InstanceGraph(
        layout=layout_definition(definition),
        states={key: state.value for key, state in marked.items()},
        labels={key: f"{MARKS[state].symbol} {MARKS[state].label}" for key, state in marked.items()},
        links={key: f"#step-{key}" for key in definition.keys},
    )
