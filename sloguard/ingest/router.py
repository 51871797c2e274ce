"""The ingest router: ``POST /v1/a2a/traces``, ``POST /v1/events``, ``POST /v1/traces`` (OTLP),
and ``POST /v1/traces/store`` (traces forwarded by sidecars, stored only: :mod:`.forwardintake`).

Example::

    recorder = Recorder(AgentMetrics(registry=registry))
    app = create_app(registry, routers=[ingest_router(recorder, token=None)])
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from functools import partial
from typing import Any

from fastapi import APIRouter, Request, Response, Security
from fastapi.security import HTTPBearer
from starlette.concurrency import run_in_threadpool

from sloguard.analysis.anomalies import MAX_TOOL_CALLS
from sloguard.analysis.decisions import LOW_CONFIDENCE
from sloguard.ingest.a2a import TraceLimits, TraceResult, plan_traces
from sloguard.ingest.anomalywatch import AnomalyWatch
from sloguard.ingest.auth import BearerAuth
from sloguard.ingest.events import EventResult, KeptEvents, plan_events
from sloguard.ingest.forwardintake import STORE, add_store_route, store_intake
from sloguard.ingest.intake import IngestRoute, Intake
from sloguard.ingest.metrics import IngestMetrics
from sloguard.ingest.otlpassembly import (
    DEFAULT_MAX_WAITING_SPANS,
    DEFAULT_WINDOW,
    OtlpAssembly,
)
from sloguard.ingest.pricing import PriceTable, load_pricing
from sloguard.ingest.problems import ErrorBody, Result
from sloguard.ingest.schema import events_schema, json_body, responses, traces_schema
from sloguard.ingest.spanmap import SpanMapping
from sloguard.ingest.spantrace import SpanTraceWriter
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore.base import TraceStore

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024
#: ``endpoint`` label values of the ingest self metrics.
A2A, EVENTS, OTLP = "a2a", "events", "otlp"


def json_depth_limit(max_depth: int) -> int:
    """Return the JSON nesting allowed for callee traces nested ``max_depth`` deep.

    Each nested trace costs five levels (step, step_action, agent_invocation, response_trace,
    steps); the rest leaves room for a batch wrapper and nested parameters.
    """
    return 6 * (max_depth + 1) + 16


class IngestRouter(APIRouter):
    """The ingest endpoints, and the OTLP assembly their owner flushes and drains."""

    def __init__(self, assembly: OtlpAssembly, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.assembly = assembly


def ingest_router(
    recorder: Recorder,
    *,
    token: str | None,
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES,
    max_items: int = 1000,
    max_depth: int = 8,
    max_steps: int = 10_000,
    pricing: PriceTable | None = None,
    metrics: IngestMetrics | None = None,
    traces: TraceStore | None = None,
    low_confidence: float = LOW_CONFIDENCE,
    max_tool_calls: int = MAX_TOOL_CALLS,
    otlp_window: float = DEFAULT_WINDOW,
    otlp_max_waiting_spans: int = DEFAULT_MAX_WAITING_SPANS,
    on_stored: Callable[[Sequence[ResponseTrace]], None] | None = None,
    store_only: bool = False,
) -> IngestRouter:
    """Return the router with the three ingest endpoints, recording into ``recorder``.

    ``token``: the bearer token requests need (None: no auth). ``max_body_bytes``: larger bodies
    get 413 (gzip bodies are bounded before and after inflating). ``max_items``: traces or events
    per request. ``max_depth``: callee traces nested in a trace; ``max_steps``: steps per trace.
    ``pricing`` (default: the packaged table) prices tokens reported without a cost; ``metrics``
    (default: new, on the recorder's registry) counts requests, items and unpriced tokens.
    ``traces``: where committed traces, events and decisions are stored; their anomalies
    (``low_confidence`` and ``max_tool_calls`` thresholds) are counted in
    ``agent_anomalies_total`` (see :mod:`sloguard.ingest.anomalywatch`). OTLP spans wait up
    to ``otlp_window`` seconds for the rest of their trace, at most ``otlp_max_waiting_spans``
    in all (see :mod:`sloguard.ingest.otlpassembly`); the router's ``assembly`` must be flushed
    every second or so, and drained at shutdown. ``on_stored`` is called with every trace
    stored (A2A and OTLP, after storing; the forwarder). With ``traces``, the store-only
    endpoint ``/v1/traces/store`` is added; ``store_only``: it is the only endpoint.
    """
    if max_items < 1:
        raise ValueError(f"max_items must be >= 1, got {max_items}")
    if store_only and traces is None:
        raise ValueError("store_only needs a trace store (traces=...)")
    table = pricing if pricing is not None else load_pricing()
    counters = metrics if metrics is not None else IngestMetrics(recorder.metrics.registry)
    counters.pricing.info({"version": table.version})
    auth = BearerAuth(token)
    assembly = OtlpAssembly(
        recorder, counters, table, window=otlp_window, max_waiting_spans=otlp_max_waiting_spans
    )
    intake = Intake(
        recorder,
        auth=auth,
        max_body_bytes=max_body_bytes,
        max_json_depth=json_depth_limit(max_depth),
        pricing=table,
        metrics=counters,
        assembly=assembly,
    )
    _declare(counters, auth, traces is not None, store_only)
    watch = _anomaly_watch(traces, recorder, counters, low_confidence, max_tool_calls, on_stored)
    router = _router(assembly, auth)
    limits = TraceLimits(max_items=max_items, max_depth=max_depth, max_steps=max_steps)
    if traces is not None:
        add_store_route(router, store_intake(intake), limits, traces, counters, auth=auth.enabled)
    if store_only:
        return router
    _add_a2a_route(router, intake, limits, watch, auth=auth.enabled)
    _add_events_route(router, intake, max_items, watch, auth=auth.enabled)
    writer = (
        SpanTraceWriter(traces, watch.store_traces)
        if traces is not None and watch is not None
        else None
    )
    if writer is not None:
        assembly.on_traces = writer.write
    _add_otlp_route(router, intake, writer, auth=auth.enabled)
    return router


def _declare(counters: IngestMetrics, auth: BearerAuth, stored: bool, store_only: bool) -> None:
    """Every endpoint's request counters at 0, with the results its auth can give."""
    results = [r.value for r in Result if auth.enabled or r is not Result.UNAUTHORIZED]
    endpoints = (A2A, EVENTS, OTLP, STORE) if stored else (A2A, EVENTS, OTLP)
    for endpoint in (STORE,) if store_only else endpoints:
        counters.declare(endpoint, results)


def _router(assembly: OtlpAssembly, auth: BearerAuth) -> IngestRouter:
    documented_auth: list[Any] = (
        [Security(HTTPBearer(auto_error=False, description="The ingest token."))]
        if auth.enabled
        else []
    )
    # IngestRoute: the endpoints do the whole request themselves (see its docstring)
    return IngestRouter(
        assembly, tags=["ingest"], dependencies=documented_auth, route_class=IngestRoute
    )


def _anomaly_watch(
    traces: TraceStore | None,
    recorder: Recorder,
    counters: IngestMetrics,
    low_confidence: float,
    max_tool_calls: int,
    on_stored: Callable[[Sequence[ResponseTrace]], None] | None,
) -> AnomalyWatch | None:
    """What stores committed traces and counts their anomalies (None without a store);
    ``on_stored`` hears of every trace it stores."""
    if traces is None:
        return None
    kind = AnomalyWatch if on_stored is None else partial(_TellingWatch, on_stored=on_stored)
    return kind(
        traces,
        recorder,
        low_confidence=low_confidence,
        max_tool_calls=max_tool_calls,
        on_failure=lambda what: counters.store_failures.labels(what).inc(),
    )


class _TellingWatch(AnomalyWatch):
    """An anomaly watch that tells ``on_stored`` of every trace it stores."""

    def __init__(
        self, *args: Any, on_stored: Callable[[Sequence[ResponseTrace]], None], **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        self._on_stored = on_stored

    def store_traces(
        self,
        traces: Sequence[ResponseTrace],
        now: float,
        stored: Mapping[str, ResponseTrace | None] | None = None,
    ) -> list[Any]:
        """Store and count as :class:`AnomalyWatch` does, then call ``on_stored``."""
        counted = super().store_traces(traces, now, stored)
        self._on_stored(traces)
        return counted


def _add_a2a_route(
    router: APIRouter,
    intake: Intake,
    limits: TraceLimits,
    watch: AnomalyWatch | None,
    *,
    auth: bool,
) -> None:
    """``POST /v1/a2a/traces``; ``watch`` (if any) stores committed traces, counts anomalies."""

    @router.post(
        "/v1/a2a/traces",
        summary="Record A2A traceability traces",
        response_model=None,
        responses=responses(TraceResult, auth=auth),
        openapi_extra=json_body(
            traces_schema(limits.max_items),
            "One ResponseTrace (flat or nested spec shape), the A2A metadata wrapper "
            '{<traceability key>: trace}, a list of those, or {"traces": [...]}.',
        ),
    )
    async def a2a_traces(request: Request) -> Response:
        """Record every step of A2A ResponseTraces: agent calls, tool calls, handoffs, tokens, cost.

        The batch is atomic: any problem rejects it with 422 listing every problem, and
        nothing is recorded.
        """
        keep: list[ResponseTrace] | None = [] if watch is not None else None
        now = time.time()
        plan = partial(plan_traces, limits=limits, keep=keep, now=now)
        response = await intake.handle(request, A2A, plan)
        if watch is not None and keep and response.status_code == 200:
            # only a committed batch is stored (a rejected one leaves no trace anywhere)
            await run_in_threadpool(watch.store_traces, keep, now)
        return response


def _add_events_route(
    router: APIRouter, intake: Intake, max_items: int, watch: AnomalyWatch | None, *, auth: bool
) -> None:
    """``POST /v1/events``; ``watch`` (if any) stores committed events, counts anomalies."""

    @router.post(
        "/v1/events",
        summary="Record plain JSON agent events",
        response_model=None,
        responses=responses(EventResult, auth=auth),
        openapi_extra=json_body(
            events_schema(max_items),
            '{"events": [...]}: agent_call, tool_call, handoff, decision, routing_outcome, '
            "usage and anomaly events, selected by their type.",
        ),
    )
    async def events(request: Request) -> Response:
        """Record agent events sent by agents that are neither Python nor OpenTelemetry.

        The batch is atomic: any problem rejects it with 422 listing every problem (as
        ``events[3].duration_seconds``), and nothing is recorded. A committed batch's events and
        decision records are stored, and the anomalies the decisions add are counted.
        """
        now = time.time()
        kept = KeptEvents(datetime.fromtimestamp(now, UTC)) if watch is not None else None
        plan = partial(plan_events, max_items=max_items, keep=kept, now=now)
        response = await intake.handle(request, EVENTS, plan)
        if watch is not None and kept and kept.events and response.status_code == 200:
            await run_in_threadpool(watch.store_events, kept.events, kept.decisions, now)
        return response


def _add_otlp_route(
    router: APIRouter, intake: Intake, writer: SpanTraceWriter | None, *, auth: bool
) -> None:
    """``POST /v1/traces`` (OTLP/HTTP); ``writer`` (if any) stores committed spans as traces."""

    @router.post(
        "/v1/traces",
        summary="Record OTLP/HTTP traces (protobuf or JSON)",
        response_model=None,
        responses={
            **responses(TraceResult, auth=auth),
            200: {
                "description": "Recorded, all of it: an ExportTraceServiceResponse.",
                "content": {
                    "application/json": {"schema": {"type": "object"}},
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                },
            },
            400: {"model": ErrorBody, "description": "Undecodable or invalid spans, listed."},
        },
        openapi_extra={
            "requestBody": {
                "required": True,
                "content": {
                    "application/x-protobuf": {"schema": {"type": "string", "format": "binary"}},
                    "application/json": {"schema": {"type": "object"}},
                },
                "description": "An OTLP ExportTraceServiceRequest, as any OTLP/HTTP exporter "
                "sends it. GenAI, OpenLLMetry and OpenInference spans become agent metrics.",
            }
        },
    )
    async def otlp_traces(request: Request) -> Response:
        """Record OTLP spans: agents, tools, tokens by model, handoffs; the batch is atomic.

        A committed batch's spans are stored as traces, merged with the spans of the same
        traces stored before (see :mod:`sloguard.ingest.spantrace`).
        """
        kept: list[SpanMapping] | None = [] if writer is not None else None
        now = time.time()
        response = await intake.handle_otlp(request, OTLP, keep=kept, now=now)
        if writer is not None and kept and response.status_code == 200:
            await run_in_threadpool(writer.write, kept, now)
        return response
