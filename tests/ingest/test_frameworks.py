"""Real frameworks' OTLP, read right: the conformance captures against what their runs did.

Each capture in ``tests/data/frameworks/`` is what a framework × instrumentation exported while
running a small multi-agent workload against a fake model (``conformance/``; regenerate with
``conformance/regenerate``). ``expected.json`` says what the runs did (from the workload and
the fake model's log, never from sloguard). Here the spans go through the ingest's mapping,
delivered as captured (several exports, children before parents) and as one export, and the
agent metrics must equal the expectations: calls and tokens per agent, tool outcomes per agent
and tool, handoffs, workflow runs; no workflow, graph node or plumbing posing as an agent.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, Recorder
from sloguard.ingest.otlp import apply
from sloguard.ingest.spanassembly import SpanAssembler
from sloguard.ingest.spanmap import SpanMapping
from tests.support.frameworks import captures, expected, spans

CAPTURES = captures()


def record(batches: list[list[Any]]) -> CollectorRegistry:
    """Map ``batches`` as the ingest does (assembled per trace) into a fresh registry."""
    registry = CollectorRegistry()
    recorder = Recorder(AgentMetrics(registry=registry))
    assembler = SpanAssembler(window=30.0)
    ready = []
    for batch in batches:
        ready += assembler.add(batch, now=0.0)
    ready += assembler.drain()
    for trace in ready:
        apply(recorder, SpanMapping(trace.spans).updates())
    return registry


def observed(registry: CollectorRegistry) -> dict[str, Any]:
    """The metrics in expected.json's shape."""
    agents: dict[str, dict[str, int]] = {}
    tools: Counter[tuple[str, str, str]] = Counter()
    handoffs: Counter[tuple[str, str]] = Counter()
    runs: dict[str, dict[str, int]] = {}
    for family in registry.collect():
        for s in family.samples:
            v, labels = s.value, s.labels
            if s.name == "agent_calls_total" and v:
                entry = agents.setdefault(labels["agent_name"], {})
                key = "ok" if labels["status"] == "success" else "error"
                entry[key] = entry.get(key, 0) + int(v)
            elif s.name == "agent_token_usage_total" and v:
                entry = agents.setdefault(labels["agent_name"], {})
                key = f"{labels['direction']}_tokens"
                entry[key] = entry.get(key, 0) + int(v)
            elif s.name == "agent_tool_calls_total" and v:
                tools[labels["agent_name"], labels["tool_name"], labels["status"]] += int(v)
            elif s.name == "agent_handoffs_total" and v:
                handoffs[labels["source_agent"], labels["target_agent"]] += int(v)
            elif s.name == "agent_workflow_runs_total" and v:
                entry = runs.setdefault(labels["workflow"], {})
                key = "ok" if labels["status"] == "success" else "error"
                entry[key] = entry.get(key, 0) + int(v)
    tool_rows: dict[tuple[str, str], dict[str, Any]] = {}
    for (agent, tool, status), n in tools.items():
        row = tool_rows.setdefault(
            (agent, tool), {"agent": agent, "tool": tool, "ok": 0, "error": 0}
        )
        row["ok" if status == "success" else "error"] += n
    return {
        "agents": agents,
        "tools": sorted(tool_rows.values(), key=lambda r: (r["agent"], r["tool"])),
        "handoffs": sorted(
            ({"source": s, "target": t, "count": n} for (s, t), n in handoffs.items()),
            key=lambda r: (r["source"], r["target"]),
        ),
        "workflows": runs,
    }


def wanted(capture: str) -> dict[str, Any]:
    exp = expected(capture)
    agents = {
        name: {k: v for k, v in figures.items() if v} for name, figures in exp["agents"].items()
    }
    # What the instrumentation cannot carry (a name it never exports) is read under what it does.
    renamed = exp.get("read_as", {}).get("workflows", {})
    return {
        "agents": agents,
        "tools": sorted(exp["tools"], key=lambda r: (r["agent"], r["tool"])),
        "handoffs": sorted(exp["handoffs"], key=lambda r: (r["source"], r["target"])),
        "workflows": {
            renamed.get(name, name): {k: v for k, v in figures.items() if v}
            for name, figures in exp["workflows"].items()
        },
    }


def exports_of(capture: str) -> list[list[Any]]:
    from sloguard.ingest.otlpwire import PROTOBUF, parse_otlp
    from tests.support.frameworks import exports

    return [parse_otlp(body, PROTOBUF, now=None) for body in exports(capture)]


@pytest.mark.parametrize("capture", CAPTURES)
def test_metrics_equal_what_the_runs_did(capture: str) -> None:
    got = observed(record(exports_of(capture)))
    want = wanted(capture)
    for part in ("agents", "tools", "handoffs", "workflows"):
        assert got[part] == want[part], f"{capture}: {part}\n{expected(capture)['why']}"


@pytest.mark.parametrize("capture", CAPTURES)
def test_one_export_or_several_give_the_same_metrics(capture: str) -> None:
    split = observed(record(exports_of(capture)))
    whole = observed(record([spans(capture)]))
    assert split == whole


@pytest.mark.parametrize("capture", CAPTURES)
def test_no_workflow_node_or_plumbing_poses_as_an_agent(capture: str) -> None:
    got = observed(record(exports_of(capture)))
    agents = set(expected(capture)["agents"])
    assert not set(got["agents"]) & set(expected(capture).get("not_agents", ()))
    for h in got["handoffs"]:
        assert h["source"] in agents and h["target"] in agents, h
