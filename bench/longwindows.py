"""Long windows (1d, 3d, 30d) from raw counters vs from the rates ``sloguard rules`` records.

One SLO (``success_rate``, ``group_by: [agent_name]``, default 30-day policy: windows 5m 30m 1h
2h 6h 1d 3d 30d) over N agents (default 100). One TSDB, backfilled with promtool, holds:

- raw ``agent_calls_total`` counters (``status`` success and error) of every agent, one sample
  every 15 s for ``--days`` days (default 3) ending at ``at``: ~2 % errors;
- the recorded rates ``slo:sli_bad:rate5m`` / ``slo:sli_total:rate5m`` (labels
  ``sloguard_slo``, ``agent_name``), one record per 5 minutes at ``at - 60 s - k * 5m`` for
  30 days and an hour: computed exactly from the raw counters where those exist, drawn from the
  same traffic model before that (a raw history of 30 days at this size is too heavy to
  backfill here).

Both sources are evaluated at the same ``at`` on the same data:

- ``raw``:      ``PrometheusSource(url)``: every window is ``increase(...[w])`` on the counters;
- ``recorded``: ``PrometheusSource(url, recorded_from=1d)``: 1d, 3d and 30d are
  ``sum_over_time(slo:sli_*:rate5m[w]) * 300`` (plus the coverage check), the rest raw.

Prometheus runs with a 90-day retention (the records reach 30 days back) and is left to
compact promtool's 2 h blocks first (about a minute after start), as a long-running server's
blocks would be. Measured: median wall time of full evaluation cycles, and of each long
window's query alone. The raw 30d window reads only the ``--days`` of raw history there is;
on a real 30-day history it reads ``30 / days`` times more (an extrapolation, printed as
such). The agreement of the counts of the windows within the raw history is printed too.
Exit status 0 whatever the numbers.

Usage (from the repository root)::

    .venv/bin/python bench/longwindows.py                 # 100 agents, 3 d raw, ~6 minutes
    .venv/bin/python bench/longwindows.py --agents 30 --days 1   # smoke run
    .venv/bin/python bench/longwindows.py --json
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

# tests.support.promserver, tests.support.slos
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.evaluation import machine, missing_tools
from sloguard import conventions as c
from sloguard.durations import DAY
from sloguard.evaluation.evaluator import Evaluator
from sloguard.slo.budget import Counts
from sloguard.slo.promql import BAD_RATE, RATE_INTERVAL, TOTAL_RATE
from sloguard.sources.base import WindowCounts
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
SHIFT = 60  # records sit this long before ``at``, as a rule group's own clock would put them
RECORD_DAYS = 30
LONG = (DAY, 3 * DAY, 30 * DAY)
WARMUP = 1
CYCLES = 5
REPEATS = 5
SLO = make_slo("calls", group_by=("agent_name",))


def agent(i: int) -> str:
    return f"agent-{i:04d}"


def history(n: int, days: int, at: int) -> tuple[list[Family], int]:
    """Raw counters and records; the number of raw samples."""
    steps = days * DAY // STEP
    start = at - int(steps) * STEP
    raw_series, bad_rec, total_rec = [], [], []
    per_record = int(RATE_INTERVAL) // STEP
    first = at - SHIFT - int(RECORD_DAYS * DAY + 3600) // 300 * 300
    record_times = list(range(first, at - SHIFT + 1, int(RATE_INTERVAL)))
    for i in range(n):
        name = agent(i)
        rng = random.Random(name)
        ok, bad = [0.0], [0.0]
        for _ in range(int(steps)):
            ok.append(ok[-1] + rng.randint(0, 8))
            bad.append(bad[-1] + (1 if rng.random() < 0.02 else 0))
        times = [start + k * STEP for k in range(int(steps) + 1)]
        for status, values in (("success", ok), ("error", bad)):
            labels = {"agent_name": name, "status": status}
            raw_series.append(Series(c.AGENT_CALLS, labels, list(zip(times, values, strict=True))))
        bads, totals = [], []
        for t in record_times:
            if t - RATE_INTERVAL >= start:  # from the counters, exactly
                k = (t - start) // STEP
                b = bad[k] - bad[k - per_record]
                total = b + ok[k] - ok[k - per_record]
            else:  # before the raw history: the same traffic model
                total = sum(rng.randint(0, 8) for _ in range(per_record))
                b = sum(rng.random() < 0.02 for _ in range(per_record))
                total += b
            bads.append((float(t), b / RATE_INTERVAL))
            totals.append((float(t), total / RATE_INTERVAL))
        labels = {"sloguard_slo": SLO.name, "agent_name": name}
        bad_rec.append(Series(BAD_RATE, labels, bads))
        total_rec.append(Series(TOTAL_RATE, labels, totals))
    families = [
        Family("agent_calls", "counter", raw_series),
        Family("slo_rates", "gauge", bad_rec + total_rec),
    ]
    return families, 2 * n * (int(steps) + 1)


async def median_ms(action: Callable[[], Awaitable[object]], warmup: int, times: int) -> float:
    for _ in range(warmup):
        await action()
    seconds = []
    for _ in range(times):
        start = time.perf_counter()
        await action()
        seconds.append(time.perf_counter() - start)
    return statistics.median(seconds) * 1000


def agreement(a: WindowCounts, b: WindowCounts) -> dict[str, float]:
    """Largest relative differences of bad, total and error ratio over the instances."""

    def rel(x: float, y: float) -> float:
        return abs(x - y) / max(abs(y), 1e-12)

    keys = set(a) | set(b)
    zero = Counts(bad=0.0, total=0.0)
    pairs = [(a.get(k, zero), b.get(k, zero)) for k in keys]
    return {
        "instances_a": len(a),
        "instances_b": len(b),
        "total_max_rel": max(rel(x.total, y.total) for x, y in pairs),
        "bad_total_rel": rel(sum(x.bad for x, _ in pairs), sum(y.bad for _, y in pairs)),
        "ratio_max_abs": max(abs(x.bad / x.total - y.bad / y.total) for x, y in pairs),
    }


async def compacted(url: str, limit: float = 300.0) -> dict[str, float]:
    """Wait until Prometheus has compacted the backfilled 2 h blocks (its first compaction
    runs about a minute after start), as a long-running server's would be; a TSDB compacted
    before (a reused history) is taken as it is once nothing changed for 90 s."""
    pattern = re.compile(r"^prometheus_tsdb_(blocks_loaded|compactions_total) (\S+)$", re.M)
    start, stable = time.monotonic(), 0
    last: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=url) as client:
        while time.monotonic() - start < limit:
            text = (await client.get("/metrics")).text
            now = {k: float(v) for k, v in pattern.findall(text)}
            settled = now.get("compactions_total", 0) > 0 or time.monotonic() - start > 90
            stable = stable + 1 if now == last and settled else 0
            if stable >= 3:
                break
            last = now
            await asyncio.sleep(5)
    return {**last, "waited_s": time.monotonic() - start}


async def measure(url: str, at: int, days: int) -> dict[str, Any]:
    out: dict[str, Any] = {"cycle_ms": {}, "window_ms": {}, "queries": {}}
    out["tsdb"] = await compacted(url)
    async with (
        PrometheusSource(url, timeout=120.0) as raw,
        PrometheusSource(url, timeout=120.0, recorded_from=DAY) as recorded,
    ):
        for mode, src in (("raw", raw), ("recorded", recorded)):
            evaluator = Evaluator([SLO], src)
            sent = src.query_count

            async def cycle(e: Evaluator = evaluator) -> object:
                return await e.evaluate(at)

            out["cycle_ms"][mode] = await median_ms(cycle, 1, CYCLES)
            out["queries"][mode] = (src.query_count - sent) / (1 + CYCLES)
            out["window_ms"][mode] = {}
            for w in LONG:

                async def one(s: PrometheusSource = src, w: float = w) -> WindowCounts:
                    return await s.window_counts(SLO, w, at)

                out["window_ms"][mode][f"{w / DAY:g}d"] = await median_ms(one, WARMUP, REPEATS)
        out["fallbacks"] = recorded.fallback_count
        out["agreement"] = {
            f"{w / DAY:g}d": agreement(
                await recorded.window_counts(SLO, w, at), await raw.window_counts(SLO, w, at)
            )
            for w in LONG
            if w <= days * DAY
        }
    return out


def run(agents: int, days: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="sloguard-bench-") as tmp:
        root = Path(tmp)
        at = int(time.time()) // 300 * 300
        start = time.perf_counter()
        families, raw_samples = history(agents, days, at)
        samples = backfill_openmetrics(openmetrics_text(families), root / "data")
        del families
        prepared = time.perf_counter() - start
        args = ["--storage.tsdb.retention.time=90d"]  # records reach 30 d back
        with start_prometheus(root, storage=root / "data", extra_args=args) as url:
            result = asyncio.run(measure(url, at, days))
    raw_30d = result["window_ms"]["raw"]["30d"]
    return {
        "machine": machine(),
        "agents": agents,
        "raw_days": days,
        "record_days": RECORD_DAYS,
        "samples": {"raw": raw_samples, "recorded": samples - raw_samples},
        "prepare_s": prepared,
        **result,
        "raw_30d_extrapolated_ms": raw_30d * RECORD_DAYS / days,
    }


def render(r: dict[str, Any]) -> str:
    lines = [
        f"{r['agents']} agents; raw counters {r['raw_days']} d at {STEP} s "
        f"({r['samples']['raw']:,} samples), records {r['record_days']} d at 5 m "
        f"({r['samples']['recorded']:,} samples); backfill {r['prepare_s']:.0f} s",
        "",
        "| | raw counters | recorded rates |",
        "|---|---:|---:|",
        f"| full cycle (8 windows), median ms | {r['cycle_ms']['raw']:.0f} | "
        f"{r['cycle_ms']['recorded']:.0f} |",
        f"| queries per cycle | {r['queries']['raw']:g} | {r['queries']['recorded']:g} |",
    ]
    for w, ms in r["window_ms"]["raw"].items():
        lines.append(
            f"| {w} window alone, median ms | {ms:.0f} | {r['window_ms']['recorded'][w]:.0f} |"
        )
    lines.append(
        f"| 30d on a real 30 d raw history (extrapolated ×{r['record_days'] / r['raw_days']:g}) "
        f"| ~{r['raw_30d_extrapolated_ms']:.0f} | {r['window_ms']['recorded']['30d']:.0f} |"
    )
    lines.append("")
    tsdb = r["tsdb"]
    lines.append(
        f"blocks after compaction: {tsdb.get('blocks_loaded', 0):g} "
        f"(waited {tsdb['waited_s']:.0f} s); fallbacks to raw counters: {r['fallbacks']}"
    )
    for w, a in r["agreement"].items():
        lines.append(
            f"{w}: instances {a['instances_a']}/{a['instances_b']}, total max rel diff "
            f"{a['total_max_rel']:.2e}, bad (sum) rel diff {a['bad_total_rel']:.2e}, "
            f"error ratio max abs diff {a['ratio_max_abs']:.2e}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--days", type=int, default=3, help="days of raw counters (≤ 29)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    missing = list(missing_tools())
    if missing:
        print(f"not found: {', '.join(missing)} (apt-get install prometheus)")
        return 0
    result = run(args.agents, args.days)
    print(json.dumps(result, indent=2) if args.json else render(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
