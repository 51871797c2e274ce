"""Measure one SLO evaluation cycle against a real Prometheus, next to its own rule evaluation.

History: ``agent_calls_total`` counters (``status`` success and error) of 1 110 agents, one
sample every 15 s for 8 hours ending at the start of the run, backfilled with promtool into a
Prometheus 2.x on loopback that scrapes nothing. The agents form three disjoint cohorts (label
``cohort`` = ``c10``, ``c100``, ``c1000``) of 10, 100 and 1 000 agents, in teams of 10
(label ``team``); each size reads only its own cohort, so all sizes share one TSDB.

Two ways to declare N instances (default 30-day policy: windows 5m 30m 1h 2h 6h 1d 3d 30d):

- ``one-slo``  one ``success_rate`` SLO, ``group_by: [agent_name]``, over the cohort:
               8 queries per cycle whatever N is;
- ``per-team`` one SLO per team of 10 agents (N/10 SLOs, ``group_by: [agent_name]``):
               0.8 N queries per cycle, each small.

For each scenario and size, in this order:

1. sloguard: ``Evaluator(slos, PrometheusSource(url)).evaluate(at=time.time())``, warm-up
   cycles, then timed cycles (wall time; queries from ``source.query_count``). No rule runs.
   Prometheus' CPU and this process' CPU over those cycles are recorded too.
2. Diagnostic: the same cycles through ``PrometheusSource(url, max_concurrency=1)``, so the
   engine and HTTP handler times Prometheus reports for its queries do not overlap.
3. Prometheus: a recording-rule group with the same PromQL (for every SLO × window, the bad and
   the total ``sum by (agent_name) (increase(...[w]))`` of ``sloguard.slo.promql.bad_and_total``,
   one rule each) is loaded by a config reload, evaluated every few seconds at the real time,
   and ``prometheus_rule_group_last_duration_seconds`` is read from ``/metrics`` after each
   evaluation (the first one is dropped). Then the group is unloaded again.

The steps of one scenario × size run within half a minute of each other and the whole run
within five minutes of the last sample, so they read the same data and every window has some;
windows longer than the history (1d, 3d, 30d) simply read all of it, which is far less than a
real 30-day history would hold. Ratio = sloguard cycle median / rule group median. Exit
status is 0 whatever the numbers; this is a measurement.

Usage (from the repository root)::

    .venv/bin/python bench/evaluation.py            # full run, about 3 minutes
    .venv/bin/python bench/evaluation.py --quick    # smoke run (about a minute): 2 h history
    .venv/bin/python bench/evaluation.py --json     # machine-readable result on stdout
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import random
import shutil
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

# tests.support.promserver, tests.support.slos
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import yaml
from prometheus_client.parser import text_string_to_metric_families

from sloguard import conventions as c
from sloguard.durations import format_duration
from sloguard.evaluation.evaluator import Evaluator
from sloguard.slo.budget import State
from sloguard.slo.promql import bad_and_total
from sloguard.slo.spec import SLO
from sloguard.sources.prometheus import PrometheusSource
from tests.support.promserver import (
    Family,
    Series,
    backfill_openmetrics,
    openmetrics_text,
    start_prometheus,
)
from tests.support.slos import make_slo

STEP = 15
SIZES = (10, 100, 1000)
TEAM = 10
SCENARIOS = ("one-slo", "per-team")
#: Targets: cycle time at 1000 instances, and cycle / Prometheus rule group evaluation.
MAX_CYCLE_S = 2.0
MAX_RATIO = 2.0
TARGET_SIZE = 1000
EMPTY_RULES = "groups: []\n"
ENGINE = "prometheus_engine_query_duration_seconds"
#: The policy's shortest window: the history ends when the run starts, so it empties after this.
SHORTEST_WINDOW = 300.0


@dataclass(frozen=True)
class Mode:
    """How much history and how many repetitions."""

    hours: int
    warmup: int
    cycles: int
    serial_cycles: int  # diagnostic cycles with max_concurrency=1 (after one warm-up)
    readings: int
    interval: int  # rule evaluation interval, seconds


FULL = Mode(hours=8, warmup=2, cycles=7, serial_cycles=3, readings=5, interval=3)
QUICK = Mode(hours=2, warmup=1, cycles=3, serial_cycles=1, readings=2, interval=2)
#: Seconds between two polls of /metrics while waiting for rule evaluations.
POLL = 0.1


@dataclass
class Row:
    """The measurements of one scenario × size."""

    scenario: str
    instances: int
    slos: int
    queries_per_cycle: float
    cycle_ms_median: float
    cycle_ms_min: float
    rules: int
    rule_group_ms_median: float
    rule_group_ms_min: float
    ratio: float
    # Where the time goes. Per cycle of the measured (concurrent) evaluator:
    prometheus_cpu_ms_per_cycle: float
    sloguard_cpu_ms_per_cycle: float  # this process: httpx, JSON decoding, budget maths
    # Per cycle of an evaluator whose source sends one query at a time (no overlap):
    serial_cycle_ms_median: float
    serial_engine_ms_per_cycle: float  # Prometheus engine time, summed over the queries
    serial_http_ms_per_cycle: float  # Prometheus /api/v1/query handler time, summed
    # Per rule group evaluation:
    rule_engine_ms_per_eval: float
    rule_cpu_ms_per_eval: float  # Prometheus CPU, less what polling /metrics costs
    data_age_s: float  # how long after the last sample the pair was measured
    errors: int

    def verdicts(self) -> dict[str, str]:
        """PASS/MISS per target that applies to this row."""
        out = {"ratio": "PASS" if self.ratio <= MAX_RATIO else "MISS"}
        if self.instances == TARGET_SIZE:
            out["cycle"] = "PASS" if self.cycle_ms_median <= MAX_CYCLE_S * 1000 else "MISS"
        return out


# --- history and SLOs ---------------------------------------------------------------------------


def agent(size: int, i: int) -> dict[str, str]:
    """Labels of agent ``i`` of the cohort of ``size`` agents."""
    cohort = f"c{size}"
    return {
        "agent_name": f"{cohort}-agent-{i:04d}",
        "cohort": cohort,
        "team": team(size, i // TEAM),
    }


def team(size: int, t: int) -> str:
    return f"c{size}-team-{t:03d}"


def history(end: int, hours: int) -> list[Family]:
    """Counters of every agent at ``end - k * STEP``; 0 at the first sample, ~2 % errors."""
    steps = hours * 3600 // STEP
    times = [end - (steps - i) * STEP for i in range(steps + 1)]
    series = []
    for size in SIZES:
        for i in range(size):
            labels = agent(size, i)
            rng = random.Random(labels["agent_name"])
            ok, bad = [0.0], [0.0]
            for _ in range(steps):
                ok.append(ok[-1] + rng.randint(0, 8))
                bad.append(bad[-1] + (1 if rng.random() < 0.02 else 0))
            for status, values in (("success", ok), ("error", bad)):
                samples = list(zip(times, values, strict=True))
                series.append(Series(c.AGENT_CALLS, {**labels, "status": status}, samples))
    return [Family("agent_calls", "counter", series)]


def scenario_slos(scenario: str, size: int) -> list[SLO]:
    """The SLOs declaring ``size`` instances in ``scenario``."""
    cohort = {"cohort": f"c{size}"}
    if scenario == "one-slo":
        return [make_slo(f"calls-c{size}", selector=cohort, group_by=("agent_name",))]
    return [
        make_slo(name, selector={**cohort, "team": name}, group_by=("agent_name",))
        for name in (team(size, t) for t in range(size // TEAM))
    ]


def rule_group(name: str, slos: Sequence[SLO], interval: int) -> dict[str, Any]:
    """Recording rules computing what sloguard queries: bad and total per SLO × window."""
    rules = []
    for slo in slos:
        for window in sorted(slo.windows()):
            for part, expr in zip(("bad", "total"), bad_and_total(slo, window), strict=True):
                record = f"sloguard:{part}:increase{format_duration(window)}"
                rules.append({"record": record, "expr": expr, "labels": {"slo": slo.name}})
    return {"name": name, "interval": f"{interval}s", "rules": rules}


# --- Prometheus' own metrics --------------------------------------------------------------------

Scrape = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Scrape:
    """Prometheus' /metrics, by sample name and sorted labels."""
    text = (await client.get("/metrics")).raise_for_status().text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def total(m: Scrape, name: str, **match: str) -> float:
    """Sum of the ``name`` samples whose labels include ``match``."""
    want = set(match.items())
    return sum(v for (n, labels), v in m.items() if n == name and want <= set(labels))


@dataclass(frozen=True)
class Work:
    """Prometheus-side totals at one moment (seconds)."""

    engine: float
    http: float
    cpu: float

    @staticmethod
    def of(m: Scrape) -> Work:
        return Work(
            engine=total(m, f"{ENGINE}_sum"),
            http=total(m, "prometheus_http_request_duration_seconds_sum", handler="/api/v1/query"),
            cpu=total(m, "process_cpu_seconds_total"),
        )

    def __sub__(self, other: Work) -> Work:
        return Work(self.engine - other.engine, self.http - other.http, self.cpu - other.cpu)


async def reload(client: httpx.AsyncClient, rules_file: Path, text: str) -> None:
    """Write the rule file and make Prometheus load it (waits for a running group to stop)."""
    await asyncio.to_thread(rules_file.write_text, text, encoding="utf-8")
    answer = await client.post("/-/reload")
    if answer.status_code != 200:
        raise RuntimeError(f"Prometheus refused the rules: {answer.text}")


# --- the two measurements -----------------------------------------------------------------------


@dataclass(frozen=True)
class Cycles:
    seconds: list[float]
    queries: list[int]
    work: Work
    sloguard_cpu: float
    errors: int


async def measure_sloguard(
    slos: Sequence[SLO],
    source: PrometheusSource,
    client: httpx.AsyncClient,
    warmup: int,
    cycles: int,
) -> Cycles:
    """Time ``cycles`` evaluation cycles after ``warmup`` untimed ones."""
    evaluator = Evaluator(slos, source)
    for _ in range(warmup):
        await evaluator.evaluate(at=time.time())
    before, cpu = Work.of(await scrape(client)), time.process_time()
    seconds, queries, errors = [], [], 0
    for _ in range(cycles):
        sent = source.query_count
        start = time.perf_counter()
        results = await evaluator.evaluate(at=time.time())
        seconds.append(time.perf_counter() - start)
        queries.append(source.query_count - sent)
        errors += sum(r.evaluation.state is State.ERROR for r in results)
    cpu = time.process_time() - cpu
    return Cycles(seconds, queries, Work.of(await scrape(client)) - before, cpu, errors)


@dataclass(frozen=True)
class Readings:
    seconds: list[float]
    work: Work  # over the kept evaluations
    elapsed: float  # seconds those evaluations span, polling included


async def polling_cpu(client: httpx.AsyncClient, seconds: float) -> float:
    """Prometheus CPU seconds per second while idle and polled every ``POLL`` seconds."""
    first, start = Work.of(await scrape(client)), time.monotonic()
    while time.monotonic() - start < seconds:
        await asyncio.sleep(POLL)
        last = Work.of(await scrape(client))
    return (last - first).cpu / (time.monotonic() - start)


async def measure_rules(
    client: httpx.AsyncClient, rules_file: Path, group: dict[str, Any], mode: Mode
) -> Readings:
    """Load ``group``, read its duration after each of ``1 + mode.readings`` evaluations."""
    key = (("rule_group", f"{rules_file};{group['name']}"),)
    await reload(client, rules_file, yaml.safe_dump({"groups": [group]}, sort_keys=False))
    try:
        last: float | None = None
        durations: list[float] = []
        marks: list[tuple[float, Work]] = []
        deadline = time.monotonic() + (mode.readings + 2) * mode.interval + 120
        while len(durations) < mode.readings + 1:
            if time.monotonic() > deadline:
                raise RuntimeError(f"rule group {group['name']} did not evaluate in time")
            m = await scrape(client)
            at = m.get(("prometheus_rule_group_last_evaluation_timestamp_seconds", key))
            if at is not None and at > 0 and at != last:
                last = at
                durations.append(m[("prometheus_rule_group_last_duration_seconds", key)])
                marks.append((time.monotonic(), Work.of(m)))
            await asyncio.sleep(POLL)
    finally:
        await reload(client, rules_file, EMPTY_RULES)
    (t0, w0), (t1, w1) = marks[0], marks[-1]
    return Readings(durations[1:], w1 - w0, t1 - t0)


async def round_trip(client: httpx.AsyncClient, n: int) -> float:
    """Median seconds of a trivial instant query (``vector(1)``): the HTTP floor."""
    times = []
    for _ in range(n):
        start = time.perf_counter()
        (await client.post("/api/v1/query", data={"query": "vector(1)"})).raise_for_status()
        times.append(time.perf_counter() - start)
    return statistics.median(times[n // 5 :])


# --- the run ------------------------------------------------------------------------------------


def row(
    scenario: str,
    size: int,
    slos: Sequence[SLO],
    rules: int,
    measured: tuple[Cycles, Cycles, Readings],
    polling: float,
    age: float,
) -> Row:
    cycles, serial, readings = measured
    n, k, ns = len(cycles.seconds), len(readings.seconds), len(serial.seconds)
    cycle, group = statistics.median(cycles.seconds), statistics.median(readings.seconds)
    return Row(
        scenario=scenario,
        instances=size,
        slos=len(slos),
        queries_per_cycle=statistics.mean(cycles.queries),
        cycle_ms_median=cycle * 1000,
        cycle_ms_min=min(cycles.seconds) * 1000,
        rules=rules,
        rule_group_ms_median=group * 1000,
        rule_group_ms_min=min(readings.seconds) * 1000,
        ratio=cycle / group,
        prometheus_cpu_ms_per_cycle=cycles.work.cpu / n * 1000,
        sloguard_cpu_ms_per_cycle=cycles.sloguard_cpu / n * 1000,
        serial_cycle_ms_median=statistics.median(serial.seconds) * 1000,
        serial_engine_ms_per_cycle=serial.work.engine / ns * 1000,
        serial_http_ms_per_cycle=serial.work.http / ns * 1000,
        rule_engine_ms_per_eval=readings.work.engine / k * 1000,
        rule_cpu_ms_per_eval=(readings.work.cpu - polling * readings.elapsed) / k * 1000,
        data_age_s=age,
        errors=cycles.errors + serial.errors,
    )


async def measure(url: str, rules_file: Path, end: int, mode: Mode) -> dict[str, Any]:
    rows = []
    async with (
        httpx.AsyncClient(base_url=url, timeout=60.0) as client,
        PrometheusSource(url, timeout=60.0) as source,
        PrometheusSource(url, timeout=60.0, max_concurrency=1) as serial_source,
    ):
        rtt = await round_trip(client, 50)
        polling = await polling_cpu(client, 3.0)
        for scenario in SCENARIOS:
            for size in SIZES:
                slos = scenario_slos(scenario, size)
                group = rule_group(f"{scenario}-{size}", slos, mode.interval)
                age = time.time() - end
                cycles = await measure_sloguard(slos, source, client, mode.warmup, mode.cycles)
                serial = await measure_sloguard(slos, serial_source, client, 1, mode.serial_cycles)
                readings = await measure_rules(client, rules_file, group, mode)
                measured = (cycles, serial, readings)
                r = row(scenario, size, slos, len(group["rules"]), measured, polling, age)
                rows.append(r)
                print(
                    f"  {scenario} {size}: {r.cycle_ms_median:.0f} ms vs "
                    f"{r.rule_group_ms_median:.0f} ms",
                    file=sys.stderr,
                )
    return {"round_trip_ms": rtt * 1000, "polling_cpu_ms_per_s": polling * 1000, "rows": rows}


def machine() -> dict[str, Any]:
    prometheus = shutil.which("prometheus") or ""
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "platform": platform.platform(terse=True),
        "prometheus": prometheus,
    }


def run(mode: Mode) -> dict[str, Any]:
    """Backfill, start Prometheus, measure every scenario × size; stop Prometheus."""
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-") as tmp:
        root = Path(tmp)
        end = int(time.time()) // STEP * STEP
        start = time.perf_counter()
        text = openmetrics_text(history(end, mode.hours))
        samples = backfill_openmetrics(text, root / "data")
        del text
        prepared = time.perf_counter() - start
        rules_file = root / "rules.yml"
        rules_file.write_text(EMPTY_RULES, encoding="utf-8")
        config = (
            "global:\n  scrape_interval: 15s\n"
            f"  evaluation_interval: {mode.interval}s\nrule_files:\n  - {rules_file}\n"
        )
        # 2 h blocks only: no compaction starts halfway through the measurements.
        no_compaction = ["--storage.tsdb.max-block-duration=2h"]
        with start_prometheus(
            root,
            storage=root / "data",
            config_yaml=config,
            lifecycle=True,
            extra_args=no_compaction,
        ) as url:
            result = asyncio.run(measure(url, rules_file, end, mode))
    series = 2 * sum(SIZES)
    return {
        "mode": asdict(mode),
        "machine": machine(),
        "history": {
            "series": series,
            "samples": samples,
            "step_s": STEP,
            "hours": mode.hours,
            "prepare_s": prepared,
        },
        **result,
    }


def render(summary: dict[str, Any]) -> str:
    mode, hist = summary["mode"], summary["history"]
    lines = [
        f"history: {hist['series']} series, {hist['samples']:,} samples "
        f"({hist['hours']} h at {hist['step_s']} s; generated and backfilled in "
        f"{hist['prepare_s']:.0f} s); {mode['cycles']} cycles after {mode['warmup']} warm-up; "
        f"{mode['readings']} rule evaluations every {mode['interval']} s",
        f"HTTP floor (vector(1) round trip): {summary['round_trip_ms']:.2f} ms; polling "
        f"/metrics costs Prometheus {summary['polling_cpu_ms_per_s']:.0f} ms CPU per second",
        "",
        "| scenario | instances | SLOs | queries/cycle | sloguard cycle ms (median / min) | "
        "rules | Prometheus rule group ms (median / min) | ratio | "
        "cycle ≤ 2 s @1000 | ratio ≤ 2× |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|---|",
    ]
    for r in summary["rows"]:
        v = r.verdicts()
        lines.append(
            f"| {r.scenario} | {r.instances} | {r.slos} | {r.queries_per_cycle:.0f} | "
            f"{r.cycle_ms_median:.0f} / {r.cycle_ms_min:.0f} | {r.rules} | "
            f"{r.rule_group_ms_median:.0f} / {r.rule_group_ms_min:.0f} | {r.ratio:.2f}× | "
            f"{v.get('cycle', '—')} | {v['ratio']} |"
        )
    lines += [
        "",
        "Where the time goes (ms). Concurrent = the cycle above (Prometheus and sloguard CPU);",
        "serial = the same SLOs through a source with max_concurrency=1 (engine and handler",
        "time summed over its queries); rules = one rule group evaluation.",
        "",
        "| scenario | instances | concurrent: Prometheus CPU | concurrent: sloguard CPU | "
        "serial: cycle | serial: engine | serial: /api/v1/query handler | rules: engine | "
        "rules: Prometheus CPU | data age s | errors |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in summary["rows"]:
        lines.append(
            f"| {r.scenario} | {r.instances} | {r.prometheus_cpu_ms_per_cycle:.0f} | "
            f"{r.sloguard_cpu_ms_per_cycle:.0f} | {r.serial_cycle_ms_median:.0f} | "
            f"{r.serial_engine_ms_per_cycle:.0f} | {r.serial_http_ms_per_cycle:.0f} | "
            f"{r.rule_engine_ms_per_eval:.0f} | {r.rule_cpu_ms_per_eval:.0f} | "
            f"{r.data_age_s:.0f} | {r.errors} |"
        )
    oldest = max(r.data_age_s for r in summary["rows"])
    if oldest > SHORTEST_WINDOW - 60:
        lines.append(
            f"\nwarning: measured up to {oldest:.0f} s after the last sample, so the 5m window "
            "held little or no data in the last pairs; this run reads less than a live server"
        )
    return "\n".join(lines)


def as_json(summary: dict[str, Any]) -> str:
    rows = [{**asdict(r), "verdicts": r.verdicts()} for r in summary["rows"]]
    return json.dumps({**summary, "rows": rows}, indent=2)


def missing_tools() -> Iterator[str]:
    for tool in ("prometheus", "promtool"):
        if shutil.which(tool) is None:
            yield tool


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print a table (or JSON); always return 0."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smoke run, about a minute")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    missing = list(missing_tools())
    if missing:
        print(f"not found: {', '.join(missing)} (apt-get install prometheus)")
        return 0
    summary = run(QUICK if args.quick else FULL)
    print(as_json(summary) if args.json else render(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
