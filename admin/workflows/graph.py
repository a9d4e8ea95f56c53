"""A workflow's definition and what it means, without a database.

A definition is a JSON object:

    {"steps": [{"key": "extract", "job_id": 12, "param": "day={{params.day}}", "join": "ALL"}, ...],
     "edges": [{"from": "extract", "to": "load_a", "on": "SUCCESS"}, ...]}

`param` (optional; null: the job's own parameter) may hold templates `{{upstream.STEP.FIELD}}`
(STEP a step with an edge into this one, FIELD a key of its result data, dots for nested keys),
`{{params.NAME}}` (a parameter given when the instance was started by hand) and
`{{instance.id}}` / `{{instance.planned_at_ms}}`. `join` (optional, default ALL) and `on`
(optional, default SUCCESS) are the JoinMode and EdgeCondition names.

What happens next is a function of the steps' states (`advance`): a WAITING step becomes ready
when its inbound edges allow it (JoinMode), or NOT_RUN when they settled without doing so; a
NOT_RUN step takes none of its outbound edges, so NOT_RUN spreads down a branch not taken.
"""

from __future__ import annotations

import json
import re
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from shardcron.core.errors import ShardcronError

from ..enums import STEP_FINAL, EdgeCondition, JoinMode, StepStatus, WorkflowStatus
from ..texts import Text, _t

#: A step key: what edges, templates and the console name a step by.
KEY_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_-]{0,63}$")
TEMPLATE = re.compile(r"\{\{\s*([^{}]*?)\s*\}\}")
_REF = re.compile(r"^(upstream)\.([a-z0-9][a-z0-9_-]{0,63})\.([A-Za-z0-9_-]+(?:\.[A-Za-z0-9_-]+)*)$|^(params)\.([A-Za-z0-9_-]+)$|^instance\.(id|planned_at_ms)$")


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a definition: where (`steps[2].key`, `edges[0].to`) and what."""

    where: str
    #: Translatable (texts.Text); its str() is the English.
    message: Text

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class DefinitionError(ShardcronError):
    """A definition that cannot be saved, with every problem found at once."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class TemplateError(ShardcronError):
    """A template that cannot be filled in when its step starts (the step fails with this message)."""


@dataclass(frozen=True)
class Step:
    key: str
    job_id: int
    param: str | None = None
    join: JoinMode = JoinMode.ALL


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    on: EdgeCondition = EdgeCondition.SUCCESS


@dataclass(frozen=True)
class Definition:
    steps: tuple[Step, ...]
    edges: tuple[Edge, ...]
    _inbound: dict[str, tuple[Edge, ...]] = field(default_factory=dict, compare=False, repr=False)
    _outbound: dict[str, tuple[Edge, ...]] = field(default_factory=dict, compare=False, repr=False)
    _by_key: dict[str, Step] = field(default_factory=dict, compare=False, repr=False)
    _order: list[str] = field(default_factory=list, compare=False, repr=False)

    def __post_init__(self) -> None:
        # Looked up per step on every advance: a 1,000-step instance must not scan its steps
        # for each of them.
        self._by_key.update({step.key: step for step in self.steps})
        inbound: dict[str, list[Edge]] = {step.key: [] for step in self.steps}
        outbound: dict[str, list[Edge]] = {step.key: [] for step in self.steps}
        for edge in self.edges:
            inbound.setdefault(edge.target, []).append(edge)
            outbound.setdefault(edge.source, []).append(edge)
        self._inbound.update({key: tuple(edges) for key, edges in inbound.items()})
        self._outbound.update({key: tuple(edges) for key, edges in outbound.items()})
        # Worked out here, not on first use: a parsed definition is shared between threads
        # (step_rows.definition_of), so nothing in it may change after construction.
        self._order.extend(topological_order(self))

    @property
    def keys(self) -> list[str]:
        return [step.key for step in self.steps]

    def step(self, key: str) -> Step:
        return self._by_key[key]

    def order(self) -> list[str]:
        """topological_order, worked out once per definition (a definition is immutable)."""
        return self._order

    def inbound(self, key: str) -> tuple[Edge, ...]:
        return self._inbound.get(key, ())

    def outbound(self, key: str) -> tuple[Edge, ...]:
        return self._outbound.get(key, ())

    def roots(self) -> list[str]:
        return [key for key in self.keys if not self.inbound(key)]

    def predecessors(self, key: str) -> list[str]:
        return list(dict.fromkeys(edge.source for edge in self.inbound(key)))

    def descendants(self, key: str) -> set[str]:
        """Every step reachable from `key` (not `key` itself)."""
        seen: set[str] = set()
        todo = [edge.target for edge in self.outbound(key)]
        while todo:
            node = todo.pop()
            if node not in seen:
                seen.add(node)
                todo.extend(edge.target for edge in self.outbound(node))
        return seen

    def job_ids(self) -> set[int]:
        return {step.job_id for step in self.steps}

    def to_obj(self) -> dict[str, Any]:
        steps = []
        for step in self.steps:
            entry: dict[str, Any] = {"key": step.key, "job_id": step.job_id}
            if step.param is not None:
                entry["param"] = step.param
            if step.join != JoinMode.ALL:
                entry["join"] = step.join.value
            steps.append(entry)
        edges = [{"from": e.source, "to": e.target, "on": e.on.value} for e in self.edges]
        return {"steps": steps, "edges": edges}

    def to_json(self) -> str:
        """The canonical text stored in sc_workflow.definition_json (same definition, same text)."""
        return json.dumps(self.to_obj(), ensure_ascii=False, separators=(",", ":"))


# ---------------------------------------------------------------------------------------------
# Reading and checking a definition


def parse_definition(obj: Any, *, max_steps: int) -> Definition:
    """A Definition from its JSON object, or DefinitionError listing every problem.

    Checks the shape and the graph: keys, duplicates, edges between known steps, no self-edge
    or repeated edge, no cycle (named), at least one step, at most `max_steps`, templates that
    name an upstream step with an edge into the step. Jobs are the caller's to check (they need
    the database and the user's rights)."""
    problems: list[Problem] = []
    if not isinstance(obj, Mapping):
        raise DefinitionError([Problem("definition", _t("must be an object with steps and edges"))])
    unknown = sorted(set(obj) - {"steps", "edges"})
    if unknown:
        problems.append(Problem("definition", _t("unknown field(s): %(names)s", names=", ".join(map(str, unknown)))))
    raw_steps = obj.get("steps")
    raw_edges = obj.get("edges", [])
    if not isinstance(raw_steps, list) or not raw_steps:
        raise DefinitionError([*problems, Problem("steps", _t("a workflow needs at least one step"))])
    if len(raw_steps) > max_steps:
        raise DefinitionError([*problems, Problem("steps", _t("%(count)s steps; at most %(max)s are allowed (workflow_max_steps)", count=len(raw_steps), max=max_steps))])
    if not isinstance(raw_edges, list):
        raise DefinitionError([*problems, Problem("edges", _t("must be a list"))])
    steps: list[Step] = []
    seen_keys: set[str] = set()
    for i, raw in enumerate(raw_steps):
        step = _parse_step(raw, f"steps[{i}]", problems)
        if step is None:
            continue
        if step.key in seen_keys:
            problems.append(Problem(f"steps[{i}].key", _t("step %(key)s appears twice", key=repr(step.key))))
            continue
        seen_keys.add(step.key)
        steps.append(step)
    edges: list[Edge] = []
    seen_edges: set[tuple[str, str]] = set()
    for i, raw in enumerate(raw_edges):
        edge = _parse_edge(raw, f"edges[{i}]", seen_keys, problems)
        if edge is None:
            continue
        if (edge.source, edge.target) in seen_edges:
            problems.append(Problem(f"edges[{i}]", _t("a second edge from %(source)s to %(target)s", source=repr(edge.source), target=repr(edge.target))))
            continue
        seen_edges.add((edge.source, edge.target))
        edges.append(edge)
    if problems:
        raise DefinitionError(problems)
    definition = Definition(tuple(steps), tuple(edges))
    cycle = find_cycle(definition)
    if cycle:
        problems.append(Problem("edges", _t("the steps form a cycle: %(cycle)s", cycle=" -> ".join(cycle))))
    for i, step in enumerate(definition.steps):
        for ref in template_refs(step.param or ""):
            problem = _check_ref(definition, step, ref)
            if problem:
                problems.append(Problem(f"steps[{i}].param", problem))
    if problems:
        raise DefinitionError(problems)
    return definition


def load_definition(text: str) -> Definition:
    """A stored definition (already checked when it was saved)."""
    return parse_definition(json.loads(text), max_steps=1 << 30)


def _parse_step(raw: Any, where: str, problems: list[Problem]) -> Step | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(where, _t("must be an object with key and job_id")))
        return None
    unknown = sorted(set(raw) - {"key", "job_id", "param", "join"})
    if unknown:
        problems.append(Problem(where, _t("unknown field(s): %(names)s", names=", ".join(map(str, unknown)))))
    key, job_id, param, join = raw.get("key"), raw.get("job_id"), raw.get("param"), raw.get("join", JoinMode.ALL.value)
    ok = True
    if not isinstance(key, str) or not KEY_PATTERN.match(key):
        problems.append(Problem(f"{where}.key", _t("a key is 1-64 characters of a-z, 0-9, _ and -, starting with a letter or digit")))
        ok = False
    if isinstance(job_id, bool) or not isinstance(job_id, int) or job_id <= 0:
        problems.append(Problem(f"{where}.job_id", _t("must be a job id (a positive integer)")))
        ok = False
    if param is not None and (not isinstance(param, str) or len(param) > 65_535 or "\x00" in param):
        problems.append(Problem(f"{where}.param", _t("must be text of at most 65535 characters, or null")))
        ok = False
    if not isinstance(join, str) or join not in JoinMode.__members__:  # a list or object is unhashable
        problems.append(Problem(f"{where}.join", _t("must be one of %(values)s", values=", ".join(JoinMode))))
        ok = False
    if not ok or not isinstance(key, str) or not isinstance(job_id, int):
        return None
    return Step(key, job_id, param, JoinMode(join))


def _parse_edge(raw: Any, where: str, keys: set[str], problems: list[Problem]) -> Edge | None:
    if not isinstance(raw, Mapping):
        problems.append(Problem(where, _t("must be an object with from and to")))
        return None
    unknown = sorted(set(raw) - {"from", "to", "on"})
    if unknown:
        problems.append(Problem(where, _t("unknown field(s): %(names)s", names=", ".join(map(str, unknown)))))
    source, target, on = raw.get("from"), raw.get("to"), raw.get("on", EdgeCondition.SUCCESS.value)
    ok = True
    for name, value in (("from", source), ("to", target)):
        if not isinstance(value, str) or value not in keys:
            problems.append(Problem(f"{where}.{name}", _t("no step has the key %(key)s", key=repr(value))))
            ok = False
    if not isinstance(on, str) or on not in EdgeCondition.__members__:  # a list or object is unhashable
        problems.append(Problem(f"{where}.on", _t("must be one of %(values)s", values=", ".join(EdgeCondition))))
        ok = False
    if ok and source == target:
        problems.append(Problem(where, _t("step %(key)s cannot follow itself", key=repr(source))))
        ok = False
    return Edge(str(source), str(target), EdgeCondition(on)) if ok else None


def find_cycle(definition: Definition) -> list[str]:
    """One cycle among the steps as [a, b, ..., a], or [] when the graph is acyclic."""
    white, grey, black = 0, 1, 2
    colour = dict.fromkeys(definition.keys, white)
    for start in definition.keys:
        if colour[start] != white:
            continue
        path = [start]
        stack = [iter(definition.outbound(start))]
        colour[start] = grey
        while stack:
            edge = next(stack[-1], None)
            if edge is None:
                colour[path.pop()] = black
                stack.pop()
                continue
            node = edge.target
            if colour[node] == grey:
                return path[path.index(node):] + [node]
            if colour[node] == white:
                colour[node] = grey
                path.append(node)
                stack.append(iter(definition.outbound(node)))
    return []


def topological_order(definition: Definition) -> list[str]:
    """The keys with every step after all its predecessors (ties kept in definition order)."""
    indegree = {key: len(definition.inbound(key)) for key in definition.keys}
    ready = deque(key for key in definition.keys if indegree[key] == 0)
    order: list[str] = []
    while ready:
        key = ready.popleft()
        order.append(key)
        for edge in definition.outbound(key):
            indegree[edge.target] -= 1
            if indegree[edge.target] == 0:
                ready.append(edge.target)
    return order


# ---------------------------------------------------------------------------------------------
# Templates


def template_refs(text: str) -> list[str]:
    return [match.group(1) for match in TEMPLATE.finditer(text)]


def _check_ref(definition: Definition, step: Step, ref: str) -> Text | None:
    match = _REF.match(ref)
    if match is None:
        return _t("%(template)s is not a template shardcron knows (upstream.STEP.FIELD, params.NAME, instance.id, instance.planned_at_ms)", template="{{" + ref + "}}")
    if match.group(1) == "upstream" and match.group(2) not in definition.predecessors(step.key):
        return _t("%(template)s names step %(source)s, which has no edge into %(key)s", template="{{" + ref + "}}", source=repr(match.group(2)), key=repr(step.key))
    return None


def render_param(text: str | None, upstream: Mapping[str, Any], params: Mapping[str, Any], instance_id: int, planned_at_ms: int) -> str | None:
    """The parameter with its templates filled in. A missing upstream field or parameter raises
    TemplateError naming it; strings go in as they are, anything else as JSON."""
    if not text or "{{" not in text:
        return text

    def fill(match: re.Match[str]) -> str:
        ref = match.group(1)
        parsed = _REF.match(ref)
        if parsed is None:
            raise TemplateError(f"{{{{{ref}}}}} is not a template shardcron knows")
        if parsed.group(1) == "upstream":
            step, path = parsed.group(2), parsed.group(3)
            if step not in upstream:
                raise TemplateError(f"{{{{{ref}}}}}: step {step!r} left no result data")
            value: Any = upstream[step]
            for part in path.split("."):
                if not isinstance(value, Mapping) or part not in value:
                    raise TemplateError(f"{{{{{ref}}}}}: the result of step {step!r} has no field {path!r}")
                value = value[part]
        elif parsed.group(4) == "params":
            name = parsed.group(5)
            if name not in params:
                raise TemplateError(f"{{{{{ref}}}}}: the instance was started without parameter {name!r}")
            value = params[name]
        else:
            value = instance_id if parsed.group(6) == "id" else planned_at_ms
        return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, separators=(",", ":"))

    return TEMPLATE.sub(fill, text)


# ---------------------------------------------------------------------------------------------
# What happens next


def edge_taken(edge: Edge, source: StepStatus) -> bool | None:
    """Whether `edge` is taken once its source ended in `source`; None while the source has not ended."""
    if source not in STEP_FINAL:
        return None
    if source in (StepStatus.NOT_RUN, StepStatus.CANCELLED):
        return False
    if edge.on == EdgeCondition.ALWAYS:
        return True
    if edge.on == EdgeCondition.FAILURE:
        return source == StepStatus.FAILED
    return source in (StepStatus.SUCCEEDED, StepStatus.SKIPPED)


@dataclass
class Moves:
    """What the steps' states call for: steps to start now, and steps that will never run."""

    ready: list[str] = field(default_factory=list)
    not_run: list[str] = field(default_factory=list)


def advance(definition: Definition, states: Mapping[str, StepStatus]) -> Moves:
    """The WAITING steps that are ready, and those whose inbound edges settled without the
    condition they need (NOT_RUN, spread on down the graph), in topological order."""
    current = dict(states)
    moves = Moves()
    for key in definition.order():
        if current.get(key, StepStatus.WAITING) != StepStatus.WAITING:
            continue
        step = definition.step(key)
        inbound = definition.inbound(key)
        if not inbound:
            moves.ready.append(key)
            continue
        taken = [edge_taken(edge, current.get(edge.source, StepStatus.WAITING)) for edge in inbound]
        if step.join == JoinMode.ANY:
            if any(t is True for t in taken):
                moves.ready.append(key)
            elif all(t is False for t in taken):
                moves.not_run.append(key)
                current[key] = StepStatus.NOT_RUN
        elif all(t is not None for t in taken):
            if all(taken):
                moves.ready.append(key)
            else:
                moves.not_run.append(key)
                current[key] = StepStatus.NOT_RUN
    return moves


def unhandled_failures(definition: Definition, states: Mapping[str, StepStatus]) -> list[str]:
    """FAILED steps with no edge on FAILURE or ALWAYS out of them: these fail the instance."""
    return [
        key for key in definition.keys
        if states.get(key) == StepStatus.FAILED
        and not any(edge.on in (EdgeCondition.FAILURE, EdgeCondition.ALWAYS) for edge in definition.outbound(key))
    ]


def outcome(definition: Definition, states: Mapping[str, StepStatus]) -> WorkflowStatus | None:
    """SUCCEEDED or FAILED once every step ended; None while any still waits or runs."""
    if any(states.get(key, StepStatus.WAITING) not in STEP_FINAL for key in definition.keys):
        return None
    return WorkflowStatus.FAILED if unhandled_failures(definition, states) else WorkflowStatus.SUCCEEDED


def steps_to_rerun(definition: Definition, start: Iterable[str]) -> list[str]:
    """The steps a re-run from `start` gives a new generation, in topological order: those steps
    and every step after them (their inputs may change)."""
    keys = set(start)
    for key in list(keys):
        keys |= definition.descendants(key)
    return [key for key in definition.order() if key in keys]


def failed_steps(definition: Definition, states: Mapping[str, StepStatus]) -> list[str]:
    """Where "re-run from the failed steps" starts: the FAILED and CANCELLED steps."""
    return [key for key in definition.keys if states.get(key) in (StepStatus.FAILED, StepStatus.CANCELLED)]
