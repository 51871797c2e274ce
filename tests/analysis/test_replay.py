"""Timelines derived from trace steps, and replay with state and ``stop_before``."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from examples.multi_agent import run_workflow
from sloguard import Telemetry
from sloguard.analysis.replay import replay
from sloguard.analysis.timeline import Event, EventType, timeline
from tests.support.traces import (
    T0,
    build,
    customer_service,
    financial_risk,
    routed,
    row,
    seed_workflow,
)


def brief(events: Iterable[Event]) -> list[str]:
    """`type agent[>target]` of each event."""
    out = []
    for e in events:
        out.append(f"{e.type.value} {e.agent}" + (f">{e.target}" if e.target else ""))
    return out


def test_seed_workflow_timeline_with_timestamps() -> None:
    events = timeline(seed_workflow())
    ms = [round((e.timestamp - T0) / timedelta(milliseconds=1)) for e in events]
    assert list(zip(brief(events), ms, strict=True)) == [
        ("agent_invoked supervisor", 0),
        ("tool_called supervisor>classify_intent", 290),
        ("tool_returned supervisor>classify_intent", 335),
        ("agent_completed supervisor", 350),
        ("agent_invoked researcher", 350),
        ("tool_called researcher>web_search", 500),
        ("tool_returned researcher>web_search", 750),
        ("agent_completed researcher", 870),
        ("agent_invoked writer", 870),
        ("tool_called writer>format_output", 1215),
        ("tool_returned writer>format_output", 1240),
        ("agent_completed writer", 1250),
    ]
    # host work (the workflow root, LLM inference) is no event but is the agents' caller
    assert {e.caller for e in events if e.type is EventType.AGENT_INVOKED} == {"workflow.execute"}
    assert events[3].latency_ms == 350
    assert events[5].as_dict()["target"] == "web_search"


def test_handoffs_failures_and_callers() -> None:
    trace = routed(
        "wf-b",
        "shipping-agent",
        (("track_package", "NotFound: no parcel"),),
        fails=True,
    )
    events = timeline(trace)
    assert brief(events) == [
        "agent_invoked supervisor",
        "handoff supervisor>shipping-agent",
        "agent_invoked shipping-agent",
        "tool_called shipping-agent>track_package",
        "tool_failed shipping-agent>track_package",
        "agent_failed shipping-agent",
        "agent_failed supervisor",
    ]
    assert events[2].caller == "supervisor"
    assert events[4].error == "NotFound: no parcel"
    assert events[5].error == "failed"


def test_concurrent_steps_interleave_by_time_and_ends_nest() -> None:
    rows = [
        row("s", None, "AGENT", "sup", 0, 100),
        row("a", "s", "AGENT", "a", 10, 50),
        row("b", "s", "AGENT", "b", 20, 30),
        # a child that claims to end after its parent (skewed clock): it ends before the parent
        row("t", "b", "TOOL", "slow", 25, 500),
    ]
    assert brief(timeline(build("t", rows))) == [
        "agent_invoked sup",
        "handoff sup>a",
        "agent_invoked a",
        "handoff sup>b",
        "agent_invoked b",
        "tool_called b>slow",
        "tool_returned b>slow",
        "agent_completed b",
        "agent_completed a",
        "agent_completed sup",
    ]


def test_a_step_without_end_has_no_end_event(telemetry: Telemetry) -> None:
    rows = [row("s", None, "AGENT", "sup", 0, None), row("t", "s", "TOOL", "x", 5, 5)]
    assert brief(timeline(build("t", rows))) == [
        "agent_invoked sup",
        "tool_called sup>x",
        "tool_returned sup>x",
    ]


def test_replay_seed_workflow_state_and_stop_before_writer() -> None:
    full = replay(seed_workflow())
    assert full.workflow_id == "wf-001"
    assert full.total_events == 12
    assert dict(full.final_state) == {
        "intent": "research",
        "results": 10,
        "sources": 3,
        "draft": "done",
    }
    assert full.stopped_before is None
    r = replay(seed_workflow(), stop_before="writer")
    assert r.total_events == 8
    assert dict(r.final_state) == {"intent": "research", "results": 10, "sources": 3}
    assert r.stopped_before is not None and r.stopped_before.step_id == "wri"
    assert [(e.event.type.value, e.state_after) for e in r.timeline] == [
        ("agent_invoked", None),
        ("tool_called", None),
        ("tool_returned", ()),
        ("agent_completed", ("intent",)),
        ("agent_invoked", None),
        ("tool_called", None),
        ("tool_returned", ("intent", "results")),
        ("agent_completed", ("intent", "results", "sources")),
    ]


def test_replay_as_dict_is_the_seeds_shape() -> None:
    d = replay(seed_workflow(), stop_before="writer").as_dict()
    assert set(d) == {"workflow_id", "total_events", "final_state", "timeline", "stopped_before"}
    entry = d["timeline"][3]
    assert entry == {
        "timestamp": "2025-03-01T09:00:00.350000+00:00",
        "type": "agent_completed",
        "agent": "supervisor",
        "step_id": "sup",
        "caller": "workflow.execute",
        "latency_ms": 350,
        "data_keys": ["intent"],
        "state_after": ["intent"],
    }
    assert d["stopped_before"]["agent"] == "writer"


def test_stop_before_keeps_the_handoff_and_takes_a_step_id() -> None:
    trace = routed("wf-a")
    r = replay(trace, stop_before="billing-agent")
    assert brief(e.event for e in r.timeline) == [
        "agent_invoked supervisor",
        "handoff supervisor>billing-agent",
    ]
    assert replay(trace, stop_before="spec").timeline == r.timeline
    # an agent that never runs: the whole replay
    assert replay(trace, stop_before="nobody").total_events == len(timeline(trace))


def test_failed_steps_add_no_state_and_telemetry_keys_are_not_state() -> None:
    rows = [
        row("s", None, "AGENT", "sup", 0, 100, additional_attributes={"plan": 1}),
        row(
            "t1", "s", "TOOL", "ok", 10, 10,
            additional_attributes={"rows": 5, "gen_ai.system": "openai"},
        ),
        row("t2", "s", "TOOL", "bad", 30, 10, error="boom", additional_attributes={"rows": 0}),
    ]  # fmt: skip
    assert dict(replay(build("t", rows)).final_state) == {"rows": 5, "plan": 1}


def test_seed_flows_recorded_with_the_sdk(telemetry: Telemetry) -> None:
    risk = financial_risk(telemetry)
    assert dict(replay(risk).final_state) == {
        "risk_score": 0.2,
        "anomaly_score": 0.9,
        "decision": "hold",
        "confidence": 0.7,
    }
    before = replay(risk, stop_before="거래 분석")
    assert dict(before.final_state) == {"risk_score": 0.2}
    assert brief([before.timeline[-1].event]) == ["handoff 위험 평가>거래 분석"]
    cs = customer_service(telemetry)
    assert dict(replay(cs).final_state) == {"results": 3}
    kinds = [e.type for e in timeline(cs)]
    assert kinds.count(EventType.HANDOFF) == 2  # to 의도 인식 and 응답 생성


async def test_multi_agent_example_timeline(telemetry: Telemetry) -> None:
    trace = await run_workflow("agents", "wf-1")
    events = timeline(trace)
    assert len(events) == 15
    handoffs = [e.target for e in events if e.type is EventType.HANDOFF]
    assert handoffs == ["researcher", "analyst", "fact_checker"]
    by_agent: dict[str, list[str]] = {}
    for e in events:
        by_agent.setdefault(e.agent, []).append(e.type.value + (f">{e.target}" if e.target else ""))
    # concurrent workers interleave; each agent's own events are in order
    assert by_agent["researcher"] == [
        "agent_invoked",
        "tool_called>web_search",
        "tool_returned>web_search",
        "agent_completed",
    ]
    assert by_agent["analyst"] == [
        "agent_invoked",
        "tool_called>sql_query",
        "tool_failed>sql_query",
        "agent_completed",
    ]
    assert by_agent["fact_checker"] == ["agent_invoked", "agent_failed"]
    assert events[-1].type is EventType.AGENT_COMPLETED and events[-1].agent == "supervisor"
    r = replay(trace, stop_before="fact_checker")
    assert r.timeline[-1].event.type is EventType.HANDOFF
    assert r.total_events == 12
