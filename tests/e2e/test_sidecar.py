"""``sloguard run --mode exporter`` as a sidecar: OTLP, A2A and events over HTTP become exact
series on its ``/metrics``; bad input gets the right status and changes nothing."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Status, StatusCode
from prometheus_client.parser import text_string_to_metric_families

from sloguard.conventions import A2A_TRACEABILITY_METADATA_KEY
from tests.support.processes import Spawn, _wait_healthy, free_port

TOKEN = "sidecar-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def sidecar(spawn: Spawn, tmp_path: Path) -> str:
    port = free_port()
    proc = spawn(
        "run",
        "--mode",
        "exporter",
        "--port",
        str(port),
        "--data-dir",
        str(tmp_path / "d"),
        env={"SLOGUARD_INGEST__TOKEN": TOKEN},
    )
    base = f"http://127.0.0.1:{port}"
    _wait_healthy(proc, base, tmp_path)
    return base


def samples(base: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    text = httpx.get(f"{base}/metrics", timeout=5).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in text_string_to_metric_families(text)
        for s in fam.samples
        if s.name.startswith("agent_") and not s.name.endswith("_created")
    }


def value(
    got: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str, **labels: str
) -> float | None:
    return got.get((name, tuple(sorted(labels.items()))))


def test_otel_sdk_with_its_otlp_exporter(sidecar: str) -> None:
    exporter = OTLPSpanExporter(endpoint=f"{sidecar}/v1/traces", headers=AUTH)
    # a whole trace, exported at the end so the sidecar sees the tree in one request
    provider = TracerProvider(resource=Resource.create({"service.name": "agents"}))
    provider.add_span_processor(BatchSpanProcessor(exporter, schedule_delay_millis=60_000))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span(
        "invoke_agent planner",
        attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "planner"},
    ):
        with tracer.start_as_current_span(
            "chat gpt-4o",
            attributes={
                "gen_ai.operation.name": "chat",
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 100,
                "gen_ai.usage.output_tokens": 20,
            },
        ):
            pass
        with tracer.start_as_current_span(
            "execute_tool search",
            attributes={"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "search"},
        ) as tool:
            tool.set_status(Status(StatusCode.ERROR, "timeout"))
        with tracer.start_as_current_span(
            "invoke_agent writer",
            attributes={"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "writer"},
        ):
            pass
    assert provider.force_flush(10_000)
    provider.shutdown()
    got = samples(sidecar)
    assert value(got, "agent_calls_total", agent_name="planner", status="success") == 1
    assert value(got, "agent_calls_total", agent_name="writer", status="success") == 1
    assert (
        value(
            got, "agent_tool_calls_total", agent_name="planner", tool_name="search", status="error"
        )
        == 1
    )
    assert (
        value(
            got, "agent_token_usage_total", agent_name="planner", model="gpt-4o", direction="input"
        )
        == 100
    )
    assert (
        value(
            got, "agent_token_usage_total", agent_name="planner", model="gpt-4o", direction="output"
        )
        == 20
    )
    assert value(got, "agent_handoffs_total", source_agent="planner", target_agent="writer") == 1


FLAT = {
    "trace_id": "t-flat",
    "steps": [
        {
            "step_id": "s1",
            "call_type": "AGENT",
            "name": "coordinator",
            "latency": 1200,
            "cost": 0.5,
            "total_tokens": 300,
            "additional_attributes": {
                "gen_ai.request.model": "gpt-4o",
                "gen_ai.usage.input_tokens": 200,
                "gen_ai.usage.output_tokens": 100,
            },
        },
        {
            "step_id": "s2",
            "parent_step_id": "s1",
            "call_type": "TOOL",
            "name": "db",
            "latency": 80,
            "error": "timeout",
        },
    ],
}
NESTED = {
    "traceId": "t-nested",
    "steps": [
        {
            "stepId": "n1",
            "callType": "AGENT",
            "latency": 2000,
            "stepAction": {
                "agentInvocation": {
                    "agentUrl": "http://analysis",
                    "agentName": "analysis",
                    "requests": {},
                }
            },
        }
    ],
}


def test_a2a_shapes_and_events(sidecar: str) -> None:
    for body in (FLAT, {A2A_TRACEABILITY_METADATA_KEY: NESTED}):
        r = httpx.post(f"{sidecar}/v1/a2a/traces", json=body, headers=AUTH, timeout=10)
        assert r.status_code == 200, r.text
    events = {
        "events": [
            {
                "type": "agent_call",
                "agent": "go-agent",
                "status": "error",
                "duration_seconds": 0.4,
                "model": "gpt-4o-mini",
                "input_tokens": 10,
                "output_tokens": 5,
                "cost_usd": 0.001,
            },
            {"type": "handoff", "source_agent": "go-agent", "target_agent": "coordinator"},
            {"type": "routing_outcome", "agent": "go-agent", "outcome": "correct"},
        ]
    }
    r = httpx.post(f"{sidecar}/v1/events", json=events, headers=AUTH, timeout=10)
    assert r.status_code == 200, r.text
    got = samples(sidecar)
    assert value(got, "agent_calls_total", agent_name="coordinator", status="success") == 1
    assert value(got, "agent_latency_seconds_sum", agent_name="coordinator") == 1.2
    assert value(got, "agent_cost_usd_total", agent_name="coordinator", model="gpt-4o") == 0.5
    assert (
        value(
            got, "agent_tool_calls_total", agent_name="coordinator", tool_name="db", status="error"
        )
        == 1
    )
    assert value(got, "agent_calls_total", agent_name="analysis", status="success") == 1
    assert value(got, "agent_calls_total", agent_name="go-agent", status="error") == 1
    assert (
        value(got, "agent_handoffs_total", source_agent="go-agent", target_agent="coordinator") == 1
    )
    assert value(got, "agent_routing_outcomes_total", agent_name="go-agent", outcome="correct") == 1


def test_bad_input_changes_nothing(sidecar: str) -> None:
    before = samples(sidecar)
    url = f"{sidecar}/v1/events"
    cases: list[tuple[dict[str, str], bytes, int, str]] = [
        ({}, b'{"events": []}', 401, "bearer"),
        ({"Authorization": "Bearer wrong"}, b'{"events": []}', 401, "bearer"),
        (AUTH, b'{"events": [', 400, ""),
        (AUTH, b"[" * 1000 + b"]" * 1000, 400, "nest"),
        (AUTH, b'{"events": [' + b" " * (10 << 20) + b"]}", 413, "larger than"),
        (
            AUTH,
            json.dumps(
                {
                    "events": [
                        {
                            "type": "agent_call",
                            "agent": "x",
                            "status": "success",
                            "duration_seconds": 1,
                        },
                        {
                            "type": "agent_call",
                            "agent": "x",
                            "status": "maybe",
                            "duration_seconds": -1,
                        },
                    ]
                }
            ).encode(),
            422,
            "events[1]",
        ),
    ]
    for headers, body, status, needle in cases:
        r = httpx.post(
            url, content=body, timeout=30, headers={"Content-Type": "application/json", **headers}
        )
        assert r.status_code == status, (status, r.text[:300])
        assert needle.lower() in r.text.lower()
    assert samples(sidecar) == before
    # a rejected trace batch is not stored either
    bad_trace = {"trace_id": "t-bad", "steps": [{"call_type": "AGENT", "name": "a", "cost": -1}]}
    r = httpx.post(f"{sidecar}/v1/a2a/traces", json=bad_trace, headers=AUTH, timeout=10)
    assert r.status_code == 422
    assert httpx.get(f"{sidecar}/api/v1/traces/t-bad", timeout=5).status_code == 404
