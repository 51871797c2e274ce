from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sloguard import CallType, ResponseTrace, analyze_trace_performance
from sloguard.sdk.trace import parse_trace

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def step(
    sid: str,
    parent: str | None,
    ct: str,
    start_ms: int,
    latency: int,
    cost: float | None = None,
    tokens: int | None = None,
) -> dict[str, object]:
    return {
        "step_id": sid,
        "parent_step_id": parent,
        "call_type": ct,
        "name": sid,
        "start_time": (T0 + timedelta(milliseconds=start_ms)).isoformat(),
        "latency": latency,
        "cost": cost,
        "total_tokens": tokens,
    }


def test_seed_workflow_tree_bottleneck_is_exclusive_time() -> None:
    # seed 000: workflow 1250ms; researcher 520ms with web_search 250ms.
    trace = parse_trace(
        {
            "trace_id": "wf",
            "steps": [
                step("workflow", None, "HOST", 0, 1250),
                step("supervisor", "workflow", "AGENT", 0, 350, cost=0.01, tokens=300),
                step("classify_intent", "supervisor", "TOOL", 290, 45),
                step("researcher", "workflow", "AGENT", 350, 520, cost=0.02, tokens=500),
                step("web_search", "researcher", "TOOL", 500, 250),
                step("writer", "workflow", "AGENT", 870, 380, cost=0.0, tokens=0),
                step("format_output", "writer", "TOOL", 1220, 25),
            ],
        }
    )
    perf = analyze_trace_performance(trace)
    assert perf.total_latency_ms == 1250
    assert perf.total_cost == 0.03
    assert perf.total_tokens == 800
    assert perf.steps == 7 and perf.errors == 0
    assert perf.cost_by_type == {"HOST": 0.0, "AGENT": 0.03, "TOOL": 0.0}
    assert perf.bottleneck is not None
    # writer: 380 - 25 = 355 exclusive; supervisor 305; researcher 270; workflow 0
    assert (perf.bottleneck.name, perf.bottleneck.exclusive_ms) == ("writer", 355.0)


def test_overlapping_children_are_not_double_subtracted() -> None:
    trace = parse_trace(
        {
            "steps": [
                step("sup", None, "AGENT", 0, 1000),
                step("w1", "sup", "AGENT", 100, 600),
                step("w2", "sup", "AGENT", 200, 600),  # overlaps w1: union 100..800 = 700ms
            ]
        }
    )
    perf = analyze_trace_performance(trace)
    assert perf.bottleneck is not None
    assert perf.bottleneck.name in {"w1", "w2"}
    sup_exclusive = 1000 - 700
    assert perf.bottleneck.exclusive_ms == 600 > sup_exclusive


def test_empty_trace() -> None:
    perf = analyze_trace_performance(ResponseTrace("e"))
    assert perf.as_dict() == {
        "trace_id": "e",
        "steps": 0,
        "errors": 0,
        "total_cost": 0.0,
        "total_tokens": 0,
        "total_latency_ms": 0.0,
        "bottleneck": None,
        "cost_by_type": {},
    }
    assert CallType.HOST.value == "HOST"
