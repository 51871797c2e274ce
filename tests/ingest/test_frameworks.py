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

from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from sloguard import AgentMetrics, Recorder
from sloguard.ingest.otlp import apply
from sloguard.ingest.spanassembly import SpanAssembler
from sloguard.ingest.spanmap import SpanMapping, interpret_all
from tests.support.frameworks import captures, expected, observed, spans, wanted

CAPTURES = captures()


def record(batches: list[list[Any]], *, read: bool = False) -> list[Any]:
    """Map ``batches`` as the ingest does (assembled per trace) into a fresh registry; with
    ``read``, each batch read on arrival, as the ingest does (kept spans are then slimmed)."""
    registry = CollectorRegistry()
    recorder = Recorder(AgentMetrics(registry=registry))
    assembler = SpanAssembler(window=30.0)
    ready = []
    for batch in batches:
        ready += assembler.add(batch, now=0.0, meanings=interpret_all(batch) if read else None)
    ready += assembler.drain()
    for trace in ready:
        mapping = SpanMapping(trace.spans, meanings=trace.meanings, context=trace.context)
        apply(recorder, mapping.updates())
    return [s for family in registry.collect() for s in family.samples]


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
@pytest.mark.parametrize("order", ["as-captured", "inner-last"])
def test_spans_one_per_export_and_inner_ones_late_give_the_same_metrics(
    capture: str, order: str
) -> None:
    """One span per export, in the captured order (a request groups its spans by scope, so a
    model call traced by another library can follow the root: it is read with its handed-over
    trace), and (``inner-last``) every span with a parent and children held back until the root
    and the leaves have arrived: CrewAI's event listener ends an AGENT span from a thread pool,
    after the run's root when the run failed; the trace is not whole while a span's parent is
    missing, so it waits for them. (Reversed order is not tested: a root arriving before the
    rest of its trace is whole alone, its run is read without the agents under it.)"""
    one_by_one = [s for batch in exports_of(capture) for s in batch]
    if order == "inner-last":
        parents = {s.parent_span_id for s in one_by_one}
        one_by_one.sort(key=lambda s: s.span_id in parents and s.parent_span_id is not None)
    got = observed(record([[s] for s in one_by_one]))
    assert got == observed(record(exports_of(capture)))
    # read on arrival, as the ingest does: the spans kept for late ones are slimmed
    assert observed(record([[s] for s in one_by_one], read=True)) == got


@pytest.mark.parametrize("capture", CAPTURES)
def test_no_workflow_node_or_plumbing_poses_as_an_agent(capture: str) -> None:
    got = observed(record(exports_of(capture)))
    agents = set(expected(capture)["agents"])
    assert not set(got["agents"]) & set(expected(capture).get("not_agents", ()))
    for h in got["handoffs"]:
        assert h["source"] in agents and h["target"] in agents, h


@pytest.mark.parametrize("capture", ["langgraph-openllmetry", "langgraph-openinference"])
def test_a_graph_trace_without_its_root_poses_no_node_as_an_agent(capture: str) -> None:
    """A LangGraph trace read when its window closed, its root never arrived: no run, and no
    graph, node or plumbing span is taken for an agent."""
    roots = {s.span_id for s in spans(capture) if s.parent_span_id is None}
    partial = [s for s in spans(capture) if s.span_id not in roots]
    got = observed(record([partial]))
    assert not got["workflows"]  # no root, no run
    assert set(got["agents"]) <= set(expected(capture)["agents"])


@pytest.mark.parametrize("capture", CAPTURES)
def test_the_stored_trace_is_the_same_when_spans_arrive_one_by_one(capture: str) -> None:
    """What the trace store keeps (steps merged as pieces arrive, newer wins) equals the trace
    read whole, also for late spans read with slimmed kept spans as their context."""
    from sloguard.ingest.spantrace import merge_traces, span_traces

    whole = {t.trace_id: t.as_dict() for t in span_traces(SpanMapping(spans(capture)))}
    assembler = SpanAssembler(window=30.0)
    stored: dict[str, Any] = {}
    for span in [s for batch in exports_of(capture) for s in batch]:
        for trace in assembler.add([span], now=0.0, meanings=interpret_all([span])):
            mapping = SpanMapping(trace.spans, meanings=trace.meanings, context=trace.context)
            for t in span_traces(mapping):
                stored[t.trace_id] = merge_traces(stored.get(t.trace_id), t)
    for trace in assembler.drain():
        for t in span_traces(SpanMapping(trace.spans, meanings=trace.meanings)):
            stored[t.trace_id] = merge_traces(stored.get(t.trace_id), t)
    assert {k: t.as_dict() for k, t in stored.items()} == whole
