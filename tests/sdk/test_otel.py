"""The OTel bridge against the real OpenTelemetry SDK (in-memory exporter, no mocks)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import INVALID_SPAN, SpanKind, StatusCode, get_current_span
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry

import sloguard
from sloguard import (
    CallType,
    OTelBridge,
    Recorder,
    Telemetry,
    TraceRecord,
    TraceStep,
    current_step,
    enable_otel,
    trace_agent_call,
    trace_tool_call,
    use_telemetry,
)
from sloguard.sdk.otel import EXCEPTION_KEY, SPAN_KEY, shape_of, span_name


@dataclass
class Otel:
    telemetry: Telemetry
    provider: TracerProvider
    exporter: InMemorySpanExporter

    def spans(self) -> tuple[ReadableSpan, ...]:
        return self.exporter.get_finished_spans()

    def by_step(self) -> dict[str, ReadableSpan]:
        return {str(attrs(s)["sloguard.step_id"]): s for s in self.spans()}


@pytest.fixture
def otel(recorder: Recorder) -> Iterator[Otel]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    telemetry = enable_otel(Telemetry(recorder), provider)
    with use_telemetry(telemetry):
        yield Otel(telemetry, provider, exporter)
    provider.shutdown()


def attrs(span: ReadableSpan) -> Mapping[str, AttributeValue]:
    assert span.attributes is not None
    return span.attributes


def span_id(span: ReadableSpan) -> int:
    assert span.context is not None
    return int(span.context.span_id)


def parent_id(span: ReadableSpan) -> int | None:
    return int(span.parent.span_id) if span.parent is not None else None


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def ns(record: TraceRecord) -> tuple[int, int]:
    """Start/end of a step in epoch nanoseconds."""
    assert record.end_time is not None
    us = timedelta(microseconds=1)
    return (record.start_time - EPOCH) // us * 1000, (record.end_time - EPOCH) // us * 1000


# --- the multi-agent scenario ---------------------------------------------------------------
class PaymentDeclinedError(Exception):
    pass


@trace_tool_call
async def search(query: str) -> str:
    for _ in range(3):
        await asyncio.sleep(0)  # let the other worker run in between
    return f"hits for {query}"


@trace_tool_call(name="lookup_order")
async def lookup(order_id: int) -> dict[str, int]:
    await asyncio.sleep(0)
    return {"order": order_id}


@trace_tool_call(name="charge_card")
async def charge(amount: int) -> None:
    await asyncio.sleep(0)
    raise PaymentDeclinedError("card declined")


@trace_agent_call
async def researcher(topic: str) -> str:
    await search(topic)
    await search(f"{topic} policy")
    raise RuntimeError("no sources")


@trace_agent_call
async def billing(order_id: int) -> str:
    await lookup(order_id)
    with contextlib.suppress(PaymentDeclinedError):
        await charge(42)  # the tool fails; the agent recovers
    step = current_step()
    assert step is not None
    step.end_step(input_tokens=100, output_tokens=20, model="gpt-4o", cost=0.01)
    return "refund queued"


@trace_agent_call
async def supervisor(task: str) -> list[object]:
    results = await asyncio.gather(researcher(task), billing(42), return_exceptions=True)
    return list(results)


async def run_workflow() -> TraceRecord:
    async with sloguard.workflow("support", "wf-001") as root:
        results = await supervisor("refund order 42")
    assert isinstance(results[0], RuntimeError)
    assert results[1] == "refund queued"
    return root


async def test_span_names_kinds_and_tree_match_the_steps(otel: Otel) -> None:
    root = await run_workflow()
    assert root.trace is not None
    steps = root.trace.steps
    spans = otel.by_step()
    assert len(spans) == len(steps) == 8

    names = sorted(s.name for s in otel.spans())
    assert names == sorted([
        "invoke_workflow support",
        "invoke_agent supervisor",
        "invoke_agent researcher",
        "invoke_agent billing",
        "execute_tool search",
        "execute_tool search",
        "execute_tool lookup_order",
        "execute_tool charge_card",
    ])
    assert all(s.kind is SpanKind.INTERNAL for s in otel.spans())
    # One OTel trace; each span's parent is the span of the step's parent step.
    assert len({s.context.trace_id for s in otel.spans() if s.context is not None}) == 1
    for step in steps:
        span = spans[step.step_id]
        if step.parent_step_id is None:
            assert span.parent is None
        else:
            assert parent_id(span) == span_id(spans[step.parent_step_id])
        assert attrs(span)["sloguard.trace_id"] == "wf-001"
        assert (span.start_time, span.end_time) == ns(step)


async def test_semconv_attributes(otel: Otel) -> None:
    root = await run_workflow()
    assert root.trace is not None
    by_name = {s.name: s for s in otel.spans()}

    wf = attrs(by_name["invoke_workflow support"])
    assert wf["gen_ai.operation.name"] == "invoke_workflow"
    assert wf["gen_ai.workflow.name"] == "support"
    assert wf["sloguard.step_id"] == root.step_id

    sup = attrs(by_name["invoke_agent supervisor"])
    assert sup["gen_ai.operation.name"] == "invoke_agent"
    assert sup["gen_ai.agent.name"] == "supervisor"
    assert "sloguard.parent_step_id" not in sup  # the span tree already says it

    bill = attrs(by_name["invoke_agent billing"])
    assert bill["gen_ai.request.model"] == "gpt-4o"
    assert bill["gen_ai.usage.input_tokens"] == 100
    assert bill["gen_ai.usage.output_tokens"] == 20
    assert bill["sloguard.cost_usd"] == 0.01

    tool = attrs(by_name["execute_tool lookup_order"])
    assert tool["gen_ai.operation.name"] == "execute_tool"
    assert tool["gen_ai.tool.name"] == "lookup_order"
    assert "gen_ai.agent.name" not in tool


async def test_errors_set_status_error_type_and_exception_event(otel: Otel) -> None:
    await run_workflow()
    by_name = {s.name: s for s in otel.spans()}

    failed = {name for name, s in by_name.items() if s.status.status_code is StatusCode.ERROR}
    assert failed == {"invoke_agent researcher", "execute_tool charge_card"}
    # Success leaves the status UNSET (instrumentation does not set OK).
    assert by_name["invoke_agent billing"].status.status_code is StatusCode.UNSET

    agent = by_name["invoke_agent researcher"]
    assert agent.status.description == "RuntimeError: no sources"
    assert attrs(agent)["error.type"] == "RuntimeError"
    (event,) = agent.events
    assert event.name == "exception"
    event_attrs = dict(event.attributes or {})
    assert event_attrs["exception.type"] == "RuntimeError"
    assert event_attrs["exception.message"] == "no sources"
    assert event.timestamp == agent.end_time

    tool = by_name["execute_tool charge_card"]
    assert attrs(tool)["error.type"] == "PaymentDeclinedError"
    assert [e.name for e in tool.events] == ["exception"]
    assert "error.type" not in attrs(by_name["invoke_agent billing"])


async def test_metrics_are_still_recorded(otel: Otel, registry: CollectorRegistry) -> None:
    await run_workflow()
    assert registry.get_sample_value(
        "agent_calls_total", {"agent_name": "researcher", "status": "error"}
    ) == 1
    assert registry.get_sample_value(
        "agent_tool_calls_total",
        {"agent_name": "billing", "tool_name": "charge_card", "status": "error"},
    ) == 1


async def test_user_span_inside_a_step_nests_under_it(otel: Otel) -> None:
    app = otel.provider.get_tracer("app")
    with TraceStep(None, CallType.AGENT, "writer") as step:
        with app.start_as_current_span("render markdown"):
            pass
        assert get_current_span() is step.ext[SPAN_KEY]
    assert get_current_span() is INVALID_SPAN  # detached on close
    spans = {s.name: s for s in otel.spans()}
    assert parent_id(spans["render markdown"]) == span_id(spans["invoke_agent writer"])


async def test_user_outer_span_parents_the_root_step(otel: Otel) -> None:
    app = otel.provider.get_tracer("app")
    with app.start_as_current_span("http POST /chat"):
        async with sloguard.workflow("chat"):
            await search("hello")
        assert get_current_span().get_span_context().is_valid
    spans = {s.name: s for s in otel.spans()}
    assert parent_id(spans["invoke_workflow chat"]) == span_id(spans["http POST /chat"])
    assert parent_id(spans["execute_tool search"]) == span_id(spans["invoke_workflow chat"])


async def test_remote_parent_step_keeps_its_id_and_the_otel_parent(otel: Otel) -> None:
    app = otel.provider.get_tracer("app")
    with (
        app.start_as_current_span("a2a server request"),
        TraceStep(None, CallType.AGENT, "callee", parent_step_id="caller-step-1"),
    ):
        pass
    spans = {s.name: s for s in otel.spans()}
    callee = spans["invoke_agent callee"]
    assert parent_id(callee) == span_id(spans["a2a server request"])
    assert attrs(callee)["sloguard.parent_step_id"] == "caller-step-1"


async def test_concurrent_tasks_never_mix_parents(otel: Otel) -> None:
    app = otel.provider.get_tracer("app")

    @trace_agent_call(name="worker")
    async def worker(i: int) -> None:
        for _ in range(3):
            await search(f"q{i}")
            with app.start_as_current_span(f"user {i}"):
                await asyncio.sleep(0)

    async with sloguard.workflow("fan-out"):
        await asyncio.gather(*(worker(i) for i in range(10)))

    spans = otel.spans()
    workers = {
        span_id(s): s for s in spans if s.name == "invoke_agent worker"
    }
    assert len(workers) == 10
    # Each worker's children: its three tool spans and its three user spans (same i).
    for wid in workers:
        children = [s for s in spans if parent_id(s) == wid]
        tools = [s for s in children if s.name == "execute_tool search"]
        users = [s for s in children if s.name.startswith("user ")]
        assert len(tools) == 3
        assert len(users) == 3
        assert len({u.name for u in users}) == 1


async def test_step_closed_in_another_task_is_tolerated(
    otel: Otel, caplog: pytest.LogCaptureFixture
) -> None:
    step = TraceStep(None, CallType.AGENT, "moved")

    async def opener() -> None:
        step.open()

    async def closer() -> None:
        step.close(None)

    await asyncio.create_task(opener())
    with caplog.at_level(logging.WARNING):
        await asyncio.create_task(closer())
    assert [s.name for s in otel.spans()] == ["invoke_agent moved"]
    assert caplog.records == []  # neither OTel's "Failed to detach" nor ours


async def test_generator_step_and_plain_host_step(otel: Otel) -> None:
    @trace_tool_call(name="stream")
    async def stream() -> AsyncIterator[int]:
        yield 1
        yield 2

    with TraceStep(None, CallType.HOST, "prepare") as host:
        items = [x async for x in stream()]
    assert items == [1, 2]
    spans = {s.name: s for s in otel.spans()}
    assert set(spans) == {"prepare", "execute_tool stream"}
    assert "gen_ai.operation.name" not in attrs(spans["prepare"])
    assert attrs(spans["prepare"])["sloguard.call_type"] == "HOST"
    assert attrs(spans["prepare"])["sloguard.step_id"] == host.step_id
    assert parent_id(spans["execute_tool stream"]) == span_id(spans["prepare"])


async def test_step_attributes_and_unsplit_tokens(otel: Otel) -> None:
    with TraceStep(None, CallType.AGENT, "summariser") as step:
        step.ext[SPAN_KEY].set_attribute("app.doc_id", "d-1")
        step.end_step(total_tokens=300, additional_attributes={"rows": 3, "obj": {"a": 1}})
    (span,) = otel.spans()
    a = attrs(span)
    assert a["app.doc_id"] == "d-1"
    assert a["rows"] == 3
    assert "obj" not in a  # not an OpenTelemetry attribute value
    assert a["sloguard.usage.total_tokens"] == 300
    assert "gen_ai.usage.input_tokens" not in a
    assert "gen_ai.request.model" not in a


def test_enable_otel_replaces_a_bridge_and_defaults_to_current(recorder: Recorder) -> None:
    base = Telemetry(recorder)
    once = enable_otel(base, TracerProvider())
    twice = enable_otel(once, TracerProvider())
    assert [type(x) for x in twice.listeners] == [OTelBridge]
    assert twice.recorder is base.recorder and twice.redactor is base.redactor
    with use_telemetry(base):
        assert enable_otel().recorder is recorder


async def test_the_multi_agent_example_maps_one_span_per_step(otel: Otel) -> None:
    from examples.multi_agent import run_workflow as run_example

    trace = await run_example("agent observability", "wf-example")
    spans = otel.by_step()
    assert len(spans) == len(trace.steps)
    for step in trace.steps:
        span = spans[step.step_id]
        parent = spans[step.parent_step_id] if step.parent_step_id else None
        assert parent_id(span) == (span_id(parent) if parent is not None else None)
        assert (span.status.status_code is StatusCode.ERROR) == step.failed
    researcher_span = next(s for s in spans.values() if s.name == "invoke_agent researcher")
    assert attrs(researcher_span)["gen_ai.request.model"] == "gpt-4o"
    assert attrs(researcher_span)["gen_ai.usage.input_tokens"] == 120


async def test_an_exception_lent_to_listeners_is_recorded_with_its_stack(otel: Otel) -> None:
    cache: dict[str, int] = {}
    with pytest.raises(KeyError), TraceStep(None, CallType.TOOL, "cache_get") as step:
        try:
            cache["missing"]
        except KeyError as exc:
            step.ext[EXCEPTION_KEY] = exc  # what TraceStep.close would do (see report)
            raise
    (span,) = otel.spans()
    (event,) = span.events
    event_attrs = dict(event.attributes or {})
    assert event_attrs["exception.type"] == "KeyError"
    assert "missing" in str(event_attrs["exception.message"])
    assert "test_an_exception_lent" in str(event_attrs["exception.stacktrace"])  # real frames


@pytest.mark.parametrize(
    ("call_type", "step_type", "agent_url", "name", "kind", "operation"),
    [
        (CallType.AGENT, None, None, "invoke_agent planner", SpanKind.INTERNAL, "invoke_agent"),
        (CallType.AGENT, None, "http://a2a.local", "invoke_agent planner", SpanKind.CLIENT,
         "invoke_agent"),
        (CallType.TOOL, None, None, "execute_tool planner", SpanKind.INTERNAL, "execute_tool"),
        (CallType.HOST, "workflow", None, "invoke_workflow planner", SpanKind.INTERNAL,
         "invoke_workflow"),
        (CallType.HOST, None, None, "planner", SpanKind.INTERNAL, None),
    ],
)
def test_span_shapes(call_type: CallType, step_type: str | None, agent_url: str | None,
                     name: str, kind: SpanKind, operation: str | None) -> None:
    record = TraceRecord(call_type, "planner", step_type=step_type)
    record.agent_url = agent_url
    shape = shape_of(record)
    assert (span_name(record, shape), shape.kind, shape.operation) == (name, kind, operation)
