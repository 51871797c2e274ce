"""``sloguard simulate``: backtest SLO alert tiers against error-rate scenarios.

``--budget FROM:TO`` (dates, UTC) follows each SLO's error budget over those days instead, with
the first scenario's incident a third of the way in: a calendar SLO's budget resets at each
period start (:func:`sloguard.rules.simulate.backtest_budget`).

Evaluates every ``--interval`` seconds; by default every ``evaluation_interval`` of the daemon's
settings (``--config FILE`` or ``$SLOGUARD_CONFIG``; 30 s without either), so the times shown
are the daemon's. Shows when each tier fires and resets, and when each alert (SLO instance ×
severity) fires and resolves (:func:`alert_spans`); ``--json`` adds the spans to each result.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sloguard.commands import Command, reporting_failures
from sloguard.rules.scenarios import SCENARIOS

if TYPE_CHECKING:
    from sloguard.rules.scenarios import Scenario
    from sloguard.rules.simulate import AlertOutcome, SimulationResult
    from sloguard.settings.model import Settings
    from sloguard.slo.spec import SLO

__all__ = ["SIMULATE", "AlertSpan", "alert_spans"]


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
        default=None,
        metavar="S",
        help="evaluation interval in seconds (default: the settings' evaluation_interval, 30)",
    )
    parser.add_argument(
        "--config",
        default=None,
        metavar="FILE",
        help="daemon settings whose evaluation_interval to use (default: $SLOGUARD_CONFIG)",
    )
    parser.add_argument(
        "--budget",
        metavar="FROM:TO",
        help="follow each SLO's budget over these dates (UTC, e.g. 2026-01-25:2026-02-05), "
        "the first scenario's incident a third of the way in; calendar budgets reset",
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


@dataclass(frozen=True, slots=True)
class AlertSpan:
    """One alert (SLO instance × severity) from firing to resolved, in seconds after the
    incident started; ``resolved`` None: still firing when the simulation ended."""

    alertname: str
    severity: str
    fired: float
    resolved: float | None

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly dict."""
        return {
            "alertname": self.alertname,
            "severity": self.severity,
            "fired_at_seconds": self.fired,
            "resolved_at_seconds": self.resolved,
        }


def alert_spans(alerts: Sequence[AlertOutcome]) -> list[AlertSpan]:
    """Pair each alert's ``firing`` with its next ``resolved`` (repeats and other updates of a
    firing alert do not end it), in the order the alerts fired.

    Example::

        alert_spans(result.alerts)   # [AlertSpan("SLOBurn", "critical", 10.0, 1860.0), ...]
    """
    open_: dict[tuple[str, str], int] = {}
    spans: list[AlertSpan] = []
    for a in alerts:
        key = (a.alertname, a.severity.value)
        if a.transition.value == "firing" and key not in open_:
            open_[key] = len(spans)
            spans.append(AlertSpan(key[0], key[1], a.at, None))
        elif a.transition.value == "resolved" and key in open_:
            i = open_.pop(key)
            spans[i] = AlertSpan(key[0], key[1], spans[i].fired, a.at)
    return spans


def _interval(args: argparse.Namespace) -> tuple[float, str]:
    """The evaluation interval and where it comes from (for the title)."""
    if args.interval is not None:
        if not args.interval > 0:
            from sloguard.commands import CommandFailed

            raise CommandFailed(
                f"--interval must be a positive number of seconds, got {args.interval}"
            )
        return args.interval, "--interval"
    from sloguard.settings.model import load_settings

    settings: Settings = load_settings(args.config)
    return settings.evaluation_interval, "the daemon's evaluation_interval"


def _instance(group_by: Sequence[str], value: str) -> str:
    return ", ".join(f"{g}={value}" for g in group_by) or "-"


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
    interval, origin = _interval(args)
    if args.budget:
        return _budget(args, runs)
    results = [asyncio.run(simulate(slo, sc, interval=interval)) for slo, sc in runs]
    if args.json:
        print(json.dumps([_result_dict(r) for r in results], indent=2, ensure_ascii=False))
        return 0
    table = Table(
        title=f"sloguard simulate: when each alert tier fires and resets "
        f"(evaluated every {interval:g}s: {origin})"
    )
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
        table.add_column(col, overflow="fold")  # names wrap, never cut
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
    Console().print(table)
    Console().print(_alert_table(results, {slo.name: slo.group_by for slo, _ in runs}))
    return 0


def _minute(at: float) -> str:
    from sloguard.durations import format_instant

    return format_instant(at)[:16].replace("T", " ")


def _dates(text: str) -> tuple[float, float]:
    from datetime import UTC, datetime

    from sloguard.commands import CommandFailed

    usage = "--budget takes FROM:TO dates (UTC), e.g. 2026-01-25:2026-02-05"
    parts = text.split(":")
    if len(parts) != 2:
        raise CommandFailed(f"{usage}; got {text!r}")
    try:
        start, end = (datetime.fromisoformat(d).replace(tzinfo=UTC) for d in parts)
    except ValueError as exc:
        raise CommandFailed(f"{usage}; {exc}") from exc
    if end <= start:
        raise CommandFailed(f"--budget: {text}: TO must be after FROM")
    return start.timestamp(), end.timestamp()


def _budget(args: argparse.Namespace, runs: Sequence[tuple[SLO, Scenario]]) -> int:
    """``--budget``: each SLO's budget over the dates, one row a day and around each reset."""
    from rich.console import Console
    from rich.table import Table

    from sloguard.durations import DAY, HOUR
    from sloguard.rules.simulate import backtest_budget

    start, end = _dates(args.budget)
    incident = start + (end - start) / 3
    done = []
    first: dict[str, tuple[SLO, Scenario]] = {}
    for slo, sc in runs:
        first.setdefault(slo.name, (slo, sc))  # each SLO with the first scenario
    for slo, scenario in first.values():
        traffic = lambda t, sc=scenario: sc.at(t - incident)  # noqa: E731
        done.append(asyncio.run(backtest_budget(slo, traffic, start=start, end=end, step=HOUR)))
    if args.json:
        print(json.dumps([b.as_dict() for b in done], indent=2))
        return 0
    for b in done:
        resets = set(b.resets())
        table = Table(title=f"{b.slo}: error budget left, UTC (resets: "
                      f"{', '.join(map(_minute, sorted(resets))) or 'none'})")  # fmt: skip
        for col in ("time", "period start", "budget left", "SLI", "events"):
            table.add_column(col)
        for i, p in enumerate(b.points):
            around = b.points[max(0, i - 1) : i + 2]
            near = len({q.period_start for q in around}) > 1  # just before or after a reset
            if not (near or (p.at - start) % DAY < 1e-6 or i == len(b.points) - 1):
                continue
            left = "-" if p.budget_remaining is None else f"{p.budget_remaining:.1%}"
            sli = "-" if p.sli is None else f"{p.sli:.4%}"
            start_text = "-" if p.period_start is None else _minute(p.period_start)
            table.add_row(_minute(p.at), start_text, left, sli, f"{p.events:,.0f}")
        Console().print(table)
    return 0


def _result_dict(r: SimulationResult) -> dict[str, object]:
    return {**r.as_dict(), "alert_spans": [s.as_dict() for s in alert_spans(r.alerts)]}


def _alert_table(results: Sequence[SimulationResult], group_by: Mapping[str, Sequence[str]]) -> Any:
    """When each alert (one simulated instance of each SLO × severity) fires and resolves."""
    from rich.table import Table

    from sloguard.rules.simulate import INSTANCE_VALUE

    table = Table(title="when each alert fires and resolves (times after the incident start)")
    for col in ("SLO", "instance", "scenario", "alert", "severity", "fires", "resolves"):
        table.add_column(col, overflow="fold")
    for r in results:
        instance = _instance(group_by.get(r.slo, ()), INSTANCE_VALUE)
        for s in alert_spans(r.alerts):
            resolves = "still firing" if s.resolved is None else _fmt(s.resolved)
            table.add_row(
                r.slo, instance, r.scenario, s.alertname, s.severity, _fmt(s.fired), resolves
            )
    return table


SIMULATE = Command(
    name="simulate",
    summary="backtest alert tiers: detection time, reset time and budget spent per scenario",
    examples=(
        "sloguard simulate config/slos.yaml",
        "sloguard simulate config/slos.yaml --scenario outage --scenario spike:duration=2m",
        "sloguard simulate config/slos.yaml --slo tool-success --scenario leak --json",
        "sloguard simulate config/slos.yaml --budget 2026-01-25:2026-02-05 --scenario outage",
    ),
    add_arguments=_add_arguments,
    handler=reporting_failures(_simulate),
)
