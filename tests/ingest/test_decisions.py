"""Decision records through ``POST /v1/events``: validated, stored, their anomalies counted once.

Every test builds the real app (ingest router + traces API) over a real SQLite trace store in
``tmp_path`` and talks to it over ASGI; expectations are samples of a fresh registry and what
the store and ``/api/v1/decisions`` / ``/api/v1/anomalies`` answer.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app
from sloguard.web.tracesapi import traces_router
from tests.support.events import anomalies, decision, post

H, TOOL = "handoff", "tool_selection"


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.sqlite")


def app_client(
    registry: CollectorRegistry, recorder: Recorder, store: TraceStore, **options: Any
) -> httpx.AsyncClient:
    """A client of the real app: ingest into ``recorder`` + ``store``, and the traces API."""
    routers = [ingest_router(recorder, token=None, traces=store, **options), traces_router(store)]
    app = create_app(registry, routers=routers)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://sloguard")


@pytest.fixture
async def client(
    registry: CollectorRegistry, recorder: Recorder, store: TraceStore
) -> AsyncIterator[httpx.AsyncClient]:
    async with app_client(registry, recorder, store) as c:
        yield c


def samples(registry: CollectorRegistry) -> dict[tuple[str, Any], float]:
    """Every sample except the ingest's own request counters."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in registry.collect()
        for s in m.samples
        if not s.name.startswith("sloguard_ingest_")
    }


async def chain(client: httpx.AsyncClient, workflow_id: str) -> dict[str, Any]:
    r = await client.get("/api/v1/decisions", params={"workflow_id": workflow_id})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


# --- the seeds' flows -------------------------------------------------------------------------


async def test_seed_routing_decision_is_stored_with_its_options_and_reasoning(
    client: httpx.AsyncClient, registry: CollectorRegistry, store: TraceStore
) -> None:
    """Seed 000's AgentLogger example: the supervisor routes a refund to billing."""
    event = decision(
        "supervisor",
        "routing",
        "billing-agent",
        0.82,
        at=0,
        options_considered=[
            {"name": "billing-agent", "score": 0.82},
            {"name": "shipping-agent", "score": 0.1},
            "technical-agent",
        ],
        reasoning="사용자가 환불을 요청했으므로 결제 전문 에이전트로 라우팅",
        input_summary="환불해 주세요",
    )
    r = await post(client, event)
    assert (r.status_code, r.json()) == (200, {"accepted": 1})
    labels = {"agent_name": "supervisor", "decision_type": "routing"}
    assert registry.get_sample_value("agent_decisions_total", labels) == 1
    assert registry.get_sample_value("agent_decision_confidence_sum", labels) == 0.82

    body = await chain(client, "wf-001")
    assert body["anomalies"] == []
    [record] = body["decisions"]
    assert record == {
        "agent_id": "supervisor",
        "timestamp": "2025-03-01T09:00:00+00:00",
        "decision_type": "routing",
        "chosen_option": "billing-agent",
        "confidence": 0.82,
        "options_considered": [
            {"name": "billing-agent", "score": 0.82},
            {"name": "shipping-agent", "score": 0.1},
            {"name": "technical-agent", "score": None},
        ],
        "reasoning": "사용자가 환불을 요청했으므로 결제 전문 에이전트로 라우팅",
        "workflow_id": "wf-001",
        "input_summary": "환불해 주세요",
    }
    [stored] = store.events(type="decision")
    assert stored["chosen_option"] == "billing-agent" and "received_at" in stored
    assert anomalies(registry) == {}


async def test_customer_service_flow_supervisor_to_billing_and_shipping(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    """supervisor → billing (refund) and, after billing returns, supervisor → shipping: no loop."""
    r = await post(
        client,
        decision("supervisor", "routing", "billing-agent", 0.85, at=0),
        decision("supervisor", H, "billing-agent", 0.85, at=1),
        decision("billing-agent", TOOL, "lookup_invoice", 0.9, at=2),
        decision("billing-agent", TOOL, "issue_refund", 0.8, at=3),
        decision("billing-agent", "response", "refund issued", 0.9, at=4),
        decision("supervisor", H, "shipping-agent", 0.7, at=5),
        decision("shipping-agent", TOOL, "track_package", 0.9, at=6),
    )
    assert r.status_code == 200
    body = await chain(client, "wf-001")
    assert [d["chosen_option"] for d in body["decisions"]][:2] == ["billing-agent"] * 2
    assert len(body["decisions"]) == 7
    assert body["anomalies"] == []
    assert anomalies(registry) == {}


async def test_customer_service_misroute_ping_pong_is_a_loop_counted_once(
    client: httpx.AsyncClient, registry: CollectorRegistry, store: TraceStore
) -> None:
    """billing hands back to the supervisor that handed to it: A → B → A, over two batches."""
    first = decision("supervisor", H, "billing-agent", 0.6, at=0)
    back = decision("billing-agent", H, "supervisor", 0.4, at=1, reasoning="not a refund")
    assert (await post(client, first)).status_code == 200
    assert anomalies(registry) == {}
    assert (await post(client, back)).status_code == 200
    assert anomalies(registry) == {("billing-agent", "handoff_loop"): 1}

    # the same decisions sent again (a client retry): stored once, counted once
    assert (await post(client, first, back)).status_code == 200
    assert anomalies(registry) == {("billing-agent", "handoff_loop"): 1}
    body = await chain(client, "wf-001")
    assert len(body["decisions"]) == 2
    [loop] = body["anomalies"]
    assert (loop["kind"], loop["agent"], loop["path"]) == (
        "handoff_loop",
        "billing-agent",
        ["supervisor", "billing-agent", "supervisor"],
    )
    # the metrics of the decisions themselves count every event received
    labels = {"agent_name": "supervisor", "decision_type": H}
    assert registry.get_sample_value("agent_decisions_total", labels) == 2

    r = await client.get("/api/v1/anomalies")
    [listed] = r.json()["anomalies"]
    assert listed["anomaly"] == "handoff_loop" and listed["detected"] is True
    assert listed["workflow_id"] == "wf-001"
    assert listed["path"] == ["supervisor", "billing-agent", "supervisor"]
    assert listed["message"] == "handoff loop: supervisor → billing-agent → supervisor"
    assert len(store.decisions(workflow_id="wf-001")) == 2


async def test_going_round_again_is_another_lap(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    await post(client, decision("A", H, "B", at=0), decision("B", H, "A", at=1))
    await post(client, decision("A", H, "B", at=2), decision("B", H, "A", at=3))
    assert anomalies(registry) == {("B", "handoff_loop"): 2}
    await post(client, decision("A", "response", "done", at=4))
    assert anomalies(registry) == {("B", "handoff_loop"): 2}


async def test_financial_risk_flow_with_a_doubtful_hold(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    """Seed 001's risk assessment: profiling, pattern analysis, then a low-confidence hold."""
    wf = {"wf": None, "trace_id": "위험 평가-tx-42"}
    r = await post(
        client,
        decision("위험 평가", H, "사용자 프로파일링", 0.9, at=0, **wf),
        decision("사용자 프로파일링", "response", "risk_score=0.2", 0.8, at=1, **wf),
        decision("위험 평가", H, "거래 분석", 0.9, at=2, **wf),
        decision("거래 분석", "response", "anomaly_score=0.9", 0.7, at=3, **wf),
        decision("위험 평가", "response", "hold", 0.25, at=4, **wf),
    )
    assert r.status_code == 200
    assert anomalies(registry) == {("위험 평가", "low_confidence"): 1}
    body = await chain(client, "위험 평가-tx-42")  # the trace id is the workflow
    [low] = body["anomalies"]
    assert low["kind"] == "low_confidence"
    assert low["message"] == "위험 평가's response decision (hold) has confidence 0.25 < 0.3"


async def test_supervisor_researcher_writer_with_runaway_searches(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    """Seed 000's workflow; the researcher picks web_search 21 times in one turn (limit 20).

    The searches carry no timestamp: equal records in one batch are distinct decisions.
    """
    searches = [decision("researcher", TOOL, "web_search", 0.8, at=None)] * 21
    await post(client, decision("supervisor", "routing", "researcher", 0.9, at=0))
    r = await post(client, decision("supervisor", H, "researcher", 0.9, at=1), *searches)
    assert r.status_code == 200
    assert anomalies(registry) == {("researcher", "runaway_tool_calls"): 1}
    r = await post(client, decision("researcher", H, "writer", 0.9), decision("writer", TOOL, "x"))
    assert r.status_code == 200
    assert anomalies(registry) == {("researcher", "runaway_tool_calls"): 1}
    body = await chain(client, "wf-001")
    assert len(body["decisions"]) == 25
    assert [a["kind"] for a in body["anomalies"]] == ["runaway_tool_calls"]


async def test_tool_choices_arriving_one_by_one_count_one_runaway(
    registry: CollectorRegistry, recorder: Recorder, store: TraceStore
) -> None:
    async with app_client(registry, recorder, store, max_tool_calls=2) as c:
        for i in range(6):
            r = await post(c, decision("researcher", TOOL, "web_search", at=i))
            assert r.status_code == 200
            expected = {("researcher", "runaway_tool_calls"): 1} if i >= 2 else {}
            assert anomalies(registry) == expected, i
        # another agent's turn, then the researcher again: a new turn, a new runaway
        await post(c, decision("writer", TOOL, "format", at=10))
        for i in range(3):
            await post(c, decision("researcher", TOOL, "web_search", at=11 + i))
    assert anomalies(registry) == {("researcher", "runaway_tool_calls"): 2}


async def test_thresholds_are_configurable(
    registry: CollectorRegistry, recorder: Recorder, store: TraceStore
) -> None:
    async with app_client(registry, recorder, store, low_confidence=0.5, max_tool_calls=2) as c:
        r = await post(
            c,
            decision("planner", "routing", "a", 0.45, at=0),
            decision("planner", "routing", "b", 0.55, at=1),
            *[decision("planner", TOOL, "search", at=2 + i) for i in range(3)],
        )
    assert r.status_code == 200
    assert anomalies(registry) == {
        ("planner", "low_confidence"): 1,
        ("planner", "runaway_tool_calls"): 1,
    }


async def test_decisions_without_a_workflow_are_checked_on_their_own(
    client: httpx.AsyncClient, registry: CollectorRegistry, store: TraceStore
) -> None:
    r = await post(
        client,
        decision("router", "routing", "faq", 0.1, wf=None),
        decision("router", "routing", "faq", 0.1, wf=None),
    )
    assert r.status_code == 200
    assert anomalies(registry) == {("router", "low_confidence"): 2}
    assert [d.workflow_id for d in store.decisions(agent="router")] == [None, None]


async def test_a_decision_without_chosen_option_is_counted_not_stored(
    client: httpx.AsyncClient, registry: CollectorRegistry, store: TraceStore
) -> None:
    r = await post(client, {"type": "decision", "agent": "router", "decision_type": "route"})
    assert r.status_code == 200
    assert (
        registry.get_sample_value(
            "agent_decisions_total", {"agent_name": "router", "decision_type": "route"}
        )
        == 1
    )
    assert store.decisions() == []
    assert [e["type"] for e in store.events()] == ["decision"]


async def test_every_event_of_a_committed_batch_is_stored(
    client: httpx.AsyncClient, store: TraceStore
) -> None:
    r = await post(
        client,
        {"type": "agent_call", "agent": "planner", "status": "success", "duration_seconds": 1.2,
         "trace_id": "t-1"},
        {"type": "handoff", "source_agent": "planner", "target_agent": "writer"},
        {"type": "anomaly", "agent": "planner", "anomaly": "hallucination"},
    )  # fmt: skip
    assert r.status_code == 200
    assert sorted(e["type"] for e in store.events()) == ["agent_call", "anomaly", "handoff"]
    [call] = store.events(trace_id="t-1")
    assert call["duration_seconds"] == 1.2
    # an anomaly the agent reported itself is listed with the detected ones
    [reported] = (await client.get("/api/v1/anomalies", params={"agent": "planner"})).json()[
        "anomalies"
    ]
    assert reported["anomaly"] == "hallucination" and "detected" not in reported


# --- validation: a bad decision rejects the batch, and nothing is recorded or stored ---------


@pytest.mark.parametrize(
    ("event", "field", "message"),
    [
        (decision("a", "routing", "x", None), "confidence",
         "required with chosen_option (a decision record needs it)"),
        (decision("a", "routing", None, 0.5, reasoning="why"), "chosen_option",
         "required with reasoning, workflow_id"),
        (decision("a", "routing", "x", timestamp="2025-03-01T09:00:00"), "timestamp",
         "must have a UTC offset (Z or +09:00), got '2025-03-01T09:00:00'"),
        (decision("a", "routing", "x", timestamp="yesterday"), "timestamp",
         "must be ISO 8601 (2025-03-01T09:00:00Z), got 'yesterday'"),
        (decision("a", "routing", "x", timestamp=1_700_000_000), "timestamp",
         "must be an ISO 8601 string, got int 1700000000"),
        (decision("a", "routing", "x", options_considered=["ok", {"score": 1}]),
         "options_considered.1.name", "required field is missing"),
        (decision("a", "routing", "x", options_considered=[{"name": "n", "scroe": 1}]),
         "options_considered.0.scroe", "unknown key 'scroe'"),
        (decision("a", "routing", "x", options_considered=[""]),
         "options_considered.0.name", "String should have at least 1 character (got '')"),
        (decision("a", "routing", "x", options_considered="ok"), "options_considered",
         "Input should be a valid list (got 'ok')"),
        (decision("a", "routing", ""), "chosen_option",
         "String should have at least 1 character (got '')"),
        (decision("a", "routing", "x", wf="w" * 257), "workflow_id",
         "String should have at most 256 characters"),
        (decision("a", "routing", "x", reasoning=7), "reasoning",
         "Input should be a valid string (got 7)"),
    ],
)  # fmt: skip
async def test_bad_decisions_are_named(
    client: httpx.AsyncClient, event: dict[str, Any], field: str, message: str
) -> None:
    r = await post(client, event)
    assert r.status_code == 422, r.text
    [p] = r.json()["problems"]
    assert p["field"] == f"events[0].{field}"
    assert p["message"].startswith(message)


async def test_a_bad_decision_rejects_the_batch_and_nothing_is_recorded_or_stored(
    client: httpx.AsyncClient, registry: CollectorRegistry, store: TraceStore
) -> None:
    before = samples(registry)
    r = await post(
        client,
        decision("supervisor", H, "billing-agent", 0.1, at=0),
        decision("billing-agent", H, "supervisor", 0.1, at=1),
        {"type": "agent_call", "agent": "planner", "status": "success", "duration_seconds": 1},
        decision("billing-agent", H, "supervisor", None, at=2),
        decision("billing-agent", H, None, at=3),
    )
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid batch: 2 problems"
    assert [p["field"] for p in body["problems"]] == [
        "events[3].confidence",
        "events[4].chosen_option",
    ]
    assert samples(registry) == before
    assert anomalies(registry) == {}
    assert store.events() == [] and store.decisions() == []
    r = await client.get("/api/v1/decisions", params={"workflow_id": "wf-001"})
    assert (r.status_code, r.json()["detail"]) == (404, "no stored decisions for workflow 'wf-001'")


async def test_without_a_store_decisions_are_counted_and_nothing_else(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    app = create_app(registry, routers=[ingest_router(recorder, token=None)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sloguard"
    ) as c:
        r = await post(c, decision("a", "routing", "x", 0.1, at=0))
    assert r.status_code == 200
    labels = {"agent_name": "a", "decision_type": "routing"}
    assert registry.get_sample_value("agent_decisions_total", labels) == 1
    assert anomalies(registry) == {}
