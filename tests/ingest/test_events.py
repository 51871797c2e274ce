"""POST /v1/events: every event type → exact samples; validation names every problem; pricing."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.errors import ConfigError
from sloguard.ingest.eventmodel import EVENT_TYPES
from sloguard.ingest.pricing import ModelPrice, PriceTable, load_pricing
from sloguard.ingest.router import ingest_router
from sloguard.sdk.recorder import Recorder
from sloguard.web.server import create_app

PRICES = PriceTable("test-1", {"gpt-4o": ModelPrice(input=2.5, output=10.0)})


@pytest.fixture
async def client(
    registry: CollectorRegistry, recorder: Recorder
) -> AsyncIterator[httpx.AsyncClient]:
    router = ingest_router(recorder, token=None, pricing=PRICES, max_items=5)
    app = create_app(registry, routers=[router])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sloguard"
    ) as c:
        yield c


def samples(registry: CollectorRegistry) -> dict[tuple[str, Any], float]:
    """Every sample except the ingest's own request counters."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in registry.collect()
        for s in m.samples
        if not s.name.startswith("sloguard_ingest_")
    }


async def post(client: httpx.AsyncClient, *events: dict[str, Any]) -> httpx.Response:
    return await client.post("/v1/events", json={"events": list(events)})


# --- each event type ----------------------------------------------------------------------------

CASES: list[tuple[dict[str, Any], list[tuple[str, dict[str, str], float]]]] = [
    (
        {"type": "agent_call", "agent": "planner", "status": "error", "duration_seconds": 1.5,
         "model": "gpt-4o", "input_tokens": 1000, "output_tokens": 100, "cost_usd": 0.5},
        [
            ("agent_calls_total", {"agent_name": "planner", "status": "error"}, 1),
            ("agent_latency_seconds_sum", {"agent_name": "planner"}, 1.5),
            ("agent_latency_seconds_bucket", {"agent_name": "planner", "le": "2.0"}, 1),
            ("agent_token_usage_total",
             {"agent_name": "planner", "model": "gpt-4o", "direction": "input"}, 1000),
            ("agent_token_usage_total",
             {"agent_name": "planner", "model": "gpt-4o", "direction": "output"}, 100),
            ("agent_cost_usd_total", {"agent_name": "planner", "model": "gpt-4o"}, 0.5),
        ],
    ),
    (
        {"type": "tool_call", "agent": "planner", "tool": "search", "status": "success",
         "duration_seconds": 0.3},
        [
            ("agent_tool_calls_total",
             {"agent_name": "planner", "tool_name": "search", "status": "success"}, 1),
            ("agent_tool_call_seconds_sum", {"agent_name": "planner", "tool_name": "search"}, 0.3),
        ],
    ),
    (
        {"type": "tool_call", "tool": "search", "status": "success", "duration_seconds": 0},
        [("agent_tool_calls_total",
          {"agent_name": "unknown", "tool_name": "search", "status": "success"}, 1)],
    ),
    (
        {"type": "handoff", "source_agent": "planner", "target_agent": "writer"},
        [("agent_handoffs_total", {"source_agent": "planner", "target_agent": "writer"}, 1)],
    ),
    (
        {"type": "decision", "agent": "router", "decision_type": "route", "confidence": 0.85},
        [
            ("agent_decisions_total", {"agent_name": "router", "decision_type": "route"}, 1),
            ("agent_decision_confidence_sum",
             {"agent_name": "router", "decision_type": "route"}, 0.85),
        ],
    ),
    (
        {"type": "routing_outcome", "agent": "router", "outcome": "incorrect"},
        [("agent_routing_outcomes_total", {"agent_name": "router", "outcome": "incorrect"}, 1)],
    ),
    (
        {"type": "usage", "agent": "writer", "model": "gpt-4o", "total_tokens": 700,
         "cost_usd": 0.0},
        [
            ("agent_token_usage_total",
             {"agent_name": "writer", "model": "gpt-4o", "direction": "total"}, 700),
            ("agent_cost_usd_total", {"agent_name": "writer", "model": "gpt-4o"}, 0.0),
            ("agent_calls_total", {"agent_name": "writer", "status": "success"}, -1),
        ],
    ),
    (
        {"type": "anomaly", "agent": "router", "anomaly": "low_confidence"},
        [("agent_anomalies_total", {"agent_name": "router", "anomaly": "low_confidence"}, 1)],
    ),
]  # fmt: skip


@pytest.mark.parametrize(
    ("event", "expected"), CASES, ids=lambda x: x.get("type") if isinstance(x, dict) else ""
)
async def test_each_event_type_records_exactly(
    client: httpx.AsyncClient,
    registry: CollectorRegistry,
    event: dict[str, Any],
    expected: list[tuple[str, dict[str, str], float]],
) -> None:
    r = await post(client, event)
    assert (r.status_code, r.json()) == (200, {"accepted": 1})
    for name, labels, want in expected:
        got = registry.get_sample_value(name, labels)
        assert got == (None if want == -1 else want), (name, labels)


def test_every_event_type_has_a_case() -> None:
    assert {event["type"] for event, _ in CASES} == set(EVENT_TYPES)


async def test_a_mixed_batch_is_recorded_together(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    r = await post(client, *(event for event, _ in CASES[:5]))
    assert (r.status_code, r.json()) == (200, {"accepted": 5})
    assert registry.get_sample_value("sloguard_ingest_items_total", {"endpoint": "events"}) == 5


async def test_trace_id_is_the_latency_exemplar(client: httpx.AsyncClient) -> None:
    event = {"type": "agent_call", "agent": "a", "status": "success", "duration_seconds": 0.2,
             "trace_id": "0af7651916cd43dd8448eb211c80319c"}  # fmt: skip
    assert (await post(client, event)).status_code == 200
    r = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert 'trace_id="0af7651916cd43dd8448eb211c80319c"' in r.text


# --- cost ---------------------------------------------------------------------------------------


async def test_cost_is_computed_from_the_table_when_not_given(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    r = await post(
        client,
        {"type": "agent_call", "agent": "a", "status": "success", "duration_seconds": 1,
         "model": "gpt-4o", "input_tokens": 4000, "output_tokens": 1000},
        {"type": "usage", "agent": "a", "model": "mystery-7b", "input_tokens": 10,
         "output_tokens": 5},
        {"type": "usage", "agent": "a", "input_tokens": 3},
        {"type": "usage", "agent": "b", "model": "mystery-7b", "input_tokens": 0,
         "output_tokens": 0},
    )  # fmt: skip
    assert r.status_code == 200, r.text
    cost = registry.get_sample_value
    assert cost("agent_cost_usd_total", {"agent_name": "a", "model": "gpt-4o"}) == 0.02
    assert cost("sloguard_unpriced_tokens_total", {"model": "mystery-7b"}) == 15
    assert cost("sloguard_unpriced_tokens_total", {"model": "unknown"}) == 3
    # Zero tokens cost zero whatever the model.
    assert cost("agent_cost_usd_total", {"agent_name": "b", "model": "mystery-7b"}) == 0


# --- validation -----------------------------------------------------------------------------


async def test_every_problem_is_listed_with_item_and_field_and_nothing_recorded(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    before = samples(registry)
    r = await post(
        client,
        {"type": "handoff", "source_agent": "a", "target_agent": "b"},  # fine, still not recorded
        {"type": "agent_call", "agent": "", "status": "ok", "duration_seconds": -1},
        {"type": "tool_call", "tool": "t", "status": "success", "duration_seconds": "0.5",
         "agnet": "typo"},
        {"type": "usage", "agent": "a", "input_tokens": 10, "output_tokens": 5, "total_tokens": 9},
        {"type": "teleport", "agent": "a"},
    )  # fmt: skip
    assert r.status_code == 422
    body = r.json()
    assert body["error"] == "invalid batch: 7 problems"
    assert [(p["item"], p["field"]) for p in body["problems"]] == [
        (1, "events[1].agent"),
        (1, "events[1].status"),
        (1, "events[1].duration_seconds"),
        (2, "events[2].duration_seconds"),
        (2, "events[2].agnet"),
        (3, "events[3].total_tokens"),
        (4, "events[4].type"),
    ]
    messages = {p["field"]: p["message"] for p in body["problems"]}
    assert messages["events[1].duration_seconds"] == (
        "Input should be greater than or equal to 0 (got -1)"
    )
    assert messages["events[2].agnet"] == "unknown key 'agnet', did you mean 'agent'?"
    assert messages["events[3].total_tokens"] == (
        "total_tokens (9) is less than input_tokens + output_tokens (15)"
    )
    assert "unknown event type 'teleport'" in messages["events[4].type"]
    assert samples(registry) == before


@pytest.mark.parametrize(
    ("event", "field"),
    [
        ({"type": "agent_call", "agent": "a", "status": "success", "duration_seconds": 1,
          "input_tokens": True}, "input_tokens"),
        ({"type": "agent_call", "agent": "a", "status": "success", "duration_seconds": 1,
          "input_tokens": 1.5}, "input_tokens"),
        ({"type": "decision", "agent": "a", "decision_type": "d", "confidence": 1.2}, "confidence"),
        ({"type": "agent_call", "agent": 7, "status": "success", "duration_seconds": 1}, "agent"),
        ({"type": "agent_call", "agent": "a", "status": "success", "duration_seconds": 1,
          "trace_id": "t" * 121}, "trace_id"),
        ({"type": "routing_outcome", "agent": "a", "outcome": True}, "outcome"),
        ({"type": "handoff", "source_agent": "a"}, "target_agent"),
    ],
)  # fmt: skip
async def test_types_are_strict(
    client: httpx.AsyncClient, event: dict[str, Any], field: str
) -> None:
    r = await post(client, event)
    assert r.status_code == 422
    assert [p["field"] for p in r.json()["problems"]] == [f"events[0].{field}"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ([], ""),
        ({"event": []}, "event"),
        ({"events": {}}, "events"),
        ({"events": [{"type": "handoff", "source_agent": "a", "target_agent": "b"}] * 6}, "events"),
    ],
)
async def test_the_body_shape_is_checked(client: httpx.AsyncClient, body: Any, field: str) -> None:
    r = await client.post("/v1/events", json=body)
    assert r.status_code == 422
    assert r.json()["problems"][0]["field"] == field
    assert r.json()["problems"][0]["item"] is None


async def test_an_empty_batch_is_fine(client: httpx.AsyncClient) -> None:
    r = await client.post("/v1/events", json={"events": []})
    assert (r.status_code, r.json()) == (200, {"accepted": 0})


# --- the pricing table ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "priced_as"),
    [
        ("gpt-4o", "gpt-4o"),
        ("GPT-4o", "gpt-4o"),
        ("gpt-4o-2024-08-06", "gpt-4o"),
        ("gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("openai/gpt-4.1-mini", "gpt-4.1-mini"),
        ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
        ("claude-sonnet-4-20250514", "claude-sonnet-4"),
        ("models/gemini-2.0-flash-001", "gemini-2.0-flash"),
        ("gemini-2.5-flash-preview-05-20", "gemini-2.5-flash"),
        ("mistral-large-latest", "mistral-large"),
        ("gpt-4o-audio-preview-extra", None),  # an unknown variant is not priced as its neighbour
        ("llama-3.1-8b", None),
        ("", None),
    ],
)
def test_model_names_match_exactly_up_to_provider_prefix_and_version(
    model: str, priced_as: str | None
) -> None:
    table = load_pricing()
    assert table.lookup(model) == (table.prices[priced_as] if priced_as else None)


def test_the_packaged_table_is_versioned_and_priced_per_million_tokens() -> None:
    table = load_pricing()
    assert table.version == "2025-06-15"
    assert table.cost("gpt-4o", 1_000_000, 0) == table.prices["gpt-4o"].input
    assert table.cost("gpt-4o", 0, 0) == 0
    assert table.cost("nope", 10, 10) is None
    assert len(table.prices) >= 20


def test_overrides_replace_and_add_prices() -> None:
    table = load_pricing(overrides={"gpt-4o": ModelPrice(1, 2), "My-Finetune": ModelPrice(3, 4)})
    assert table.version == "2025-06-15+overrides"
    assert table.cost("gpt-4o", 1_000_000, 1_000_000) == 3
    assert table.cost("my-finetune", 1_000_000, 0) == 3
    assert load_pricing().cost("gpt-4o", 1_000_000, 0) == 2.5  # the packaged table is untouched
    with pytest.raises(ValueError, match="input price must be a number >= 0"):
        ModelPrice(-1, 0)


def test_a_pricing_file_is_validated_with_lines(tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text('version: "2026-01"\nmodels:\n  house-model: {input: 1, output: 2}\n')
    assert load_pricing(good).cost("house-model", 1_000_000, 1_000_000) == 3
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "version: ''\ncurrency: EUR\nmodels:\n  a: {input: -1, output: 1}\n  b: {input: 1}\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_pricing(bad)
    where = [(p.line, p.field) for p in exc.value.problems]
    assert where == [
        (1, "version"),
        (2, "currency"),
        (4, "models.a.input"),
        (5, "models.b.output"),
    ]
