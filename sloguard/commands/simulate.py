"""``sloguard simulate``: backtest SLO alert tiers against error-rate scenarios."""

from __future__ import annotations

import argparse
import asyncio
import json
import sys

from sloguard.commands import Command
from sloguard.rules.scenarios import SCENARIOS


def _add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("slo_file", metavar="SLO_FILE", help="SLO document")
    parser.add_argument(
        "--scenario",
        action="append",
        metavar="NAME[:k=v,...]",
        help=f"scenario (repeatable): {', '.join(SCENARIOS)}; keys ratio, duration, rate, "
        "baseline, gap, gap_at (a data gap) (default: outage and spike)",
    )
    parser.add_argument("--slo", action="append", metavar="NAME", help="only these SLOs")
    parser.add_argument(
        "--interval",
        type=float,
        default=10.0,
        metavar="S",
        help="evaluation interval in seconds (default: 10)",
    )
    parser.add_argument("--json", action="store_true", help="print JSON")


def _fmt(seconds: float | None) -> str:
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.1f}m"
    return f"{seconds / 3600:.1f}h"


def _simulate(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.table import Table

    from sloguard.errors import ConfigError, Problem
    from sloguard.rules.scenarios import parse_scenario
    from sloguard.rules.simulate import simulate
    from sloguard.slo.loader import load_slo_files
    from sloguard.slo.spec import SLIKind

    slos = load_slo_files([args.slo_file])
    if args.slo:
        missing = sorted(set(args.slo) - {s.name for s in slos})
        if missing:
            raise ConfigError(
                [Problem(args.slo_file, None, "--slo", f"no SLO named {m!r}") for m in missing]
            )
        slos = tuple(s for s in slos if s.name in args.slo)
    texts = args.scenario or ["outage", "spike"]
    runs = []
    problems = []
    for slo in slos:
        if slo.sli.kind is SLIKind.RATIO:
            print(
                f"skipping {slo.name}: kind ratio (raw PromQL) cannot be simulated", file=sys.stderr
            )
            continue
        for text in texts:
            try:
                shortest = min((t.long_window for t in slo.alerting.policy.tiers), default=3600.0)
                scenario = parse_scenario(
                    text, error_budget=slo.error_budget, shortest_window=shortest
                )
                runs.append((slo, scenario))
            except ValueError as exc:
                problems.append(Problem("--scenario", None, "", str(exc)))
    if problems:
        raise ConfigError(problems[: len(texts)])
    results = [asyncio.run(simulate(slo, sc, interval=args.interval)) for slo, sc in runs]
    if args.json:
        print(json.dumps([r.as_dict() for r in results], indent=2))
        return 0
    table = Table(title="sloguard simulate: when each alert tier fires and resets")
    for col in (
        "SLO",
        "scenario",
        "tier",
        "severity",
        "burn >",
        "detected after",
        "budget spent",
        "reset after recovery",
    ):
        table.add_column(col)
    for r in results:
        for t in r.tiers:
            spent = "-" if t.budget_at_detection is None else f"{t.budget_at_detection:.1%}"
            table.add_row(
                r.slo,
                r.scenario,
                t.tier,
                t.severity,
                f"{t.factor:g}",
                _fmt(t.detected_after),
                spent,
                "-" if t.detected_after is None else _fmt(t.reset_after),
            )
    pages = Table(title="notifications the alert state machine would send")
    for col in ("SLO", "scenario", "alert", "severity", "transition", "after incident start"):
        pages.add_column(col)
    for r in results:
        for a in r.alerts:
            pages.add_row(
                r.slo, r.scenario, a.alertname, a.severity.value, a.transition.value, _fmt(a.at)
            )
    Console().print(table)
    Console().print(pages)
    return 0


SIMULATE = Command(
    name="simulate",
    summary="backtest alert tiers: detection time, reset time and budget spent per scenario",
    examples=(
        "sloguard simulate config/slos.yaml",
        "sloguard simulate config/slos.yaml --scenario outage --scenario spike:duration=2m",
        "sloguard simulate config/slos.yaml --slo tool-success --scenario leak --json",
    ),
    add_arguments=_add_arguments,
    handler=_simulate,
)
