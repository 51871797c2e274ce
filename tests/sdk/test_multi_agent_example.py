"""Acceptance: an async multi-agent example gives exact metric samples and trace structure."""

from __future__ import annotations

import asyncio

from prometheus_client import CollectorRegistry

from examples.multi_agent import run_workflow
from sloguard import ResponseTrace, Telemetry


def structure(trace: ResponseTrace) -> dict[str, tuple[str, str | None]]:
    """name -> (call type, parent name)."""
    by_id = {s.step_id: s for s in trace.steps}
    out: dict[str, tuple[str, str | None]] = {}
    for s in trace.steps:
        parent = by_id.get(s.parent_step_id or "")
        out[s.name] = (s.call_type.value, parent.name if parent else None)
    return out


async def test_trace_structure_errors_and_redaction(telemetry: Telemetry) -> None:
    trace = await run_workflow("agents", "wf-1")
    assert trace.trace_id == "wf-1"
    assert len(trace.steps) == 7
    assert structure(trace) == {
        "research": ("HOST", None),
        "supervisor": ("AGENT", "research"),
        "researcher": ("AGENT", "supervisor"),
        "analyst": ("AGENT", "supervisor"),
        "fact_checker": ("AGENT", "supervisor"),
        "web_search": ("TOOL", "researcher"),
        "sql_query": ("TOOL", "analyst"),
    }
    assert all(s.trace_id == "wf-1" for s in trace.steps)
    errors = {s.name: s.error for s in trace.steps if s.failed}
    assert errors == {
        "sql_query": "DatabaseDown: connection refused",
        "fact_checker": "UnverifiableClaim: cannot verify: notes on agents: 1 s",
    }
    search = next(s for s in trace.steps if s.name == "web_search")
    assert search.parameters == {"query": "agents", "api_key": "[REDACTED]"}
    # children complete before their parents; the root completes last
    assert trace.steps[-1].name == "research"


async def test_exact_metric_samples(registry: CollectorRegistry, telemetry: Telemetry) -> None:
    await run_workflow("agents")
    get = registry.get_sample_value

    def calls(agent: str, status: str) -> float | None:
        return get("agent_calls_total", {"agent_name": agent, "status": status})

    assert [
        calls(a, "success") for a in ("supervisor", "researcher", "analyst", "fact_checker")
    ] == [1, 1, 1, 0]
    assert [calls(a, "error") for a in ("supervisor", "researcher", "analyst", "fact_checker")] == [
        0,
        0,
        0,
        1,
    ]
    assert calls("research", "success") is None  # the HOST root is not an agent call
    for agent in ("supervisor", "researcher", "analyst", "fact_checker"):
        assert get("agent_latency_seconds_count", {"agent_name": agent}) == 1
        assert get("active_agents", {"agent_name": agent}) == 0

    def tool(agent: str, name: str, status: str) -> float | None:
        return get(
            "agent_tool_calls_total", {"agent_name": agent, "tool_name": name, "status": status}
        )

    assert tool("researcher", "web_search", "success") == 1
    assert tool("researcher", "web_search", "error") == 0
    assert tool("analyst", "sql_query", "error") == 1
    assert tool("analyst", "sql_query", "success") == 0
    assert (
        get("agent_tool_call_seconds_count", {"agent_name": "analyst", "tool_name": "sql_query"})
        == 1
    )

    def handoff(src: str, dst: str) -> float | None:
        return get("agent_handoffs_total", {"source_agent": src, "target_agent": dst})

    assert handoff("supervisor", "researcher") == 1
    assert handoff("supervisor", "analyst") == 1
    assert handoff("supervisor", "fact_checker") == 1
    assert handoff("research", "supervisor") is None

    def tokens(agent: str, model: str, direction: str) -> float | None:
        return get(
            "agent_token_usage_total", {"agent_name": agent, "model": model, "direction": direction}
        )

    assert tokens("researcher", "gpt-4o", "input") == 120
    assert tokens("researcher", "gpt-4o", "output") == 40
    assert tokens("analyst", "gpt-4o-mini", "input") == 60
    assert tokens("analyst", "gpt-4o-mini", "output") == 20
    assert get("agent_cost_usd_total", {"agent_name": "researcher", "model": "gpt-4o"}) == 0.0021
    assert get("agent_cost_usd_total", {"agent_name": "analyst", "model": "gpt-4o-mini"}) == 0.0


async def test_concurrent_workflows_never_mix_parents(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    traces = await asyncio.gather(*(run_workflow("t", f"wf-{i}") for i in range(8)))
    for i, trace in enumerate(traces):
        ids = {s.step_id for s in trace.steps}
        assert all(s.trace_id == f"wf-{i}" for s in trace.steps)
        assert all(s.parent_step_id in ids for s in trace.steps if s.name != "research")
        assert structure(trace)["web_search"] == ("TOOL", "researcher")
    assert (
        registry.get_sample_value(
            "agent_calls_total", {"agent_name": "supervisor", "status": "success"}
        )
        == 8
    )
    assert (
        registry.get_sample_value(
            "agent_handoffs_total", {"source_agent": "supervisor", "target_agent": "analyst"}
        )
        == 8
    )
