"""Backtest an SLO's alert tiers against a scenario, through the real source and evaluator.

A synthetic collector exposes the counters the SLO reads (``agent_calls_total`` … as the SDK
would), the real :class:`~sloguard.sources.embedded.EmbeddedSource` samples them on a simulated
clock, and the real :class:`~sloguard.evaluation.evaluator.Evaluator` decides every tick. Nothing
here
re-implements the math: detection and reset times are read off the evaluator's decisions.

The alert state machine (:func:`sloguard.alerting.state.step`) runs on every result too, so a
scenario also shows the notifications it would cause (``alerts``): a data gap mid-incident
(scenario ``gap``) must not resolve the incident and page again.

Timeline: baseline traffic for the longest tier window (so every window is full), the incident
at t = 0, then evaluation every ``interval`` seconds (coarser after the first hour past the
incident) until every tier had time to reset (1.5 × its short window after the incident).

:func:`backtest_budget` follows one SLO's error budget over a stretch of calendar time instead
(``sloguard simulate --budget``): traffic as a function of time, the same source and evaluator,
the budget read every ``step``; a calendar SLO's budget resets at each period start.

JSON (``as_dict``, ``sloguard simulate --json``): each tier's ``factor`` (F) is also written as
``burn_rate``, its name before 0.2.0; that alias is removed in 0.3.0 (``docs/json-aliases.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from itertools import pairwise

from prometheus_client import CollectorRegistry
from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from sloguard.alerting.state import AlertRules, new_instance, step
from sloguard.durations import HOUR
from sloguard.evaluation.evaluator import Evaluator
from sloguard.notify.model import Transition
from sloguard.rules.scenarios import Scenario
from sloguard.slo.budget import Severity, State
from sloguard.slo.promql import BOUND_KINDS, OUTCOME_KINDS, le_value
from sloguard.slo.spec import SLO, SLIKind
from sloguard.sources.base import QueryError, WindowCounts
from sloguard.sources.embedded import EmbeddedSource

T0 = 1_700_000_000.0  # fixed simulated epoch: results never depend on the real clock
#: The value of every ``group_by`` label of the one simulated instance of an SLO.
INSTANCE_VALUE = "sim"


class _Stream(Collector):
    """Cumulative good/bad counters of the scenario, exposed as the SDK's metrics."""

    def __init__(self, slo: SLO) -> None:
        if slo.sli.kind is SLIKind.RATIO:
            raise ValueError(
                f"SLO {slo.name!r}: kind ratio (raw PromQL) cannot be simulated; "
                "simulate uses sloguard's own metrics"
            )
        self.slo = slo
        self.good = 0.0
        self.bad = 0.0
        self._owed_all = 0.0  # expected events not yet emitted (events are whole)
        self._owed_bad = 0.0
        self.labels = {**dict(slo.selector), **{g: INSTANCE_VALUE for g in slo.group_by}}

    def advance(self, seconds: float, rate: float, ratio: float) -> None:
        """Emit the whole events due in ``seconds`` at ``rate``/s with ``ratio`` failing."""
        self._owed_all += rate * seconds
        self._owed_bad += rate * seconds * ratio
        events = int(self._owed_all + 1e-9)
        bad = min(events, int(self._owed_bad + 1e-9))
        self._owed_all -= events
        self._owed_bad -= bad
        self.bad += bad
        self.good += events - bad

    def collect(self) -> Iterable[Metric]:
        kind, labels = self.slo.sli.kind, self.labels
        m = Metric("sim", "simulated counters", "untyped")
        if kind in BOUND_KINDS:
            histogram, field = BOUND_KINDS[kind]
            le = le_value(getattr(self.slo.sli, field))
            m.add_sample(f"{histogram}_count", labels, self.good + self.bad)
            m.add_sample(f"{histogram}_bucket", {**labels, "le": le}, self.good)
            return [m]
        metric, label, good_value, bad_value = OUTCOME_KINDS[kind]
        m.add_sample(metric, {**labels, label: good_value}, self.good)
        m.add_sample(metric, {**labels, label: bad_value}, self.bad)
        return [m]


class _GapSource:
    """The embedded source as Prometheus answers around a gap in its data.

    Samples nothing and answers nothing (:class:`QueryError`) during ``[start, end)``;
    afterwards a window that begins inside the gap counts only from the first sample after it,
    as ``increase()`` does (the embedded source would reach back to the last sample before).
    """

    def __init__(self, source: EmbeddedSource, start: float, end: float) -> None:
        self.source = source
        self.start = start
        self.end = end
        self.resumed: float | None = None  # the first sample after the gap
        self.resolution = source.resolution

    def sample(self, at: float) -> None:
        """Sample the embedded source unless it is down."""
        if self.start <= at < self.end:
            return
        self.source.sample(at)
        if at >= self.end and self.resumed is None:
            self.resumed = at

    async def window_counts(self, slo: SLO, window: float, at: float) -> WindowCounts:
        if self.start <= at < self.end:
            raise QueryError("simulated data gap: the source is down")
        if self.resumed is not None and self.start <= at - window < self.resumed:
            window = at - self.resumed
        return await self.source.window_counts(slo, window, at)

    async def aclose(self) -> None:
        await self.source.aclose()


@dataclass(frozen=True, slots=True)
class AlertOutcome:
    """One notification the alert state machine would send in a scenario."""

    alertname: str
    severity: Severity
    transition: Transition
    at: float  # seconds after the incident started


@dataclass(frozen=True, slots=True)
class TierOutcome:
    """When one tier fired and reset in a scenario."""

    severity: str
    tier: str
    factor: float  # F: the tier fires when both windows burn faster than this
    detected_after: float | None  # seconds after the incident started
    reset_after: float | None  # seconds after the incident ended
    budget_at_detection: float | None  # fraction of the period's budget spent by then


@dataclass(frozen=True, slots=True)
class SimulationResult:
    """The outcome of one SLO × scenario."""

    slo: str
    scenario: str
    interval: float
    tiers: tuple[TierOutcome, ...]
    states: dict[str, int]  # how many evaluations ended in each state
    alerts: tuple[AlertOutcome, ...] = ()  # notifications, in order

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly dict."""
        return {
            "slo": self.slo,
            "scenario": self.scenario,
            "interval_seconds": self.interval,
            "states": dict(self.states),
            "tiers": [
                {
                    "severity": t.severity,
                    "tier": t.tier,
                    "factor": t.factor,
                    "burn_rate": t.factor,  # alias of factor until 0.3.0
                    "detected_after_seconds": t.detected_after,
                    "reset_after_seconds": t.reset_after,
                    "budget_at_detection": t.budget_at_detection,
                }
                for t in self.tiers
            ],
            "alerts": [
                {
                    "alertname": a.alertname,
                    "severity": a.severity.value,
                    "transition": a.transition.value,
                    "at_seconds": a.at,
                }
                for a in self.alerts
            ],
        }


def _grid(start: float, end: float, step: float) -> Iterable[float]:
    n = int((end - start) / step + 1e-9)
    return (start + i * step for i in range(n + 1))


def _schedule(
    slo: SLO,
    scenario: Scenario,
    incident: float,
    longest: float,
    interval: float,
    uniform: bool = False,
) -> list[float]:
    """The evaluation times: every ``interval`` around the incident, coarser before and after
    (unless ``uniform``)."""
    fine_from = incident - min(longest, 6 * HOUR)
    watch = max((t.short_window for t in slo.alerting.policy.tiers), default=HOUR) * 1.5
    end = incident + scenario.duration + watch
    fine_until = incident + scenario.duration + HOUR
    if uniform:  # on the incident's grid, as the promtool series are
        return list(_grid(T0, end, interval))
    coarse = max(interval, 60.0)
    return sorted(
        {
            *_grid(T0, fine_from, coarse),
            *_grid(fine_from, min(fine_until, end), interval),
            *_grid(min(fine_until, end), end, coarse),
        }
    )


async def simulate(
    slo: SLO, scenario: Scenario, *, interval: float = 10.0, uniform: bool = False
) -> SimulationResult:
    """Run ``scenario`` against ``slo``'s tiers; return detection/reset per tier. ``uniform``
    samples every ``interval`` from the start (else every minute until 6 h before the incident
    and from an hour after it), so every window edge has a sample, as in a promtool test."""
    tiers = slo.alerting.policy.tiers
    longest = max((t.long_window for t in tiers), default=HOUR)
    stream = _Stream(slo)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(stream)
    source = EmbeddedSource(registry, [slo], interval=interval)
    incident = T0 + longest
    gap_start = incident + scenario.gap_at
    gapped = _GapSource(source, gap_start, gap_start + scenario.gap)
    evaluator = Evaluator([slo], gapped)
    rules = AlertRules(repeat_interval=math.inf)
    try:
        times = _schedule(slo, scenario, incident, longest, interval, uniform)
        detected: dict[int, float] = {}
        reset: dict[int, float] = {}
        budget: dict[int, float | None] = {}
        states: dict[str, int] = {s.value: 0 for s in State}
        bad_at_incident: float | None = None
        instance = {g: INSTANCE_VALUE for g in slo.group_by}
        alerts = new_instance(slo.name, instance, slo.alerting.labels, slo.alerting.name)
        notified: list[AlertOutcome] = []
        prev = T0
        for t in times:
            # advance the stream piecewise so a step never straddles the incident edges
            for a, b in _pieces(prev, t, incident, incident + scenario.duration):
                rate, ratio = scenario.at(a - incident)
                stream.advance(b - a, rate, ratio)
            prev = t
            if bad_at_incident is None and t >= incident:
                bad_at_incident = stream.bad
            gapped.sample(t)
            if t < incident:
                continue
            (result,) = await evaluator.evaluate(t)
            states[result.evaluation.state.value] += 1
            alerts, events = step(alerts, result.evaluation, rules, t)
            notified += (
                AlertOutcome(e.labels["alertname"], e.severity, e.transition, t - incident)
                for e in events
            )
            for i, tr in enumerate(result.evaluation.tiers):
                if tr.firing and i not in detected:
                    detected[i] = t - incident
                    spent = stream.bad - (bad_at_incident or 0.0)
                    full = slo.error_budget * scenario.rate * slo.period
                    budget[i] = spent / full if full > 0 else None
                if (
                    i in detected
                    and i not in reset
                    and not tr.firing
                    and t >= incident + scenario.duration
                ):
                    reset[i] = t - incident - scenario.duration
    finally:
        await source.aclose()
    return SimulationResult(
        slo=slo.name,
        scenario=scenario.label(),
        interval=interval,
        tiers=tuple(
            TierOutcome(
                severity=t.severity.value,
                tier=t.name,
                factor=t.factor,
                detected_after=detected.get(i),
                reset_after=reset.get(i),
                budget_at_detection=budget.get(i),
            )
            for i, t in enumerate(tiers)
        ),
        states={k: v for k, v in states.items() if v},
        alerts=tuple(notified),
    )


@dataclass(frozen=True, slots=True)
class BudgetPoint:
    """The budget of a backtested SLO at one time (a calendar period's start, if any)."""

    at: float
    period_start: float | None
    budget_remaining: float | None
    sli: float | None
    events: float  # events, or slices for a time-slice SLO


@dataclass(frozen=True, slots=True)
class BudgetBacktest:
    """An SLO's budget over time (:func:`backtest_budget`)."""

    slo: str
    points: tuple[BudgetPoint, ...]

    def resets(self) -> tuple[float, ...]:
        """The period starts the backtest crossed (a calendar SLO's budget resets there)."""
        starts = [p.period_start for p in self.points if p.period_start is not None]
        return tuple(b for a, b in pairwise(starts) if b != a)

    def as_dict(self) -> dict[str, object]:
        """JSON-friendly dict."""
        return {
            "slo": self.slo,
            "resets": list(self.resets()),
            "points": [
                {
                    "at": p.at,
                    "period_start": p.period_start,
                    "budget_remaining": p.budget_remaining,
                    "sli": p.sli,
                    "events": p.events,
                }
                for p in self.points
            ],
        }


#: Traffic of a budget backtest at a time: (events per second, error ratio).
Traffic = Callable[[float], tuple[float, float]]


async def backtest_budget(
    slo: SLO,
    traffic: Traffic,
    *,
    start: float,
    end: float,
    step: float = HOUR,
    interval: float = 60.0,
) -> BudgetBacktest:
    """Follow ``slo``'s budget from ``start`` to ``end``: the stream emits ``traffic(t)``
    between samples (every ``interval``), the evaluator reads the budget every ``step``.

    Example::

        steady = lambda t: (1.0, 0.0005)   # one event a second, 0.05 % failing
        result = await backtest_budget(monthly, steady, start=jan_25, end=feb_5)
        result.resets()                    # (feb_1,): the budget restarted there
    """
    stream = _Stream(slo)
    registry = CollectorRegistry(auto_describe=False)
    registry.register(stream)
    source = EmbeddedSource(registry, [slo], interval=interval)
    evaluator = Evaluator([slo], source)
    points: list[BudgetPoint] = []
    try:
        source.sample(start)
        for t in _grid(start + interval, end, interval):
            rate, ratio = traffic(t - interval)
            stream.advance(interval, rate, ratio)
            source.sample(t)
            if (t - start) % step < 1e-6:
                (result,) = await evaluator.evaluate(t)
                ev = result.evaluation
                point = BudgetPoint(t, ev.period_start, ev.budget_remaining, ev.sli, ev.events)
                points.append(point)
    finally:
        await source.aclose()
    return BudgetBacktest(slo.name, tuple(points))


def _pieces(a: float, b: float, *edges: float) -> Iterable[tuple[float, float]]:
    cuts = sorted({a, b, *(e for e in edges if a < e < b)})
    return pairwise(cuts)
