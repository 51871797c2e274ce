"""Anomalies of a trace's structure: handoff loops among nested agents, runaway tool calls."""

from __future__ import annotations

from typing import Any

import pytest

from examples.multi_agent import run_workflow
from sloguard import Telemetry
from sloguard.analysis.anomalies import AnomalyKind, handoff_loops, runaway_tools, trace_anomalies
from sloguard.sdk.trace import parse_trace
from tests.support.traces import (
    Row,
    build,
    customer_service,
    nested_agents,
    row,
    seed_workflow,
    tool_rows,
)


def loops(rows: list[Row]) -> list[tuple[str, str, str]]:
    return [(a.kind.value, a.agent, " → ".join(a.path)) for a in handoff_loops(build("t", rows))]


LOOP_CASES: list[tuple[str, list[Row], list[tuple[str, str, str]]]] = [
    ("no loop: A → B → C", nested_agents("A", "B", "C"), []),
    ("A → B → A", nested_agents("A", "B", "A"), [("handoff_loop", "B", "A → B → A")]),
    (
        "A → B → C → A",
        nested_agents("A", "B", "C", "A"),
        [("handoff_loop", "C", "A → B → C → A")],
    ),
    (
        "going round again deeper is the same loop",
        nested_agents("A", "B", "A", "B", "A"),
        [("handoff_loop", "B", "A → B → A")],
    ),
    (
        "a different cycle inside a loop is new",
        nested_agents("A", "B", "A", "C", "D", "C"),
        [("handoff_loop", "B", "A → B → A"), ("handoff_loop", "D", "C → D → C")],
    ),
    (
        "shortest cycle: S → A → B → A",
        nested_agents("S", "A", "B", "A"),
        [("handoff_loop", "B", "A → B → A")],
    ),
    ("an agent nesting its own name is no handoff", nested_agents("A", "A", "B"), []),
    (
        "sibling calls to the same agent are no loop",
        [
            row("h", None, "HOST", "host", 0, 1000),
            row("s", "h", "AGENT", "sup", 0, 1000),
            row("b1", "s", "AGENT", "billing", 10, 100),
            row("b2", "s", "AGENT", "billing", 200, 100),
        ],
        [],
    ),
    (
        "tools and host work between agents do not matter",
        [
            row("a", None, "AGENT", "A", 0, 1000),
            row("w", "a", "HOST", "llm.inference", 10, 900),
            row("b", "w", "AGENT", "B", 20, 800),
            row("t", "b", "TOOL", "transfer", 30, 700),
            row("a2", "t", "AGENT", "A", 40, 600),
        ],
        [("handoff_loop", "B", "A → B → A")],
    ),
]


@pytest.mark.parametrize(
    ("rows", "expected"), [c[1:] for c in LOOP_CASES], ids=[c[0] for c in LOOP_CASES]
)
def test_handoff_loops(rows: list[Row], expected: list[tuple[str, str, str]]) -> None:
    assert loops(rows) == expected


def test_loop_names_its_steps_and_message() -> None:
    (a,) = handoff_loops(build("t", nested_agents("S", "A", "B", "A")))
    assert a.steps == ("s1", "s2", "s3")
    assert a.message == "handoff loop: A → B → A"
    assert a.as_dict()["kind"] == "handoff_loop"


def agent_invocation(name: str, inner: dict[str, Any]) -> dict[str, Any]:
    return {"step_action": {"agent_invocation": {"agent_name": name, "response_trace": inner}}}


def test_loop_across_nested_callee_traces() -> None:
    """Spec shape: each remote agent's whole trace nested in the invoking step."""
    a_again = {"steps": [{"step_id": "a2", "call_type": "AGENT", "name": "A"}]}
    # the callee's root repeats the invoked agent's name (B inside B): not a handoff
    b_trace = {
        "steps": [
            {"step_id": "b-root", "call_type": "AGENT", "name": "B"},
            {"step_id": "b-call", "parent_step_id": "b-root", **agent_invocation("A", a_again)},
        ]
    }
    b_call = {"steps": [{"step_id": "a1", **agent_invocation("B", b_trace)}]}
    outer = parse_trace(
        {"trace_id": "o", "steps": [{"step_id": "a0", **agent_invocation("A", b_call)}]}
    )
    (a,) = handoff_loops(outer)
    assert a.path == ("A", "B", "A")
    assert a.steps == ("a0", "a1", "b-call")


def test_runaway_tool_calls_per_invocation() -> None:
    rows = [
        row("h", None, "HOST", "host", 0, 1000),
        row("ag", "h", "AGENT", "researcher", 0, 900),
        *tool_rows("researcher", 21),
        # a nested agent's calls are its own, not the researcher's
        row("sub", "ag", "AGENT", "summariser", 100, 100),
        *tool_rows("summariser", 5, parent="sub"),
        # the second invocation of the researcher is counted apart
        row("ag2", "h", "AGENT", "researcher", 950, 40),
        *tool_rows("researcher", 20, parent="ag2"),
    ]
    (a,) = runaway_tools(build("t", rows))
    assert a.kind is AnomalyKind.RUNAWAY_TOOL_CALLS
    assert a.agent == "researcher"
    assert a.message == (
        "researcher made 21 tool calls in one invocation (limit 20): tool0 ×11, tool1 ×10"
    )
    assert a.steps[0] == "ag" and len(a.steps) == 22
    assert [x.agent for x in runaway_tools(build("t", rows), 4)] == [
        "researcher",
        "summariser",
        "researcher",
    ]


def test_tool_calls_of_a_host_are_no_agent_invocation() -> None:
    rows = [row("h", None, "HOST", "host", 0, 1000), *tool_rows("host", 30, parent="h")]
    assert runaway_tools(build("t", rows)) == ()


def test_seed_traces_have_no_anomalies(telemetry: Telemetry) -> None:
    assert trace_anomalies(seed_workflow()) == ()
    assert trace_anomalies(customer_service(telemetry)) == ()


async def test_multi_agent_example_has_no_anomalies_but_a_low_limit_finds_them(
    telemetry: Telemetry,
) -> None:
    trace = await run_workflow("agents", "wf-1")
    assert trace_anomalies(trace) == ()
    assert [(a.agent, a.kind.value) for a in trace_anomalies(trace, max_tool_calls=0)] == [
        ("researcher", "runaway_tool_calls"),
        ("analyst", "runaway_tool_calls"),
    ]


def test_a_parent_cycle_in_bad_input_ends() -> None:
    rows = [row("a", "b", "AGENT", "A", 0, 10), row("b", "a", "AGENT", "B", 0, 10)]
    assert loops(rows) == []
    assert len(runaway_tools(build("t", rows))) == 0
