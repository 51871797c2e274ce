"""Measure HTTP ingest throughput in steps per second, against the in-process recorder.

Each request carries a batch of 1, 100 or 1000 *steps* (agent and tool calls), the same steps in
all three encodings:

- ``a2a``    ``POST /v1/a2a/traces``: flat A2A ResponseTraces (``{"traces": [...]}``), each a
             supervisor agent with a tool, a nested writer agent (a handoff) and its tool; agent
             steps carry the model and tokens in ``additional_attributes`` and a cost;
- ``otlp``   ``POST /v1/traces``: the same traces as an OTLP protobuf ``ExportTraceServiceRequest``
             with GenAI spans (``invoke_agent`` / ``execute_tool``, model, token usage);
- ``events`` ``POST /v1/events``: the same steps as ``agent_call`` / ``tool_call`` events.

Beside them, in the same run, the in-process recorder does the same steps:

- ``inproc_trace``  ``feed_trace(recorder, trace)`` on the already-parsed traces (the baseline of
                    ``a2a`` and ``otlp``: the same recorder calls, handoffs included);
- ``inproc_events`` ``Recorder.agent_call`` / ``Recorder.tool_call`` with the events' values.

The endpoints are driven in-process through the ASGI app (``httpx.ASGITransport``): one core, no
kernel TCP stack, but the whole FastAPI/Starlette request path and the intake's worker-thread hop.
Every case has its own registry, recorder and app. Cases are warmed up, then timed in interleaved
rounds with the order rotated each round; figures are medians, and every ratio is against the
in-process baseline measured in the same rounds.

A second part starts ``uvicorn`` in a subprocess on 127.0.0.1 and posts the batch-1000 bodies over
real HTTP (keep-alive), to show what the HTTP server and the TCP loopback add. Client and server
are separate processes there, so that part is not one core; the server's own CPU time per step is
read from ``/proc`` (Linux only).

Exit status is 0 whatever the numbers; this is a measurement.

Usage::

    python bench/ingest.py            # full run (~1 minute)
    python bench/ingest.py --quick    # smoke run (~10 s)
    python bench/ingest.py --json     # machine-readable result on stdout
    python bench/ingest.py --profile a2a_1000    # cProfile one case (event loop + worker thread)
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
import platform
import pstats
import socket
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from types import FrameType
from typing import Any

import httpx
import orjson
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
from opentelemetry.proto.resource.v1.resource_pb2 import Resource
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span, Status
from prometheus_client import CollectorRegistry
from starlette.types import ASGIApp

from sloguard.ingest.router import ingest_router
from sloguard.sdk.feed import feed_trace
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.trace import ResponseTrace
from sloguard.sdk.traceparse import parse_trace
from sloguard.server import create_app

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
    http_rounds: int
    http_requests: int


FULL = Mode(rounds=9, round_ns=250_000_000, warmups=5, http_rounds=7, http_requests=8)
QUICK = Mode(rounds=3, round_ns=30_000_000, warmups=2, http_rounds=2, http_requests=2)


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


def endpoint_case(kind: str, steps: int, stack: contextlib.AsyncExitStack) -> Awaitable[Case]:
    """Return a case posting the ``kind`` body of ``steps`` steps through the ASGI app."""

    async def build() -> Case:
        registry, recorder = fresh_recorder()
        client = await stack.enter_async_context(
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=ingest_app(recorder, registry)),
                base_url="http://sloguard",
            )
        )
        specs = workload(steps)
        body = {"a2a": a2a_body, "otlp": otlp_body, "events": events_body}[kind](specs)
        url = ENDPOINTS[kind]
        headers = {"content-type": CONTENT_TYPES[kind]}

        async def op() -> None:
            r = await client.post(url, content=body, headers=headers)
            if r.status_code != 200:
                raise RuntimeError(f"{kind} answered {r.status_code}: {r.text[:300]}")

        return Case(f"{kind}_{steps}", kind, steps, op, registry)

    return build()


def trace_baseline(steps: int) -> Case:
    """``feed_trace`` on the already-parsed traces: the in-process cost of A2A and OTLP steps."""
    registry, recorder = fresh_recorder()
    traces = parsed_traces(workload(steps))

    async def op() -> None:
        for trace in traces:
            feed_trace(recorder, trace)

    return Case(f"inproc_trace_{steps}", "inproc_trace", steps, op, registry)


def events_baseline(steps: int) -> Case:
    """The events' recorder calls made directly: the in-process cost of the events."""
    registry, recorder = fresh_recorder()
    calls = event_calls(recorder, workload(steps))

    async def op() -> None:
        for call in calls:
            call()

    return Case(f"inproc_events_{steps}", "inproc_events", steps, op, registry)


async def build_cases(stack: contextlib.AsyncExitStack) -> list[Case]:
    """Return every case, a fresh registry each."""
    cases: list[Case] = []
    for steps in BATCHES:
        cases.append(trace_baseline(steps))
        cases.append(events_baseline(steps))
        for kind in ENDPOINTS:
            cases.append(await endpoint_case(kind, steps, stack))
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


# --- measuring ------------------------------------------------------------------------------------
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
            case.per_step_ns.append(wall / (case.reps * case.steps))
            case.cpu_over_wall.append(cpu / wall)


def asgi_results(cases: list[Case]) -> list[dict[str, Any]]:
    """Return medians, steps/s, ratios to the same-run baseline and the target verdicts."""
    by_name = {c.name: c for c in cases}
    results = []
    for case in cases:
        median = statistics.median(case.per_step_ns)
        row: dict[str, Any] = {
            "case": case.name,
            "kind": case.kind,
            "steps_per_request": case.steps,
            "requests_per_sample": case.reps,
            "median_ns_per_step": round(median, 1),
            "min_ns_per_step": round(min(case.per_step_ns), 1),
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
            row["ratio"] = round(median / statistics.median(base.per_step_ns), 2)
            row["ratio_paired"] = round(
                statistics.median(
                    a / b for a, b in zip(case.per_step_ns, base.per_step_ns, strict=True)
                ),
                2,
            )
            if case.kind in TARGETED and case.steps in BATCHED:
                ok = row["steps_per_s"] >= MIN_STEPS_PER_S and row["ratio"] <= MAX_RATIO
                row["verdict"] = "PASS" if ok else "MISS"
        results.append(row)
    return results


# --- real HTTP: uvicorn in a subprocess ---------------------------------------------------------
def serve(port: int) -> None:
    """Serve a fresh ingest app with uvicorn on 127.0.0.1:``port`` (the subprocess side)."""
    import uvicorn

    registry, recorder = fresh_recorder()
    uvicorn.run(
        ingest_app(recorder, registry),
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
    )


def free_port() -> int:
    """Return a port of 127.0.0.1 that was free a moment ago."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def cpu_seconds(pid: int) -> float | None:
    """Return user + system CPU seconds of process ``pid`` from /proc, or None off Linux."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextlib.contextmanager
def uvicorn_server() -> Iterator[tuple[str, int]]:
    """Run ``serve`` in a subprocess; yield its base URL and pid; stop it afterwards."""
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(Path(__file__).resolve()), "--serve", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                err = proc.stderr.read().decode() if proc.stderr else ""
                raise RuntimeError(f"uvicorn did not start: {err[-2000:]}")
            time.sleep(0.1)
        yield base, proc.pid
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def http_results(mode: Mode, steps: int) -> list[dict[str, Any]]:
    """Post each batch-``steps`` body to uvicorn over real HTTP; interleaved rounds, medians."""
    specs = workload(steps)
    bodies = {"a2a": a2a_body(specs), "otlp": otlp_body(specs), "events": events_body(specs)}
    wall: dict[str, list[float]] = {k: [] for k in bodies}
    server_cpu: dict[str, list[float]] = {k: [] for k in bodies}
    with uvicorn_server() as (base, pid), httpx.Client(base_url=base, timeout=60) as client:

        def post(kind: str) -> None:
            r = client.post(
                ENDPOINTS[kind], content=bodies[kind], headers={"content-type": CONTENT_TYPES[kind]}
            )
            if r.status_code != 200:
                raise RuntimeError(f"{kind} over HTTP answered {r.status_code}: {r.text[:300]}")

        for kind in bodies:
            for _ in range(mode.warmups):
                post(kind)
        kinds = list(bodies)
        for r in range(mode.http_rounds):
            for kind in kinds[r % 3 :] + kinds[: r % 3]:
                gc.collect()
                c0 = cpu_seconds(pid)
                t0 = time.perf_counter_ns()
                for _ in range(mode.http_requests):
                    post(kind)
                elapsed = time.perf_counter_ns() - t0
                c1 = cpu_seconds(pid)
                n = mode.http_requests * steps
                wall[kind].append(elapsed / n)
                if c0 is not None and c1 is not None:
                    server_cpu[kind].append((c1 - c0) * 1e9 / n)
    out = []
    for kind in bodies:
        median = statistics.median(wall[kind])
        cpu = statistics.median(server_cpu[kind]) if server_cpu[kind] else None
        out.append(
            {
                "case": f"http_{kind}_{steps}",
                "kind": kind,
                "steps_per_request": steps,
                "median_ns_per_step": round(median, 1),
                "steps_per_s": round(1e9 / median),
                "server_cpu_ns_per_step": None if cpu is None else round(cpu, 1),
                "server_steps_per_cpu_s": None if not cpu else round(1e9 / cpu),
            }
        )
    return out


# --- reporting ------------------------------------------------------------------------------------
PACKAGES = ("fastapi", "starlette", "httpx", "uvicorn", "pydantic", "orjson", "protobuf")


def machine_info() -> dict[str, Any]:
    """Return what the numbers depend on: CPUs, Python, library versions."""

    def pkg(name: str) -> str | None:
        try:
            return version(name)
        except PackageNotFoundError:
            return None

    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        **{name: pkg(name) for name in PACKAGES},
    }


def render(summary: dict[str, Any]) -> str:
    """Return the summary as plain-text tables."""
    m = summary["machine"]
    mode = summary["mode"]
    lines = [
        f"sloguard HTTP ingest: {mode['rounds']} interleaved rounds, ~{mode['round_ms']:.0f} ms "
        "per case per round, medians",
        f"python {m['python']}, {m['cpus']} CPUs, fastapi {m['fastapi']}, starlette "
        f"{m['starlette']}, uvicorn {m['uvicorn']}, protobuf {m['protobuf']}",
        "",
        "In-process through the ASGI app (one core, no TCP):",
        f"{'case':<18} {'ns/step':>9} {'steps/s':>9} {'cpu/wall':>8} {'x inproc':>8} "
        f"{'(paired)':>8}  verdict",
    ]
    for r in summary["asgi"]:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}x"
        paired = "" if r["ratio_paired"] is None else f"{r['ratio_paired']:.2f}x"
        lines.append(
            f"{r['case']:<18} {r['median_ns_per_step']:>9.0f} {r['steps_per_s']:>9} "
            f"{r['cpu_over_wall']:>8.2f} {ratio:>8} {paired:>8}  {r['verdict'] or ''}"
        )
    lines += [
        "",
        f"Targets (a2a, otlp at 100 and 1000 steps): >= {MIN_STEPS_PER_S} steps/s and "
        f"<= {MAX_RATIO:g}x the in-process cost (inproc_trace, same run).",
    ]
    if summary["differences"]:
        lines.append("WARNING: endpoints and baselines recorded different series:")
        lines += [f"  {d}" for d in summary["differences"]]
    else:
        lines.append("Check: each endpoint recorded exactly the series of its baseline.")
    if summary["http"]:
        lines += [
            "",
            "Real HTTP: uvicorn (asyncio, h11) in a subprocess on 127.0.0.1, keep-alive httpx "
            "client; client and server are separate processes:",
            f"{'case':<18} {'ns/step':>9} {'steps/s':>9} {'x asgi':>7} "
            f"{'srv cpu ns/step':>15} {'srv steps/cpu-s':>15}",
        ]
        for r in summary["http"]:
            cpu = r["server_cpu_ns_per_step"]
            per_s = r["server_steps_per_cpu_s"]
            lines.append(
                f"{r['case']:<18} {r['median_ns_per_step']:>9.0f} {r['steps_per_s']:>9} "
                f"{r['x_asgi']:>6.2f}x {'' if cpu is None else f'{cpu:.0f}':>15} "
                f"{'' if per_s is None else per_s:>15}"
            )
    return "\n".join(lines)


# --- profiling ------------------------------------------------------------------------------------
async def profiled(case_name: str, requests: int) -> pstats.Stats | None:
    """Profile ``requests`` calls of one case on the event loop and in the intake worker threads.

    The intake parses and records in a worker thread, which the main thread's profiler does not
    see; a ``threading.setprofile`` hook starts a profiler in each new thread (this loop's worker
    threads are new), and their stats are merged with the loop's.
    """
    thread_profilers: list[cProfile.Profile] = []

    def start(frame: FrameType, event: str, arg: object) -> None:
        p = cProfile.Profile()
        thread_profilers.append(p)
        p.enable()

    async with contextlib.AsyncExitStack() as stack:
        cases = {c.name: c for c in await build_cases(stack)}
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
    async with contextlib.AsyncExitStack() as stack:
        check = await build_cases(stack)
        for case in check:
            await case.op()
        differences = same_work(check)
        cases = await build_cases(stack)
        for case in cases:
            await calibrate(case, mode)
        await run_rounds(cases, mode)
    return asgi_results(cases), differences


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print tables (or JSON); always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run, about 10 s")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--no-http", action="store_true", help="skip the real-HTTP part")
    parser.add_argument("--profile", metavar="CASE", help="cProfile one case (e.g. a2a_1000)")
    parser.add_argument("--serve", metavar="PORT", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.serve)
        return 0
    mode = QUICK if args.quick else FULL
    if args.profile:
        print(profile(args.profile, 20 if args.quick else 200, 30))
        return 0

    asgi, differences = asyncio.run(measure(mode))
    http = [] if args.no_http else http_results(mode, 1000)
    asgi_ns = {(r["kind"], r["steps_per_request"]): r["median_ns_per_step"] for r in asgi}
    for r in http:
        r["x_asgi"] = round(r["median_ns_per_step"] / asgi_ns[r["kind"], r["steps_per_request"]], 2)
    summary = {
        "mode": {"rounds": mode.rounds, "round_ms": mode.round_ns / 1e6},
        "machine": machine_info(),
        "targets": {"min_steps_per_s": MIN_STEPS_PER_S, "max_ratio": MAX_RATIO},
        "asgi": asgi,
        "differences": differences,
        "http": http,
    }
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
