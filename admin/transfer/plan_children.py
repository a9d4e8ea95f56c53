"""Child references of an import: resolved to jobs of the document or of the database, and
checked for cycles in the graph the database would hold after the import.

A node is a database job id, or the document's index of a job the import creates. Jobs the
import leaves alone keep their edges from the database; created and updated jobs get the
document's. The database's own graph has no cycle (the job form refuses one), so any cycle
found runs through the document, and is reported at the first of its jobs there.
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.orm import Session

from ..models import ExecutorGroup, Job
from ..services.actor import Actor
from ..services.job_form import parse_id_list
from ..texts import _t
from .plan import Action, ImportPlan, JobStep

#: A database job id, or ("new", index in `jobs`) for a job the import creates.
Node = int | tuple[str, int]


def _node(step: JobStep) -> Node:
    return step.existing_id if step.existing_id is not None else ("new", step.index)


class ChildGraph:
    """The child-job graph after the import, and each node's display name."""

    def __init__(self, session: Session, actor: Actor, plan: ImportPlan) -> None:
        apps = dict(session.execute(sa.select(ExecutorGroup.id, ExecutorGroup.app_name)).all())
        self.edges: dict[Node, list[Node]] = {}
        self.names: dict[Node, str] = {}
        self.by_key: dict[tuple[str, str], list[Node]] = {}
        for job_id, group_id, name, children in session.execute(sa.select(Job.id, Job.group_id, Job.name, Job.child_job_ids)):
            self.names[job_id] = f"{apps.get(group_id, '?')}/{name}"
            if actor.can_access_group(group_id):
                self.by_key.setdefault((apps.get(group_id, ""), name), []).append(job_id)
            edges: list[Node] = [child for child in parse_id_list(children)]
            self.edges[job_id] = edges
        self.steps: dict[Node, JobStep] = {}
        for step in plan.jobs:
            node = _node(step)
            self.steps[node] = step
            self.names[node] = f"{step.app_name}/{step.name}"
            self.by_key[step.key] = [node]

    def resolve(self, plan: ImportPlan, step: JobStep) -> list[Node]:
        """The nodes of the step's children; each one not found is a problem."""
        nodes: list[Node] = []
        for number, (app_name, name) in enumerate(step.children):
            found = self.by_key.get((app_name, name), [])
            if not found:
                plan.problem(f"jobs[{step.index}].children[{number}]", _t("no job %(name)s in group %(group)s, in the document or the database", name=repr(name), group=repr(app_name)))
            elif len(found) > 1:
                plan.problem(f"jobs[{step.index}].children[{number}]", _t("the database has %(count)s jobs named %(name)s in group %(group)s", count=len(found), name=repr(name), group=repr(app_name)))
            else:
                nodes.append(found[0])
        return nodes

    def cycles(self) -> list[list[Node]]:
        """Each cycle of the graph once, as a path that ends where it starts."""
        found: list[list[Node]] = []
        seen_sets: set[frozenset[Node]] = set()
        state: dict[Node, int] = {}  # 1 on the current path, 2 done
        for start in list(self.steps):
            if state.get(start):
                continue
            path: list[Node] = [start]
            state[start] = 1
            stack = [iter(self.edges.get(start, []))]
            while stack:
                child = next(stack[-1], None)
                if child is None:
                    state[path.pop()] = 2
                    stack.pop()
                    continue
                mark = state.get(child)
                if mark == 1:
                    cycle = path[path.index(child):] + [child]
                    if frozenset(cycle) not in seen_sets:
                        seen_sets.add(frozenset(cycle))
                        found.append(cycle)
                elif mark is None:
                    state[child] = 1
                    path.append(child)
                    stack.append(iter(self.edges.get(child, [])))
        return found


def plan_children(plan: ImportPlan, session: Session, actor: Actor) -> dict[int, list[Node]]:
    """The resolved children of each created or updated job (by document index); problems for
    references that name no job and for cycles."""
    graph = ChildGraph(session, actor, plan)
    resolved: dict[int, list[Node]] = {}
    for step in plan.jobs:
        if step.action is Action.SKIP:
            continue
        resolved[step.index] = graph.resolve(plan, step)
        graph.edges[_node(step)] = resolved[step.index]
    for cycle in graph.cycles():
        first = min((graph.steps[node].index for node in cycle if node in graph.steps and graph.steps[node].action is not Action.SKIP), default=None)
        if first is not None:
            plan.problem(f"jobs[{first}].children", _t("a cycle of child jobs: %(cycle)s", cycle=" -> ".join(graph.names.get(node, "?") for node in cycle)))
    return resolved


def creation_order(plan: ImportPlan, resolved: dict[int, list[Node]]) -> list[JobStep]:
    """Created and updated jobs, each after the document's jobs it names as children: a new job's
    children exist when it is saved, and no intermediate state holds a cycle (the job form checks).
    The graph is acyclic (checked before); the walk keeps its own stack, so a long chain is fine."""
    steps = {step.index: step for step in plan.jobs if step.action is not Action.SKIP}
    by_node = {_node(step): index for index, step in steps.items()}
    order: list[JobStep] = []
    done: set[int] = set()
    for root in steps:
        if root in done:
            continue
        done.add(root)
        stack = [(root, iter(resolved.get(root, [])))]
        while stack:
            index, children = stack[-1]
            child = next((by_node[n] for n in children if n in by_node and by_node[n] not in done), None)
            if child is None:
                order.append(steps[index])
                stack.pop()
            else:
                done.add(child)
                stack.append((child, iter(resolved.get(child, []))))
    return order
