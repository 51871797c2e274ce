"""OTLP/HTTP trace ingest: the real OTel SDK and OTLP exporter against a local receiver.

The receiver (``tests/support/otlp.py``) is a stdlib ``ThreadingHTTPServer`` on 127.0.0.1 whose
only route calls ``handle_otlp`` the way the daemon's router does.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from opentelemetry import trace
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.trace import Span, SpanKind
from opentelemetry.util.types import AttributeValue
from prometheus_client import CollectorRegistry

import sloguard
from sloguard import (
    AgentMetrics,
    CallType,
    CardinalityGuard,
    Recorder,
    Telemetry,
    TraceStep,
    current_step,
    enable_otel,
    trace_agent_call,
    trace_tool_call,
    use_telemetry,
)
from sloguard.ingest.otlp import (
    JSON,
    PROTOBUF,
    AgentCall,
    Handoff,
    InvalidOtlp,
    ToolCall,
    Update,
    Usage,
    WorkflowRun,
    apply,
    export_response,
    handle_otlp,
    map_spans,
    media_type,
    parse_otlp,
)
from sloguard.ingest.router import ingest_router
from sloguard.ingest.semconv import Role, SpanRecord, interpret, role_of
from sloguard.sdk.step import add_usage
from sloguard.sdk.trace import ResponseTrace, TraceRecord
from sloguard.tracestore.store import TraceStore
from sloguard.web.server import create_app
from tests.support.otlp import (
    T0,
    Receiver,
    agent,
    dotted,
    emit,
    exporting,
    flush,
    op,
    receiving,
    span,
    tool,
    workflow,
)
from tests.support.uvicornserver import serving


# --- the receiver (tests/support/otlp.py) ------------------------------------------------------
@pytest.fixture
def receiver(recorder: Recorder) -> Iterator[Receiver]:
    with receiving(recorder) as r:
        yield r


@pytest.fixture
def provider(receiver: Receiver) -> Iterator[TracerProvider]:
    with exporting(receiver) as p:
        yield p


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def agent_samples(registry: CollectorRegistry) -> list[Any]:
    return [s for m in registry.collect() if m.name.startswith("agent_") for s in m.samples]


# --- GenAI semantic conventions ----------------------------------------------------------------
GPT4O_CHAT = op(
    "chat",
    gen_ai__request__model="gpt-4o",
    gen_ai__usage__input_tokens=100,
    gen_ai__usage__output_tokens=20,
)
CLAUDE_COMPLETION = op(
    "text_completion",
    gen_ai__response__model="claude-x",
    gen_ai__usage__input_tokens=7,
    gen_ai__usage__output_tokens=3,
)
GENAI_TREE = workflow(
    "support", 0, 10,
    agent(
        "supervisor", 0, 8,
        span("chat gpt-4o", GPT4O_CHAT, 0.5, 1.5),
        tool("search", 1.5, 1.75),
        agent(
            "billing", 2, 4.5,
            tool("charge_card", 2.5, 3, error__type="Declined"),
            span("text_completion", CLAUDE_COMPLETION, 3, 4),
            span("create_agent helper", op("create_agent", gen_ai__agent__name="helper"), 4, 5),
            error=True,
        ),
        span("GET /orders", {"http.request.method": "GET"}, 5, 6),
    ),
    tool("audit_log", 9, 9.5),
)  # fmt: skip


def test_genai_semconv_spans_from_the_real_exporter(
    provider: TracerProvider, receiver: Receiver, registry: CollectorRegistry
) -> None:
    emit(provider.get_tracer("app"), GENAI_TREE)
    answer = flush(provider, receiver)
    assert answer.status == 200, answer.body
    assert answer.content_type == PROTOBUF
    response = ExportTraceServiceResponse()
    response.ParseFromString(answer.body)
    assert not response.HasField("partial_success")

    r = registry
    assert value(r, "agent_calls_total", agent_name="supervisor", status="success") == 1
    assert value(r, "agent_calls_total", agent_name="billing", status="error") == 1
    assert value(r, "agent_calls_total", agent_name="helper", status="success") is None
    assert value(r, "agent_latency_seconds_sum", agent_name="supervisor") == 8.0
    assert value(r, "agent_latency_seconds_sum", agent_name="billing") == 2.5
    assert value(r, "agent_latency_seconds_bucket", agent_name="billing", le="2.0") == 0
    assert value(r, "agent_latency_seconds_bucket", agent_name="billing", le="5.0") == 1

    tool = {"agent_name": "supervisor", "tool_name": "search"}
    assert r.get_sample_value("agent_tool_calls_total", {**tool, "status": "success"}) == 1
    assert r.get_sample_value("agent_tool_call_seconds_sum", tool) == 0.25
    declined = {"agent_name": "billing", "tool_name": "charge_card", "status": "error"}
    assert r.get_sample_value("agent_tool_calls_total", declined) == 1
    # A tool outside every agent belongs to the workflow (as SDK tools do to their host).
    audit = {"agent_name": "support", "tool_name": "audit_log", "status": "success"}
    assert r.get_sample_value("agent_tool_calls_total", audit) == 1

    tokens = "agent_token_usage_total"
    assert value(r, tokens, agent_name="supervisor", model="gpt-4o", direction="input") == 100
    assert value(r, tokens, agent_name="supervisor", model="gpt-4o", direction="output") == 20
    assert value(r, tokens, agent_name="billing", model="claude-x", direction="input") == 7
    assert value(r, tokens, agent_name="billing", model="claude-x", direction="output") == 3

    handoffs = "agent_handoffs_total"
    assert value(r, handoffs, source_agent="supervisor", target_agent="billing") == 1
    assert len([s for s in agent_samples(r) if s.name == handoffs]) == 1


# --- OpenLLMetry (traceloop) -------------------------------------------------------------------
def tl(kind: str, name: str) -> dict[str, AttributeValue]:
    return {"traceloop.span.kind": kind, "traceloop.entity.name": name}


def llm(**attrs: AttributeValue) -> dict[str, AttributeValue]:
    return {"llm.request.type": "chat", "gen_ai.system": "openai", **dotted(attrs)}


RESEARCHER_CHAT = llm(
    gen_ai__request__model="gpt-4o-mini",
    gen_ai__usage__prompt_tokens=50,
    gen_ai__usage__completion_tokens=10,
    llm__usage__total_tokens=60,
)
SUMMARIZE_CHAT = llm(
    gen_ai__request__model="gpt-4o-mini",
    gen_ai__usage__prompt_tokens=5,
    gen_ai__usage__completion_tokens=1,
)
OPENLLMETRY_TREE = span(
    "pipeline.workflow", tl("workflow", "pipeline"), 0, 10,
    span(
        "researcher.agent", tl("agent", "researcher"), 0, 4,
        span("openai.chat", RESEARCHER_CHAT, 0, 1),
        span("web_search.tool", tl("tool", "web_search"), 1, 2),
        span(
            "writer.agent", tl("agent", "writer"), 2, 3.5,
            span("render.tool", tl("tool", "render"), 2.5, 3, error=True),
        ),
    ),
    span(
        "summarize.task", tl("task", "summarize"), 5, 6,
        span("openai.chat", SUMMARIZE_CHAT, 5, 6),
    ),
)  # fmt: skip


def test_openllmetry_spans(
    provider: TracerProvider, receiver: Receiver, registry: CollectorRegistry
) -> None:
    emit(provider.get_tracer("traceloop"), OPENLLMETRY_TREE)
    assert flush(provider, receiver).status == 200
    r = registry
    assert value(r, "agent_calls_total", agent_name="researcher", status="success") == 1
    assert value(r, "agent_latency_seconds_sum", agent_name="writer") == 1.5
    tool = {"agent_name": "researcher", "tool_name": "web_search", "status": "success"}
    assert r.get_sample_value("agent_tool_calls_total", tool) == 1
    render = {"agent_name": "writer", "tool_name": "render", "status": "error"}
    assert r.get_sample_value("agent_tool_calls_total", render) == 1
    tokens = "agent_token_usage_total"
    mini = {"model": "gpt-4o-mini"}
    assert value(r, tokens, agent_name="researcher", direction="input", **mini) == 50
    assert value(r, tokens, agent_name="researcher", direction="output", **mini) == 10
    assert not value(r, tokens, agent_name="researcher", direction="total", **mini)
    # LLM calls outside an agent go to the task (the workflow step) they ran in.
    assert value(r, tokens, agent_name="summarize", direction="input", **mini) == 5
    assert value(r, "agent_handoffs_total", source_agent="researcher", target_agent="writer") == 1


# --- OpenInference -----------------------------------------------------------------------------
def oi(kind: str, **attrs: AttributeValue) -> dict[str, AttributeValue]:
    return {"openinference.span.kind": kind, **dotted(attrs)}


TRIAGE_LLM = oi(
    "LLM",
    llm__model_name="gpt-4.1",
    llm__token_count__prompt=30,
    llm__token_count__completion=4,
    llm__token_count__total=34,
    llm__cost__total=0.25,
)
OPENINFERENCE_TREE = span(
    "Agent workflow", oi("CHAIN"), 0, 10,
    span(
        "Triage agent", oi("AGENT"), 0, 6,
        span("response", TRIAGE_LLM, 0, 1),
        span("lookup_order", oi("TOOL", tool__name="lookup_order"), 1, 1.5, error=True),
        span(
            "Refund agent", oi("AGENT", agent__name="Refund agent"), 2, 5,
            span("refund", oi("TOOL", tool__name="refund"), 2, 2.5),
        ),
    ),
)  # fmt: skip


def test_openinference_spans(
    provider: TracerProvider, receiver: Receiver, registry: CollectorRegistry
) -> None:
    emit(provider.get_tracer("openinference"), OPENINFERENCE_TREE)
    assert flush(provider, receiver).status == 200
    r = registry
    assert value(r, "agent_calls_total", agent_name="Triage agent", status="success") == 1
    assert value(r, "agent_latency_seconds_sum", agent_name="Refund agent") == 3.0
    lookup = {"agent_name": "Triage agent", "tool_name": "lookup_order", "status": "error"}
    assert r.get_sample_value("agent_tool_calls_total", lookup) == 1
    refund = {"agent_name": "Refund agent", "tool_name": "refund", "status": "success"}
    assert r.get_sample_value("agent_tool_calls_total", refund) == 1
    tokens = "agent_token_usage_total"
    triage = {"agent_name": "Triage agent", "model": "gpt-4.1"}
    assert r.get_sample_value(tokens, {**triage, "direction": "input"}) == 30
    assert r.get_sample_value(tokens, {**triage, "direction": "output"}) == 4
    assert r.get_sample_value("agent_cost_usd_total", triage) == 0.25
    handoff = {"source_agent": "Triage agent", "target_agent": "Refund agent"}
    assert r.get_sample_value("agent_handoffs_total", handoff) == 1
    assert value(r, "agent_calls_total", agent_name="Agent workflow", status="success") is None


# --- explicit handoffs -------------------------------------------------------------------------
HANDOFF_TREE = workflow(
    "desk", 0, 9,
    # OpenAI-Agents style: the handoff is a tool call, the next agent a sibling span.
    agent(
        "triage", 0, 1,
        tool(
            "transfer_to_refund", 0.5, 0.75,
            gen_ai__handoff__from_agent="triage",
            gen_ai__handoff__to_agent="refund",
        ),
    ),
    # Nested and explicit at once (the target implied: the span's own agent): counted once.
    agent(
        "refund", 1, 4,
        agent("auditor", 2, 3, gen_ai__agent__handoff__source__name="refund"),
    ),
    # Only the target given: the source is the agent the span runs in (none here: ignored).
    span("route", {"gen_ai.handoff.to_agent": "nobody"}, 5, 6),
)  # fmt: skip


def test_explicit_handoff_attributes(
    provider: TracerProvider, receiver: Receiver, registry: CollectorRegistry
) -> None:
    emit(provider.get_tracer("app"), HANDOFF_TREE)
    assert flush(provider, receiver).status == 200
    handoffs = {
        (s.labels["source_agent"], s.labels["target_agent"]): s.value
        for s in agent_samples(registry)
        if s.name == "agent_handoffs_total"
    }
    assert handoffs == {("triage", "refund"): 1, ("refund", "auditor"): 1}


def test_tools_of_spans_whose_agent_is_in_another_batch_use_the_agent_attribute(
    provider: TracerProvider, receiver: Receiver, registry: CollectorRegistry
) -> None:
    tracer = provider.get_tracer("app")
    planner = tracer.start_span("invoke_agent planner", start_time=T0)
    emit(tracer, tool("grep", 0, 1, gen_ai__agent__name="planner"), planner)
    emit(tracer, tool("ls", 1, 2), planner)
    assert flush(provider, receiver).status == 200  # the agent span has not ended yet
    planner.end(end_time=T0 + 3 * 10**9)
    grep = {"agent_name": "planner", "tool_name": "grep", "status": "success"}
    assert registry.get_sample_value("agent_tool_calls_total", grep) == 1
    ls = {"agent_name": "unknown", "tool_name": "ls", "status": "success"}
    assert registry.get_sample_value("agent_tool_calls_total", ls) == 1


# --- our own bridge maps back to the SDK's metrics ---------------------------------------------
class PaymentDeclinedError(Exception):
    pass


@trace_tool_call
async def search(query: str) -> str:
    await asyncio.sleep(0)
    return f"hits for {query}"


@trace_tool_call(name="charge_card")
async def charge(amount: int) -> None:
    await asyncio.sleep(0)
    raise PaymentDeclinedError("card declined")


@trace_tool_call(name="summarize")
async def summarize(text: str) -> str:
    add_usage(model="gpt-4o-mini", input_tokens=12, output_tokens=3, cost=0.0005)
    return text[:10]


@trace_agent_call
async def researcher(topic: str) -> str:
    await search(topic)
    await search(f"{topic} policy")
    raise RuntimeError("no sources")


@trace_agent_call
async def billing(order_id: int) -> str:
    await summarize(f"order {order_id}")
    with contextlib.suppress(PaymentDeclinedError):
        await charge(42)
    step = current_step()
    assert step is not None
    step.end_step(input_tokens=100, output_tokens=20, model="gpt-4o", cost=0.01)
    return "refund queued"


@trace_agent_call
async def supervisor(task: str) -> list[object]:
    add_usage(model="gpt-4o", total_tokens=40)
    results = await asyncio.gather(researcher(task), billing(42), return_exceptions=True)
    return list(results)


async def run_support_workflow() -> None:
    async with sloguard.workflow("support", "wf-otlp"):
        await supervisor("refund order 42")
        with TraceStep(None, CallType.HOST, "router"):
            add_usage(model="router-model", total_tokens=9, cost=0.001)
        await search("after the agents")


COMPARED = (
    "agent_calls_total",
    "agent_latency_seconds",
    "agent_token_usage_total",
    "agent_cost_usd_total",
    "agent_handoffs_total",
    "agent_tool_call_seconds",
    "agent_tool_calls_total",
)


def series(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for m in registry.collect()
        for s in m.samples
        if any(s.name.startswith(n.removesuffix("_total")) for n in COMPARED)
        and not s.name.endswith("_created")
    }


async def test_spans_of_our_own_bridge_map_back_to_the_sdk_metrics(
    recorder: Recorder, registry: CollectorRegistry
) -> None:
    ingest_registry = CollectorRegistry()
    ingest = Recorder(AgentMetrics(registry=ingest_registry), CardinalityGuard())
    with receiving(ingest) as receiver, exporting(receiver) as provider:
        telemetry = enable_otel(Telemetry(recorder), provider)
        with use_telemetry(telemetry):
            await run_support_workflow()
        assert flush(provider, receiver).status == 200

    sdk, otlp = series(registry), series(ingest_registry)
    assert sdk, "the SDK recorded nothing"
    assert sorted(otlp) == sorted(sdk)
    for key, expected in sdk.items():
        # Span times have microsecond resolution; the SDK times steps with a finer clock.
        assert otlp[key] == pytest.approx(expected, rel=1e-6, abs=1e-5), key
    # The figures themselves, to be sure both sides recorded the scenario.
    handoff = (("source_agent", "supervisor"), ("target_agent", "billing"))
    assert otlp["agent_handoffs_total", handoff] == 1
    tool = (("agent_name", "support"), ("status", "success"), ("tool_name", "search"))
    assert otlp["agent_tool_calls_total", tool] == 1
    router = (("agent_name", "router"), ("model", "router-model"))
    assert otlp["agent_cost_usd_total", router] == pytest.approx(0.001)


# --- JSON encoding -----------------------------------------------------------------------------
TRACE = "5b8efff798038103d269b633813fc60c"


def attr(key: str, **value: Any) -> dict[str, Any]:
    return {"key": key, "value": value}


def json_span(span_id: str, name: str, attributes: list[dict[str, Any]], *, parent: str = "",
              start: int = 0, end: int = 1, status: int = 0) -> dict[str, Any]:  # fmt: skip
    return {
        "traceId": TRACE,
        "spanId": span_id,
        "parentSpanId": parent,
        "name": name,
        "kind": 1,
        "startTimeUnixNano": str(T0 + start * 10**9),
        "endTimeUnixNano": str(T0 + end * 10**9),
        "attributes": attributes,
        "status": {"code": status} if status else {},
    }


def json_request(*spans: dict[str, Any]) -> dict[str, Any]:
    resource = {"attributes": [attr("service.name", stringValue="js-agent")]}
    scope = {"scope": {"name": "manual", "version": "1"}, "spans": list(spans)}
    return {"resourceSpans": [{"resource": resource, "scopeSpans": [scope]}]}


PLANNER = json_span(
    "eee19b7ec3c1b174",
    "invoke_agent planner",
    [
        attr("gen_ai.operation.name", stringValue="invoke_agent"),
        attr("gen_ai.agent.name", stringValue="planner"),
    ],
    end=2,
)
PLANNER_CHAT = json_span(
    "eee19b7ec3c1b175",
    "chat gpt-4o",
    [
        attr("gen_ai.operation.name", stringValue="chat"),
        attr("gen_ai.request.model", stringValue="gpt-4o"),
        attr("gen_ai.usage.input_tokens", intValue="42"),
        attr("gen_ai.usage.output_tokens", intValue=7),
        attr("gen_ai.request.stop_sequences", arrayValue={"values": [{"stringValue": "\n"}]}),
    ],
    parent="eee19b7ec3c1b174",
)
PLANNER_TOOL = json_span(
    "eee19b7ec3c1b176",
    "execute_tool fetch",
    [
        attr("gen_ai.operation.name", stringValue="execute_tool"),
        attr("gen_ai.tool.name", stringValue="fetch"),
    ],
    parent="eee19b7ec3c1b174",
    status=2,
)


def post(receiver: Receiver, body: bytes, content_type: str) -> httpx.Response:
    return httpx.post(receiver.url, content=body, headers={"Content-Type": content_type})


def test_json_encoding(receiver: Receiver, registry: CollectorRegistry) -> None:
    document = json_request(PLANNER, PLANNER_CHAT, PLANNER_TOOL)
    response = post(receiver, json.dumps(document).encode(), "application/json; charset=utf-8")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == JSON
    assert response.json() == {}
    r = registry
    assert value(r, "agent_calls_total", agent_name="planner", status="success") == 1
    assert value(r, "agent_latency_seconds_sum", agent_name="planner") == 2.0
    tokens = {"agent_name": "planner", "model": "gpt-4o"}
    assert r.get_sample_value("agent_token_usage_total", {**tokens, "direction": "input"}) == 42
    assert r.get_sample_value("agent_token_usage_total", {**tokens, "direction": "output"}) == 7
    fetch = {"agent_name": "planner", "tool_name": "fetch", "status": "error"}
    assert r.get_sample_value("agent_tool_calls_total", fetch) == 1


def test_json_with_protobuf_field_names_and_base64_ids_is_accepted() -> None:
    """Some exporters send protobuf's own JSON mapping: snake_case keys and base64 ids."""
    import base64

    def b64(hex_id: str) -> str:
        return base64.b64encode(bytes.fromhex(hex_id)).decode()

    span = {
        "trace_id": b64(TRACE),
        "span_id": b64("00f067aa0ba902b7"),
        "name": "invoke_agent x",
        "start_time_unix_nano": T0,
        "end_time_unix_nano": T0 + 10**9,
        "attributes": [attr("gen_ai.operation.name", string_value="invoke_agent")],
        "some_future_field": True,
    }
    body = json.dumps({"resource_spans": [{"scope_spans": [{"spans": [span]}]}]}).encode()
    (record,) = parse_otlp(body, JSON)
    assert (record.trace_id, record.span_id, record.parent_span_id) == (
        TRACE,
        "00f067aa0ba902b7",
        None,
    )
    assert record.attributes == {"gen_ai.operation.name": "invoke_agent"}
    assert record.duration == 1.0


def test_attribute_values_of_every_type_are_decoded() -> None:
    span = json_span(
        "eee19b7ec3c1b174",
        "x",
        [
            attr("s", stringValue="v"),
            attr("b", boolValue=True),
            attr("i", intValue="-3"),
            attr("d", doubleValue=0.5),
            attr("y", bytesValue="AQI="),
            attr("a", arrayValue={"values": [{"intValue": "1"}, {"stringValue": "two"}]}),
            attr("k", kvlistValue={"values": [attr("inner", boolValue=False)]}),
            attr("empty", **{}),
        ],
        status=1,
    )
    (record,) = parse_otlp(json.dumps(json_request(span)).encode(), JSON)
    assert dict(record.attributes) == {
        "s": "v",
        "b": True,
        "i": -3,
        "d": 0.5,
        "y": b"\x01\x02",
        "a": (1, "two"),
        "k": {"inner": False},
        "empty": None,
    }
    assert (record.kind, record.status) == ("internal", "ok")


# --- rejected batches record nothing -----------------------------------------------------------
def _protobuf_without_ids() -> bytes:
    request = ExportTraceServiceRequest()
    span = request.resource_spans.add().scope_spans.add().spans.add()
    span.name = "no ids"
    span.start_time_unix_nano, span.end_time_unix_nano = T0, T0 + 1
    return bytes(request.SerializeToString())


def _json(*spans: dict[str, Any]) -> bytes:
    return json.dumps(json_request(PLANNER, *spans)).encode()


BAD_TOKENS = json_span(
    "eee19b7ec3c1b177",
    "chat",
    [
        attr("gen_ai.operation.name", stringValue="chat"),
        attr("gen_ai.usage.input_tokens", stringValue="12"),
        attr("gen_ai.usage.output_tokens", intValue="-1"),
    ],
    parent="eee19b7ec3c1b174",
)

NOT_OTLP = "not an OTLP ExportTraceServiceRequest"
MALFORMED = [
    pytest.param(PROTOBUF, b"\xff\xff\xff\xff", [NOT_OTLP], id="protobuf-garbage"),
    pytest.param(PROTOBUF, b"\x0a\x10\x0a", [NOT_OTLP], id="protobuf-truncated"),
    pytest.param(
        PROTOBUF,
        _protobuf_without_ids(),
        ["traceId must be 16 bytes", "spanId must be 8 bytes"],
        id="protobuf-no-ids",
    ),
    pytest.param(JSON, b'{"resourceSpans": [', ["not valid JSON"], id="json-syntax"),
    pytest.param(JSON, b"[]", ["must be a JSON object"], id="json-array"),
    pytest.param(JSON, b'{"resourceSpans": 5}', [NOT_OTLP], id="json-shape"),
    pytest.param(
        JSON,
        _json({**PLANNER_TOOL, "traceId": "xyz"}),
        ["traceId must be 16 bytes"],
        id="json-bad-id",
    ),
    pytest.param(
        JSON,
        _json({**PLANNER_TOOL, "endTimeUnixNano": "1"}),
        ["endTimeUnixNano is before"],
        id="json-end-before-start",
    ),
    pytest.param(
        JSON,
        _json(BAD_TOKENS),
        [
            "gen_ai.usage.input_tokens must be an integer >= 0, got '12'",
            "gen_ai.usage.output_tokens must be an integer >= 0, got -1",
        ],
        id="json-bad-tokens",
    ),
]


@pytest.mark.parametrize(("content_type", "body", "expected"), MALFORMED)
def test_malformed_requests_name_their_problems_and_record_nothing(
    receiver: Receiver, registry: CollectorRegistry, content_type: str, body: bytes,
    expected: list[str],
) -> None:  # fmt: skip
    response = post(receiver, body, content_type)
    assert response.status_code == 400
    problems = response.json()["problems"]
    for text in expected:
        assert any(text in p for p in problems), (text, problems)
    assert agent_samples(registry) == []


def test_problems_come_back_from_handle_otlp_and_nothing_is_recorded(
    recorder: Recorder, registry: CollectorRegistry
) -> None:
    accepted, problems = handle_otlp(recorder, _json(PLANNER_CHAT, BAD_TOKENS), JSON)
    assert accepted == 0
    assert len(problems) == 2
    assert all("span eee19b7ec3c1b177 'chat' of trace" in p for p in problems)
    assert agent_samples(registry) == []
    assert handle_otlp(recorder, b"{}", "text/plain") == (
        0,
        ("unsupported content type 'text/plain': send application/x-protobuf or application/json",),
    )
    assert handle_otlp(recorder, _json(PLANNER_CHAT), JSON) == (2, ())


def test_undecodable_bodies_are_malformed_and_bad_spans_are_not() -> None:
    with pytest.raises(InvalidOtlp) as undecodable:
        parse_otlp(b"[]", JSON)
    assert undecodable.value.malformed
    with pytest.raises(InvalidOtlp) as bad_span:
        map_spans(parse_otlp(_json(BAD_TOKENS), JSON))
    assert not bad_span.value.malformed
    assert "OTLP traces rejected:\n- span eee19b7ec3c1b177" in str(bad_span.value)


def test_unsupported_content_type_is_415_at_the_router(receiver: Receiver) -> None:
    assert post(receiver, b"{}", "text/plain").status_code == 415


def test_a_batch_rejected_by_the_receiver_is_not_recorded_from_the_real_exporter(
    provider: TracerProvider, receiver: Receiver, registry: CollectorRegistry
) -> None:
    bad = agent("a", 0, 1, span("chat", op("chat", gen_ai__usage__input_tokens="many"), 0, 0.5))
    emit(provider.get_tracer("app"), bad)
    answer = flush(provider, receiver)
    assert answer.status == 400
    assert "gen_ai.usage.input_tokens must be an integer >= 0" in answer.body.decode()
    assert agent_samples(registry) == []


# --- the pure core -----------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("attributes", "role"),
    [
        ({"gen_ai.operation.name": "invoke_agent"}, Role.AGENT),
        ({"gen_ai.operation.name": "create_agent"}, Role.OTHER),
        ({"gen_ai.operation.name": "execute_tool"}, Role.TOOL),
        ({"gen_ai.operation.name": "chat"}, Role.INFERENCE),
        ({"gen_ai.operation.name": "text_completion"}, Role.INFERENCE),
        ({"gen_ai.operation.name": "generate_content"}, Role.INFERENCE),
        ({"gen_ai.operation.name": "embeddings"}, Role.INFERENCE),
        ({"gen_ai.operation.name": "invoke_workflow"}, Role.WORKFLOW),
        ({"traceloop.span.kind": "agent"}, Role.AGENT),
        ({"traceloop.span.kind": "tool"}, Role.TOOL),
        ({"traceloop.span.kind": "workflow"}, Role.WORKFLOW),
        ({"traceloop.span.kind": "task"}, Role.WORKFLOW),
        ({"openinference.span.kind": "AGENT"}, Role.AGENT),
        ({"openinference.span.kind": "TOOL"}, Role.TOOL),
        ({"openinference.span.kind": "LLM"}, Role.INFERENCE),
        ({"openinference.span.kind": "CHAIN"}, Role.WORKFLOW),
        ({"openinference.span.kind": "RETRIEVER"}, Role.OTHER),
        ({"llm.request.type": "chat"}, Role.INFERENCE),
        ({"sloguard.call_type": "HOST"}, Role.WORKFLOW),
        ({"gen_ai.system": "openai"}, Role.INFERENCE),
        # The first key whose value is known decides; unknown values fall through.
        ({"gen_ai.operation.name": "retrieval", "openinference.span.kind": "TOOL"}, Role.TOOL),
        ({"gen_ai.operation.name": "execute_tool", "gen_ai.system": "openai"}, Role.TOOL),
        ({"http.request.method": "GET"}, Role.OTHER),
    ],
)
def test_role_table(attributes: dict[str, str], role: Role) -> None:
    assert role_of(attributes) is role


def rec(span_id: str, parent: str | None, attributes: dict[str, Any], *, name: str = "s",
        start: int = 0, end: int = 10**9, status: str = "unset") -> SpanRecord:  # fmt: skip
    return SpanRecord(TRACE, span_id, parent, name, "internal", T0 + start, T0 + end, status,
                      attributes)  # fmt: skip


AGENT_A = {"gen_ai.operation.name": "invoke_agent", "gen_ai.agent.name": "a"}


def test_interpret_names_fall_back_to_the_span_name() -> None:
    meaning, problems = interpret(rec("1", None, {"gen_ai.operation.name": "invoke_agent"},
                                      name="invoke_agent  planner "))  # fmt: skip
    assert (meaning.role, meaning.name, problems) == (Role.AGENT, "planner", [])
    meaning, _ = interpret(rec("1", None, {"gen_ai.operation.name": "invoke_agent"},
                               name="invoke_agent"))  # fmt: skip
    assert meaning.name == "invoke_agent"
    meaning, _ = interpret(rec("1", None, {"gen_ai.operation.name": "execute_tool"}, name=""))
    assert meaning.name == "unknown"
    meaning, problems = interpret(rec("1", None, {**AGENT_A, "gen_ai.agent.name": 3}, name="x"))
    assert problems == [f"span 1 'x' of trace {TRACE}: gen_ai.agent.name must be a string, got 3"]


def test_error_is_status_error_or_error_type() -> None:
    assert interpret(rec("1", None, AGENT_A, status="error"))[0].failed
    assert interpret(rec("1", None, {**AGENT_A, "error.type": "timeout"}))[0].failed
    assert not interpret(rec("1", None, AGENT_A, status="ok"))[0].failed


def test_inference_under_an_agent_that_reports_its_own_tokens_is_not_counted_twice() -> None:
    agent = {**AGENT_A, "gen_ai.request.model": "m", "gen_ai.usage.input_tokens": 10,
             "gen_ai.usage.output_tokens": 2}  # fmt: skip
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 10, "gen_ai.usage.output_tokens": 2}  # fmt: skip
    updates = map_spans([rec("a", None, agent), rec("c", "a", chat)])
    ok = sloguard.Status.SUCCESS
    assert updates == [
        AgentCall("a", ok, 1.0, "m", 10, 2, None, None, TRACE),
        WorkflowRun("a", ok, 1.0, None, 12, TRACE),  # the run's tokens counted once too
    ]


def test_price_fills_in_missing_costs() -> None:
    chat = {"gen_ai.operation.name": "chat", "gen_ai.request.model": "m",
            "gen_ai.usage.input_tokens": 1000, "gen_ai.usage.output_tokens": 10}  # fmt: skip
    priced = {"llm.cost.total": 0.5, **chat}
    updates = map_spans(
        [rec("a", None, AGENT_A), rec("c", "a", chat), rec("d", "a", priced)],
        price=lambda model, i, o, total: (i or 0) / 1000 + (o or 0) / 100,
    )
    assert [u for u in updates if isinstance(u, Usage)] == [
        Usage("a", "m", 1000, 10, None, 1.1),
        Usage("a", "m", 1000, 10, None, 0.5),
    ]


def test_parent_cycles_and_missing_parents_end_the_walk() -> None:
    tool = {"gen_ai.operation.name": "execute_tool", "gen_ai.tool.name": "t"}
    spans = [
        rec("x", "y", AGENT_A),
        rec("y", "x", {**AGENT_A, "gen_ai.agent.name": "b"}),
        rec("t", "gone", tool),
    ]
    updates = map_spans(spans)
    assert ToolCall("unknown", "t", sloguard.Status.SUCCESS, 1.0, TRACE) in updates
    assert sorted((u.source, u.target) for u in updates if isinstance(u, Handoff)) == [
        ("a", "b"),
        ("b", "a"),
    ]


def test_apply_checks_the_whole_batch_before_recording(
    recorder: Recorder, registry: CollectorRegistry
) -> None:
    ok = sloguard.Status.SUCCESS
    batch: list[Update] = [
        AgentCall("a", ok, 1.0),
        ToolCall("a", "t", ok, -1.0),
        Usage("a", "m", input_tokens=5, output_tokens=1, total_tokens=2),
        Handoff("a", ""),
    ]
    with pytest.raises(InvalidOtlp) as caught:
        apply(recorder, batch)
    assert caught.value.problems == (
        "update 1 (ToolCall): duration must be a finite number >= 0, got -1.0",
        "update 2 (Usage): total_tokens (2) is less than input_tokens + output_tokens (6)",
        "update 3 (Handoff): target must be a non-empty string, got ''",
    )
    assert agent_samples(registry) == []
    apply(recorder, batch[:1])
    assert value(registry, "agent_calls_total", agent_name="a", status="success") == 1


def test_problem_lists_are_capped() -> None:
    error = InvalidOtlp(f"p{i}" for i in range(250))
    assert len(error.problems) == 101
    assert error.problems[-1] == "… and 150 more problems"


def test_export_response_encodings() -> None:
    body, kind = export_response("application/x-protobuf")
    assert (body, kind) == (b"", PROTOBUF)
    assert export_response("application/json") == (b"{}", JSON)
    body, kind = export_response(PROTOBUF, rejected_spans=2, error_message="2 spans dropped")
    response = ExportTraceServiceResponse()
    response.ParseFromString(body)
    assert response.partial_success.rejected_spans == 2
    assert response.partial_success.error_message == "2 spans dropped"
    body, kind = export_response(JSON, rejected_spans=1, error_message="x")
    assert json.loads(body) == {"partialSuccess": {"rejectedSpans": "1", "errorMessage": "x"}}


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/x-protobuf", PROTOBUF),
        ("Application/JSON; charset=utf-8", JSON),
        ("text/plain", None),
        ("", None),
        (None, None),
    ],
)
def test_media_type(header: str | None, expected: str | None) -> None:
    assert media_type(header) == expected


# --- the daemon's endpoint: spans stored as traces, unpriced tokens, one call seen twice -------
@dataclass
class Sidecar:
    """The daemon's app (ingest with a trace store) behind a real uvicorn on 127.0.0.1."""

    url: str
    store: TraceStore
    registry: CollectorRegistry


@pytest.fixture
def sidecar(
    registry: CollectorRegistry, recorder: Recorder, free_port: int, tmp_path: Path
) -> Iterator[Sidecar]:
    store = TraceStore(tmp_path / "traces.sqlite")
    app = create_app(registry, routers=[ingest_router(recorder, token=None, traces=store)])
    with serving(app, free_port) as url:
        yield Sidecar(f"{url}/v1/traces", store, registry)
    store.close()


@pytest.fixture
def sidecar_provider(sidecar: Sidecar, recorder: Recorder) -> Iterator[TracerProvider]:
    with exporting(Receiver(recorder, sidecar.url)) as p:  # the exporter only needs the url
        yield p


def hex_id(span: Span) -> str:
    return f"{span.get_span_context().trace_id:032x}"


def steps_by_name(stored: ResponseTrace) -> dict[str, TraceRecord]:
    by_name = {s.name: s for s in stored.steps}
    assert len(by_name) == len(stored.steps), [s.name for s in stored.steps]
    return by_name


def test_the_spans_of_a_batch_are_stored_as_a_trace_with_its_tree_and_failures(
    sidecar: Sidecar, sidecar_provider: TracerProvider
) -> None:
    root = emit(sidecar_provider.get_tracer("app"), GENAI_TREE)
    assert sidecar_provider.force_flush(10_000)
    stored = sidecar.store.get(hex_id(root))
    assert stored is not None

    steps = steps_by_name(stored)
    # Agents, tools and the workflow are steps; inference, create_agent and HTTP spans are not.
    assert {n: s.call_type for n, s in steps.items()} == {
        "support": CallType.HOST,
        "supervisor": CallType.AGENT,
        "search": CallType.TOOL,
        "billing": CallType.AGENT,
        "charge_card": CallType.TOOL,
        "audit_log": CallType.TOOL,
    }

    def names(parent: str | None) -> list[str]:
        return sorted(s.name for s in stored.children(parent))

    assert names(None) == ["support"]
    assert names(steps["support"].step_id) == ["audit_log", "supervisor"]
    assert names(steps["supervisor"].step_id) == ["billing", "search"]
    assert names(steps["billing"].step_id) == ["charge_card"]
    assert steps["charge_card"].scope_agent == "billing"
    assert steps["audit_log"].scope_host == "support"

    # The inference spans' usage is on the agent step they ran under, priced from the table.
    supervisor = steps["supervisor"]
    assert (supervisor.model, supervisor.input_tokens, supervisor.output_tokens) == (
        "gpt-4o",
        100,
        20,
    )
    assert supervisor.cost == pytest.approx(100 * 2.5e-6 + 20 * 10e-6)
    assert (steps["billing"].model, steps["billing"].input_tokens) == ("claude-x", 7)
    assert steps["billing"].cost is None  # no price for claude-x: unpriced, never a zero
    assert (supervisor.latency, supervisor.start_time.timestamp()) == (8000, T0 / 1e9)

    # Status error and error.type both fail the step.
    assert (steps["billing"].error, steps["billing"].error_type) == ("failed", "error")
    assert (steps["charge_card"].error, steps["charge_card"].error_type) == (
        "Declined",
        "Declined",
    )
    assert not supervisor.failed
    summary = sidecar.store.summary(stored.trace_id)
    assert summary is not None and (summary.status, summary.steps) == ("error", 6)


def test_spans_of_one_trace_in_two_requests_are_read_once_whole(
    sidecar: Sidecar, sidecar_provider: TracerProvider
) -> None:
    tracer = sidecar_provider.get_tracer("app")
    agent_span = tracer.start_span(
        "invoke_agent planner", attributes=op("invoke_agent", gen_ai__agent__name="planner")
    )
    context = trace.set_span_in_context(agent_span)
    search_span = tracer.start_span(
        "execute_tool search",
        context=context,
        attributes=op("execute_tool", gen_ai__tool__name="search"),
    )
    search_span.end()
    assert sidecar_provider.force_flush(10_000)  # request 1: the tool alone
    trace_id = hex_id(agent_span)
    # its agent has not arrived yet: the tool waits (nothing stored, nothing recorded)
    assert sidecar.store.get(trace_id) is None
    assert value(sidecar.registry, "sloguard_otlp_waiting_spans") == 1

    agent_span.end()
    assert sidecar_provider.force_flush(10_000)  # request 2: the agent
    stored = sidecar.store.get(trace_id)
    assert stored is not None
    steps = steps_by_name(stored)
    assert set(steps) == {"planner", "search"}
    assert [s.name for s in stored.children(None)] == ["planner"]
    assert steps["search"].parent_step_id == steps["planner"].step_id
    assert steps["search"].scope_agent == "planner"
    r = sidecar.registry
    tool = {"agent_name": "planner", "tool_name": "search", "status": "success"}
    assert r.get_sample_value("agent_tool_calls_total", tool) == 1  # its agent known: read whole
    assert value(r, "agent_calls_total", agent_name="planner", status="success") == 1
    assert value(r, "sloguard_otlp_traces_total", outcome="complete") == 1


def test_a_call_seen_by_the_caller_and_the_callee_counts_once(
    sidecar: Sidecar, sidecar_provider: TracerProvider
) -> None:
    remote = agent(
        "billing", 1, 4, tool("charge_card", 2, 3),
        gen_ai__request__model="gpt-4o", gen_ai__usage__input_tokens=10,
        gen_ai__usage__output_tokens=5,
    )  # fmt: skip
    remote.kind = SpanKind.SERVER
    caller = agent("billing", 0.9, 4.2, span("POST /a2a", {"http.request.method": "POST"},
                                               0.95, 4.1, remote))  # fmt: skip
    caller.kind = SpanKind.CLIENT
    root = emit(sidecar_provider.get_tracer("app"), agent("supervisor", 0, 5, caller))
    assert sidecar_provider.force_flush(10_000)

    r = sidecar.registry
    assert value(r, "agent_calls_total", agent_name="billing", status="success") == 1
    assert value(r, "agent_latency_seconds_sum", agent_name="billing") == 3.0  # the callee's
    assert value(r, "agent_handoffs_total", source_agent="supervisor", target_agent="billing") == 1
    assert len([s for s in agent_samples(r) if s.name == "agent_handoffs_total"]) == 1
    tokens = {"agent_name": "billing", "model": "gpt-4o", "direction": "input"}
    assert r.get_sample_value("agent_token_usage_total", tokens) == 10
    charge = {"agent_name": "billing", "tool_name": "charge_card", "status": "success"}
    assert r.get_sample_value("agent_tool_calls_total", charge) == 1

    stored = sidecar.store.get(hex_id(root))
    assert stored is not None
    steps = steps_by_name(stored)
    assert set(steps) == {"supervisor", "billing", "charge_card"}
    assert steps["billing"].parent_step_id == steps["supervisor"].step_id
    assert steps["billing"].latency == 3000


def test_tokens_that_cannot_be_priced_are_counted_as_unpriced(
    sidecar: Sidecar, sidecar_provider: TracerProvider
) -> None:
    unknown_model = op(
        "chat",
        gen_ai__request__model="in-house-7b",
        gen_ai__usage__input_tokens=300,
        gen_ai__usage__output_tokens=45,
    )
    only_total = op("chat", gen_ai__request__model="gpt-4o", gen_ai__usage__total_tokens=80)
    emit(sidecar_provider.get_tracer("app"), agent(
        "planner", 0, 3,
        span("chat in-house-7b", unknown_model, 0, 1),
        span("chat gpt-4o", only_total, 1, 2),
        span("chat gpt-4o", GPT4O_CHAT, 2, 3),
    ))  # fmt: skip
    assert sidecar_provider.force_flush(10_000)
    r = sidecar.registry
    assert value(r, "sloguard_unpriced_tokens_total", model="in-house-7b") == 345
    assert value(r, "sloguard_unpriced_tokens_total", model="gpt-4o") == 80  # no split: no price
    cost = value(r, "agent_cost_usd_total", agent_name="planner", model="gpt-4o")
    assert cost == pytest.approx(100 * 2.5e-6 + 20 * 10e-6)
    assert not value(r, "agent_cost_usd_total", agent_name="planner", model="in-house-7b")
    assert value(r, "sloguard_ingest_requests_total", endpoint="otlp", result="accepted") == 1
