from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sloguard import (
    CallType,
    CallTypeEnum,
    ResponseTrace,
    Step,
    Telemetry,
    TraceError,
    TraceRecord,
    analyze_trace_performance,
)
from sloguard.conventions import A2A_TRACEABILITY_URI


@pytest.fixture(autouse=True)
def _own_registry(telemetry: Telemetry) -> None:
    """Manual steps record into the current telemetry: keep them off the global registry."""


def test_seed_names_and_aliases() -> None:
    assert CallTypeEnum is CallType
    assert Step is TraceRecord
    assert A2A_TRACEABILITY_URI.endswith("/extensions/traceability/v1")


def test_end_step_keeps_zero_values_and_puts_model_tokens_in_attributes() -> None:
    step = TraceRecord(CallType.AGENT, name="query")
    step.end_step(
        cost=0.0, input_tokens=0, output_tokens=0, model="gpt-4o", additional_attributes={"rows": 0}
    )
    d = step.as_dict()
    assert d["cost"] == 0.0
    assert d["total_tokens"] == 0
    assert d["additional_attributes"] == {
        "rows": 0,
        "gen_ai.request.model": "gpt-4o",
        "gen_ai.usage.input_tokens": 0,
        "gen_ai.usage.output_tokens": 0,
    }
    assert d["latency"] is not None and d["latency"] >= 0
    assert d["call_type"] == "AGENT"
    assert set(d) == {
        "step_id",
        "trace_id",
        "parent_step_id",
        "call_type",
        "name",
        "parameters",
        "requests",
        "step_type",
        "cost",
        "total_tokens",
        "additional_attributes",
        "latency",
        "start_time",
        "end_time",
        "error",
    }


def test_explicit_latency_overrides_measured_time() -> None:
    step = TraceRecord(CallType.TOOL, name="kb search")
    step.end_step(latency=150)
    assert step.latency == 150
    assert step.duration == 0.15


def test_ending_twice_raises_and_records_nothing_more(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    trace = ResponseTrace()
    step = TraceRecord(CallType.AGENT, name="a")
    step.end_step(cost=0.5)
    trace.add_step(step)
    with pytest.raises(TraceError, match=r"step 'a' \(.*\) was already ended"):
        step.end_step(cost=1.0)
    assert step.cost == 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"total_tokens": -1}, "step 'a': total_tokens must be >= 0, got -1"),
        ({"input_tokens": -3}, "step 'a': input_tokens must be >= 0, got -3"),
        ({"cost": -1.0}, "step 'a': cost must be a finite number >= 0, got -1.0"),
        ({"latency": -2}, "step 'a': latency must be milliseconds >= 0, got -2"),
    ],
)
def test_bad_end_step_raises_clear_error_and_leaves_step_open(
    kwargs: dict[str, Any], message: str
) -> None:
    step = TraceRecord(CallType.AGENT, name="a")
    with pytest.raises(TraceError, match=message):
        step.end_step(**kwargs)
    assert not step.ended
    step.end_step(cost=1.0)  # the step can still be ended properly
    assert step.cost == 1.0


def test_bad_call_type() -> None:
    with pytest.raises(TraceError, match="call_type must be one of AGENT, TOOL, HOST, got 'LLM'"):
        TraceRecord("LLM", name="x")


def test_parameters_are_redacted_before_storage() -> None:
    step = TraceRecord(
        CallType.AGENT, name="login", parameters={"user_id": 7, "password": "hunter2"}
    )
    assert step.parameters == {"user_id": 7, "password": "[REDACTED]"}


def test_flat_round_trip() -> None:
    trace = ResponseTrace("t-1")
    parent = TraceRecord(CallType.AGENT, name="coordinator", trace=trace)
    child = TraceRecord(CallType.TOOL, name="db", parent_step_id=parent.step_id, trace=trace)
    child.end_step(cost=0.02, total_tokens=0, error="timeout")
    parent.end_step(cost=0.1, input_tokens=10, output_tokens=20, model="m")
    trace.add_step(child)
    trace.add_step(parent)
    data = json.loads(json.dumps(trace.as_dict()))
    back = ResponseTrace.from_dict(data)
    assert back.as_dict() == trace.as_dict()
    p = back.step(parent.step_id)
    assert p is not None and p.model == "m" and p.input_tokens == 10 and p.output_tokens == 20
    c = back.step(child.step_id)
    assert c is not None and c.error == "timeout" and c.scope_agent == "coordinator"


def _flat(step_id: str, start_ms: int, end_ms: int | None, **extra: Any) -> dict[str, Any]:
    base = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
    end = None if end_ms is None else (base + timedelta(milliseconds=end_ms)).isoformat()
    return {
        "step_id": step_id,
        "call_type": "AGENT",
        "name": step_id,
        "start_time": (base + timedelta(milliseconds=start_ms)).isoformat(),
        "end_time": end,
        **extra,
    }


def test_total_cost_is_the_sum_of_the_steps_own_costs() -> None:
    trace = ResponseTrace.from_dict(
        {
            "trace_id": "t",
            "steps": [
                _flat("a", 0, 10, cost=0.05),
                _flat("b", 0, 10, cost=0.0, parent_step_id="a"),
                _flat("c", 0, 10, parent_step_id="a"),  # no cost: adds 0
                _flat("d", 0, 10, cost=0.08, parent_step_id="a"),
            ],
        }
    )
    assert trace.total_cost == pytest.approx(0.13)
    assert ResponseTrace().total_cost == 0.0


def test_total_latency_is_end_to_end_not_the_sum_of_overlapping_steps() -> None:
    trace = ResponseTrace.from_dict(
        {
            "trace_id": "t",
            "steps": [
                _flat("child", 100, 400, parent_step_id="root"),
                _flat("sibling", 300, 900, parent_step_id="root"),  # concurrent with child
                _flat("root", 0, 1000),
            ],
        }
    )
    assert sum(s.latency or 0 for s in trace.steps) == 1900
    assert trace.total_latency == pytest.approx(1000.0)
    assert trace.total_latency == analyze_trace_performance(trace).total_latency_ms
    assert ResponseTrace().total_latency == 0.0


def test_total_latency_counts_a_step_not_ended_until_its_start() -> None:
    trace = ResponseTrace.from_dict(
        {"trace_id": "t", "steps": [_flat("done", 0, 250), _flat("open", 400, None)]}
    )
    assert trace.steps[1].end_time is None
    assert trace.total_latency == pytest.approx(400.0)


def test_nested_spec_shape_with_callee_trace() -> None:
    data = {
        "traceId": "outer",
        "steps": [
            {
                "stepId": "s1",
                "callType": "AGENT",
                "stepAction": {
                    "agentInvocation": {
                        "agentUrl": "http://analysis",
                        "agentName": "analysis",
                        "requests": {"q": 1},
                        "responseTrace": {
                            "traceId": "inner",
                            "steps": [
                                {
                                    "step_id": "i1",
                                    "call_type": "TOOL",
                                    "step_action": {
                                        "tool_invocation": {"tool_name": "sql", "parameters": {}}
                                    },
                                    "latency": "120",
                                    "cost": 1,
                                    "total_tokens": "0",
                                }
                            ],
                        },
                    }
                },
                "cost": 5,
                "totalTokens": 1500,
                "startTime": "2026-01-01T00:00:00Z",
                "endTime": "2026-01-01T00:00:02.5Z",
            }
        ],
    }
    trace = ResponseTrace.from_dict(data)
    s1 = trace.steps[0]
    assert (s1.name, s1.call_type, s1.agent_url, s1.duration) == (
        "analysis",
        CallType.AGENT,
        "http://analysis",
        2.5,
    )
    assert s1.response_trace is not None
    inner = s1.response_trace.steps[0]
    assert (inner.name, inner.call_type, inner.duration, inner.total_tokens) == (
        "sql",
        CallType.TOOL,
        0.12,
        0,
    )
    assert inner.scope_agent == "analysis"  # callee tool attributed to the invoked agent
    assert [s.step_id for s in trace.walk()] == ["s1", "i1"]


def test_from_dict_names_every_problem() -> None:
    data = {
        "steps": [
            {"call_type": "LLM", "cost": -1},
            "nope",
            {"start_time": "yesterday", "additional_attributes": {"gen_ai.usage.input_tokens": -4}},
            {"step_action": {"tool_invocation": {}, "agent_invocation": {}}},
        ]
    }
    with pytest.raises(TraceError) as info:
        ResponseTrace.from_dict(data)
    msg = str(info.value)
    for expected in (
        "steps[0].call_type: must be AGENT, TOOL or HOST, got 'LLM'",
        "steps[0].cost: must be a number >= 0, got -1",
        "steps[1]: must be an object, got str",
        "steps[2].start_time: must be an ISO 8601 time, got 'yesterday'",
        "steps[2].additional_attributes.gen_ai.usage.input_tokens: must be an integer >= 0",
        "steps[3].step_action: must hold exactly one of tool_invocation, agent_invocation",
    ):
        assert expected in msg


def test_from_dict_bounds_depth_and_size() -> None:
    deep: dict[str, Any] = {"steps": []}
    cur = deep
    for _ in range(50):
        nxt: dict[str, Any] = {"steps": []}
        cur["steps"].append(
            {"step_action": {"agent_invocation": {"agent_name": "a", "response_trace": nxt}}}
        )
        cur = nxt
    with pytest.raises(TraceError, match="nesting deeper than 8 traces"):
        ResponseTrace.from_dict(deep)
    big = {"steps": [{"name": "x"}] * 20}
    with pytest.raises(TraceError, match="more than 10 steps in all"):
        ResponseTrace.from_dict(big, max_steps=10)
