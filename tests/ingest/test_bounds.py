"""Figures and times out of bounds are refused on every ingest endpoint, field named, atomically.

The bounds (:mod:`sloguard.ingest.bounds`) are tested at their edges: the bound itself is
accepted, just past it is refused. Every test builds the real app (ingest router + traces API)
over a real SQLite trace store and checks that a refused batch leaves nothing behind: no agent
metric sample, no stored trace.
"""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.ingest.bounds import (
    EARLIEST_TIME,
    MAX_AHEAD_SECONDS,
    MAX_COST_USD,
    MAX_DURATION_SECONDS,
    MAX_TOKENS,
    duration_problem,
    time_problem,
    trace_id_problem,
)
from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app

DAY = 24 * 3600.0


@pytest.fixture
def store(tmp_path: Path) -> TraceStore:
    return TraceStore(tmp_path / "traces.sqlite")


@pytest.fixture
async def client(
    registry: CollectorRegistry, recorder: Recorder, store: TraceStore
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(registry, routers=[ingest_router(recorder, token=None, traces=store)])
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://sloguard") as c:
        yield c


def agent_samples(registry: CollectorRegistry) -> dict[tuple[str, Any], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in registry.collect()
        for s in m.samples
        if s.name.startswith("agent_") and not s.name.endswith("_created")
    }


def iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat()


def fields(r: httpx.Response) -> list[str]:
    return [p["field"] for p in r.json()["problems"]]


# --- the pure checks, at their edges ----------------------------------------------------------
NOW = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.mark.parametrize(
    ("t", "ok"),
    [
        (EARLIEST_TIME, True),
        (EARLIEST_TIME - 1e-3, False),
        (NOW + MAX_AHEAD_SECONDS, True),
        (NOW + MAX_AHEAD_SECONDS + 1e-3, False),
        (253_402_300_800.0 * 10, False),  # past what a datetime holds: still a message
        (-1e18, False),
    ],
)
def test_time_window(t: float, ok: bool) -> None:
    assert (time_problem(t, NOW) is None) is ok


def test_durations_and_trace_ids() -> None:
    assert duration_problem(MAX_DURATION_SECONDS) is None
    assert duration_problem(MAX_DURATION_SECONDS + 1e-3) == (
        "must be at most 7 days (604800 s), got 604800 s"
    )
    assert trace_id_problem("a.b..c") is None
    assert trace_id_problem("compare") is not None


# --- /v1/events -------------------------------------------------------------------------------
def agent_call(**extra: Any) -> dict[str, Any]:
    return {"type": "agent_call", "agent": "planner", "status": "success",
            "duration_seconds": 1.0, **extra}  # fmt: skip


async def post_events(client: httpx.AsyncClient, *events: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/events", json={"events": list(events)})


async def test_a_huge_cost_twice_no_longer_turns_the_cost_counter_into_inf(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    for _ in range(2):
        r = await post_events(client, agent_call(model="gpt-4o", cost_usd=1e308))
        assert r.status_code == 422, r.text
        assert fields(r) == ["events[0].cost_usd"]
    assert all(math.isfinite(v) for v in agent_samples(registry).values())
    assert agent_samples(registry) == {}


@pytest.mark.parametrize(
    ("field", "at_bound", "past_bound"),
    [
        ("cost_usd", MAX_COST_USD, MAX_COST_USD * (1 + 1e-9)),
        ("duration_seconds", MAX_DURATION_SECONDS, MAX_DURATION_SECONDS + 1e-3),
        ("input_tokens", MAX_TOKENS, MAX_TOKENS + 1),
        ("output_tokens", MAX_TOKENS, MAX_TOKENS + 1),
        ("total_tokens", MAX_TOKENS, MAX_TOKENS + 1),
    ],
)
async def test_event_figures_at_and_past_their_bound(
    client: httpx.AsyncClient, registry: CollectorRegistry, field: str, at_bound: Any,
    past_bound: Any,
) -> None:  # fmt: skip
    r = await post_events(client, agent_call(), agent_call(**{field: past_bound}))
    assert r.status_code == 422, r.text
    assert fields(r) == [f"events[1].{field}"]
    assert agent_samples(registry) == {}  # the good event of the batch is not recorded either
    r = await post_events(client, agent_call(**{field: at_bound}))
    assert r.status_code == 200, r.text


async def test_usage_events_take_the_same_bounds(client: httpx.AsyncClient) -> None:
    usage = {"type": "usage", "agent": "a", "model": "m", "total_tokens": 10**30, "cost_usd": 1e7}
    r = await post_events(client, usage)
    assert r.status_code == 422, r.text
    assert sorted(fields(r)) == ["events[0].cost_usd", "events[0].total_tokens"]


def decision_at(t: float) -> dict[str, Any]:
    return {"type": "decision", "agent": "a", "decision_type": "routing", "chosen_option": "b",
            "confidence": 0.9, "workflow_id": "wf", "timestamp": iso(t)}  # fmt: skip


@pytest.mark.parametrize(
    ("offset", "ok"),
    [(MAX_AHEAD_SECONDS - 60, True), (MAX_AHEAD_SECONDS + 60, False), (-DAY, True)],
)
async def test_decision_timestamps_within_a_day_of_the_server_time(
    client: httpx.AsyncClient, store: TraceStore, offset: float, ok: bool
) -> None:
    r = await post_events(client, decision_at(time.time() + offset))
    assert r.status_code == (200 if ok else 422), r.text
    if not ok:
        assert fields(r) == ["events[0].timestamp"]
        assert "more than 1 day after the server's time" in r.json()["problems"][0]["message"]
    assert len(store.decisions(limit=10)) == ok


async def test_decision_timestamps_from_2000(client: httpx.AsyncClient) -> None:
    assert (await post_events(client, decision_at(EARLIEST_TIME))).status_code == 200
    r = await post_events(client, decision_at(EARLIEST_TIME - 1))
    assert r.status_code == 422, r.text
    assert fields(r) == ["events[0].timestamp"]


# --- /v1/a2a/traces ---------------------------------------------------------------------------
def step(**extra: Any) -> dict[str, Any]:
    return {"step_id": "s1", "name": "planner", "call_type": "AGENT", "latency": 100, **extra}


def trace(*steps: dict[str, Any], trace_id: str = "t1") -> dict[str, Any]:
    return {"trace_id": trace_id, "steps": list(steps)}


INPUT = "additional_attributes.gen_ai.usage.input_tokens"


@pytest.mark.parametrize(
    ("extra", "field"),
    [
        ({"cost": 1e308}, "cost"),
        ({"cost": MAX_COST_USD * (1 + 1e-9)}, "cost"),
        ({"total_tokens": 1e30}, "total_tokens"),
        ({"total_tokens": MAX_TOKENS + 1}, "total_tokens"),
        ({"additional_attributes": {"gen_ai.usage.input_tokens": MAX_TOKENS + 1}}, INPUT),
        ({"latency": MAX_DURATION_SECONDS * 1000 + 1}, "latency"),
        ({"start_time": "9999-01-01T00:00:00+00:00"}, "start_time"),
        ({"start_time": "1999-12-31T23:59:59+00:00"}, "start_time"),
        ({"end_time": "9999-01-01T00:00:00+00:00", "latency": None}, "end_time"),
    ],
)
async def test_a2a_step_values_past_their_bound_are_refused(
    client: httpx.AsyncClient,
    registry: CollectorRegistry,
    store: TraceStore,
    extra: dict[str, Any],
    field: str,
) -> None:
    batch = [trace(trace_id="good"), trace(step(**extra))]
    r = await client.post("/v1/a2a/traces", json=batch)
    assert r.status_code == 422, r.text
    assert field in {f.removeprefix("[1].steps[0].") for f in fields(r)}
    assert {p["item"] for p in r.json()["problems"]} == {1}
    assert agent_samples(registry) == {}
    assert store.list(limit=10) == []


@pytest.mark.parametrize(
    "extra",
    [
        {"cost": MAX_COST_USD},
        {"total_tokens": MAX_TOKENS},
        {"additional_attributes": {"gen_ai.usage.input_tokens": MAX_TOKENS}},
        {"latency": MAX_DURATION_SECONDS * 1000},
        {"start_time": iso(EARLIEST_TIME)},
        {"start_time": iso(time.time() + MAX_AHEAD_SECONDS - 60)},
        {"latency": None},  # neither times nor latency: fine
        {"latency": None, "end_time": iso(time.time())},  # an end without a start
    ],
)
async def test_a2a_step_values_at_their_bound_are_recorded_and_stored(
    client: httpx.AsyncClient, store: TraceStore, extra: dict[str, Any]
) -> None:
    r = await client.post("/v1/a2a/traces", json=trace(step(**extra)))
    assert r.status_code == 200, r.text
    assert store.get("t1") is not None


async def test_a2a_times_further_apart_than_7_days_are_refused(client: httpx.AsyncClient) -> None:
    start = time.time() - 30 * DAY
    ok = step(latency=None, start_time=iso(start), end_time=iso(start + MAX_DURATION_SECONDS))
    assert (await client.post("/v1/a2a/traces", json=trace(ok))).status_code == 200
    bad = step(latency=None, start_time=iso(start), end_time=iso(start + 8 * DAY))
    r = await client.post("/v1/a2a/traces", json=trace(bad))
    assert r.status_code == 422, r.text
    assert "steps[0].end_time" in fields(r)


async def test_a_nested_callee_step_is_checked_and_named(client: httpx.AsyncClient) -> None:
    callee = trace(step(cost=1e9), trace_id="callee")
    outer = step(step_action={"agent_invocation": {"agent_name": "b", "response_trace": callee}})
    r = await client.post("/v1/a2a/traces", json=trace(outer))
    assert r.status_code == 422, r.text
    assert fields(r) == ["steps[0].step_action.agent_invocation.response_trace.steps[0].cost"]


# --- /v1/traces (OTLP) ------------------------------------------------------------------------
NS = 10**9
AGENT = [
    {"key": "gen_ai.operation.name", "value": {"stringValue": "invoke_agent"}},
    {"key": "gen_ai.agent.name", "value": {"stringValue": "planner"}},
]


def otlp(start_ns: int, end_ns: int, *attributes: dict[str, Any]) -> dict[str, Any]:
    span = {
        "traceId": "5b8efff798038103d269b633813fc60c",
        "spanId": "eee19b7ec3c1b174",
        "name": "invoke_agent planner",
        "kind": 1,
        "startTimeUnixNano": str(start_ns),
        "endTimeUnixNano": str(end_ns),
        "attributes": [*AGENT, *attributes],
    }
    return {"resourceSpans": [{"scopeSpans": [{"spans": [span]}]}]}


def double(key: str, value: float) -> dict[str, Any]:
    return {"key": key, "value": {"doubleValue": value}}


def integer(key: str, value: int) -> dict[str, Any]:
    return {"key": key, "value": {"intValue": str(value)}}


def recent() -> int:
    return int((time.time() - 3600) * NS)


RECENT = recent()  # an hour before the tests started


async def post_otlp(client: httpx.AsyncClient, body: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/traces", json=body)


def messages(r: httpx.Response) -> str:
    return "\n".join(p["message"] for p in r.json()["problems"])


@pytest.mark.parametrize(
    ("start", "end", "named"),
    [
        (RECENT, 2**64 - 1, "endTimeUnixNano must not be more than 1 day"),
        (RECENT, RECENT + int(8 * DAY * NS), "endTimeUnixNano must not"),
        (int(EARLIEST_TIME * NS) - 1000, RECENT, "startTimeUnixNano must not"),
        (RECENT - int(8 * DAY * NS), RECENT, "(the duration) must be at most"),
    ],
)
async def test_otlp_span_times_out_of_bounds(
    client: httpx.AsyncClient,
    registry: CollectorRegistry,
    store: TraceStore,
    start: int,
    end: int,
    named: str,
) -> None:
    r = await post_otlp(client, otlp(start, end))
    assert r.status_code == 400, r.text
    assert named in messages(r)
    assert agent_samples(registry) == {}
    assert store.list(limit=10) == []


async def test_otlp_span_times_at_their_bounds(client: httpx.AsyncClient) -> None:
    start = int(EARLIEST_TIME * NS)
    r = await post_otlp(client, otlp(start, start + int(MAX_DURATION_SECONDS * NS)))
    assert r.status_code == 200, r.text
    end = int((time.time() + MAX_AHEAD_SECONDS - 60) * NS)
    assert (await post_otlp(client, otlp(end - NS, end))).status_code == 200


@pytest.mark.parametrize(
    ("attribute", "ok"),
    [
        (double("sloguard.cost_usd", 1e308), False),
        (double("sloguard.cost_usd", MAX_COST_USD * (1 + 1e-9)), False),
        (double("sloguard.cost_usd", MAX_COST_USD), True),
        (integer("gen_ai.usage.input_tokens", MAX_TOKENS + 1), False),
        (integer("gen_ai.usage.input_tokens", MAX_TOKENS), True),
    ],
)
async def test_otlp_figures_at_and_past_their_bound(
    client: httpx.AsyncClient, registry: CollectorRegistry, attribute: dict[str, Any], ok: bool
) -> None:
    r = await post_otlp(client, otlp(recent(), recent() + NS, attribute))
    assert r.status_code == (200 if ok else 400), r.text
    if not ok:
        assert f"{attribute['key']} must be at most" in messages(r)
        assert agent_samples(registry) == {}
