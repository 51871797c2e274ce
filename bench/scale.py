"""Evaluation at scale: SLOs × agents instances against a real Prometheus holding a long
history, with and without the recorded rates, against Prometheus evaluating the same SLOs as
rules itself.

Default shape: 100 SLOs × 100 agents = 10 000 instances, one in four burning, 30 days of raw
counters and records every 5 minutes (bench/scaledata.py: 346 M samples; ``--quick``: 10 × 100
over 3 days). Prometheus 2.x from Debian, backfilled with promtool in a child process (so this
process's RSS is the evaluator's alone), left to compact its blocks before anything is measured.

Measured in one run, up to one evaluation time ``at`` (the end of the history):

- **sloguard, raw** (``recorded_long_windows: false``) and **sloguard, auto** (the default:
  records where they exist): ``SLOEngine(slos, PrometheusSource(url)).tick(at)``: wall time of
  a cycle (mean, median and max of ``--cycles`` raw and ``--auto-cycles`` auto cycles, 30 s of
  evaluation time apart, after one warm-up; 120 auto cycles are an hour, so the hourly reads of
  the long windows' middles are in the mean and the max),
  queries per cycle, Prometheus CPU per cycle
  (``process_cpu_seconds_total`` of Prometheus before/after), instances burning;
- **rules**: the same SLOs as ``sloguard rules`` output (Sloth-style windows + alert groups, and
  the 5m rate groups), loaded into the same Prometheus: the sum over the window groups of
  ``prometheus_rule_group_last_duration_seconds`` (one evaluation of every group), the slowest
  group, and Prometheus CPU per evaluation round;
- **RSS** of this process (``ru_maxrss``) after the cycles;
- **notifications per second** through the outbox: the burning instances of the last auto cycle
  through ``AlertCenter.process`` into a SQLite ``StateStore`` (one replica), delivered by one
  ``OutboxWorker`` pass to a recording notifier.

Ratios are reported against the baseline measured in the same run (raw cycle; rules round), as
the machine is shared and noisy. Exit status 0 whatever the numbers.

Usage (from the repository root)::

    .venv/bin/python bench/scale.py --quick            # 1 000 instances, 3 days
    .venv/bin/python bench/scale.py                    # 10 000 instances, 30 days
    .venv/bin/python bench/scale.py --slos 100 --agents 100 --days 7 --json
    .venv/bin/python bench/scaledata.py DIR AT 100 100 30   # write a history once, then
    .venv/bin/python bench/scale.py --history DIR --at AT    # measure it (as often as wanted)
    .venv/bin/python bench/scaledata.py --dense 4 DIR AT 100 100 30   # add 15 s raw samples

The history's raw counters are sampled every 5 minutes, 20× sparser than a usual scrape, which
makes the raw-counter windows cheaper than in production; ``--dense HOURS`` (or
``bench/scaledata.py --dense`` on a written history) adds samples every 15 s over the last
hours, where the timed cycles' raw windows read. The result says which it measured
(``raw_interval_s``).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench.evaluation import machine, scrape, total
from bench.longwindows import compacted
from bench.scaledata import Shape, slo_name
from bench.scalenotify import postgres_outbox, sqlite_outbox
from sloguard.evaluation.engine import SLOEngine
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.rules.compiler import compile_groups, render, rule_file
from sloguard.slo.budget import State
from sloguard.slo.spec import SLO
from sloguard.sources.prometheus import PrometheusSource
from tests.support.promserver import start_prometheus
from tests.support.slos import make_slo

FULL = Shape(slos=100, agents=100, days=30)
QUICK = Shape(slos=10, agents=100, days=3)
RULE_INTERVAL = 30  # default seconds between rule evaluations in the rules phase
INTERVAL = 30.0  # seconds between the evaluation times of sloguard's timed cycles
TARGET_CYCLE = 2.0  # issue 15: a cycle within 2 s at 10 000 instances with records


def scale_slos(shape: Shape) -> list[SLO]:
    """One ``success_rate`` SLO per service, grouped by agent (objective 99.9 %, 30 d)."""
    return [
        make_slo(slo_name(i), selector={"service": f"svc-{i:03d}"}, group_by=("agent_name",))
        for i in range(shape.slos)
    ]


def prometheus_config(rules: Path, interval: int) -> str:
    return (
        f"global:\n  scrape_interval: 15s\n  evaluation_interval: {interval}s\n"
        f"rule_files:\n  - {rules}\n"
    )


async def prom_cpu(client: httpx.AsyncClient) -> float:
    return total(await scrape(client), "process_cpu_seconds_total")


async def measure_cycles(
    name: str, slos: list[SLO], url: str, at: float, cycles: int, client: httpx.AsyncClient
) -> tuple[dict[str, Any], tuple[InstanceResult, ...]]:
    """One warm-up tick, then ``cycles`` timed ticks of the real engine, :data:`INTERVAL`
    apart and ending at ``at`` (a daemon's cycles: windows read from records are answered
    again for ``REUSE`` seconds, so timing one ``at`` over and over would flatter them)."""
    source = PrometheusSource(url, timeout=300.0, recorded_from="auto" if name == "auto" else None)
    engine = SLOEngine(slos, source)
    try:
        results = await engine.tick(at - cycles * INTERVAL)
        seconds, sent, cpu = [], source.query_count, await prom_cpu(client)
        own = time.process_time()
        for k in range(cycles - 1, -1, -1):
            started = time.perf_counter()
            results = await engine.tick(at - k * INTERVAL)
            seconds.append(time.perf_counter() - started)
        own = time.process_time() - own
        cpu = await prom_cpu(client) - cpu
        states = [r.evaluation.state for r in results]
        return {
            "cycle_s": statistics.median(seconds),
            "cycle_mean_s": statistics.mean(seconds),
            "cycle_p95_s": _p95(seconds),
            "cycle_max_s": max(seconds),
            "cycle_min_s": min(seconds),
            "cycles": cycles,
            "cycles_over_target": sum(s > TARGET_CYCLE for s in seconds),
            "queries": (source.query_count - sent) / cycles,
            "prometheus_cpu_s": cpu / cycles,
            "sloguard_cpu_s": own / cycles,
            "instances": len(results),
            "burning": sum(s is State.BURNING for s in states),
            "errors": sum(s is State.ERROR for s in states),
            "fallbacks": source.fallback_count,
        }, results
    finally:
        await engine.aclose()


async def raw_interval(client: httpx.AsyncClient, at: float) -> float:
    """Seconds between the raw counters' samples in the history's last hour (300, or
    :data:`~bench.scaledata.DENSE_EVERY` where ``--dense`` added samples)."""
    query = "max(count_over_time(agent_calls_total[59m59s]))"  # (at - 1h, at] in any version
    answer = (await client.post("/api/v1/query", data={"query": query, "time": str(at)})).json()
    return 3600 / float(answer["data"]["result"][0]["value"][1])


def _p95(seconds: list[float]) -> float:
    """The 95th percentile, between the smallest and the largest (never extrapolated)."""
    if len(seconds) < 2:
        return seconds[0]
    return statistics.quantiles(seconds, n=20, method="inclusive")[-1]


async def measure_rules(
    slos: list[SLO], rules: Path, client: httpx.AsyncClient, interval: int, rounds: int = 2
) -> dict[str, Any]:
    """Load ``sloguard rules`` output; after a warm-up round, read ``rounds`` evaluations of
    every group: the sum and max of the window groups' durations, CPU per round."""
    groups = compile_groups(slos)
    await asyncio.to_thread(rules.write_text, render(rule_file(groups)), encoding="utf-8")
    (await client.post("/-/reload")).raise_for_status()
    loaded = time.time()
    names = {f"{rules};{g['name']}": g["name"].endswith("/rates") for g in groups}
    seen: dict[str, list[tuple[float, float]]] = {k: [] for k in names}
    cpu_marks: list[tuple[float, float]] = []
    deadline = time.monotonic() + (rounds + 2) * interval * 20 + 600
    while min(len(v) for k, v in seen.items() if not names[k]) < rounds + 1:
        if time.monotonic() > deadline:
            raise RuntimeError("the rule groups did not evaluate in time")
        m = await scrape(client)
        for key, marks in seen.items():
            label = (("rule_group", key),)
            at = m.get(("prometheus_rule_group_last_evaluation_timestamp_seconds", label), 0.0)
            if at > loaded and (not marks or marks[-1][0] != at):
                marks.append((at, m[("prometheus_rule_group_last_duration_seconds", label)]))
        cpu_marks.append((time.monotonic(), total(m, "process_cpu_seconds_total")))
        await asyncio.sleep(1.0)
    await asyncio.to_thread(rules.write_text, "groups: []\n", encoding="utf-8")
    (await client.post("/-/reload")).raise_for_status()
    window_groups = [v[1:] for k, v in seen.items() if not names[k]]
    per_round = [sum(g[r][1] for g in window_groups) for r in range(rounds)]
    rate_groups = [v[-1][1] for k, v in seen.items() if names[k] and v]
    (t0, c0), (t1, c1) = cpu_marks[0], cpu_marks[-1]
    return {
        "groups": len(groups),
        "round_sum_s": statistics.median(per_round),
        "slowest_group_s": max(d for g in window_groups for _, d in g),
        "rate_groups_sum_s": sum(rate_groups) if rate_groups else None,
        "prometheus_cpu_per_round_s": (c1 - c0) / max(t1 - t0, 1e-9) * interval,
    }


async def measure(
    url: str, shape: Shape, at: int, opts: Options, rules: Path, pg: str | None
) -> dict[str, Any]:
    slos = scale_slos(shape)
    out: dict[str, Any] = {}
    async with httpx.AsyncClient(base_url=url, timeout=600.0) as client:
        out["tsdb"] = await compacted(url, limit=opts.settle) if opts.settle else {}
        out["raw_interval_s"] = await raw_interval(client, at)
        last: tuple[InstanceResult, ...] = ()
        for name in ("raw", "auto"):
            cycles = opts.auto_cycles if name == "auto" else opts.cycles
            out[name], last = await measure_cycles(name, slos, url, at, cycles, client)
        out["rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        out["rules"] = await measure_rules(slos, rules, client, opts.rule_interval, opts.rounds)
    with tempfile.TemporaryDirectory(prefix="sloguard-scale-outbox-") as tmp:
        out["notify"] = await sqlite_outbox(last, Path(tmp) / "state.db")
    if pg is not None:
        out["notify_pg"] = await postgres_outbox(last, pg)
    out["ratios"] = {
        "auto_vs_raw_cycle": out["auto"]["cycle_mean_s"] / out["raw"]["cycle_mean_s"],
        "auto_cycle_vs_rules_round": out["auto"]["cycle_mean_s"] / out["rules"]["round_sum_s"],
        "auto_cpu_vs_rules_cpu": out["auto"]["prometheus_cpu_s"]
        / max(out["rules"]["prometheus_cpu_per_round_s"], 1e-9),
    }
    return out


@dataclass(frozen=True, slots=True)
class Options:
    """How long to measure: timed cycles per mode, seconds to wait for Prometheus to compact
    (0: not at all), rule evaluation interval and rounds read."""

    cycles: int = 10
    settle: float = 1800.0
    rule_interval: int = RULE_INTERVAL
    rounds: int = 2
    postgres: bool = False  # also two replicas on a PostgreSQL started for the run
    auto_cycles: int = 120  # with records: one hour of evaluation time, the hourly reads in it
    dense_hours: float = 0.0  # raw counters every 15 s over the history's last hours


def run(
    shape: Shape,
    opts: Options,
    workdir: Path | None = None,
    history: tuple[Path, int] | None = None,
) -> dict[str, Any]:
    """Backfill (or take ``history``: a TSDB directory and its end), start Prometheus,
    measure; the result as a JSON-able mapping."""
    with tempfile.TemporaryDirectory(prefix="sloguard-scale-", dir=workdir) as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        if history is None:
            at = int(time.time()) // 300 * 300
            written = replace(shape, days=shape.days + span(opts) / 86400)
            data, samples = root / "data", backfill(written, at, root / "data")
            if opts.dense_hours:
                samples += backfill(written, at, data, dense_hours=opts.dense_hours)
        else:
            (data, at), samples = history, shape.samples
        prepared = time.perf_counter() - started
        rules = root / "rules.yaml"
        rules.write_text("groups: []\n", encoding="utf-8")
        flags = ["--storage.tsdb.retention.time=400d"]
        with contextlib.ExitStack() as stack:
            pg = None
            if opts.postgres:
                from tests.support.pgserver import start_postgres

                pg = stack.enter_context(start_postgres(root))
            url = stack.enter_context(
                start_prometheus(
                    root,
                    config_yaml=prometheus_config(rules, opts.rule_interval),
                    storage=data,
                    extra_args=flags,
                    lifecycle=True,
                    ready_timeout=600.0,
                )
            )
            result = asyncio.run(measure(url, shape, at, opts, rules, pg))
    return {
        "machine": machine(),
        "shape": {"slos": shape.slos, "agents": shape.agents, "days": shape.days},
        "instances": shape.instances,
        "samples": samples,
        "backfill_s": prepared,
        **result,
    }


def span(opts: Options) -> float:
    """Seconds of history the timed cycles need before the SLO period: the cycles reach back
    from ``at``, and a window starting before the records would be read from raw counters
    (a daemon whose Prometheus holds months of records never does that)."""
    return (max(opts.cycles, opts.auto_cycles) + 1) * INTERVAL + 900.0


def backfill(shape: Shape, at: int, data: Path, dense_hours: float = 0.0) -> int:
    """Write the history (or with ``dense_hours``, its dense tail) in a child process (so this
    process's RSS is the evaluator's)."""
    child = [sys.executable, str(Path(__file__).with_name("scaledata.py"))]
    if dense_hours:
        child += ["--dense", f"{dense_hours:g}"]
    args = [str(data), str(at), str(shape.slos), str(shape.agents), str(shape.days)]
    done = subprocess.run([*child, *args], capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"backfill failed:\n{done.stderr[-3000:]}")
    return int(done.stdout.split()[-1])


def _spread(m: dict[str, Any]) -> str:
    p95 = m.get("cycle_p95_s", m["cycle_max_s"])
    return f"{m['cycle_s']:.2f} / {p95:.2f} / {m['cycle_max_s']:.2f}"


def render_result(r: dict[str, Any]) -> str:
    raw, auto, rules = r["raw"], r["auto"], r["rules"]
    lines = [
        f"{r['instances']:,} instances ({r['shape']['slos']} SLOs × {r['shape']['agents']} "
        f"agents), {r['shape']['days']:g} d of history, {r['samples']:,} samples; backfill "
        f"{r['backfill_s']:.0f} s; blocks after compaction {r['tsdb'].get('blocks_loaded', 0):g}; "
        f"raw counters every {r.get('raw_interval_s', 300):g} s in the last hour",
        "",
        "| | sloguard, raw counters | sloguard, auto (records) | Prometheus rules |",
        "|---|---:|---:|---:|",
        f"| cycle / round, s (mean) | {raw['cycle_mean_s']:.2f} | {auto['cycle_mean_s']:.2f} | "
        f"{rules['round_sum_s']:.2f} (sum of groups; slowest {rules['slowest_group_s']:.2f}) |",
        f"| cycle, s (median / p95 / max) | {_spread(raw)} | {_spread(auto)} | — |",
        f"| cycles over {TARGET_CYCLE:g} s | {raw.get('cycles_over_target', '?')} of "
        f"{raw.get('cycles', '?')} | {auto.get('cycles_over_target', '?')} of "
        f"{auto.get('cycles', '?')} | — |",
        f"| queries per cycle | {raw['queries']:g} | {auto['queries']:g} | — |",
        f"| Prometheus CPU per cycle / round, s | {raw['prometheus_cpu_s']:.2f} | "
        f"{auto['prometheus_cpu_s']:.2f} | {rules['prometheus_cpu_per_round_s']:.2f} |",
        f"| sloguard CPU per cycle, s | {raw.get('sloguard_cpu_s', 0):.2f} | "
        f"{auto.get('sloguard_cpu_s', 0):.2f} | — |",
        f"| burning / error instances | {raw['burning']} / {raw['errors']} | "
        f"{auto['burning']} / {auto['errors']} | — |",
        "",
        f"ratios: auto/raw cycle {r['ratios']['auto_vs_raw_cycle']:.2f}; auto cycle / rules round "
        f"{r['ratios']['auto_cycle_vs_rules_round']:.2f}; auto CPU / rules CPU "
        f"{r['ratios']['auto_cpu_vs_rules_cpu']:.2f}",
        f"evaluator RSS {r['rss_mb']:.0f} MB; fallbacks to raw (auto) {auto['fallbacks']}",
        f"notifications: {r['notify']['delivered']} through {r['notify']['store']} at "
        f"{r['notify']['per_second'] or 0:.0f}/s (queue {r['notify']['queue_s']:.2f} s, "
        f"deliver {r['notify']['deliver_s']:.2f} s)",
    ]
    pg = r.get("notify_pg")
    if pg is not None:
        lines.append(
            f"notifications: {pg['delivered']} through {pg['store']} at "
            f"{pg['per_second'] or 0:.0f}/s (queue {pg['queue_s']:.2f} s, deliver "
            f"{pg['deliver_s']:.2f} s; the follower claimed {pg['follower_claims']})"
        )
        shared = pg.get("results")
        if shared is not None:
            lines.append(
                f"results shared: {shared['instances']:,} instances, "
                f"{shared['payload_bytes'] / 1e6:.1f} MB; the leader publishes in "
                f"{shared['publish_s'] * 1000:.0f} ms, a follower reads in "
                f"{shared['read_s'] * 1000:.0f} ms (median of {shared['rounds']}; "
                f"{(shared['publish_s'] + shared['read_s']) / auto['cycle_mean_s']:.2f}× "
                "an auto cycle)"
            )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="1 000 instances over 3 days")
    parser.add_argument("--slos", type=int, default=None)
    parser.add_argument("--agents", type=int, default=None)
    parser.add_argument("--days", type=float, default=None)
    parser.add_argument("--cycles", type=int, default=10, help="timed raw-counter cycles")
    parser.add_argument(
        "--auto-cycles", type=int, default=120, help="timed cycles with records (120: an hour)"
    )
    parser.add_argument(
        "--history", type=Path, default=None, help="a TSDB bench/scaledata.py wrote (no backfill)"
    )
    parser.add_argument("--at", type=int, default=None, help="the end of that history")
    parser.add_argument("--settle", type=float, default=1800.0, help="max s to wait for compaction")
    parser.add_argument("--rule-interval", type=int, default=RULE_INTERVAL)
    parser.add_argument("--rounds", type=int, default=2, help="rule evaluation rounds read")
    parser.add_argument("--dir", type=Path, default=None, help="where the TSDB goes")
    parser.add_argument(
        "--postgres", action="store_true", help="also two replicas on a shared PostgreSQL"
    )
    parser.add_argument(
        "--dense",
        type=float,
        default=0.0,
        metavar="HOURS",
        help="raw counters every 15 s over the history's last HOURS (a scrape's density)",
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    base = QUICK if args.quick else FULL
    shape = Shape(args.slos or base.slos, args.agents or base.agents, args.days or base.days)
    opts = Options(
        args.cycles,
        args.settle,
        args.rule_interval,
        args.rounds,
        args.postgres,
        args.auto_cycles,
        args.dense,
    )
    if args.dense and args.history is not None:
        parser.error("--dense writes a new history: add it to --history with bench/scaledata.py")
    if (args.history is None) != (args.at is None):
        parser.error("--history and --at go together")
    history = None if args.history is None else (args.history, args.at)
    if history is not None and shape.days * 86400 < 30 * 86400 + span(opts):
        print(
            f"warning: --days {shape.days:g} of history: the timed cycles need "
            f"{(30 * 86400 + span(opts)) / 86400:.3f} for 30-day windows to be read from records",
            file=sys.stderr,
        )
    with contextlib.redirect_stdout(sys.stderr):  # alert log lines: keep stdout the result's
        result = run(shape, opts, args.dir, history)
    print(json.dumps(result, indent=2) if args.json else render_result(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
