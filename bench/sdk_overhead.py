"""Measure what one agent call costs through the SDK, relative to raw prometheus_client updates.

Cases (each "call" is one agent invocation):

- ``a_floor``     the metric updates of one agent call, hand-written with ``.labels(...)`` on
                  families shaped like sloguard's (same names, labels, buckets), fresh registry;
- ``a_bound``     the same updates on label children bound once: the lower bound a cache of
                  children (which ``Recorder`` has) can reach; context, no target;
- ``b_collector`` ``MetricsCollector(recorder).record_agent_call(...)``, fresh registry;
- ``c_tracestep`` one ``TraceStep`` AGENT step holding one TOOL step, ended with tokens and a
                  model, on a listener-less ``Telemetry`` (fresh registry);
- ``d_otel``      ``c_tracestep`` with the OTel bridge on (opentelemetry-sdk ``TracerProvider``,
                  ``SimpleSpanProcessor`` + ``InMemorySpanExporter``), if ``sloguard.sdk.otel``
                  is importable.

The machine this runs on is shared and noisy, so absolute times drift: the cases run interleaved
in rounds (the order rotates each round) and every case is reported as a ratio to the floor
measured in the same run. Exit status is 0 whatever the numbers; this is a measurement.

Usage::

    python bench/sdk_overhead.py            # full run (~15 s)
    python bench/sdk_overhead.py --quick    # smoke run (a few seconds)
    python bench/sdk_overhead.py --json     # machine-readable result on stdout
    python bench/sdk_overhead.py --profile c_tracestep   # cProfile one case, top entries
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import pstats
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # bench.common

from prometheus_client import CollectorRegistry, Counter, Histogram

from bench.common import machine_info as common_machine_info
from sloguard import conventions as c
from sloguard.conventions import CallType
from sloguard.sdk.collector import MetricsCollector
from sloguard.sdk.metrics import AgentMetrics
from sloguard.sdk.recorder import Recorder
from sloguard.sdk.step import TraceStep
from sloguard.sdk.telemetry import Telemetry

AGENT = "planner"
TOOL = "search"
MODEL = "gpt-4o"

#: Upper bounds on the median ratio to the floor; cases without one are reported only.
TARGETS: dict[str, float] = {"b_collector": 1.3, "c_tracestep": 4.0}


@dataclass(frozen=True)
class Mode:
    """How long to measure: rounds, and wall time each case gets per round."""

    rounds: int
    round_ns: int
    warmup_calls: int


FULL = Mode(rounds=15, round_ns=200_000_000, warmup_calls=2_000)
QUICK = Mode(rounds=5, round_ns=20_000_000, warmup_calls=200)


@dataclass
class Case:
    """One measured operation; ``reset`` runs between timed batches (never inside one)."""

    name: str
    description: str
    op: Callable[[], None]
    reset: Callable[[], None] | None = None
    calls_per_round: int = 0
    per_call_ns: list[float] | None = None


# --- the cases ---------------------------------------------------------------------------------
def floor_case() -> Case:
    """(a) Raw prometheus_client updates equal to one agent call."""
    registry = CollectorRegistry()
    calls = Counter(c.AGENT_CALLS, "calls", [c.L_AGENT, c.L_STATUS], registry=registry)
    latency = Histogram(
        c.AGENT_LATENCY,
        "latency",
        [c.L_AGENT],
        buckets=c.AGENT_LATENCY_BUCKETS,
        registry=registry,
    )
    tokens = Counter(
        c.AGENT_TOKENS, "tokens", [c.L_AGENT, c.L_MODEL, c.L_DIRECTION], registry=registry
    )

    def op() -> None:
        calls.labels(AGENT, "success").inc()
        latency.labels(AGENT).observe(1.2)
        tokens.labels(AGENT, MODEL, "input").inc(100)
        tokens.labels(AGENT, MODEL, "output").inc(50)

    return Case("a_floor", "raw prometheus_client .labels() updates", op)


def bound_case() -> Case:
    """The same updates on label children bound once (no ``.labels()`` per call); context only.

    ``Recorder`` caches its label children, so this, not (a), is the lower bound it can reach.
    """
    registry = CollectorRegistry()
    calls = Counter(c.AGENT_CALLS, "calls", [c.L_AGENT, c.L_STATUS], registry=registry)
    latency = Histogram(
        c.AGENT_LATENCY,
        "latency",
        [c.L_AGENT],
        buckets=c.AGENT_LATENCY_BUCKETS,
        registry=registry,
    )
    tokens = Counter(
        c.AGENT_TOKENS, "tokens", [c.L_AGENT, c.L_MODEL, c.L_DIRECTION], registry=registry
    )
    ok = calls.labels(AGENT, "success")
    hist = latency.labels(AGENT)
    tin = tokens.labels(AGENT, MODEL, "input")
    tout = tokens.labels(AGENT, MODEL, "output")

    def op() -> None:
        ok.inc()
        hist.observe(1.2)
        tin.inc(100)
        tout.inc(50)

    return Case("a_bound", "as (a) on children bound once (context)", op)


def collector_case() -> Case:
    """(b) ``MetricsCollector.record_agent_call`` on its own registry."""
    collector = MetricsCollector(Recorder(AgentMetrics(registry=CollectorRegistry())))

    def op() -> None:
        collector.record_agent_call(AGENT, "success", 1.2, 100, 50, MODEL)

    return Case("b_collector", "MetricsCollector.record_agent_call", op)


def step_op(telemetry: Telemetry) -> Callable[[], None]:
    """Return one AGENT step with a nested TOOL step, recorded into ``telemetry``."""

    def op() -> None:
        with TraceStep(None, CallType.AGENT, AGENT, telemetry=telemetry) as agent:
            with TraceStep(None, CallType.TOOL, TOOL, telemetry=telemetry):
                pass
            agent.end_step(input_tokens=100, output_tokens=50, model=MODEL)

    return op


def tracestep_case() -> Case:
    """(c) TraceStep AGENT + nested TOOL on a Telemetry without listeners."""
    telemetry = Telemetry(Recorder(AgentMetrics(registry=CollectorRegistry())))
    return Case("c_tracestep", "TraceStep agent + nested tool, no listeners", step_op(telemetry))


def otel_case() -> Case | str:
    """(d) As (c) with the OTel bridge on; a reason string when it cannot be built."""
    try:  # the bridge and the SDK are the optional ``otel`` extra
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import SimpleSpanProcessor
        from opentelemetry.sdk.trace.export.in_memory_span_exporter import (
            InMemorySpanExporter,
        )

        from sloguard.sdk.otel import enable_otel
    except ImportError as exc:  # MissingExtra is an ImportError too
        return f"not measured: {exc}"
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    base = Telemetry(Recorder(AgentMetrics(registry=CollectorRegistry())))
    telemetry = enable_otel(base, provider)
    return Case(
        "d_otel",
        "as (c) + OTel bridge (SimpleSpanProcessor, InMemorySpanExporter)",
        step_op(telemetry),
        reset=exporter.clear,
    )


def build_cases() -> tuple[list[Case], dict[str, str]]:
    """Return the measurable cases and, by name, the reasons others were skipped."""
    cases = [floor_case(), bound_case(), collector_case(), tracestep_case()]
    skipped: dict[str, str] = {}
    d = otel_case()
    if isinstance(d, str):
        skipped["d_otel"] = d
    else:
        cases.append(d)
    return cases, skipped


# --- measuring ---------------------------------------------------------------------------------
def time_batch(op: Callable[[], None], n: int) -> int:
    """Return the wall time in ns of ``n`` back-to-back calls of ``op``."""
    t0 = time.perf_counter_ns()
    for _ in range(n):
        op()
    return time.perf_counter_ns() - t0


def calibrate(case: Case, mode: Mode) -> None:
    """Warm the case up (label children, caches) and size its batch to ``mode.round_ns``."""
    elapsed = time_batch(case.op, mode.warmup_calls)
    per_call = max(elapsed / mode.warmup_calls, 1.0)
    case.calls_per_round = max(100, int(mode.round_ns / per_call))
    if case.reset is not None:
        case.reset()


def run_rounds(cases: list[Case], mode: Mode) -> None:
    """Time every case once per round, rotating the order so no case always goes first."""
    for case in cases:
        case.per_call_ns = []
    k = len(cases)
    for r in range(mode.rounds):
        for case in cases[r % k :] + cases[: r % k]:
            gc.collect()  # start each batch from the same heap state; gc stays on inside
            elapsed = time_batch(case.op, case.calls_per_round)
            assert case.per_call_ns is not None
            case.per_call_ns.append(elapsed / case.calls_per_round)
            if case.reset is not None:
                case.reset()


def summarize(cases: list[Case], skipped: dict[str, str], mode: Mode) -> dict[str, Any]:
    """Return medians, minima, ratios to the floor and target verdicts."""
    floor = cases[0]
    assert floor.per_call_ns is not None
    floor_median = statistics.median(floor.per_call_ns)
    floor_min = min(floor.per_call_ns)
    results: list[dict[str, Any]] = []
    for case in cases:
        samples = case.per_call_ns
        assert samples is not None
        median = statistics.median(samples)
        ratio = median / floor_median
        paired = statistics.median(s / f for s, f in zip(samples, floor.per_call_ns, strict=True))
        target = TARGETS.get(case.name)
        results.append(
            {
                "case": case.name,
                "description": case.description,
                "calls_per_round": case.calls_per_round,
                "median_ns": round(median, 1),
                "min_ns": round(min(samples), 1),
                "max_ns": round(max(samples), 1),
                "ratio_median": round(ratio, 3),
                "ratio_min": round(min(samples) / floor_min, 3),
                "ratio_paired_median": round(paired, 3),
                "target": target,
                "verdict": None if target is None else ("PASS" if ratio <= target else "MISS"),
            }
        )
    return {
        "mode": {"rounds": mode.rounds, "round_ms": mode.round_ns / 1e6},
        "machine": machine_info(),
        "results": results,
        "skipped": skipped,
    }


def machine_info() -> dict[str, Any]:
    """Return what the numbers depend on: CPUs, Python, library versions."""
    return common_machine_info(("prometheus-client", "opentelemetry-sdk"))


def render(summary: dict[str, Any]) -> str:
    """Return the summary as a plain-text table."""
    m = summary["machine"]
    lines = [
        f"sloguard SDK overhead: {summary['mode']['rounds']} rounds, "
        f"~{summary['mode']['round_ms']:.0f} ms per case per round, order rotated",
        f"python {m['python']} ({m['implementation']}), {m['cpus']} CPUs, "
        f"prometheus_client {m['prometheus_client']}, opentelemetry-sdk {m['opentelemetry_sdk']}",
        "",
        f"{'case':<12} {'median ns':>10} {'min ns':>10} {'x floor':>8} {'x (min)':>8} "
        f"{'target':>7}  verdict",
    ]
    for r in summary["results"]:
        target = "" if r["target"] is None else f"<={r['target']:g}x"
        verdict = r["verdict"] or ""
        lines.append(
            f"{r['case']:<12} {r['median_ns']:>10.0f} {r['min_ns']:>10.0f} "
            f"{r['ratio_median']:>7.2f}x {r['ratio_min']:>7.2f}x {target:>7}  {verdict}"
        )
    for name, reason in summary["skipped"].items():
        lines.append(f"{name:<12} {reason}")
    lines.append("")
    lines.append(
        "x floor = median per-call time / median of a_floor (same run); "
        "x (min) = min-of-rounds ratio"
    )
    return "\n".join(lines)


def profile(case: Case, calls: int, top: int) -> str:
    """Return the top ``top`` cProfile entries (by own time) of ``calls`` calls of ``case``."""
    time_batch(case.op, 1_000)  # warm up outside the profile
    profiler = cProfile.Profile()
    profiler.enable()
    time_batch(case.op, calls)
    profiler.disable()
    if case.reset is not None:
        case.reset()
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats(pstats.SortKey.TIME).print_stats(top)
    return out.getvalue()


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON); always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run, a few seconds")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument(
        "--profile",
        metavar="CASE",
        help="cProfile one case instead of timing it (a_floor, b_collector, c_tracestep, ...)",
    )
    args = parser.parse_args(argv)
    mode = QUICK if args.quick else FULL
    cases, skipped = build_cases()

    if args.profile:
        chosen = next((x for x in cases if x.name == args.profile), None)
        if chosen is None:
            known = ", ".join(x.name for x in cases)
            print(f"unknown or unavailable case {args.profile!r}; choose from: {known}")
            return 0
        print(profile(chosen, 2_000 if args.quick else 20_000, 25))
        return 0

    for case in cases:
        calibrate(case, mode)
    run_rounds(cases, mode)
    summary = summarize(cases, skipped, mode)
    print(json.dumps(summary, indent=2) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
