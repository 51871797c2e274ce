"""A2A traceability against real a2a-sdk servers and clients.

Each test serves an agent with a2a-sdk's own request handler and Starlette routes and talks to it
with a2a-sdk's own client over an ``httpx.ASGITransport`` bound to the app (no mocks).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import aclosing, asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from a2a.client import Client, ClientCallContext, ClientConfig, ClientFactory
from a2a.extensions.common import find_extension_by_uri
from a2a.server.agent_execution import AgentExecutor, RequestContext
from a2a.server.events import EventQueue
from a2a.server.request_handlers import DefaultRequestHandler
from a2a.server.routes import create_agent_card_routes, create_jsonrpc_routes
from a2a.server.tasks import InMemoryTaskStore, TaskUpdater
from a2a.types.a2a_pb2 import (
    AgentCapabilities,
    AgentCard,
    AgentInterface,
    AgentSkill,
    Message,
    Part,
    Role,
    SendMessageRequest,
    StreamResponse,
    Task,
    TaskState,
    TaskStatus,
)
from a2a.utils.errors import A2AError
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client import CollectorRegistry
from starlette.applications import Starlette

import sloguard
from sloguard import (
    AgentMetrics,
    CallType,
    CardinalityGuard,
    Recorder,
    ResponseTrace,
    Telemetry,
    add_usage,
    enable_otel,
    trace_agent_call,
    trace_tool_call,
    use_telemetry,
    workflow,
)
from sloguard.conventions import A2A_TRACEABILITY_METADATA_KEY, A2A_TRACEABILITY_URI
from sloguard.sdk.a2a.client import TracedClient, TracedClientFactory
from sloguard.sdk.a2a.extension import (
    RECORDED_ATTR,
    TraceabilityExtension,
    requested_extensions,
    trace_from,
    wrap_client,
    wrap_executor,
)

URI = A2A_TRACEABILITY_URI
KEY = A2A_TRACEABILITY_METADATA_KEY
BASE = "http://weather.test"
AGENT = "Weather Agent"


# --- the agent -----------------------------------------------------------------------------------
@trace_tool_call(name="lookup")
async def lookup(city: str) -> str:
    return f"sunny in {city}"


class MessageExecutor(AgentExecutor):
    """Answers with a single Message after a tool call and one LLM call."""

    def __init__(self) -> None:
        self.sent: list[Message] = []

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        answer = await lookup(context.get_user_input())
        add_usage(model="gpt-test", input_tokens=10, output_tokens=5, cost=0.01)
        message = Message(
            role=Role.ROLE_AGENT,
            message_id=uuid.uuid4().hex,
            context_id=context.context_id or "",
            parts=[Part(text=answer)],
        )
        self.sent.append(message)
        await event_queue.enqueue_event(message)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


class TaskExecutor(AgentExecutor):
    """Works as a task: working, an artifact, completed; "ask" asks for input, "fail" fails."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        task_id, context_id = context.task_id or "", context.context_id or ""
        if context.current_task is None:
            assert context.message is not None
            await event_queue.enqueue_event(
                Task(
                    id=task_id,
                    context_id=context_id,
                    status=TaskStatus(state=TaskState.TASK_STATE_SUBMITTED),
                    history=[context.message],
                )
            )
        updater = TaskUpdater(event_queue, task_id, context_id)
        await updater.start_work()
        text = context.get_user_input()
        if text == "ask":
            await lookup("nowhere")
            await updater.requires_input()
            return
        if text == "fail":
            await updater.failed()
            return
        answer = await lookup(text)
        await updater.add_artifact([Part(text=answer)], name="forecast", last_chunk=True)
        await updater.complete()

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


class FailingExecutor(AgentExecutor):
    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        await lookup("x")
        raise RuntimeError("model unavailable")

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


#: A flat trace as the a2a-samples traceability library emits it (a callee without sloguard).
SAMPLE_TRACE: dict[str, Any] = {
    "trace_id": "sample-1",
    "steps": [
        {
            "step_id": "s-geo",
            "trace_id": "sample-1",
            "parent_step_id": "s-root",
            "call_type": "TOOL",
            "name": "geocode",
            "latency": 120,
            "error": None,
        },
        {
            "step_id": "s-root",
            "trace_id": "sample-1",
            "parent_step_id": None,
            "call_type": "AGENT",
            "name": "Legacy Agent",
            "cost": 0.02,
            "total_tokens": 40,
            "latency": 300,
            "additional_attributes": {
                "gen_ai.request.model": "m1",
                "gen_ai.usage.input_tokens": 30,
                "gen_ai.usage.output_tokens": 10,
            },
        },
    ],
}


class SampleLibraryExecutor(AgentExecutor):
    """Not wrapped by sloguard: attaches a sample-library trace when asked for the extension."""

    async def execute(self, context: RequestContext, event_queue: EventQueue) -> None:
        message = Message(role=Role.ROLE_AGENT, message_id="m1", parts=[Part(text="ok")])
        if URI in context.requested_extensions:
            message.metadata[KEY] = SAMPLE_TRACE
        await event_queue.enqueue_event(message)

    async def cancel(self, context: RequestContext, event_queue: EventQueue) -> None:
        raise NotImplementedError


def make_card(name: str = AGENT, *, streaming: bool = False) -> AgentCard:
    return AgentCard(
        name=name,
        description="Tells the weather.",
        version="1.0.0",
        supported_interfaces=[
            AgentInterface(url=f"{BASE}/", protocol_binding="JSONRPC", protocol_version="1.0")
        ],
        capabilities=AgentCapabilities(
            streaming=streaming, extensions=[TraceabilityExtension().agent_extension()]
        ),
        default_input_modes=["text/plain"],
        default_output_modes=["text/plain"],
        skills=[AgentSkill(id="weather", name="weather", description="weather", tags=["weather"])],
    )


@asynccontextmanager
async def serve(executor: AgentExecutor, card: AgentCard) -> AsyncIterator[httpx.AsyncClient]:
    """Serve ``executor`` with a2a-sdk's handler and routes; yield an httpx client bound to it."""
    handler = DefaultRequestHandler(
        agent_executor=executor, task_store=InMemoryTaskStore(), agent_card=card
    )
    app = Starlette(
        routes=[*create_agent_card_routes(card), *create_jsonrpc_routes(handler, rpc_url="/")]
    )
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=BASE) as http:
        try:
            yield http
        finally:
            await handler.aclose()


async def plain_client(http: httpx.AsyncClient, *, streaming: bool = False) -> Client:
    return await ClientFactory(
        ClientConfig(httpx_client=http, streaming=streaming)
    ).create_from_url(BASE)


def request(text: str, task_id: str = "") -> SendMessageRequest:
    return SendMessageRequest(
        message=Message(
            role=Role.ROLE_USER,
            message_id=uuid.uuid4().hex,
            task_id=task_id,
            parts=[Part(text=text)],
        )
    )


async def send(
    client: Client, text: str, headers: Mapping[str, str] | None = None, task_id: str = ""
) -> list[StreamResponse]:
    context = ClientCallContext(service_parameters=dict(headers)) if headers else None
    return [r async for r in client.send_message(request(text, task_id), context=context)]


def fresh_telemetry() -> tuple[Telemetry, CollectorRegistry]:
    registry = CollectorRegistry()
    return Telemetry(Recorder(AgentMetrics(registry=registry), CardinalityGuard())), registry


def agent_calls(registry: CollectorRegistry, agent: str, status: str = "success") -> float | None:
    return registry.get_sample_value("agent_calls_total", {"agent_name": agent, "status": status})


def tool_calls(registry: CollectorRegistry, agent: str, tool: str) -> float | None:
    return registry.get_sample_value(
        "agent_tool_calls_total", {"agent_name": agent, "tool_name": tool, "status": "success"}
    )


# --- the extension and its activation ------------------------------------------------------------
async def test_agent_card_advertises_the_extension() -> None:
    card = make_card()
    async with serve(wrap_executor(MessageExecutor(), agent_card=card), card) as http:
        body = (await http.get("/.well-known/agent-card.json")).json()
        client = await plain_client(http)
    advertised = body["capabilities"]["extensions"]
    assert {"uri": URI, "description": TraceabilityExtension().description} in advertised
    assert isinstance(client, Client)
    found = find_extension_by_uri(client._card, URI)  # type: ignore[attr-defined]
    assert found is not None and found.required is False


def test_advertise_adds_the_extension_once() -> None:
    ext = TraceabilityExtension()
    card = AgentCard(name="x")
    ext.advertise(card)
    ext.advertise(card)
    assert [e.uri for e in card.capabilities.extensions] == [URI]
    assert ext.agent_extension().required is False


@pytest.mark.parametrize(
    ("headers", "requested"),
    [
        ({"A2A-Extensions": URI}, True),
        ({"X-A2A-Extensions": URI}, True),
        ({"a2a-extensions": URI}, True),
        ({"x-a2a-extensions": f"urn:other, {URI} ,urn:more"}, True),
        ([("X-A2A-EXTENSIONS", "urn:other"), ("x-a2a-extensions", URI)], True),
        ([(b"a2a-extensions", URI.encode())], True),
        ({"A2A-Extensions": "urn:other"}, False),
        ({"A2A-Extension": URI}, False),
        ({"A2A-Extensions": URI.upper()}, False),  # URIs are compared exactly
        ({}, False),
    ],
)
def test_is_requested_reads_both_headers(headers: Any, requested: bool) -> None:
    assert TraceabilityExtension().is_requested(headers) is requested
    assert (URI in requested_extensions(headers)) is requested


def test_is_requested_on_httpx_headers_with_repeated_names() -> None:
    headers = httpx.Headers([("A2A-Extensions", "urn:a"), ("a2a-extensions", URI)])
    assert TraceabilityExtension().is_requested(headers)


def test_is_requested_rejects_a_bare_string() -> None:
    with pytest.raises(TypeError):
        requested_extensions(URI)


# --- the server side -----------------------------------------------------------------------------
@pytest.mark.parametrize("header", ["A2A-Extensions", "X-A2A-Extensions", "x-a2a-extensions"])
async def test_requested_trace_rides_in_the_message_metadata(
    header: str, registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card()
    async with serve(wrap_executor(MessageExecutor(), agent_card=card), card) as http:
        client = await plain_client(http)
        [response] = await send(client, "Seoul", {header: f"urn:other,{URI}"})
    message = response.message
    assert message.parts[0].text == "sunny in Seoul"
    assert KEY in message.metadata
    assert URI in message.extensions  # marked as activated: the 1.x way
    trace = trace_from(response)
    assert trace is not None
    tool, agent = trace.steps
    assert (tool.call_type, tool.name, tool.parent_step_id) == (
        CallType.TOOL,
        "lookup",
        agent.step_id,
    )
    assert tool.parameters == {"city": "Seoul"}
    assert (agent.call_type, agent.name, agent.parent_step_id) == (CallType.AGENT, AGENT, None)
    assert agent.additional_attributes[RECORDED_ATTR] is True
    assert (agent.model, agent.input_tokens, agent.output_tokens, agent.cost) == (
        "gpt-test",
        10,
        5,
        0.01,
    )
    assert agent.latency is not None and agent.end_time is not None
    assert {tool.trace_id, agent.trace_id} == {trace.trace_id}
    assert agent_calls(registry, AGENT) == 1
    assert tool_calls(registry, AGENT, "lookup") == 1


async def test_concurrent_requests_keep_their_own_traces(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card()
    inner = MessageExecutor()
    async with serve(wrap_executor(inner, agent_card=card), card) as http:
        client = await plain_client(http)
        cities = [f"city-{i}" for i in range(8)]
        results = await asyncio.gather(*(send(client, c, {"A2A-Extensions": URI}) for c in cities))
    for city, [response] in zip(cities, results, strict=True):
        trace = trace_from(response)
        assert trace is not None
        tool, agent = trace.steps
        assert tool.parameters == {"city": city} and tool.parent_step_id == agent.step_id
    assert len({t.trace_id for t in (trace_from(r[0]) for r in results) if t}) == len(cities)
    # the executor's own objects were sent as copies: nothing was written into them
    assert len(inner.sent) == len(cities)
    assert all(KEY not in m.metadata and not m.extensions for m in inner.sent)
    assert agent_calls(registry, AGENT) == len(cities)


async def test_the_json_on_the_wire_parses_with_from_dict(telemetry: Telemetry) -> None:
    card = make_card()
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "SendMessage",
        "params": {
            "message": {"role": "ROLE_USER", "messageId": "u1", "parts": [{"text": "Mokpo"}]}
        },
    }
    headers = {"A2A-Version": "1.0", "X-A2A-Extensions": URI}
    async with serve(wrap_executor(MessageExecutor(), agent_card=card), card) as http:
        reply = (await http.post("/", json=body, headers=headers)).json()
    message = reply["result"]["message"]
    assert message["extensions"] == [URI]
    trace = ResponseTrace.from_dict(message["metadata"][KEY])
    assert [(s.name, s.call_type) for s in trace.steps] == [
        ("lookup", CallType.TOOL),
        (AGENT, CallType.AGENT),
    ]
    assert trace.steps[1].total_tokens == 15


async def test_without_the_header_no_trace_but_metrics(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card()
    async with serve(wrap_executor(MessageExecutor(), agent_card=card), card) as http:
        client = await plain_client(http)
        [response] = await send(client, "Busan")
        [other] = await send(client, "Busan", {"A2A-Extensions": "urn:other"})
    for r in (response, other):
        assert r.message.parts[0].text == "sunny in Busan"
        assert KEY not in r.message.metadata
        assert list(r.message.extensions) == []
        assert trace_from(r) is None
    assert agent_calls(registry, AGENT) == 2  # metrics are recorded on every request
    assert tool_calls(registry, AGENT, "lookup") == 2


@pytest.mark.parametrize("streaming", [False, True])
async def test_task_responses_carry_the_trace(
    streaming: bool, registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card(streaming=streaming)
    async with serve(wrap_executor(TaskExecutor(), agent_card=card), card) as http:
        client = await plain_client(http, streaming=streaming)
        responses = await send(client, "Jeju", {"A2A-Extensions": URI})
    last = responses[-1]
    if streaming:
        kinds = [r.WhichOneof("payload") for r in responses]
        assert kinds[-1] == "status_update" and "artifact_update" in kinds
        assert KEY in last.status_update.metadata
        update = next(r.artifact_update for r in responses if r.HasField("artifact_update"))
        assert KEY in update.artifact.metadata and URI in update.artifact.extensions
        working = next(r for r in responses if r.HasField("status_update"))
        assert KEY not in working.status_update.metadata  # only the events that end it
    else:
        assert last.task.status.state == TaskState.TASK_STATE_COMPLETED
        assert KEY in last.task.metadata  # the final status update's metadata, merged
        assert KEY in last.task.artifacts[0].metadata
    trace = trace_from(last)
    assert trace is not None
    assert [(s.name, s.call_type) for s in trace.steps] == [
        ("lookup", CallType.TOOL),
        (AGENT, CallType.AGENT),
    ]
    assert agent_calls(registry, AGENT) == 1


async def test_a_multi_turn_task_returns_the_latest_turn_only(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card()
    headers = {"A2A-Extensions": URI}
    async with serve(wrap_executor(TaskExecutor(), agent_card=card), card) as http:
        client = await plain_client(http)
        [first] = await send(client, "ask", headers)
        assert first.task.status.state == TaskState.TASK_STATE_INPUT_REQUIRED
        [second] = await send(client, "Daegu", headers, task_id=first.task.id)
    # a2a-sdk merges each status update's metadata into the task; the newer trace replaces
    assert len(second.task.metadata[KEY]["steps"]) == 2
    one, two = trace_from(first), trace_from(second)
    assert one is not None and two is not None
    assert two.trace_id != one.trace_id
    assert [s.name for s in two.steps] == ["lookup", AGENT]
    assert two.steps[0].parameters == {"city": "Daegu"}
    assert agent_calls(registry, AGENT) == 2


@pytest.mark.parametrize("streaming", [False, True])
async def test_a_failing_executor_records_an_error(
    streaming: bool, registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card(streaming=streaming)
    async with serve(wrap_executor(FailingExecutor(), agent_card=card), card) as http:
        client = wrap_client(await plain_client(http, streaming=streaming))
        async with workflow("trip") as host:
            with pytest.raises(A2AError, match="model unavailable"):
                await send(client, "x")
    assert tool_calls(registry, AGENT, "lookup") == 1
    # The server counted its failed call. No trace came back, so the caller cannot know that
    # and counts the failure it saw as well (one registry here stands for two processes).
    assert agent_calls(registry, AGENT, "error") == 2
    assert not agent_calls(registry, AGENT, "success")
    assert host.trace is not None
    call = host.trace.steps[0]
    assert (call.name, call.failed, call.error_type) == (AGENT, True, "InternalError")
    assert call.response_trace is None


async def test_a_failed_task_is_an_error_on_both_sides(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card()
    async with serve(wrap_executor(TaskExecutor(), agent_card=card), card) as http:
        client = wrap_client(await plain_client(http))

        @trace_agent_call(name="planner")
        async def planner() -> Task:
            return (await send(client, "fail"))[-1].task

        task = await planner()
    assert task.status.state == TaskState.TASK_STATE_FAILED
    callee = trace_from(task)
    assert callee is not None
    assert callee.steps[-1].error_type == "a2a_task_failed"
    assert agent_calls(registry, AGENT, "error") == 1  # by the callee only: its trace says so
    assert agent_calls(registry, "planner") == 1


# --- the client side -----------------------------------------------------------------------------
async def test_wrap_client_folds_the_callee_trace_into_the_callers(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    """One registry for both ends: each call is counted once."""
    card = make_card()
    async with serve(wrap_executor(MessageExecutor(), agent_card=card), card) as http:
        factory = wrap_client(ClientFactory(ClientConfig(httpx_client=http)))
        assert isinstance(factory, TracedClientFactory)
        client = await factory.create_from_url(BASE)
        assert isinstance(client, TracedClient)

        @trace_agent_call(name="planner")
        async def planner(city: str) -> str:
            responses = [r async for r in client.send_message(request(city))]
            text: str = responses[-1].message.parts[0].text
            return text

        async with workflow("trip") as host:
            assert await planner("Incheon") == "sunny in Incheon"
    trace = host.trace
    assert trace is not None
    call, plan, root = trace.steps
    assert (plan.name, root.name) == ("planner", "trip")
    assert (call.call_type, call.name, call.parent_step_id) == (
        CallType.AGENT,
        AGENT,
        plan.step_id,
    )
    assert call.agent_url == f"{BASE}/"
    assert call.additional_attributes["a2a.context_id"]
    callee = call.response_trace
    assert callee is not None
    tool, agent = callee.steps
    assert (tool.name, agent.name) == ("lookup", AGENT)
    # the caller's trace context reached the callee: same trace id, hung under the call
    assert callee.trace_id == trace.trace_id
    assert agent.parent_step_id == call.step_id
    assert [s.name for s in trace.walk()] == ["Weather Agent", "lookup", AGENT, "planner", "trip"]
    nested = call.as_dict()["response_trace"]
    assert nested["steps"][1]["name"] == AGENT
    # metrics: caller, callee and tool once each, plus the handoff only the caller sees
    assert agent_calls(registry, "planner") == 1
    assert agent_calls(registry, AGENT) == 1
    assert tool_calls(registry, AGENT, "lookup") == 1
    assert (
        registry.get_sample_value(
            "agent_handoffs_total", {"source_agent": "planner", "target_agent": AGENT}
        )
        == 1
    )


async def test_separate_processes_count_their_own_steps(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    """Callee and caller with their own registries, as two processes would have."""
    server_t, server_registry = fresh_telemetry()
    card = make_card(streaming=True)
    executor = TraceabilityExtension(telemetry=server_t).wrap_executor(
        TaskExecutor(), agent_card=card
    )
    async with serve(executor, card) as http:
        client = wrap_client(await plain_client(http, streaming=True), telemetry=telemetry)
        async with workflow("trip") as host:
            responses = await send(client, "Ulsan")
    assert responses[-1].status_update.status.state == TaskState.TASK_STATE_COMPLETED
    assert agent_calls(server_registry, AGENT) == 1
    assert tool_calls(server_registry, AGENT, "lookup") == 1
    assert agent_calls(registry, AGENT) is None  # counted by the callee, not again here
    assert tool_calls(registry, AGENT, "lookup") is None
    assert (
        registry.get_sample_value(
            "agent_handoffs_total", {"source_agent": "trip", "target_agent": AGENT}
        )
        is None  # a host is not an agent: no handoff
    )
    assert host.trace is not None
    call = host.trace.steps[0]
    assert call.response_trace is not None
    assert [s.name for s in call.response_trace.steps] == ["lookup", AGENT]


async def test_a_callee_without_sloguard_is_counted_by_the_caller(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card("Legacy Agent")
    async with serve(SampleLibraryExecutor(), card) as http:
        client = wrap_client(await plain_client(http))

        @trace_agent_call(name="planner")
        async def planner() -> None:
            [r async for r in client.send_message(request("hi"))]

        await planner()
    assert agent_calls(registry, "Legacy Agent") == 1  # the call, as the caller saw it
    assert tool_calls(registry, "Legacy Agent", "geocode") == 1
    assert (
        registry.get_sample_value(
            "agent_tool_call_seconds_sum", {"agent_name": "Legacy Agent", "tool_name": "geocode"}
        )
        == 0.12
    )
    tokens = registry.get_sample_value(
        "agent_token_usage_total",
        {"agent_name": "Legacy Agent", "model": "m1", "direction": "input"},
    )
    assert tokens == 30
    assert (
        registry.get_sample_value(
            "agent_handoffs_total", {"source_agent": "planner", "target_agent": "Legacy Agent"}
        )
        == 1
    )


async def test_the_remote_call_is_a_client_span(recorder: Recorder) -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    caller = enable_otel(Telemetry(recorder), provider)
    server_t, _ = fresh_telemetry()
    card = make_card()
    executor = wrap_executor(MessageExecutor(), agent_card=card, telemetry=server_t)
    async with serve(executor, card) as http:
        client = wrap_client(await plain_client(http), telemetry=caller)

        @trace_agent_call(name="planner", telemetry=caller)
        async def planner() -> None:
            await send(client, "Gwangju")

        with use_telemetry(caller):
            await planner()
    provider.shutdown()
    spans = {s.name: s for s in exporter.get_finished_spans()}
    assert set(spans) == {"invoke_agent planner", f"invoke_agent {AGENT}"}
    call, plan = spans[f"invoke_agent {AGENT}"], spans["invoke_agent planner"]
    assert call.kind is SpanKind.CLIENT and plan.kind is SpanKind.INTERNAL
    assert call.parent is not None and plan.context is not None
    assert call.parent.span_id == plan.context.span_id


async def test_a_consumer_that_stops_early_ends_the_call_cleanly(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card(streaming=True)
    async with serve(wrap_executor(TaskExecutor(), agent_card=card), card) as http:
        client = wrap_client(await plain_client(http, streaming=True))
        assert isinstance(client, TracedClient)  # its send_message is an async generator
        async with (
            workflow("trip") as host,
            aclosing(client.send_message(request("Sejong"))) as stream,
        ):
            async for _ in stream:
                break
    assert host.trace is not None
    call = host.trace.steps[0]
    assert (call.name, call.failed, call.ended) == (AGENT, False, True)
    assert call.response_trace is None  # stopped before the trace came
    assert not agent_calls(registry, AGENT, "error")


async def test_unnamed_client_takes_the_name_from_the_callee_trace(
    registry: CollectorRegistry, telemetry: Telemetry
) -> None:
    card = make_card()
    async with serve(wrap_executor(MessageExecutor(), agent_card=card), card) as http:
        inner = await plain_client(http)
        client = TracedClient(inner, TraceabilityExtension())
        client.agent_card = None
        async with workflow("trip") as host:
            await send(client, "Suwon")
        named = wrap_client(inner, agent_name="weather")
        async with workflow("trip") as host2:
            await send(named, "Suwon")
    assert host.trace is not None and host2.trace is not None
    assert host.trace.steps[0].name == AGENT
    assert host2.trace.steps[0].name == "weather"


async def test_wrapping_is_idempotent_and_checks_its_argument() -> None:
    factory = wrap_client(ClientFactory(ClientConfig()))
    assert wrap_client(factory) is factory
    executor = wrap_executor(MessageExecutor())
    assert wrap_executor(executor) is executor
    assert executor.name == "MessageExecutor"
    with pytest.raises(TypeError):
        wrap_client(object())  # type: ignore[call-overload]


def test_a_malformed_trace_is_reported() -> None:
    message = Message(role=Role.ROLE_AGENT, message_id="m")
    message.metadata[KEY] = {"steps": [{"call_type": "BOGUS"}]}
    with pytest.raises(sloguard.TraceError, match="call_type"):
        trace_from(message)


def test_without_a2a_sdk_the_import_names_the_extra() -> None:
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] == 'a2a':\n"
        "            raise ImportError('blocked: ' + name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import sloguard\n"
        "for mod in ('sloguard.sdk.a2a.extension', 'sloguard.sdk.a2a.call',\n"
        "            'sloguard.sdk.a2a.client', 'sloguard.sdk.a2a.server'):\n"
        "    try:\n"
        "        __import__(mod)\n"
        "    except ImportError as e:\n"
        "        print(type(e).__name__, e)\n"
    )
    pkg = Path(sloguard.__file__).parent.parent
    env = {**os.environ, "PYTHONPATH": str(pkg)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=False
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert len(lines) == 4
    assert all(line.startswith("MissingExtra") and "sloguard[a2a]" in line for line in lines)
