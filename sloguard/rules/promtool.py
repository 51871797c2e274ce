"""promtool unit tests of the compiled rules whose expected alert times come from ``simulate``.

:func:`unit_test_doc` turns an SLO and a few step scenarios into a ``promtool test rules`` file:
the scenario becomes ``input_series`` (the SDK's counters, as simulate feeds them: baseline
traffic for the longest tier window, then the incident); :func:`sloguard.rules.simulate.simulate`
runs the same scenario through the real embedded source and evaluator; ``alert_rule_test``
entries then expect the ``SLOBurn`` alerts (labels, annotations) the daemon raised, around each
detection and reset, and ``promql_expr_test`` entries each tier's own condition (both built in
:mod:`sloguard.rules.expectations`). Every SLO reading the test series (two SLOs over
``agent_calls_total``) is simulated and expected too.

Two clocks, as in production: the daemon evaluates every ``interval`` (default 30 s; also the
series' sample interval), Prometheus every ``rule_interval`` (default 1 m). Windows are
multiples of ``interval`` and samples sit on that grid, so ``increase(x[W])`` has a sample on
both window edges and extrapolates nothing: it equals the embedded source's count. A daemon
detection at ``t`` is expected at the first rule evaluation at or after ``t`` (within one rule
interval) and not at the one before; resets likewise.

Long windows (a default 30-day SLO reaches back 3 days): when the longest window is over
:data:`MAX_LEAD`, the test's step is the largest one up to :data:`LONG_STEP` dividing every window
(5 minutes for the default policy at 30 days) and ``simulate`` samples uniformly at that step,
so the series stay short in promtool's ``a+bxn`` notation and every window edge has a sample;
Prometheus then evaluates the rules every ``LONG_STEP`` or more (the default scenarios' durations
are rounded to the step).

Limits (:class:`Unsupported`): rising step scenarios only; no ``kind: ratio`` SLO.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from sloguard.durations import HOUR, format_duration, parse_duration
from sloguard.errors import SloguardError
from sloguard.rules.compiler import Doc
from sloguard.rules.expectations import Grid, Run, alert_cases, tier_cases
from sloguard.rules.scenarios import Scenario, parse_scenario
from sloguard.rules.simulate import simulate
from sloguard.rules.sloth import RuleOptions
from sloguard.slo.promql import BOUND_KINDS, OUTCOME_KINDS, counter_sli, le_value
from sloguard.slo.spec import SLO

__all__ = [
    "DEFAULT_INTERVAL",
    "DEFAULT_RULE_INTERVAL",
    "LONG_STEP",
    "MAX_LEAD",
    "Unsupported",
    "default_scenarios",
    "input_series",
    "unit_test_doc",
]

#: The daemon's default evaluation interval (``evaluation_interval`` setting).
DEFAULT_INTERVAL = 30.0
#: Prometheus's default rule evaluation interval (``global.evaluation_interval``).
DEFAULT_RULE_INTERVAL = 60.0
#: Beyond this lead the test steps by up to LONG_STEP, sampled uniformly by ``simulate``.
MAX_LEAD = 6 * HOUR
LONG_STEP = 300.0
SIM_VALUE = "sim"  # the value simulate gives group_by labels


class Unsupported(SloguardError, ValueError):
    """This SLO (or scenario) cannot be turned into an exact promtool test."""


@dataclass(frozen=True, slots=True)
class InputSeries:
    """One test counter: ``good * good events + bad * bad events`` so far."""

    name: str
    labels: Mapping[str, str]
    good: int
    bad: int

    def selector(self) -> str:
        """``name{a="x",b="y"}``."""
        inner = ",".join(f'{k}="{v}"' for k, v in sorted(self.labels.items()))
        return f"{self.name}{{{inner}}}"


def stream_labels(slo: SLO) -> dict[str, str]:
    """The labels simulate's counters carry: the selector, and ``sim`` for group_by labels."""
    return {**dict(slo.selector), **{g: SIM_VALUE for g in slo.group_by}}


def input_series(slo: SLO) -> tuple[InputSeries, ...]:
    """The counters that feed ``slo`` (the SDK's metric names)."""
    labels = stream_labels(slo)
    kind = slo.sli.kind
    if kind in BOUND_KINDS:
        histogram, field = BOUND_KINDS[kind]
        le = le_value(getattr(slo.sli, field))
        return (
            InputSeries(f"{histogram}_bucket", {**labels, "le": le}, 1, 0),
            InputSeries(f"{histogram}_count", labels, 1, 1),
        )
    if kind not in OUTCOME_KINDS:
        raise Unsupported(f"kind {kind.value} (raw PromQL) cannot be simulated")
    metric, label, good, bad = OUTCOME_KINDS[kind]
    return (
        InputSeries(metric, {**labels, label: bad}, 0, 1),
        InputSeries(metric, {**labels, label: good}, 1, 0),
    )


def readers(target: SLO, slos: Iterable[SLO], series: Sequence[InputSeries]) -> tuple[SLO, ...]:
    """Every SLO whose alerts ``series`` feed (``target`` included), sorted by name."""
    found = []
    for slo in slos:
        counters = counter_sli(slo)
        if counters is None:
            texts = (slo.sli.good or "", slo.sli.bad or "", slo.sli.total or "")
            if any(s.name in t for s in series for t in texts):
                raise Unsupported(f"SLO {slo.name!r} reads the test series with raw PromQL")
            continue
        sels = counters.selectors()
        hit = [any(x.metric == s.name and x.matches(s.labels) for x in sels) for s in series]
        if not any(hit):
            continue
        same = slo.sli == target.sli
        if not (all(hit) and same):
            raise Unsupported(
                f"SLO {slo.name!r} reads part of the test series of {target.name!r}: "
                "its alerts cannot be predicted by simulating it"
            )
        found.append(slo)
    return tuple(sorted(found, key=lambda s: s.name))


def _longest(slo: SLO) -> float:
    return max((t.long_window for t in slo.alerting.policy.tiers), default=HOUR)


def default_scenarios(slo: SLO, unit: float = 60.0) -> tuple[Scenario, ...]:
    """Outage (100 % errors for 30 m), spike (10 % for 2 m) and a leak: twice the error ratio
    the slowest tier (lowest factor) pages at, for 3/4 of that tier's long window, so that
    tier alone catches it, half-way through its long window. Durations are rounded up to
    multiples of ``unit`` (a long SLO's test step)."""

    def span(seconds: float) -> str:
        return format_duration(math.ceil(seconds / unit - 1e-9) * unit)

    slowest = min(slo.alerting.policy.tiers, key=lambda t: (t.factor, -t.long_window), default=None)
    texts = [f"outage:duration={span(30 * 60)}", f"spike:duration={span(120)}"]
    if slowest is not None:
        ratio = min(1.0, 2 * slowest.factor * slo.error_budget)
        duration = max(60.0, unit) * math.ceil(0.75 * slowest.long_window / max(60.0, unit))
        texts.append(f"leak:ratio={ratio:.6g},duration={format_duration(duration)}")
    return tuple(parse_scenario(t, error_budget=slo.error_budget) for t in texts)


def long_step(slos: Iterable[SLO]) -> float:
    """The largest step up to :data:`LONG_STEP` dividing every window of ``slos``."""
    whole = 0
    for slo in slos:
        for t in slo.alerting.policy.tiers:
            for w in (t.long_window, t.short_window):
                whole = math.gcd(whole, _seconds(w, f"SLO {slo.name!r}: window"))
    limit = int(LONG_STEP)
    return float(max(d for d in range(1, min(whole, limit) + 1) if whole % d == 0))


def _seconds(value: float, what: str) -> int:
    if value <= 0 or abs(value - round(value)) > 1e-9:
        raise Unsupported(f"{what} ({value:g} s) is not a whole number of seconds")
    return round(value)


def grid_interval(slos: Iterable[SLO], scenarios: Iterable[Scenario], preferred: float) -> float:
    """The largest interval dividing ``preferred``, every tier window and every duration."""
    step = _seconds(preferred, "the evaluation interval")
    for slo in slos:
        for t in slo.alerting.policy.tiers:
            step = math.gcd(step, _seconds(t.long_window, f"SLO {slo.name!r}: window"))
            step = math.gcd(step, _seconds(t.short_window, f"SLO {slo.name!r}: window"))
        step = math.gcd(step, _seconds(_longest(slo), "lead"))
    for sc in scenarios:
        step = math.gcd(step, _seconds(sc.duration, f"scenario {sc.name} duration"))
    return float(step)


# --- the scenario as counters -------------------------------------------------------------------
def _counts(scenario: Scenario, lead: float, step: float, steps: int) -> list[tuple[int, int]]:
    """(good, bad) so far at every step; whole events, as simulate's stream emits them."""
    owed_all = owed_bad = 0.0
    good = bad = 0
    out = [(0, 0)]
    for k in range(1, steps + 1):
        rate, ratio = scenario.at((k - 1) * step - lead)
        owed_all += rate * step
        owed_bad += rate * step * ratio
        events = int(owed_all + 1e-9)
        failed = min(events, int(owed_bad + 1e-9))
        owed_all -= events
        owed_bad -= failed
        bad += failed
        good += events - failed
        out.append((good, bad))
    return out


def expanding(values: Sequence[int]) -> str:
    """promtool's expanding notation: runs of equal increments as ``a+bxn``."""
    parts = []
    i = 0
    while i < len(values):
        inc = values[i + 1] - values[i] if i + 1 < len(values) else 0
        j = i + 1
        while j + 1 < len(values) and values[j + 1] - values[j] == inc:
            j += 1
        n = min(j, len(values) - 1) - i
        parts.append(f"{values[i]}{'+' if inc >= 0 else '-'}{abs(inc)}x{n}")
        i += n + 1
    return " ".join(parts)


async def unit_test_doc(
    target: SLO,
    slos: Sequence[SLO],
    rule_files: Sequence[str],
    scenarios: Sequence[Scenario] | None = None,
    *,
    interval: float = DEFAULT_INTERVAL,
    rule_interval: float = DEFAULT_RULE_INTERVAL,
    options: RuleOptions | None = None,
) -> tuple[Doc, list[str]]:
    """A promtool test document for ``target`` and a summary line per scenario.

    ``slos`` are all SLOs of the rule files (to expect the alerts of every SLO reading the
    test series); ``interval`` is the daemon's evaluation interval (reduced to divide every
    window; also the series interval), ``rule_interval`` Prometheus's (rounded up to a
    multiple of the former). Raises :class:`Unsupported` when no exact test can be built.
    """
    series = input_series(target)
    fed = readers(target, slos, series)
    lead = max(_longest(s) for s in fed)
    long = lead > MAX_LEAD
    preferred = long_step(fed) if long else interval
    if scenarios is None:
        scenarios = default_scenarios(target, preferred if long else 60.0)
    scenarios = tuple(scenarios)
    step = grid_interval(fed, scenarios, preferred)
    every = max(rule_interval, LONG_STEP) if long else rule_interval  # fewer steps to evaluate
    grid = Grid(lead, math.ceil(every / step - 1e-9) * step)
    labels = stream_labels(target)
    tests: list[Doc] = []
    notes: list[str] = []
    for scenario in scenarios:
        if scenario.ratio < scenario.baseline:
            raise Unsupported(f"scenario {scenario.label()}: only rising steps are supported")
        runs = []
        for slo in fed:
            result = await simulate(slo, scenario, interval=step, uniform=long)
            watch = max((t.short_window for t in slo.alerting.policy.tiers), default=HOUR) * 1.5
            runs.append(Run(slo, result, scenario.duration, scenario.duration + min(HOUR, watch)))
        own = next(r for r in runs if r.slo.name == target.name)
        alerts = alert_cases(runs, labels, grid, options)
        exprs = tier_cases(own, labels, grid)
        last = max(parse_duration(c["eval_time"]) for c in (*alerts, *exprs))
        counts = _counts(scenario, lead, step, math.ceil(last / step) + 1)
        inputs = [
            {
                "series": s.selector(),
                "values": expanding([g * s.good + b * s.bad for g, b in counts]),
            }
            for s in series
        ]
        tests.append(
            {
                "name": f"{target.name}: {scenario.label()} (incident at {grid.text(0)})",
                "interval": format_duration(step),
                "input_series": inputs,
                "alert_rule_test": alerts,
                "promql_expr_test": exprs,
            }
        )
        notes.append(_summary(own, scenario))
    doc: Doc = {
        "rule_files": list(rule_files),
        "evaluation_interval": format_duration(grid.every),
        "tests": tests,
    }
    return doc, notes


def _summary(run: Run, scenario: Scenario) -> str:
    parts = []
    for t in run.result.tiers:
        if t.detected_after is None:
            parts.append(f"{t.severity} {t.tier} never")
            continue
        reset = "" if t.reset_after is None else f", reset {format_duration(t.reset_after)} after"
        parts.append(f"{t.severity} {t.tier} at {format_duration(t.detected_after)}{reset}")
    return f"{scenario.label()}: " + "; ".join(parts)
