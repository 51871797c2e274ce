"""Latency and tool-duration observations carry the trace id as an OpenMetrics exemplar.

Both paths are checked: the SDK (decorated agents and tools) and OTLP ingest (the real OTel
SDK and OTLP/HTTP exporter against the local receiver of ``tests/support/otlp.py``).
"""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import generate_latest as generate_text
from prometheus_client.openmetrics.exposition import generate_latest
from prometheus_client.openmetrics.parser import text_string_to_metric_families

from sloguard import (
    AgentMetrics,
    CardinalityGuard,
    Recorder,
    Telemetry,
    current_step,
    trace_agent_call,
    trace_tool_call,
)
from tests.support.otlp import S, emit, exporting, flush, op, receiving

LATENCY = "agent_latency_seconds"
TOOL = "agent_tool_call_seconds"


def openmetrics(registry: CollectorRegistry) -> str:
    """The OpenMetrics exposition (what ``/metrics`` answers to an OpenMetrics Accept)."""
    text: bytes = generate_latest(registry)  # type: ignore[no-untyped-call]
    return text.decode()


def exemplars(registry: CollectorRegistry, family: str) -> dict[tuple[str, str], str]:
    """Return ``{(agent, bucket bound): exemplar trace id}`` from the OpenMetrics exposition."""
    found: dict[tuple[str, str], str] = {}
    families = text_string_to_metric_families(openmetrics(registry))  # type: ignore[no-untyped-call]
    for metric in families:
        if metric.name != family:
            continue
        for sample in metric.samples:
            if sample.name == f"{family}_bucket" and sample.exemplar is not None:
                key = (sample.labels["agent_name"], sample.labels["le"])
                found[key] = sample.exemplar.labels["trace_id"]
    return found


@trace_tool_call(name="lookup")
async def lookup(key: str) -> str:
    await asyncio.sleep(0)
    return key


@trace_agent_call(name="planner")
async def planner(task: str) -> str:
    step = current_step()
    assert step is not None
    await lookup(task)
    return step.trace_id


async def test_sdk_observations_carry_the_trace_id(
    telemetry: Telemetry, registry: CollectorRegistry
) -> None:
    trace_id = await planner("x")
    latency = exemplars(registry, LATENCY)
    tools = exemplars(registry, TOOL)
    # Each observation's exemplar sits on the smallest bucket that holds it.
    assert set(latency.values()) == {trace_id}
    assert set(tools.values()) == {trace_id}
    assert [agent for agent, _ in latency] == ["planner"]
    assert [agent for agent, _ in tools] == ["planner"]
    exposition = openmetrics(registry)
    assert f'# {{trace_id="{trace_id}"}}' in exposition
    # The Prometheus text format has no exemplars.
    assert "trace_id" not in generate_text(registry).decode()


def test_otlp_ingest_observations_carry_the_otel_trace_id(registry: CollectorRegistry) -> None:
    recorder = Recorder(AgentMetrics(registry=registry), CardinalityGuard())
    tree = S("invoke_agent planner", op("invoke_agent", gen_ai__agent__name="planner"), 0, 1.5, [
        S("execute_tool lookup", op("execute_tool", gen_ai__tool__name="lookup"), 0.25, 0.75),
    ])  # fmt: skip
    with receiving(recorder) as receiver, exporting(receiver) as provider:
        root = emit(provider.get_tracer("app"), tree)
        assert flush(provider, receiver).status == 200
    trace_id = format(root.get_span_context().trace_id, "032x")

    assert exemplars(registry, LATENCY) == {("planner", "2.0"): trace_id}
    assert exemplars(registry, TOOL) == {("planner", "0.5"): trace_id}
    exposition = openmetrics(registry)
    line = next(
        x for x in exposition.splitlines() if x.startswith(f"{LATENCY}_bucket") and "#" in x
    )
    # bucket, count, exemplar labels, observed value, then the observation's timestamp
    expected = (
        f'{LATENCY}_bucket{{agent_name="planner",le="2.0"}} 1.0 # {{trace_id="{trace_id}"}} 1.5 '
    )
    assert line.startswith(expected)
