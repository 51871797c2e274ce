"""The trace store: round trip, filters, retention by age and size, redaction."""

from __future__ import annotations

from pathlib import Path

import pytest

from sloguard import CallType, Telemetry, TraceStep
from sloguard.sdk.step import workflow
from sloguard.sdk.trace import ResponseTrace, parse_trace
from sloguard.tracestore.model import overflow, summarize
from sloguard.tracestore.store import TraceStore
from tests.support.traces import T0, routed, seed_workflow

NOW = 1_750_000_000.0


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.sqlite")


def nested() -> ResponseTrace:
    """A caller trace whose agent step carries the callee's whole trace (spec shape)."""
    return parse_trace(
        {
            "trace_id": "outer",
            "steps": [
                {
                    "step_id": "call",
                    "start_time": T0.isoformat(),
                    "latency": 100,
                    "cost": 0.5,
                    "step_action": {
                        "agent_invocation": {
                            "agent_name": "planner",
                            "agent_url": "http://planner",
                            "response_trace": {
                                "trace_id": "inner",
                                "steps": [
                                    {
                                        "step_id": "t",
                                        "call_type": "TOOL",
                                        "name": "search",
                                        "start_time": T0.isoformat(),
                                        "latency": 10,
                                        "cost": 0.25,
                                        "error": "boom",
                                    }
                                ],
                            },
                        }
                    },
                }
            ],
        }
    )


def test_round_trip_keeps_steps_and_figures(store: TraceStore) -> None:
    trace = seed_workflow("wf-1")
    summary = store.put(trace, NOW)
    got = store.get("wf-1")
    assert got is not None
    assert got.as_dict() == parse_trace(trace.as_dict()).as_dict()
    assert (summary.agent, summary.status, summary.steps) == ("supervisor", "ok", 11)
    assert summary.started_at == T0.timestamp()
    assert summary.cost == pytest.approx(0.0021)
    assert store.get("nope") is None


def test_round_trip_keeps_nested_callee_traces(store: TraceStore) -> None:
    store.put(nested(), NOW)
    got = store.get("outer")
    assert got is not None
    inner = got.steps[0].response_trace
    assert inner is not None and inner.steps[0].error == "boom"
    assert got.steps[0].agent_url == "http://planner"
    s = summarize(got)
    assert (s.steps, s.status, s.cost) == (2, "error", 0.75)
    # the callee's tool counts for the invoking agent
    assert [x.trace_id for x in store.failing(agent="planner")] == ["outer"]


def test_put_replaces_a_trace_with_the_same_id(store: TraceStore) -> None:
    store.put(routed("r"), NOW)
    store.put(routed("r", fails=True), NOW + 1)
    assert [(s.trace_id, s.status) for s in store.list()] == [("r", "error")]
    assert len(store.list(agent="billing-agent")) == 1


def test_sdk_trace_parameters_are_redacted(store: TraceStore, telemetry: Telemetry) -> None:
    wf = workflow("checkout", "wf-sdk", parameters={"user": "kim"})
    with wf, TraceStep(None, CallType.TOOL, "pay", parameters={"api_key": "k-1", "amount": 3}):
        pass
    trace = wf.response_trace
    assert trace is not None and [s.name for s in trace.steps] == ["pay", "checkout"]
    # a trace built elsewhere may carry raw parameters: the store redacts them anyway
    trace.steps[1].parameters["password"] = "hunter2"
    store.put(trace, NOW)
    got = store.get("wf-sdk")
    assert got is not None
    params = {s.name: s.parameters for s in got.steps}
    assert params["pay"] == {"api_key": "[REDACTED]", "amount": 3}
    assert params["checkout"] == {"user": "kim", "password": "[REDACTED]"}


def test_requests_and_nested_parameters_are_redacted(store: TraceStore) -> None:
    raw = {
        "trace_id": "red",
        "steps": [
            {"step_id": "a", "name": "x", "parameters": {"token": "t"}, "requests": {"auth": "s"}}
        ],
    }
    store.put(parse_trace(raw), NOW)
    got = store.get("red")
    assert got is not None
    assert got.steps[0].parameters == {"token": "[REDACTED]"}
    assert got.steps[0].requests == {"auth": "[REDACTED]"}


def test_filters_by_agent_status_and_time(store: TraceStore) -> None:
    store.put(routed("a"), NOW)
    store.put(routed("b", "shipping-agent", (("track", "lost"),), fails=True), NOW)
    store.put(seed_workflow("c"), NOW)
    later = parse_trace(
        {"trace_id": "d", "steps": [{"name": "x", "start_time": "2025-03-02T00:00:00+00:00"}]}
    )
    store.put(later, NOW)

    def ids(**kw: object) -> list[str]:
        return sorted(s.trace_id for s in store.list(**kw))  # type: ignore[arg-type]

    assert ids() == ["a", "b", "c", "d"]
    assert ids(status="error") == ["b"]
    assert ids(status="ok") == ["a", "c", "d"]
    assert ids(agent="supervisor") == ["a", "b", "c"]
    assert ids(agent="shipping-agent") == ["b"]
    assert ids(since=later.steps[0].start_time.timestamp()) == ["d"]
    assert ids(until=later.steps[0].start_time.timestamp()) == ["a", "b", "c"]
    assert len(store.list(limit=2)) == 2
    assert store.list()[0].trace_id == "d"  # newest first
    assert [s.trace_id for s in store.failing()] == ["b"]
    assert store.failing(agent="billing-agent") == []
    assert sorted(t.trace_id for t in store.successful()) == ["a", "c", "d"]


def test_prune_by_age(store: TraceStore) -> None:
    store.put(routed("old"), NOW - 8 * 86400)
    store.put(routed("new"), NOW - 86400)
    assert store.prune(NOW).traces == 1
    assert [s.trace_id for s in store.list()] == ["new"]
    assert store.list(agent="supervisor")[0].trace_id == "new"


def test_prune_by_size_drops_oldest_first(tmp_path: Path) -> None:
    store = TraceStore(tmp_path / "t.sqlite", max_steps=12)  # routed(): 5 steps each
    for i in range(4):
        store.put(routed(f"r{i}"), NOW + i)
    assert store.prune(NOW + 10).traces == 2
    assert sorted(s.trace_id for s in store.list()) == ["r2", "r3"]
    assert store.prune(NOW + 10).traces == 0


@pytest.mark.parametrize(
    ("rows", "total", "limit", "dropped"),
    [
        ([("a", 5), ("b", 5)], 10, 10, []),
        ([("a", 5), ("b", 5)], 10, 9, ["a"]),
        ([("a", 5), ("b", 5)], 10, 0, ["a", "b"]),
        ([("a", 1), ("b", 8), ("c", 1)], 10, 2, ["a", "b"]),
    ],
)
def test_overflow(rows: list[tuple[str, int]], total: int, limit: int, dropped: list[str]) -> None:
    assert overflow(rows, total, limit) == dropped


def test_store_survives_reopening(tmp_path: Path) -> None:
    TraceStore(tmp_path / "t.sqlite").put(routed("keep"), NOW)
    assert TraceStore(tmp_path / "t.sqlite").get("keep") is not None


def test_the_root_agent_is_the_outermost_not_the_first_to_finish(telemetry: Telemetry) -> None:
    # The SDK lists steps as they end: worker and its tool end before the supervisor.
    trace = ResponseTrace("nest-1")
    with TraceStep(trace, CallType.AGENT, "supervisor") as top:  # noqa: SIM117 - parent ids
        with TraceStep(trace, CallType.AGENT, "billing", parent_step_id=top.step_id) as worker:
            with TraceStep(trace, CallType.TOOL, "lookup", parent_step_id=worker.step_id):
                pass
    assert trace.steps[0].name != "supervisor"
    assert summarize(trace).agent == "supervisor"
    assert summarize(ResponseTrace("empty")).agent == ""
