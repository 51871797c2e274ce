"""The trace store's decisions and events: round trip, order, filters, bounds, bad input."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from sloguard.analysis.decisionrecord import DecisionRecord, Option, decision_chain
from sloguard.errors import InvalidRecord
from sloguard.tracestore.records import MAX_NAME, MAX_OPTIONS, MAX_TEXT
from sloguard.tracestore.store import TraceStore

NOW = 1_750_000_000.0
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)
KST = timezone(timedelta(hours=9))


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.sqlite")


def d(
    agent: str,
    seconds: float,
    kind: str = "handoff",
    chosen: str = "billing-agent",
    *,
    workflow: str | None = "wf-1",
    confidence: float = 0.8,
    **kw: Any,
) -> DecisionRecord:
    return DecisionRecord(
        agent, T0 + timedelta(seconds=seconds), kind, chosen, confidence, workflow_id=workflow, **kw
    )


# --- decisions -----------------------------------------------------------------------------------
def test_decisions_round_trip_equal_with_their_offset(store: TraceStore) -> None:
    seoul = DecisionRecord(
        "supervisor",
        datetime(2025, 3, 1, 18, 0, 0, 123456, tzinfo=KST),
        "routing",
        "billing-agent",
        0.82,
        options_considered=(Option("billing-agent", 0.82), Option("shipping-agent")),
        reasoning="사용자가 환불을 요청했으므로 결제 전문 에이전트로 라우팅",
        workflow_id="wf-001",
        input_summary="환불 요청",
    )
    store.put_decisions([seoul], NOW)
    [got] = store.decisions(workflow_id="wf-001")
    assert got == seoul
    assert got.timestamp.utcoffset() == timedelta(hours=9)
    assert got.timestamp.microsecond == 123456
    assert got.options_considered == (Option("billing-agent", 0.82), Option("shipping-agent"))


def test_decision_chain_is_oldest_first_whatever_the_order_of_storing(store: TraceStore) -> None:
    records = [
        d("writer", 3),
        d("supervisor", 1),
        d("billing-agent", 2),
        d("other", 0, workflow="x"),
    ]
    store.put_decisions(records[:2], NOW)
    store.put_decisions(records[2:], NOW + 1)
    chain = store.decisions(workflow_id="wf-1")
    assert [r.agent_id for r in chain] == ["supervisor", "billing-agent", "writer"]
    assert tuple(chain) == decision_chain(records, "wf-1")


def test_equal_timestamps_keep_the_order_they_were_stored_in(store: TraceStore) -> None:
    store.put_decisions([d("a", 5), d("b", 5), d("c", 5)], NOW)
    assert [r.agent_id for r in store.decisions()] == ["a", "b", "c"]


def test_limit_returns_the_newest_decisions_oldest_first(store: TraceStore) -> None:
    store.put_decisions([d(f"agent-{i}", i) for i in range(5)], NOW)
    assert [r.agent_id for r in store.decisions(workflow_id="wf-1", limit=2)] == [
        "agent-3",
        "agent-4",
    ]
    assert len(store.decisions(limit=1000)) == 5


def test_decision_filters(store: TraceStore) -> None:
    store.put_decisions(
        [
            d("supervisor", 0),
            d("billing-agent", 10),
            d("supervisor", 20, workflow="wf-2"),
            d("supervisor", 30, workflow=None),
        ],
        NOW,
    )

    def agents(**kw: Any) -> list[tuple[str, str | None]]:
        return [(r.agent_id, r.workflow_id) for r in store.decisions(**kw)]

    t = T0.timestamp()
    assert agents(agent="supervisor") == [
        ("supervisor", "wf-1"),
        ("supervisor", "wf-2"),
        ("supervisor", None),
    ]
    assert agents(workflow_id="wf-1", agent="supervisor") == [("supervisor", "wf-1")]
    later = [("billing-agent", "wf-1"), ("supervisor", "wf-2"), ("supervisor", None)]
    assert agents(since=t + 10) == later
    assert agents(since=t + 10, until=t + 30) == later[:2]
    assert agents(workflow_id="missing") == []


def test_long_texts_and_many_options_are_clipped(store: TraceStore) -> None:
    big = DecisionRecord(
        "a" * 1000,
        T0,
        "routing",
        "x" * 300,
        0.5,
        options_considered=tuple(Option(f"o{i}") for i in range(80)),
        reasoning="r" * 10_000,
        workflow_id="w" * 400,
        input_summary="i" * (MAX_TEXT + 1),
    )
    store.put_decisions([big], NOW)
    [got] = store.decisions()
    assert got.agent_id == "a" * MAX_NAME + "…[+744 chars]"
    assert got.chosen_option == "x" * MAX_NAME + "…[+44 chars]"
    assert got.workflow_id == "w" * MAX_NAME + "…[+144 chars]"
    assert got.reasoning == "r" * MAX_TEXT + "…[+6000 chars]"
    assert got.input_summary == "i" * MAX_TEXT + "…[+1 chars]"
    assert len(got.options_considered) == MAX_OPTIONS


def test_a_batch_with_a_bad_item_stores_nothing_and_names_every_bad_item(
    store: TraceStore,
) -> None:
    good = d("supervisor", 0)
    with pytest.raises(InvalidRecord) as info:
        store.put_decisions([good, {"agent_id": "x"}, "handoff"], NOW)  # type: ignore[list-item]
    assert str(info.value) == (
        "decisions[1]: expected a DecisionRecord, got dict; decisions[2]: expected a "
        "DecisionRecord, got str (DecisionRecord.from_dict reads JSON)"
    )
    with pytest.raises(InvalidRecord, match="must be a sequence of DecisionRecord, got"):
        store.put_decisions(good, NOW)  # type: ignore[arg-type]
    assert store.decisions() == []


@pytest.mark.parametrize("bad", [0, -1, True, 1.5])
def test_bad_limits_are_refused(store: TraceStore, bad: Any) -> None:
    with pytest.raises(ValueError, match="limit must be an integer >= 1"):
        store.decisions(limit=bad)
    with pytest.raises(ValueError, match="limit must be an integer >= 1"):
        store.events(limit=bad)


def test_bad_now_is_refused(store: TraceStore) -> None:
    with pytest.raises(ValueError, match="now must be finite unix seconds, got nan"):
        store.put_decisions([d("a", 0)], float("nan"))
    assert store.decisions() == []


# --- events --------------------------------------------------------------------------------------
EVENTS: list[dict[str, Any]] = [
    {"type": "agent_call", "agent": "planner", "status": "success", "duration_seconds": 1.2,
     "trace_id": "t-1"},
    {"type": "tool_call", "agent": "planner", "tool": "search", "status": "error",
     "duration_seconds": 0.4, "trace_id": "t-1"},
    {"type": "handoff", "source_agent": "planner", "target_agent": "writer"},
    {"type": "agent_call", "agent": "writer", "status": "success", "duration_seconds": 2.0,
     "trace_id": "t-2"},
]  # fmt: skip


def test_events_round_trip_newest_first_with_received_at(store: TraceStore) -> None:
    store.put_events(EVENTS[:2], NOW)
    store.put_events(EVENTS[2:], NOW + 5)
    got = store.events()
    assert [e["received_at"] for e in got] == [NOW + 5, NOW + 5, NOW, NOW]
    # newest first; within one batch, the later event first
    assert [e["type"] for e in got] == ["agent_call", "handoff", "tool_call", "agent_call"]
    assert {k: v for k, v in got[-1].items() if k != "received_at"} == EVENTS[0]


def test_event_filters(store: TraceStore) -> None:
    store.put_events(EVENTS[:2], NOW)
    store.put_events(EVENTS[2:], NOW + 5)

    def kinds(**kw: Any) -> list[str]:
        return [
            f"{e['type']}:{e.get('agent') or e.get('source_agent')}" for e in store.events(**kw)
        ]

    assert kinds(type="agent_call") == ["agent_call:writer", "agent_call:planner"]
    # a handoff is found by its source agent
    assert kinds(agent="planner") == ["handoff:planner", "tool_call:planner", "agent_call:planner"]
    assert kinds(trace_id="t-1") == ["tool_call:planner", "agent_call:planner"]
    assert kinds(type="agent_call", agent="planner", trace_id="t-1") == ["agent_call:planner"]
    assert kinds(since=NOW + 5) == ["agent_call:writer", "handoff:planner"]
    assert kinds(until=NOW + 5) == ["tool_call:planner", "agent_call:planner"]
    assert kinds(limit=1) == ["agent_call:writer"]
    assert kinds(type="nothing") == []


def test_events_are_redacted_and_bounded(store: TraceStore) -> None:
    store.put_events(
        [{"type": "custom", "api_key": "sk-123", "note": "n" * 600, "nested": {"password": "p"}}],
        NOW,
    )
    [got] = store.events()
    assert got["api_key"] == "[REDACTED]"
    assert got["nested"] == {"password": "[REDACTED]"}
    assert got["note"] == "n" * 512 + "…[+88 chars]"


def test_bad_events_store_nothing_and_are_all_named(store: TraceStore) -> None:
    bad: list[Any] = [
        EVENTS[0],
        {"agent": "x"},
        {"type": 3},
        {"type": "t", "agent": 7, "trace_id": ""},
        "agent_call",
    ]
    with pytest.raises(InvalidRecord) as info:
        store.put_events(bad, NOW)
    assert str(info.value) == (
        "invalid events: events[1].type: must be a non-empty string, got None; "
        "events[2].type: must be a non-empty string, got 3; "
        "events[3].agent: must be a non-empty string, got 7; "
        "events[3].trace_id: must be a non-empty string, got ''; "
        "events[4]: expected a mapping, got str"
    )
    with pytest.raises(InvalidRecord, match="events must be a sequence of mappings, got dict"):
        store.put_events(EVENTS[0], NOW)  # type: ignore[arg-type]
    assert store.events() == []


def test_decisions_and_events_survive_reopening(tmp_path: Path) -> None:
    path = tmp_path / "t.sqlite"
    first = TraceStore(path)
    first.put_decisions([d("supervisor", 0)], NOW)
    first.put_events(EVENTS, NOW)
    first.close()
    again = TraceStore(path)
    assert again.decisions() == [d("supervisor", 0)]
    assert len(again.events()) == len(EVENTS)
    stats = again.stats()
    assert (stats.traces, stats.decisions, stats.events) == (0, 1, 4)


def test_empty_batches_store_nothing(store: TraceStore) -> None:
    store.put_decisions([], NOW)
    store.put_events([], NOW)
    assert store.put_traces([], NOW) == []
    assert (store.stats().decisions, store.stats().events) == (0, 0)
