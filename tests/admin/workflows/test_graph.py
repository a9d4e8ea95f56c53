"""The pure meaning of a workflow definition: parsing, the problems a save refuses, templates,
and which steps start, never run or re-run from the steps' states."""

from __future__ import annotations

import pytest

from shardcron.admin.enums import EdgeCondition, JoinMode, StepStatus, WorkflowStatus
from shardcron.admin.workflows.graph import (
    DefinitionError,
    TemplateError,
    advance,
    failed_steps,
    find_cycle,
    load_definition,
    outcome,
    parse_definition,
    render_param,
    steps_to_rerun,
    topological_order,
)

S, F, W, R, N, K, C = (StepStatus.SUCCEEDED, StepStatus.FAILED, StepStatus.WAITING, StepStatus.FIRED,
                       StepStatus.NOT_RUN, StepStatus.SKIPPED, StepStatus.CANCELLED)


def definition(steps, edges, **kw):
    return parse_definition({"steps": [{"key": k, "job_id": 1, **kw.get(k, {})} for k in steps],
                             "edges": [{"from": a, "to": b, "on": on} for a, b, on in edges]}, max_steps=1000)


def pipeline():
    """extract -> load_a, load_b, load_c -> report; load_b on failure -> compensate."""
    return definition(
        ["extract", "load_a", "load_b", "load_c", "report", "compensate"],
        [("extract", "load_a", "SUCCESS"), ("extract", "load_b", "SUCCESS"), ("extract", "load_c", "SUCCESS"),
         ("load_a", "report", "SUCCESS"), ("load_b", "report", "SUCCESS"), ("load_c", "report", "SUCCESS"),
         ("load_b", "compensate", "FAILURE")],
    )


def problems_of(obj, max_steps=100) -> list[str]:
    with pytest.raises(DefinitionError) as caught:
        parse_definition(obj, max_steps=max_steps)
    return [str(p) for p in caught.value.problems]


def test_round_trip_is_canonical():
    d = pipeline()
    again = load_definition(d.to_json())
    assert again == d
    assert again.to_json() == d.to_json()
    assert d.roots() == ["extract"]
    assert d.predecessors("report") == ["load_a", "load_b", "load_c"]
    assert d.descendants("load_b") == {"report", "compensate"}
    order = topological_order(d)
    assert order.index("extract") < order.index("load_b") < order.index("report")


def test_every_problem_is_named_at_once():
    found = problems_of({
        "steps": [{"key": "A", "job_id": 1}, {"key": "b", "job_id": 0}, {"key": "c", "job_id": 2, "join": "MOST"},
                  {"key": "c", "job_id": 3}, {"key": "d", "job_id": 4, "colour": "red"}],
        "edges": [{"from": "b", "to": "x"}, {"from": "d", "to": "d"}, {"from": "d", "to": "c", "on": "SOMETIMES"}],
    })
    assert any(p.startswith("steps[0].key:") for p in found)
    assert "steps[1].job_id: must be a job id (a positive integer)" in found
    assert any(p.startswith("steps[2].join:") for p in found)
    assert any(p.startswith("steps[4]: unknown field(s): colour") for p in found)
    assert "edges[0].to: no step has the key 'x'" in found
    assert "edges[1]: step 'd' cannot follow itself" in found
    assert any(p.startswith("edges[2].on:") for p in found)


def test_a_list_or_object_where_a_name_belongs_is_a_problem_not_a_crash():
    found = problems_of({"steps": [{"key": "a", "job_id": 1, "join": ["ALL"]}, {"key": "b", "job_id": 1}],
                         "edges": [{"from": "a", "to": "b", "on": {}}, {"from": ["a"], "to": {"b": 1}}]})
    assert any(p.startswith("steps[0].join: must be one of") for p in found)
    assert any(p.startswith("edges[0].on: must be one of") for p in found)
    assert any(p.startswith("edges[1].from:") for p in found) and any(p.startswith("edges[1].to:") for p in found)


def test_duplicates_cycles_and_limits_are_refused():
    assert problems_of({"steps": [{"key": "a", "job_id": 1}, {"key": "a", "job_id": 2}], "edges": []}) == ["steps[1].key: step 'a' appears twice"]
    cyclic = {"steps": [{"key": k, "job_id": 1} for k in "abcd"],
              "edges": [{"from": "a", "to": "b"}, {"from": "b", "to": "c"}, {"from": "c", "to": "d"}, {"from": "d", "to": "b"}]}
    assert problems_of(cyclic) == ["edges: the steps form a cycle: b -> c -> d -> b"]
    assert problems_of({"steps": [], "edges": []}) == ["steps: a workflow needs at least one step"]
    assert problems_of({"steps": [{"key": str(i), "job_id": 1} for i in range(4)]}, max_steps=3) == [
        "steps: 4 steps; at most 3 are allowed (workflow_max_steps)"]
    twice = {"steps": [{"key": "a", "job_id": 1}, {"key": "b", "job_id": 1}], "edges": [{"from": "a", "to": "b"}, {"from": "a", "to": "b", "on": "ALWAYS"}]}
    assert problems_of(twice) == ["edges[1]: a second edge from 'a' to 'b'"]
    assert problems_of([1, 2]) == ["definition: must be an object with steps and edges"]


def test_templates_must_name_an_upstream_step():
    found = problems_of({
        "steps": [{"key": "a", "job_id": 1}, {"key": "b", "job_id": 1, "param": "{{upstream.c.rows}} {{upstream.a.rows}}"},
                  {"key": "c", "job_id": 1, "param": "{{ os.environ }}"}],
        "edges": [{"from": "a", "to": "b"}],
    })
    assert found == ["steps[1].param: {{upstream.c.rows}} names step 'c', which has no edge into 'b'",
                     "steps[2].param: {{os.environ}} is not a template shardcron knows (upstream.STEP.FIELD, params.NAME, instance.id, instance.planned_at_ms)"]


def test_render_param_fills_in_values_or_names_what_is_missing():
    upstream = {"extract": {"rows": 120, "file": "s3://b/k", "meta": {"day": "2026-01-01"}}}
    text = "file={{upstream.extract.file}} rows={{ upstream.extract.rows }} day={{upstream.extract.meta.day}} who={{params.who}} i={{instance.id}}"
    assert render_param(text, upstream, {"who": "ann"}, 7, 99) == "file=s3://b/k rows=120 day=2026-01-01 who=ann i=7"
    assert render_param("{{upstream.extract.meta}}", upstream, {}, 1, 1) == '{"day":"2026-01-01"}'
    assert render_param(None, {}, {}, 1, 1) is None
    assert render_param("plain", {}, {}, 1, 1) == "plain"
    with pytest.raises(TemplateError, match="the result of step 'extract' has no field 'bytes'"):
        render_param("{{upstream.extract.bytes}}", upstream, {}, 1, 1)
    with pytest.raises(TemplateError, match="step 'load' left no result data"):
        render_param("{{upstream.load.x}}", upstream, {}, 1, 1)
    with pytest.raises(TemplateError, match="started without parameter 'who'"):
        render_param("{{params.who}}", upstream, {}, 1, 1)


def test_a_fan_out_and_join_runs_in_order():
    d = pipeline()
    states = dict.fromkeys(d.keys, W)
    assert advance(d, states).ready == ["extract"]
    states["extract"] = S
    assert sorted(advance(d, states).ready) == ["load_a", "load_b", "load_c"]
    states.update(load_a=S, load_b=R, load_c=S)
    moves = advance(d, states)
    assert moves.ready == [] and moves.not_run == []  # report waits for load_b
    states["load_b"] = S
    moves = advance(d, states)
    assert moves.ready == ["report"] and moves.not_run == ["compensate"]
    states.update(report=S, compensate=N)
    assert outcome(d, states) == WorkflowStatus.SUCCEEDED


def test_a_failure_takes_the_failure_branch_and_skips_what_needed_success():
    d = pipeline()
    states = {"extract": S, "load_a": S, "load_b": F, "load_c": S, "report": W, "compensate": W}
    moves = advance(d, states)
    assert moves.ready == ["compensate"]
    assert moves.not_run == ["report"]
    states.update(report=N, compensate=S)
    assert outcome(d, states) == WorkflowStatus.SUCCEEDED  # load_b's failure was handled
    states["compensate"] = F
    assert outcome(d, states) == WorkflowStatus.FAILED


def test_an_unhandled_failure_fails_the_instance_and_not_run_spreads():
    d = definition(["a", "b", "c", "d"], [("a", "b", "SUCCESS"), ("b", "c", "SUCCESS"), ("c", "d", "ALWAYS")])
    states = {"a": F, "b": W, "c": W, "d": W}
    assert advance(d, states).not_run == ["b", "c", "d"]
    assert outcome(d, {"a": F, "b": N, "c": N, "d": N}) == WorkflowStatus.FAILED
    assert outcome(d, {"a": S, "b": R, "c": W, "d": W}) is None


def test_join_any_starts_on_the_first_taken_edge():
    d = definition(["a", "b", "c"], [("a", "c", "SUCCESS"), ("b", "c", "SUCCESS")], c={"join": "ANY"})
    assert d.step("c").join == JoinMode.ANY
    assert advance(d, {"a": S, "b": R, "c": W}).ready == ["c"]
    assert advance(d, {"a": F, "b": R, "c": W}).ready == []
    assert advance(d, {"a": F, "b": F, "c": W}).not_run == ["c"]


def test_skipped_counts_as_success_and_always_edges_follow_either():
    d = definition(["a", "b", "c"], [("a", "b", "SUCCESS"), ("a", "c", "ALWAYS")])
    assert d.outbound("a")[1].on == EdgeCondition.ALWAYS
    assert sorted(advance(d, {"a": K, "b": W, "c": W}).ready) == ["b", "c"]
    moves = advance(d, {"a": F, "b": W, "c": W})
    assert moves.ready == ["c"] and moves.not_run == ["b"]
    assert advance(d, {"a": C, "b": W, "c": W}).not_run == ["b", "c"]


def test_rerun_takes_the_failed_steps_and_everything_after_them():
    d = pipeline()
    states = {"extract": S, "load_a": S, "load_b": F, "load_c": C, "report": N, "compensate": S}
    assert failed_steps(d, states) == ["load_b", "load_c"]
    again = steps_to_rerun(d, failed_steps(d, states))
    assert again[:2] == ["load_b", "load_c"] and set(again[2:]) == {"report", "compensate"}
    assert steps_to_rerun(d, ["extract"])[0] == "extract" and len(steps_to_rerun(d, ["extract"])) == 6


def test_find_cycle_on_an_acyclic_graph_is_empty():
    assert find_cycle(pipeline()) == []


def test_a_thousand_step_chain_and_fan_out_parse_and_advance():
    n = 1000
    chain = definition([f"s{i}" for i in range(n)], [(f"s{i}", f"s{i + 1}", "SUCCESS") for i in range(n - 1)])
    assert len(topological_order(chain)) == n
    wide = parse_definition({"steps": [{"key": f"s{i}", "job_id": 1} for i in range(n)],
                             "edges": [{"from": "s0", "to": f"s{i}"} for i in range(1, n)]}, max_steps=n)
    states = dict.fromkeys(wide.keys, W) | {"s0": S}
    assert len(advance(wide, states).ready) == n - 1
