"""POST /v1/a2a/traces: both ResponseTrace shapes, the metadata wrapper and batches → metrics.

Every test builds the real app (``create_app`` + ``ingest_router``) on a fresh registry and talks
to it in-process over ASGI; expectations are exact samples of the registry or of a /metrics
scrape.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from sloguard import CallType, ResponseTrace, Telemetry, TraceStep, use_telemetry
from sloguard.conventions import A2A_TRACEABILITY_METADATA_KEY
from sloguard.ingest.pricing import ModelPrice, PriceTable
from sloguard.ingest.router import ingest_router
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.web.server import create_app

PRICES = PriceTable("test-1", {"gpt-4o": ModelPrice(input=2.5, output=10.0)})


@pytest.fixture
async def client(
    registry: CollectorRegistry, recorder: Recorder
) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(registry, routers=[ingest_router(recorder, token=None, pricing=PRICES)])
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://sloguard"
    ) as c:
        yield c


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


class Samples:
    """``v("agent_calls_total", agent_name="a", status="success")``: one sample's value."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def __call__(self, name: str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, labels)


# A supervisor that searches, then hands work to a writer (flat shape of the sample library).
FLAT: dict[str, Any] = {
    "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
    "steps": [
        {
            "step_id": "s1",
            "trace_id": "4bf92f3577b34da6a3ce929d0e0e4736",
            "parent_step_id": None,
            "call_type": "AGENT",
            "name": "supervisor",
            "parameters": {"query": "q3 revenue"},
            "requests": None,
            "step_type": None,
            "cost": 0.0,
            "total_tokens": 0,
            "additional_attributes": {},
            "latency": 2500,
            "start_time": "2025-06-01T12:00:00+00:00",
            "end_time": "2025-06-01T12:00:02.500000+00:00",
            "error": None,
        },
        {
            "step_id": "s2",
            "parent_step_id": "s1",
            "call_type": "TOOL",
            "name": "web_search",
            "latency": 400,
        },
        {
            "step_id": "s3",
            "parent_step_id": "s1",
            "call_type": "AGENT",
            "name": "writer",
            "cost": 0.02,
            "additional_attributes": {
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 1200,
                "gen_ai.usage.output_tokens": 300,
            },
            "latency": 1500,
        },
        {
            "step_id": "s4",
            "parent_step_id": "s3",
            "call_type": "TOOL",
            "name": "spell_check",
            "latency": 50,
            "error": "TimeoutError: spell checker timed out",
        },
    ],
}


async def test_flat_trace_records_agents_tools_handoffs_tokens_and_provider_cost(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    r = await client.post("/v1/a2a/traces", json=FLAT)
    assert (r.status_code, r.json()) == (200, {"accepted": 1, "steps": 4})
    v = Samples(registry)
    assert v("agent_calls_total", agent_name="supervisor", status="success") == 1
    assert v("agent_calls_total", agent_name="writer", status="success") == 1
    assert v("agent_latency_seconds_sum", agent_name="supervisor") == 2.5
    assert v("agent_latency_seconds_bucket", agent_name="writer", le="2.0") == 1
    assert v("agent_latency_seconds_bucket", agent_name="writer", le="1.0") == 0
    # Tool calls under the enclosing agent; the failed one counted as an error.
    assert v("agent_tool_calls_total", agent_name="supervisor", tool_name="web_search",
             status="success") == 1  # fmt: skip
    assert v("agent_tool_calls_total", agent_name="writer", tool_name="spell_check",
             status="error") == 1  # fmt: skip
    assert v("agent_tool_call_seconds_sum", agent_name="supervisor", tool_name="web_search") == 0.4
    assert v("agent_handoffs_total", source_agent="supervisor", target_agent="writer") == 1
    assert v("agent_token_usage_total", agent_name="writer", model="gpt-4o",
             direction="input") == 1200  # fmt: skip
    assert v("agent_token_usage_total", agent_name="writer", model="gpt-4o",
             direction="output") == 300  # fmt: skip
    # The provider's cost wins over the table (which would say 0.006).
    assert v("agent_cost_usd_total", agent_name="writer", model="gpt-4o") == 0.02
    # Zero values are kept, not dropped.
    assert v("agent_cost_usd_total", agent_name="supervisor", model="unknown") == 0.0


# The spec's nested shape in protobuf-JSON camelCase: a coordinator invokes a researcher agent
# whose whole trace (a tool call and an LLM-backed summary step) is nested in the invocation.
NESTED: dict[str, Any] = {
    "traceId": "trace-nested-1",
    "steps": [
        {"stepId": "c1", "callType": "AGENT", "name": "coordinator", "latency": "3000"},
        {
            "stepId": "c2",
            "parentStepId": "c1",
            "latency": 2000,
            "stepAction": {
                "agentInvocation": {
                    "agentUrl": "http://researcher.local",
                    "agentName": "researcher",
                    "requests": {"text": "find sources", "api_key": "sk-live-123"},
                    "responseTrace": {
                        "traceId": "trace-nested-1",
                        "steps": [
                            {
                                "stepId": "r1",
                                "latency": 700,
                                "stepAction": {
                                    "toolInvocation": {
                                        "toolName": "arxiv_search",
                                        "parameters": {"q": "slo", "password": "hunter2"},
                                    }
                                },
                            },
                            {
                                "stepId": "r2",
                                "callType": "HOST",
                                "name": "summarize",
                                "additionalAttributes": {
                                    "gen_ai.request.model": "gpt-4o",
                                    "gen_ai.usage.input_tokens": 4000,
                                    "gen_ai.usage.output_tokens": 1000,
                                },
                            },
                        ],
                    },
                }
            },
        },
    ],
}


async def test_nested_spec_shape_in_camel_case(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    r = await client.post("/v1/a2a/traces", json=NESTED)
    assert (r.status_code, r.json()) == (200, {"accepted": 1, "steps": 4})
    v = Samples(registry)
    assert v("agent_calls_total", agent_name="coordinator", status="success") == 1
    assert v("agent_latency_seconds_sum", agent_name="coordinator") == 3.0
    assert v("agent_calls_total", agent_name="researcher", status="success") == 1
    assert v("agent_handoffs_total", source_agent="coordinator", target_agent="researcher") == 1
    # The callee's tool call is the researcher's.
    assert v("agent_tool_calls_total", agent_name="researcher", tool_name="arxiv_search",
             status="success") == 1  # fmt: skip
    # A HOST step reports only its own usage, priced from the table: 4000·2.5 + 1000·10 per 1M.
    assert v("agent_token_usage_total", agent_name="summarize", model="gpt-4o",
             direction="input") == 4000  # fmt: skip
    assert v("agent_cost_usd_total", agent_name="summarize", model="gpt-4o") == pytest.approx(0.02)
    assert v("agent_calls_total", agent_name="summarize", status="success") is None


async def test_metadata_wrapper_as_found_in_a_message(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    metadata = {A2A_TRACEABILITY_METADATA_KEY: FLAT, "other-extension/key": {"x": 1}}
    r = await client.post("/v1/a2a/traces", json=metadata)
    assert (r.status_code, r.json()) == (200, {"accepted": 1, "steps": 4})
    assert value(registry, "agent_calls_total", agent_name="writer", status="success") == 1


@pytest.mark.parametrize("wrap", [lambda ts: ts, lambda ts: {"traces": ts}], ids=["list", "traces"])
async def test_batches_of_traces_in_any_shape(
    client: httpx.AsyncClient, registry: CollectorRegistry, wrap: Any
) -> None:
    body = wrap([FLAT, NESTED, {A2A_TRACEABILITY_METADATA_KEY: FLAT}])
    r = await client.post("/v1/a2a/traces", json=body)
    assert (r.status_code, r.json()) == (200, {"accepted": 3, "steps": 12})
    assert value(registry, "agent_calls_total", agent_name="writer", status="success") == 2
    assert value(registry, "agent_calls_total", agent_name="researcher", status="success") == 1
    assert value(registry, "sloguard_ingest_items_total", endpoint="a2a") == 3
    assert value(registry, "sloguard_ingest_requests_total", endpoint="a2a",
                 result="accepted") == 1  # fmt: skip


async def test_cost_from_the_pricing_table_and_unpriced_tokens_counted(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    def step(name: str, model: str, **attrs: int) -> dict[str, Any]:
        attributes = {
            "gen_ai.request.model": model,
            **{f"gen_ai.usage.{k}": n for k, n in attrs.items()},
        }
        return {"name": name, "latency": 10, "additional_attributes": attributes}

    trace = {
        "steps": [
            step("a", "GPT-4o-2024-08-06", input_tokens=2000, output_tokens=500),  # dated, any case
            step("b", "llama-local", input_tokens=70, output_tokens=30),  # no price
            {"name": "c", "latency": 10, "total_tokens": 900,  # no split: cannot be priced
             "additional_attributes": {"gen_ai.request.model": "gpt-4o"}},
        ]
    }  # fmt: skip
    r = await client.post("/v1/a2a/traces", json=trace)
    assert r.status_code == 200, r.text
    v = Samples(registry)
    assert v("agent_cost_usd_total", agent_name="a", model="GPT-4o-2024-08-06") == 0.01
    # Nothing added to the cost (the series exists with the token series); the tokens are
    # counted as unpriced instead of silently costing nothing.
    assert v("agent_cost_usd_total", agent_name="b", model="llama-local") == 0
    assert v("sloguard_unpriced_tokens_total", model="llama-local") == 100
    assert v("agent_token_usage_total", agent_name="c", model="gpt-4o", direction="total") == 900
    assert v("sloguard_unpriced_tokens_total", model="gpt-4o") == 900
    assert v("sloguard_pricing_info", version="test-1") == 1


async def test_scraped_metrics_show_what_was_ingested(client: httpx.AsyncClient) -> None:
    assert (await client.post("/v1/a2a/traces", json=FLAT)).status_code == 200
    r = await client.get("/metrics")
    samples = {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(r.text)
        for s in family.samples
    }
    assert samples[("agent_calls_total", (("agent_name", "writer"), ("status", "success")))] == 1
    key = ("agent_handoffs_total", (("source_agent", "supervisor"), ("target_agent", "writer")))
    assert samples[key] == 1
    ingest = ("sloguard_ingest_requests_total", (("endpoint", "a2a"), ("result", "accepted")))
    assert samples[ingest] == 1


async def test_trace_ids_become_exemplars_and_overlong_ones_are_left_out(
    client: httpx.AsyncClient,
) -> None:
    long_id = "x" * 200
    body = [FLAT, {"trace_id": long_id, "steps": [{"name": "long", "latency": 5}]}]
    assert (await client.post("/v1/a2a/traces", json=body)).status_code == 200
    r = await client.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert 'trace_id="4bf92f3577b34da6a3ce929d0e0e4736"' in r.text
    assert long_id not in r.text
    assert 'agent_calls_total{agent_name="long",status="success"} 1.0' in r.text


async def test_ingest_and_sdk_record_the_same_samples(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    """The ingest goes through the SDK's own mapping: the same trace, the same metrics."""
    sdk_registry = CollectorRegistry()
    trace = ResponseTrace("same-mapping")
    telemetry = Telemetry(Recorder(AgentMetrics(registry=sdk_registry)))
    with use_telemetry(telemetry), TraceStep(trace, CallType.AGENT, "planner") as planner:
        with TraceStep(trace, CallType.TOOL, "lookup") as tool:
            tool.end_step(latency=120)
        with pytest.raises(RuntimeError), TraceStep(trace, CallType.AGENT, "coder") as coder:
            coder.end_step(latency=800, model="gpt-4o", input_tokens=10, output_tokens=5,
                           cost=0.5)  # fmt: skip
            raise RuntimeError("compile failed")
        planner.end_step(latency=1500, cost=0.0, total_tokens=0)
    assert (await client.post("/v1/a2a/traces", json=trace.as_dict())).status_code == 200

    def agent_samples(reg: CollectorRegistry) -> dict[tuple[str, Any], float]:
        return {
            (s.name, tuple(sorted(s.labels.items()))): s.value
            for m in reg.collect()
            for s in m.samples
            if s.name.startswith("agent_") and not s.name.endswith("_created")
        }

    assert agent_samples(registry) == agent_samples(sdk_registry)
    assert value(registry, "agent_calls_total", agent_name="coder", status="error") == 1


async def test_a_step_the_recorder_refuses_rejects_the_batch_with_its_field(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    bad = {
        "name": "bad",
        "total_tokens": 5,  # less than input + output: the parser lets it through, not the recorder
        "additional_attributes": {"gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 3},
    }
    body = [FLAT, {"steps": [{"name": "fine"}, bad]}]
    r = await client.post("/v1/a2a/traces", json=body)
    assert r.status_code == 422
    assert r.json()["problems"] == [
        {
            "item": 1,
            "field": "[1].steps[1].total_tokens",
            "message": "total_tokens (5) is less than input_tokens + output_tokens (13)",
        }
    ]
    assert value(registry, "agent_calls_total", agent_name="supervisor", status="success") is None


async def test_parser_problems_are_each_located_in_the_batch(client: httpx.AsyncClient) -> None:
    body = {
        "traces": [
            FLAT,
            {"steps": [{"name": "a", "cost": -1}, {"call_type": "ROBOT", "name": 7}]},
            {"trace_id": "no-steps"},
            {A2A_TRACEABILITY_METADATA_KEY: {"steps": "nope"}},
        ]
    }
    r = await client.post("/v1/a2a/traces", json=body)
    assert r.status_code == 422
    got = [(p["item"], p["field"]) for p in r.json()["problems"]]
    assert got == [
        (1, "traces[1].steps[0].cost"),
        (1, "traces[1].steps[1].call_type"),
        (1, "traces[1].steps[1].name"),
        (2, "traces[2].steps"),
        (3, f"traces[3].{A2A_TRACEABILITY_METADATA_KEY}.steps"),
    ]
    assert r.json()["error"] == "invalid batch: 5 problems"


async def test_callee_traces_nested_deeper_than_the_bound_are_refused(
    registry: CollectorRegistry, recorder: Recorder
) -> None:
    def nested(depth: int) -> dict[str, Any]:
        trace: dict[str, Any] = {"steps": [{"name": "leaf", "latency": 1}]}
        for i in range(depth):
            invocation = {"agentName": f"agent{i}", "responseTrace": trace}
            trace = {"steps": [{"latency": 1, "stepAction": {"agentInvocation": invocation}}]}
        return trace

    app = create_app(registry, routers=[ingest_router(recorder, token=None, max_depth=3)])
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://x") as c:
        ok = await c.post("/v1/a2a/traces", json=nested(3))
        deep = await c.post("/v1/a2a/traces", json=nested(4))
    assert (ok.status_code, ok.json()["steps"]) == (200, 4)
    assert deep.status_code == 422
    assert "nesting deeper than 3 traces" in deep.json()["problems"][0]["message"]


async def test_callee_trace_recorded_by_its_own_sloguard_counts_only_the_handoff(
    client: httpx.AsyncClient, registry: CollectorRegistry
) -> None:
    callee = {
        "trace_id": "t",
        "steps": [
            {
                "step_id": "c1",
                "call_type": "AGENT",
                "name": "analysis",
                "latency": 900,
                "additional_attributes": {"sloguard.metrics_recorded": True},
            },
            {
                "step_id": "c2",
                "parent_step_id": "c1",
                "call_type": "TOOL",
                "name": "sql",
                "latency": 100,
            },
        ],
    }
    caller = {
        "trace_id": "t",
        "steps": [
            {"step_id": "s1", "call_type": "AGENT", "name": "planner", "latency": 1500},
            {
                "step_id": "s2",
                "parent_step_id": "s1",
                "call_type": "AGENT",
                "latency": 1000,
                "step_action": {
                    "agent_invocation": {
                        "agent_url": "http://analysis",
                        "agent_name": "analysis",
                        "response_trace": callee,
                    }
                },
            },
        ],
    }
    r = await client.post("/v1/a2a/traces", json=caller)
    assert r.status_code == 200, r.text
    get = Samples(registry)
    assert get("agent_calls_total", agent_name="planner", status="success") == 1
    assert get("agent_handoffs_total", source_agent="planner", target_agent="analysis") == 1
    # the callee's sloguard counted analysis and its tool: not again here
    assert get("agent_calls_total", agent_name="analysis", status="success") is None
    assert (
        get("agent_tool_calls_total", agent_name="analysis", tool_name="sql", status="success")
        is None
    )
