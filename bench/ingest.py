"""Measure HTTP ingest cost per step, against the in-process recorder doing the same steps.

Each request carries a batch of 1, 100 or 1000 *steps* (agent and tool calls), the same steps in
all three encodings:

- ``a2a``    ``POST /v1/a2a/traces``: flat A2A ResponseTraces (``{"traces": [...]}``), each a
             supervisor agent with a tool, a nested writer agent (a handoff) and its tool; agent
             steps carry the model and tokens in ``additional_attributes`` and a cost;
- ``otlp``   ``POST /v1/traces``: the same traces as an OTLP protobuf ``ExportTraceServiceRequest``
             with GenAI spans (``invoke_agent`` / ``execute_tool``, model, token usage);
- ``events`` ``POST /v1/events``: the same steps as ``agent_call`` / ``tool_call`` events.

The baseline is the in-process recorder on the same steps: ``inproc_trace`` runs
``feed_trace(recorder, trace)`` on already-parsed traces (the same recorder calls A2A and OTLP
make, handoffs included); ``inproc_events`` makes the events' ``Recorder`` calls directly.

Two measurements, each beside its baselines in the same interleaved rounds (order rotated every
round, ``gc.collect()`` before each sample, medians; every figure is CPU time, so waiting for
the machine's other work does not count):

1. **Real HTTP, the verdict.** uvicorn runs the daemon's app shape in a subprocess on
   127.0.0.1, configured as ``sloguard run`` configures it, and a keep-alive ``httpx.Client``
   posts to it. The figure is the *server process's* CPU time per step (read by the server
   itself, ``time.process_time_ns``, over a pipe): what the sidecar spends on one core to
   receive, parse, answer and record. The client's cost is the agent's, not the sidecar's, and
   is not in it (its wall time is shown beside).
2. **The app alone, in-process.** The same bodies handed straight to the ASGI app (the scope and
   one body message, as a server hands them over; no client, no HTTP parsing): how much of the
   HTTP figure is sloguard's own request path.

Before timing, every in-process case is fed once into a fresh registry, and each endpoint must
have recorded exactly the series of its baseline. Exit status is 0 whatever the numbers; this is
a measurement.

Usage::

    python bench/ingest.py            # full run (~1.5 minutes)
    python bench/ingest.py --quick    # smoke run (~15 s)
    python bench/ingest.py --json     # machine-readable result on stdout
    python bench/ingest.py --no-http  # only the in-process part
    python bench/ingest.py --profile a2a_100    # cProfile one in-process case
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import gc
import io
import json
import os
import pstats
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Awaitable, Callable, Iterator, MutableMapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common

import httpx
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from bench.common import machine_info as common_machine_info
from bench.common import package_version
from sloguard.ingest.router import ingest_router
from sloguard.sdk.feed import feed_trace
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.trace import ResponseTrace, parse_trace
from sloguard.web.server import create_app

BATCHES = (1, 100, 1000)
#: Targets of the batched A2A and OTLP cases: steps/s on one core, and × the in-process cost.
MIN_STEPS_PER_S = 20_000
MAX_RATIO = 5.0
TARGETED = ("a2a", "otlp")
BATCHED = (100, 1000)
ENDPOINTS = {"a2a": "/v1/a2a/traces", "otlp": "/v1/traces", "events": "/v1/events"}
CONTENT_TYPES = {
    "a2a": "application/json",
    "otlp": "application/x-protobuf",
    "events": "application/json",
}
BASELINE_OF = {"a2a": "inproc_trace", "otlp": "inproc_trace", "events": "inproc_events"}
T0 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
T0_NS = int(T0.timestamp()) * 1_000_000_000


@dataclass(frozen=True)
class Mode:
    """How long to measure: rounds, wall time per case per round, warm-up requests."""

    rounds: int
    round_ns: int
    warmups: int


FULL = Mode(rounds=9, round_ns=250_000_000, warmups=5)
QUICK = Mode(rounds=3, round_ns=40_000_000, warmups=2)


# --- the workload: one set of steps, three encodings ----------------------------------------------
@dataclass(frozen=True)
class StepSpec:
    """One step of a workload trace, before it is encoded."""

    key: str
    parent: str | None
    kind: str  # AGENT or TOOL
    name: str
    seconds: float
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost: float | None = None  # what the pricing table gives for the model and tokens
    error: str | None = None


@dataclass(frozen=True)
class TraceSpec:
    """One trace of the workload."""

    index: int
    steps: tuple[StepSpec, ...]

    @property
    def trace_id(self) -> str:
        return f"4bf92f3577b34da6{self.index + 1:016x}"

    def step_id(self, key: str) -> str:
        return f"{self.index + 1:08x}{key}"

    def span_id(self, key: str) -> bytes:
        return bytes.fromhex(f"{self.index + 1:012x}{int(key[1:]):04x}")


def trace_spec(index: int) -> TraceSpec:
    """Return trace ``index``: supervisor → web_search, supervisor → writer → spell_check."""
    failed = "TimeoutError: spell checker timed out" if index % 10 == 0 else None
    return TraceSpec(
        index,
        (
            StepSpec("s1", None, "AGENT", "supervisor", 2.5, "gpt-4o", 1200, 300, 0.006),
            StepSpec("s2", "s1", "TOOL", "web_search", 0.4),
            StepSpec("s3", "s1", "AGENT", "writer", 1.5, "gpt-4o-mini", 900, 450, 0.000405),
            StepSpec("s4", "s3", "TOOL", "spell_check", 0.05, error=failed),
        ),
    )


def workload(steps: int) -> list[TraceSpec]:
    """Return traces holding ``steps`` steps in all (4 per trace; 1 step: the supervisor only)."""
    if steps < 4:
        return [TraceSpec(0, trace_spec(0).steps[:steps])]
    if steps % 4:
        raise ValueError(f"steps must be < 4 or a multiple of 4, got {steps}")
    return [trace_spec(i) for i in range(steps // 4)]


def _offset(spec: TraceSpec, step: StepSpec) -> float:
    return {"s1": 0.0, "s2": 0.1, "s3": 0.6, "s4": 0.8}[step.key] + spec.index


def a2a_trace(spec: TraceSpec) -> dict[str, Any]:
    """Return ``spec`` as a flat A2A ResponseTrace (sample-library shape)."""
    steps = []
    for s in spec.steps:
        start = T0 + timedelta(seconds=_offset(spec, s))
        attrs: dict[str, Any] = {}
        if s.model is not None:
            attrs = {
                "gen_ai.request.model": s.model,
                "gen_ai.usage.input_tokens": s.input_tokens,
                "gen_ai.usage.output_tokens": s.output_tokens,
            }
        steps.append(
            {
                "step_id": spec.step_id(s.key),
                "trace_id": spec.trace_id,
                "parent_step_id": spec.step_id(s.parent) if s.parent else None,
                "call_type": s.kind,
                "name": s.name,
                "parameters": {"query": "q3 revenue by region", "limit": 10},
                "requests": None,
                "step_type": None,
                "cost": s.cost,
                "total_tokens": (s.input_tokens or 0) + (s.output_tokens or 0) or None,
                "additional_attributes": attrs,
                "latency": round(s.seconds * 1000),
                "start_time": start.isoformat(),
                "end_time": (start + timedelta(seconds=s.seconds)).isoformat(),
                "error": s.error,
            }
        )
    return {"trace_id": spec.trace_id, "steps": steps}


def a2a_body(specs: list[TraceSpec]) -> bytes:
    """Return the request body: one trace alone, or ``{"traces": [...]}``."""
    traces = [a2a_trace(s) for s in specs]
    return orjson.dumps(traces[0] if len(traces) == 1 else {"traces": traces})


def _attr(key: str, value: str | int) -> KeyValue:
    v = AnyValue(string_value=value) if isinstance(value, str) else AnyValue(int_value=value)
    return KeyValue(key=key, value=v)


def otlp_body(specs: list[TraceSpec]) -> bytes:
    """Return the same traces as an OTLP ``ExportTraceServiceRequest`` with GenAI spans."""
    spans = []
    for spec in specs:
        trace_id = bytes.fromhex(spec.trace_id)
        for s in spec.steps:
            start = T0_NS + round(_offset(spec, s) * 1e9)
            if s.kind == "AGENT":
                name = f"invoke_agent {s.name}"
                attrs = [
                    _attr("gen_ai.operation.name", "invoke_agent"),
                    _attr("gen_ai.agent.name", s.name),
                    _attr("gen_ai.provider.name", "openai"),
                ]
                if s.model is not None:
                    attrs.append(_attr("gen_ai.request.model", s.model))
                    attrs.append(_attr("gen_ai.usage.input_tokens", s.input_tokens or 0))
                    attrs.append(_attr("gen_ai.usage.output_tokens", s.output_tokens or 0))
            else:
                name = f"execute_tool {s.name}"
                attrs = [
                    _attr("gen_ai.operation.name", "execute_tool"),
                    _attr("gen_ai.tool.name", s.name),
                    _attr("gen_ai.tool.call.id", f"call-{spec.index}-{s.key}"),
                ]
            if s.error is not None:
                attrs.append(_attr("error.type", "TimeoutError"))
            spans.append(
                Span(
                    trace_id=trace_id,
                    span_id=spec.span_id(s.key),
                    parent_span_id=spec.span_id(s.parent) if s.parent else b"",
                    name=name,
                    kind=Span.SPAN_KIND_INTERNAL,
                    start_time_unix_nano=start,
                    end_time_unix_nano=start + round(s.seconds * 1e9),
                    attributes=attrs,
                    status=Status(
                        code=Status.STATUS_CODE_ERROR if s.error else Status.STATUS_CODE_UNSET
                    ),
                )
            )
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=Resource(attributes=[_attr("service.name", "agents")]),
                scope_spans=[ScopeSpans(spans=spans)],
            )
        ]
    )
    body: bytes = request.SerializeToString()
    return body


def events_body(specs: list[TraceSpec]) -> bytes:
    """Return the same steps as ``agent_call`` / ``tool_call`` events."""
    events: list[dict[str, Any]] = []
    for spec in specs:
        by_key = {s.key: s for s in spec.steps}
        for s in spec.steps:
            status = "error" if s.error else "success"
            if s.kind == "AGENT":
                events.append(
                    {
                        "type": "agent_call",
                        "agent": s.name,
                        "status": status,
                        "duration_seconds": s.seconds,
                        "model": s.model,
                        "input_tokens": s.input_tokens,
                        "output_tokens": s.output_tokens,
                        "cost_usd": s.cost,
                        "trace_id": spec.trace_id,
                    }
                )
            else:
                owner = by_key[s.parent].name if s.parent else None
                events.append(
                    {
                        "type": "tool_call",
                        "agent": owner,
                        "tool": s.name,
                        "status": status,
                        "duration_seconds": s.seconds,
                        "trace_id": spec.trace_id,
                    }
                )
    return orjson.dumps({"events": events})


BODIES: dict[str, Callable[[list[TraceSpec]], bytes]] = {
    "a2a": a2a_body,
    "otlp": otlp_body,
    "events": events_body,
}


def parsed_traces(specs: list[TraceSpec]) -> list[ResponseTrace]:
    """Return the traces parsed once, as the in-process baseline feeds them."""
    return [parse_trace(orjson.loads(orjson.dumps(a2a_trace(s)))) for s in specs]


def event_calls(recorder: Recorder, specs: list[TraceSpec]) -> list[Callable[[], None]]:
    """Return the recorder calls the events make, bound to ``recorder``."""
    calls: list[Callable[[], None]] = []
    for spec in specs:
        by_key = {s.key: s for s in spec.steps}
        for s in spec.steps:
            status = "error" if s.error else "success"
            if s.kind == "AGENT":
                calls.append(
                    partial(
                        recorder.agent_call,
                        s.name,
                        status,
                        s.seconds,
                        model=s.model,
                        input_tokens=s.input_tokens,
                        output_tokens=s.output_tokens,
                        cost=s.cost,
                        trace_id=spec.trace_id,
                    )
                )
            else:
                owner = by_key[s.parent].name if s.parent else "unknown"
                calls.append(
                    partial(
                        recorder.tool_call, owner, s.name, status, s.seconds, trace_id=spec.trace_id
                    )
                )
    return calls


# --- the cases ------------------------------------------------------------------------------------
AsyncOp = Callable[[], Awaitable[None]]


@dataclass
class Case:
    """One measured operation: one request (or its in-process equivalent) of ``steps`` steps."""

    name: str
    kind: str  # a2a, otlp, events, inproc_trace, inproc_events
    steps: int
    op: AsyncOp
    registry: CollectorRegistry
    reps: int = 1
    per_step_ns: list[float] = field(default_factory=list)
    cpu_over_wall: list[float] = field(default_factory=list)


def fresh_recorder() -> tuple[CollectorRegistry, Recorder]:
    """Return a new registry and a recorder on it."""
    registry = CollectorRegistry()
    return registry, Recorder(AgentMetrics(registry=registry))


def ingest_app(recorder: Recorder, registry: CollectorRegistry) -> ASGIApp:
    """Return the daemon's app shape with only the ingest router (no auth)."""
    return create_app(registry, routers=[ingest_router(recorder, token=None)])


class AsgiPost:
    """Post one body to an ASGI app as an HTTP server hands it over: scope, one body message.

    No client: what is measured is the app's own work for the request, as the server runs it.
    """

    def __init__(self, app: ASGIApp, path: str, body: bytes, content_type: str) -> None:
        self.app = app
        self.body = body
        self.scope: dict[str, Any] = {
            "type": "http",
            "asgi": {"version": "3.0", "spec_version": "2.4"},
            "http_version": "1.1",
            "method": "POST",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": b"",
            "root_path": "",
            "headers": [
                (b"host", b"sloguard"),
                (b"content-type", content_type.encode()),
                (b"content-length", str(len(body)).encode()),
            ],
            "client": ("127.0.0.1", 40000),
            "server": ("127.0.0.1", 9464),
        }

    async def __call__(self) -> int:
        """Run one request; return the response status."""
        sent = False
        status = 0

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": self.body, "more_body": False}
            return {"type": "http.disconnect"}  # asked only once the answer is out

        async def send(message: MutableMapping[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]

        await self.app(dict(self.scope), receive, send)
        return status


def endpoint_case(kind: str, steps: int) -> Case:
    """Return a case posting the ``kind`` body of ``steps`` steps straight to the ASGI app."""
    registry, recorder = fresh_recorder()
    body = BODIES[kind](workload(steps))
    post = AsgiPost(ingest_app(recorder, registry), ENDPOINTS[kind], body, CONTENT_TYPES[kind])

    async def op() -> None:
        status = await post()
        if status != 200:
            raise RuntimeError(f"{kind} answered {status}")

    return Case(f"{kind}_{steps}", kind, steps, op, registry)


def trace_feed(steps: int) -> tuple[CollectorRegistry, Callable[[], None]]:
    """``feed_trace`` on the already-parsed traces: the in-process cost of A2A and OTLP steps."""
    registry, recorder = fresh_recorder()
    traces = parsed_traces(workload(steps))

    def feed() -> None:
        for trace in traces:
            feed_trace(recorder, trace)

    return registry, feed


def trace_baseline(steps: int) -> Case:
    """The ``inproc_trace`` case (see :func:`trace_feed`)."""
    registry, feed = trace_feed(steps)

    async def op() -> None:
        feed()

    return Case(f"inproc_trace_{steps}", "inproc_trace", steps, op, registry)


def events_baseline(steps: int) -> Case:
    """The events' recorder calls made directly: the in-process cost of the events."""
    registry, recorder = fresh_recorder()
    calls = event_calls(recorder, workload(steps))

    async def op() -> None:
        for call in calls:
            call()

    return Case(f"inproc_events_{steps}", "inproc_events", steps, op, registry)


def build_cases() -> list[Case]:
    """Return every in-process case, a fresh registry each."""
    cases: list[Case] = []
    for steps in BATCHES:
        cases.append(trace_baseline(steps))
        cases.append(events_baseline(steps))
        cases.extend(endpoint_case(kind, steps) for kind in ENDPOINTS)
    return cases


# --- checking that every path did the same work ---------------------------------------------------
def series(registry: CollectorRegistry) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Return the agent_* samples of ``registry`` (no ``_created``)."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for fam in registry.collect()
        for s in fam.samples
        if s.name.startswith("agent_") and not s.name.endswith("_created")
    }


def same_work(cases: list[Case]) -> list[str]:
    """After one call of each case (fresh registries), return how endpoints differ from baselines.

    Cost sums are compared rounded, since OTLP prices tokens from the table.
    """
    differences = []
    by_name = {c.name: c for c in cases}
    for case in cases:
        if case.kind not in BASELINE_OF:
            continue
        base = by_name[f"{BASELINE_OF[case.kind]}_{case.steps}"]
        got = {k: round(v, 9) for k, v in series(case.registry).items()}
        want = {k: round(v, 9) for k, v in series(base.registry).items()}
        if got != want:
            keys = sorted(set(got) ^ set(want)) + sorted(
                k for k in set(got) & set(want) if got[k] != want[k]
            )
            differences.append(f"{case.name} vs {base.name}: {len(keys)} series differ, {keys[:3]}")
    return differences


# --- measuring in-process -------------------------------------------------------------------------
async def time_case(case: Case, reps: int) -> tuple[int, int]:
    """Return (wall ns, process CPU ns) of ``reps`` back-to-back calls of ``case.op``."""
    c0 = time.process_time_ns()
    t0 = time.perf_counter_ns()
    for _ in range(reps):
        await case.op()
    return time.perf_counter_ns() - t0, time.process_time_ns() - c0


async def calibrate(case: Case, mode: Mode) -> None:
    """Warm the case up and size its samples to about ``mode.round_ns``."""
    wall, _ = await time_case(case, mode.warmups)
    per_call = max(wall / mode.warmups, 1.0)
    case.reps = max(1, round(mode.round_ns / per_call))


async def run_rounds(cases: list[Case], mode: Mode) -> None:
    """Time every case once per round, rotating the order so no case always goes first."""
    k = len(cases)
    for r in range(mode.rounds):
        for case in cases[r % k :] + cases[: r % k]:
            gc.collect()  # the same heap state for every sample; gc stays on inside
            wall, cpu = await time_case(case, case.reps)
            case.per_step_ns.append(cpu / (case.reps * case.steps))
            case.cpu_over_wall.append(cpu / wall)


def ratio_row(row: dict[str, Any], own: list[float], base: list[float]) -> None:
    """Add the ratios to the same-rounds baseline, and the verdict of targeted cases."""
    row["ratio"] = round(statistics.median(own) / statistics.median(base), 2)
    row["ratio_paired"] = round(statistics.median(a / b for a, b in zip(own, base, strict=True)), 2)
    if row["kind"] in TARGETED and row["steps_per_request"] in BATCHED:
        ok = row["steps_per_s"] >= MIN_STEPS_PER_S and row["ratio"] <= MAX_RATIO
        row["verdict"] = "PASS" if ok else "MISS"


def asgi_results(cases: list[Case]) -> list[dict[str, Any]]:
    """Return medians, steps per CPU-second and ratios to the same-rounds baseline."""
    by_name = {c.name: c for c in cases}
    results = []
    for case in cases:
        median = statistics.median(case.per_step_ns)
        row: dict[str, Any] = {
            "case": case.name,
            "kind": case.kind,
            "steps_per_request": case.steps,
            "requests_per_sample": case.reps,
            "median_cpu_ns_per_step": round(median, 1),
            "steps_per_s": round(1e9 / median),
            "cpu_over_wall": round(statistics.median(case.cpu_over_wall), 3),
            "baseline": None,
            "ratio": None,
            "ratio_paired": None,
            "verdict": None,
        }
        if case.kind in BASELINE_OF:
            base = by_name[f"{BASELINE_OF[case.kind]}_{case.steps}"]
            row["baseline"] = base.name
            ratio_row(row, case.per_step_ns, base.per_step_ns)
            row["verdict"] = None  # the verdict is the real-HTTP one: see http_results
        results.append(row)
    return results


# --- real HTTP: uvicorn in a subprocess, as the daemon runs it ------------------------------------
def serve(port: int, command_fd: int, answer_fd: int) -> None:
    """Serve a fresh ingest app on 127.0.0.1:``port`` (the subprocess side).

    uvicorn is configured as :func:`sloguard.daemon.serve` configures it (its default HTTP and
    loop implementations: whatever is installed). Each line read from ``command_fd`` is answered
    on ``answer_fd`` with this process's CPU time in nanoseconds (all threads, user + system).
    """
    import uvicorn

    def answer_cpu() -> None:
        with open(command_fd, "rb", buffering=0) as commands, open(answer_fd, "wb", 0) as out:
            for _ in commands:
                out.write(b"%d\n" % time.process_time_ns())

    registry, recorder = fresh_recorder()
    config = uvicorn.Config(
        ingest_app(recorder, registry),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        server_header=False,
        lifespan="on",
    )
    threading.Thread(target=answer_cpu, daemon=True).start()
    uvicorn.Server(config).run()


def free_port() -> int:
    """Return a port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    """The uvicorn subprocess: its base URL, and its CPU clock read over a pipe."""

    base: str
    commands: io.BufferedWriter
    answers: io.BufferedReader
    http: str

    def cpu_ns(self) -> int:
        """Return the server process's CPU time (ns), as the server reads it."""
        self.commands.write(b"\n")
        self.commands.flush()
        return int(self.answers.readline())


def http_implementation() -> str:
    """Name what uvicorn's ``auto`` picks here: ``httptools`` if installed, else ``h11``."""
    return "h11" if package_version("httptools") is None else "httptools"


@contextlib.contextmanager
def uvicorn_server() -> Iterator[Server]:
    """Run :func:`serve` in a subprocess until the block ends."""
    port = free_port()
    command_r, command_w = os.pipe()
    answer_r, answer_w = os.pipe()
    with tempfile.TemporaryFile() as errors:
        fds = (str(port), str(command_r), str(answer_w))
        proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", *fds],
            stdout=subprocess.DEVNULL,
            stderr=errors,
            pass_fds=(command_r, answer_w),
        )
        os.close(command_r)
        os.close(answer_w)
        base = f"http://127.0.0.1:{port}"
        with open(command_w, "wb") as commands, open(answer_r, "rb") as answers:
            try:
                deadline = time.monotonic() + 30
                while True:
                    try:
                        if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    if proc.poll() is not None or time.monotonic() > deadline:
                        errors.seek(0)
                        err = errors.read().decode(errors="replace")
                        raise RuntimeError(f"uvicorn did not start: {err[-2000:]}")
                    time.sleep(0.1)
                yield Server(base, commands, answers, http_implementation())
            finally:
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()


@dataclass
class HttpCase:
    """One request kind and size over HTTP, or the in-process baseline timed beside them."""

    kind: str  # a2a, otlp, events, inproc_trace
    steps: int
    run: Callable[[int], int]  # run(reps) -> CPU ns of the side doing the work
    reps: int = 1
    cpu_per_step: list[float] = field(default_factory=list)
    wall_per_step: list[float] = field(default_factory=list)


def http_cases(server: Server, client: httpx.Client) -> list[HttpCase]:
    """The HTTP cases of every kind and size, and an ``inproc_trace`` baseline per size."""
    cases: list[HttpCase] = []
    for steps in BATCHES:
        _, feed = trace_feed(steps)

        def baseline(reps: int, feed: Callable[[], None] = feed) -> int:
            c0 = time.process_time_ns()
            for _ in range(reps):
                feed()
            return time.process_time_ns() - c0

        cases.append(HttpCase("inproc_trace", steps, baseline))
        for kind, path in ENDPOINTS.items():
            body = BODIES[kind](workload(steps))
            headers = {"content-type": CONTENT_TYPES[kind]}

            def post(
                reps: int, kind: str = kind, path: str = path, body: bytes = body, h: Any = headers
            ) -> int:
                c0 = server.cpu_ns()
                for _ in range(reps):
                    r = client.post(path, content=body, headers=h)
                    if r.status_code != 200:
                        raise RuntimeError(f"{kind} over HTTP: {r.status_code} {r.text[:300]}")
                return server.cpu_ns() - c0

            cases.append(HttpCase(kind, steps, post))
    return cases


def http_results(mode: Mode) -> tuple[str, list[dict[str, Any]]]:
    """Time every HTTP case and its baselines in interleaved rounds; return medians and ratios.

    The HTTP figure is the server's CPU time per step: what the sidecar spends, on one core, to
    receive, parse, answer and record. The client's wall time per step is reported beside it.
    """
    with uvicorn_server() as server, httpx.Client(base_url=server.base, timeout=60) as client:
        cases = http_cases(server, client)
        for case in cases:
            t0 = time.perf_counter_ns()
            case.run(mode.warmups)
            per_call = max((time.perf_counter_ns() - t0) / mode.warmups, 1.0)
            case.reps = max(1, round(mode.round_ns / per_call))
        k = len(cases)
        for r in range(mode.rounds):
            for case in cases[r % k :] + cases[: r % k]:
                gc.collect()
                t0 = time.perf_counter_ns()
                cpu = case.run(case.reps)
                wall = time.perf_counter_ns() - t0
                case.cpu_per_step.append(cpu / (case.reps * case.steps))
                case.wall_per_step.append(wall / (case.reps * case.steps))
    base = {c.steps: c for c in cases if c.kind == "inproc_trace"}
    out = []
    for case in cases:
        median = statistics.median(case.cpu_per_step)
        row: dict[str, Any] = {
            "case": f"http_{case.kind}_{case.steps}",
            "kind": case.kind,
            "steps_per_request": case.steps,
            "requests_per_sample": case.reps,
            "median_cpu_ns_per_step": round(median, 1),
            "steps_per_s": round(1e9 / median),
            "client_wall_ns_per_step": round(statistics.median(case.wall_per_step), 1),
            "ratio": None,
            "ratio_paired": None,
            "verdict": None,
        }
        if case.kind in TARGETED:
            ratio_row(row, case.cpu_per_step, base[case.steps].cpu_per_step)
        out.append(row)
    return server.http, out


# --- reporting ------------------------------------------------------------------------------------
PACKAGES = ("fastapi", "starlette", "httpx", "uvicorn", "httptools", "uvloop", "protobuf")


def machine_info() -> dict[str, Any]:
    """Return what the numbers depend on: CPUs, Python, library versions."""
    return common_machine_info(PACKAGES)


def _table(rows: list[dict[str, Any]], extra: str | None) -> list[str]:
    head = f"{'case':<22} {'cpu ns/step':>11} {'steps/cpu-s':>11} {'x inproc':>8} {'(paired)':>8}"
    lines = [head + (f" {extra:>14}" if extra else "") + "  verdict"]
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        paired = "" if r["ratio_paired"] is None else f"{r['ratio_paired']:.2f}x"
        line = (
            f"{r['case']:<22} {r['median_cpu_ns_per_step']:>11.0f} {r['steps_per_s']:>11} "
            f"{ratio:>8} {paired:>8}"
        )
        if extra:
            line += f" {r[extra]:>14.0f}"
        lines.append(f"{line}  {r['verdict'] or ''}")
    return lines


def render(summary: dict[str, Any]) -> str:
    """Return the summary as plain-text tables."""
    m = summary["machine"]
    mode = summary["mode"]
    lines = [
        f"sloguard HTTP ingest: {mode['rounds']} interleaved rounds, ~{mode['round_ms']:.0f} ms "
        "per case per round, medians of CPU time per step",
        f"python {m['python']}, {m['cpus']} CPUs, fastapi {m['fastapi']}, starlette "
        f"{m['starlette']}, uvicorn {m['uvicorn']}, httptools {m['httptools']}, "
        f"uvloop {m['uvloop']}, protobuf {m['protobuf']}",
    ]
    if summary["http"]:
        lines += [
            "",
            f"Real HTTP (the verdict): uvicorn ({summary['http_impl']}) in a subprocess on "
            "127.0.0.1, configured as the daemon runs it; keep-alive httpx client. cpu = the "
            "server process's CPU time; x inproc = over inproc_trace timed in the same rounds:",
            *_table(summary["http"], "client_wall_ns_per_step"),
        ]
    lines += [
        "",
        "The app alone, in-process (raw ASGI calls: no client, no HTTP server; process CPU):",
        *_table(summary["asgi"], None),
        "",
        f"Targets (a2a, otlp at 100 and 1000 steps, over real HTTP): >= {MIN_STEPS_PER_S} steps "
        f"per CPU-second and <= {MAX_RATIO:g}x the in-process cost (inproc_trace, same rounds).",
    ]
    if summary["differences"]:
        lines.append("WARNING: endpoints and baselines recorded different series:")
        lines += [f"  {d}" for d in summary["differences"]]
    else:
        lines.append("Check: each endpoint recorded exactly the series of its baseline.")
    return "\n".join(lines)


# --- profiling ------------------------------------------------------------------------------------
async def profiled(case_name: str, requests: int) -> pstats.Stats | None:
    """Profile ``requests`` calls of one case on the event loop and in the intake worker threads.

    The intake parses and records large bodies in a worker thread, which the main thread's
    profiler does not see; a ``threading.setprofile`` hook starts a profiler in each new thread
    (this loop's worker threads are new), and their stats are merged with the loop's.
    """
    thread_profilers: list[cProfile.Profile] = []

    def start(frame: FrameType, event: str, arg: object) -> None:
        p = cProfile.Profile()
        thread_profilers.append(p)
        p.enable()

    cases = {c.name: c for c in build_cases()}
    case = cases.get(case_name)
    if case is None:
        print(f"unknown case {case_name!r}; choose from: {', '.join(cases)}")
        return None
    threading.setprofile(start)  # before the first request starts the worker threads
    await time_case(case, 5)  # warm-up; the worker profiles include these 5 requests
    main = cProfile.Profile()
    main.enable()
    await time_case(case, requests)
    main.disable()
    threading.setprofile(None)
    stats = pstats.Stats(main)
    for p in thread_profilers:
        stats.add(p)
    return stats


def profile(case_name: str, requests: int, top: int) -> str:
    """Return the top ``top`` entries (by own time) of one case, loop and worker threads."""
    stats = asyncio.run(profiled(case_name, requests))
    if stats is None:
        return ""
    out = io.StringIO()
    stats.stream = out  # type: ignore[attr-defined]
    stats.sort_stats(pstats.SortKey.TIME).print_stats(top)
    return out.getvalue()


# --- main -----------------------------------------------------------------------------------------
async def measure(mode: Mode) -> tuple[list[dict[str, Any]], list[str]]:
    """Build, check, warm up and time every in-process case."""
    check = build_cases()
    for case in check:
        await case.op()
    differences = same_work(check)
    cases = build_cases()
    for case in cases:
        await calibrate(case, mode)
    await run_rounds(cases, mode)
    return asgi_results(cases), differences


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print tables (or JSON); always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run, about 15 s")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-http", action="store_true", help="skip the real-HTTP part")
    parser.add_argument("--profile", metavar="CASE", help="cProfile one case (e.g. a2a_100)")
    parser.add_argument("--serve", nargs=3, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(*args.serve)
        return 0
    mode = QUICK if args.quick else FULL
    if args.profile:
        print(profile(args.profile, 20 if args.quick else 200, 30))
        return 0

    asgi, differences = asyncio.run(measure(mode))
    http_impl, http = (None, []) if args.no_http else http_results(mode)
    summary = {
        "mode": {"rounds": mode.rounds, "round_ms": mode.round_ns / 1e6},
        "machine": machine_info(),
        "targets": {"min_steps_per_s": MIN_STEPS_PER_S, "max_ratio": MAX_RATIO},
        "http_impl": http_impl,
        "http": http,
        "asgi": asgi,
        "differences": differences,
    }
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
