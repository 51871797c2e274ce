"""The OTLP assembly window: traces handed over once, whole when they can be, bounded."""

from __future__ import annotations

import pytest

from sloguard.ingest.semconv import SpanRecord
from sloguard.ingest.spanassembly import Outcome, ReadyTrace, SpanAssembler, is_whole

T = "ab" * 16


def span(
    span_id: str, parent: str | None = None, *, trace: str = T, kind: str = "internal"
) -> SpanRecord:
    return SpanRecord(trace, span_id, parent, f"s{span_id}", kind, 1, 2, "unset", {})


def ids(ready: list[ReadyTrace]) -> list[tuple[str, Outcome, list[str]]]:
    return [(r.trace_id, r.outcome, sorted(s.span_id for s in r.spans)) for r in ready]


def test_children_wait_for_their_root_then_the_trace_is_handed_over_whole() -> None:
    a = SpanAssembler(window=30)
    assert a.add([span("c", "b"), span("d", "b")], now=0) == []
    assert a.waiting == 2
    assert a.add([span("b", "a")], now=1) == []
    assert ids(a.add([span("a")], now=2)) == [(T, Outcome.COMPLETE, ["a", "b", "c", "d"])]
    assert a.waiting == 0


def test_a_trace_whose_root_never_comes_is_handed_over_when_its_window_closes() -> None:
    a = SpanAssembler(window=30)
    a.add([span("c", "b")], now=100)
    assert a.expire(now=129.9) == []
    assert ids(a.expire(now=130)) == [(T, Outcome.WINDOW, ["c"])]
    assert a.expire(now=1000) == []


def test_a_server_span_with_a_remote_parent_starts_the_local_trace() -> None:
    assert is_whole([span("s", "remote", kind="server"), span("c", "s")])
    assert not is_whole([span("s", "remote", kind="internal"), span("c", "s")])
    assert not is_whole([span("c", "s")])


def test_the_same_span_again_is_a_duplicate_whether_waiting_or_handed_over() -> None:
    a = SpanAssembler(window=30)
    a.add([span("c", "a"), span("c", "a")], now=0)
    assert a.duplicates == 1
    a.add([span("a")], now=0)
    a.add([span("a"), span("c", "a")], now=1)  # an exporter's retry of the whole request
    assert a.duplicates == 3
    assert a.waiting == 0


def test_memory_pressure_hands_over_the_oldest_traces_first() -> None:
    a = SpanAssembler(window=30, max_spans=3)
    a.add([span("x", "p", trace="01" * 16), span("y", "p", trace="01" * 16)], now=0)
    ready = a.add([span("z", "p", trace="02" * 16), span("w", "p", trace="02" * 16)], now=1)
    assert ids(ready) == [("01" * 16, Outcome.MEMORY, ["x", "y"])]
    assert a.waiting == 2


def test_drain_hands_over_everything_left() -> None:
    a = SpanAssembler(window=30)
    a.add([span("c", "b"), span("x", "y", trace="03" * 16)], now=0)
    assert {r.outcome for r in a.drain()} == {Outcome.FLUSH}
    assert a.waiting == 0


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_spans"):
        SpanAssembler(max_spans=0)


def test_the_assembly_forgets_the_readings_of_dropped_duplicates() -> None:
    """Each accepted span's reading waits with it (in the assembler, beside the span); an
    exporter's retry of spans already handed over must not leave readings behind (they would
    pile up for ever)."""
    from prometheus_client import CollectorRegistry

    from sloguard import AgentMetrics, Recorder
    from sloguard.ingest.metrics import IngestMetrics
    from sloguard.ingest.otlpassembly import OtlpAssembly
    from sloguard.ingest.pricing import load_pricing
    from sloguard.ingest.spanmap import interpret_all

    registry = CollectorRegistry()
    assembly = OtlpAssembly(
        Recorder(AgentMetrics(registry=registry)), IngestMetrics(registry), load_pricing()
    )
    spans = [span("a"), span("c", "a")]
    assert assembly.accept(spans, interpret_all(spans), now=0)[0] == 2
    for _ in range(3):  # the same request again and again
        assert assembly.accept(spans, interpret_all(spans), now=1)[0] == 0

    def readings() -> list[tuple[str, str]]:
        return [k for p in assembly._assembler._pending.values() for k in p.meanings]

    assert readings() == []
    waiting = [span("x", "missing")]
    assembly.accept(waiting, interpret_all(waiting), now=2)
    assembly.accept(waiting, interpret_all(waiting), now=2)  # a copy of a waiting span
    assert readings() == [(T, "x")]


def test_a_span_after_its_trace_was_handed_over_is_read_with_it_once_whole() -> None:
    a = SpanAssembler(window=30)
    a.add([span("c", "b"), span("b", "a"), span("a")], now=0)  # whole: handed over
    assert a.kept == 3
    late = a.add([span("d", "b")], now=5)  # ended, or was exported, after the root
    assert ids(late) == [(T, Outcome.LATE, ["d"])]
    assert sorted(s.span_id for s in late[0].context) == ["a", "b", "c"]
    # the trace kept now holds the late span too: a later one is read with all four
    (later,) = a.add([span("e", "d")], now=6)
    assert sorted(s.span_id for s in later.context) == ["a", "b", "c", "d"]
    assert a.kept == 5


def test_a_late_piece_that_is_not_whole_with_its_trace_waits_for_its_window() -> None:
    a = SpanAssembler(window=30)
    a.add([span("b", "a"), span("a")], now=0)
    assert a.add([span("y", "x")], now=1) == []  # its parent x is nowhere yet
    (ready,) = a.add([span("x", "b")], now=2)
    assert ids([ready]) == [(T, Outcome.LATE, ["x", "y"])]
    assert a.add([span("q", "p")], now=3) == []
    (closed,) = a.expire(now=33)
    assert (closed.outcome, sorted(s.span_id for s in closed.context)) == (
        Outcome.WINDOW,
        ["a", "b", "x", "y"],
    )


def test_handed_over_traces_are_kept_for_the_window_and_within_keep_spans() -> None:
    a = SpanAssembler(window=30, keep_spans=3)
    a.add([span("a", trace="01" * 16)], now=0)
    a.add([span("b", "a", trace="02" * 16), span("a", trace="02" * 16)], now=1)
    a.add([span("a", trace="03" * 16)], now=2)  # 4 spans kept > 3: trace 01 forgotten
    assert a.kept == 3
    assert ids(a.add([span("c", "a", trace="01" * 16)], now=3)) == []  # read alone, later
    a.expire(now=31)  # trace 02 was handed over at 1: its 30 s are over
    assert a.kept == 1
    assert ids(a.add([span("c", "a", trace="02" * 16)], now=31)) == []
    assert SpanAssembler(window=30, keep_spans=0).add([span("a")], now=0)[0].context == ()
    with pytest.raises(ValueError, match="keep_spans"):
        SpanAssembler(keep_spans=-1)


def test_a_late_model_call_is_owned_by_the_agent_above_and_nothing_is_counted_twice() -> None:
    """Through the ingest's assembly and metrics: an LLM span that arrives after the run's
    root was handed over counts its tokens for the agent above it, and the run, the agent call
    and the handoff are not counted again."""
    from prometheus_client import CollectorRegistry

    from sloguard import AgentMetrics, Recorder
    from sloguard.ingest.metrics import IngestMetrics
    from sloguard.ingest.otlpassembly import OtlpAssembly
    from sloguard.ingest.pricing import load_pricing
    from sloguard.ingest.spanmap import interpret_all

    def oi(span_id: str, parent: str | None, kind: str, **attrs: str | int) -> SpanRecord:
        attributes = {"openinference.span.kind": kind, **attrs}
        return span(span_id, parent)._replace(attributes=attributes)

    registry = CollectorRegistry()
    assembly = OtlpAssembly(
        Recorder(AgentMetrics(registry=registry)), IngestMetrics(registry), load_pricing()
    )
    first = [
        oi("w", None, "CHAIN", **{"graph.node.id": "Support"}),
        oi("t", "w", "AGENT", **{"graph.node.id": "Triage"}),
        oi("b", "t", "AGENT", **{"graph.node.id": "Billing"}),
    ]
    late = [oi("m", "t", "LLM", **{"llm.token_count.prompt": 100})]
    for at, spans in ((0.0, first), (4.0, late)):
        assembly.accept(spans, interpret_all(spans), now=at)

    def value(name: str, **labels: str) -> float:
        got = registry.get_sample_value(name, labels)
        return 0.0 if got is None else got

    assert value("sloguard_otlp_traces_total", outcome="late") == 1
    tokens = "agent_token_usage_total"
    assert value(tokens, agent_name="Triage", direction="input", model="unknown") == 100
    assert value(tokens, agent_name="unknown", direction="input", model="unknown") == 0
    assert value("agent_calls_total", agent_name="Triage", status="success") == 1
    assert value("agent_handoffs_total", source_agent="Triage", target_agent="Billing") == 1
    assert value("agent_workflow_runs_total", workflow="sw", status="success") == 1


def test_spans_kept_for_late_ones_drop_prompts_once_read() -> None:
    """With their readings the kept spans keep the attributes a reading looks at again, not the
    model's input and output; without readings (they are read when mapped) they keep all."""
    from sloguard.ingest.spanassembly import CONTEXT_VALUE_MAX
    from sloguard.ingest.spanmap import interpret_all

    attributes = {
        "gen_ai.agent.name": "Triage",
        "error.type": "TimeoutError",
        "input.value": '{"coworker": "Billing"}',
        "llm.input_messages.0.message.content": "x" * 50_000,
    }
    big = {**attributes, "input.value": "y" * (CONTEXT_VALUE_MAX + 1)}
    for given, want in ((attributes, ["error.type", "gen_ai.agent.name", "input.value"]),
                        (big, ["error.type", "gen_ai.agent.name"])):  # fmt: skip
        root = span("a")._replace(attributes=given)
        read = SpanAssembler(window=30)
        read.add([root], now=0, meanings=interpret_all([root]))
        (late,) = read.add([span("b", "a")], now=1, meanings=interpret_all([span("b", "a")]))
        assert sorted(late.context[0].attributes) == want
        assert late.meanings[(T, "a")] == interpret_all([root])[(T, "a")]  # read in full
    unread = SpanAssembler(window=30)
    unread.add([root], now=0)
    (late,) = unread.add([span("b", "a")], now=1)
    assert late.context[0].attributes == big


def test_a_late_agent_span_does_not_count_its_delegation_twice() -> None:
    """A delegation is counted once when the trace is read whole (the handoff span's explicit
    handoff and the callee's agent span under the caller are the same handoff). Read in two
    pieces, the callee's agent span arriving after the trace was handed over, it adds nothing
    the first piece did not count: the late piece gives the trace's handoffs less its context's."""
    from prometheus_client import CollectorRegistry

    from sloguard import AgentMetrics, Recorder
    from sloguard.ingest.metrics import IngestMetrics
    from sloguard.ingest.otlpassembly import OtlpAssembly
    from sloguard.ingest.pricing import load_pricing
    from sloguard.ingest.spanmap import interpret_all

    def genai(span_id: str, parent: str | None, **attrs: str) -> SpanRecord:
        return span(span_id, parent)._replace(attributes=attrs)

    op, name = "gen_ai.operation.name", "gen_ai.agent.name"
    hand = {"gen_ai.handoff.from_agent": "Triage", "gen_ai.handoff.to_agent": "Billing"}
    trace = [
        genai("w", None, **{op: "invoke_workflow", "gen_ai.workflow.name": "desk"}),
        genai("t", "w", **{op: "invoke_agent", name: "Triage"}),
        genai("h", "t", **hand),
        genai("b", "h", **{op: "invoke_agent", name: "Billing"}),
    ]

    def handoffs(pieces: list[list[SpanRecord]]) -> float:
        registry = CollectorRegistry()
        assembly = OtlpAssembly(
            Recorder(AgentMetrics(registry=registry)), IngestMetrics(registry), load_pricing()
        )
        for at, piece in enumerate(pieces):
            assembly.accept(piece, interpret_all(piece), now=float(at))
        labels = {"source_agent": "Triage", "target_agent": "Billing"}
        return registry.get_sample_value("agent_handoffs_total", labels) or 0.0

    assert handoffs([trace]) == 1
    assert handoffs([trace[:3], trace[3:]]) == 1  # Billing's span late: not a second handoff
