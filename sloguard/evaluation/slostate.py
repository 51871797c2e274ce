"""The SLO-state collector: renders the latest evaluations at scrape time (no stale series).

Every metric carries ``slo`` plus the instance's ``group_by`` labels; per-window metrics add
``window`` (``1h``, ``5m``…). An SLO that is removed disappears from the next scrape.

- ``sloguard_slo_objective`` / ``sloguard_slo_period_seconds``
- ``sloguard_slo_sli{window}``, ``sloguard_slo_burn_rate{window}``, ``sloguard_slo_events{window}``
- ``sloguard_slo_error_budget_remaining`` / ``sloguard_slo_time_to_exhaustion_seconds``
- ``sloguard_slo_tier_firing{severity,tier}`` (0/1) and ``sloguard_slo_state{state}`` (one-hot)
- ``sloguard_slo_last_evaluation_timestamp_seconds``
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from prometheus_client.metrics_core import Metric
from prometheus_client.registry import Collector

from sloguard.durations import format_duration
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.slo.budget import State


def _gauge(name: str, doc: str) -> Metric:
    return Metric(name, doc, "gauge")


class SLOStateCollector(Collector):
    """Expose ``latest()`` as ``sloguard_slo_*`` gauges."""

    def __init__(self, latest: Callable[[], Sequence[InstanceResult]]) -> None:
        self._latest = latest

    def describe(self) -> Iterable[Metric]:
        """Nothing up front: the series depend on the configured SLOs."""
        return ()

    def collect(self) -> Iterable[Metric]:
        objective = _gauge("sloguard_slo_objective", "SLO objective as a ratio (0.995).")
        period = _gauge("sloguard_slo_period_seconds", "Rolling period of the SLO.")
        sli = _gauge("sloguard_slo_sli", "Service level indicator (good/total) per window.")
        burn = _gauge("sloguard_slo_burn_rate", "Error-budget burn rate per window.")
        events = _gauge("sloguard_slo_events", "Events counted per window.")
        remaining = _gauge(
            "sloguard_slo_error_budget_remaining",
            "Error budget left over the period (1 = untouched, <0 = overspent).",
        )
        tte = _gauge(
            "sloguard_slo_time_to_exhaustion_seconds",
            "Seconds until the budget is spent at the current (shortest-tier) burn rate.",
        )
        firing = _gauge("sloguard_slo_tier_firing", "1 when an alert tier's windows both burn.")
        state = _gauge("sloguard_slo_state", "Evaluation state of the SLO instance (one-hot).")
        last = _gauge(
            "sloguard_slo_last_evaluation_timestamp_seconds", "When the instance was evaluated."
        )
        for r in self._latest():
            base = {"slo": r.slo.name, **r.labels}
            ev = r.evaluation
            objective.add_sample("sloguard_slo_objective", base, r.slo.objective)
            period.add_sample("sloguard_slo_period_seconds", base, r.slo.period)
            last.add_sample("sloguard_slo_last_evaluation_timestamp_seconds", base, r.at)
            for s in State:
                state.add_sample(
                    "sloguard_slo_state", {**base, "state": s.value}, float(ev.state is s)
                )
            if ev.state is State.ERROR:
                continue
            for w, rate in sorted(ev.burn_rates.items()):
                wl = {**base, "window": format_duration(w)}
                if rate is not None:
                    burn.add_sample("sloguard_slo_burn_rate", wl, rate)
                    sli.add_sample("sloguard_slo_sli", wl, 1.0 - rate * r.slo.error_budget)
            if ev.budget_remaining is not None:
                remaining.add_sample(
                    "sloguard_slo_error_budget_remaining", base, ev.budget_remaining
                )
            if ev.time_to_exhaustion is not None:
                tte.add_sample(
                    "sloguard_slo_time_to_exhaustion_seconds", base, ev.time_to_exhaustion
                )
            events.add_sample(
                "sloguard_slo_events", {**base, "window": format_duration(r.slo.period)}, ev.events
            )
            for t in ev.tiers:
                firing.add_sample(
                    "sloguard_slo_tier_firing",
                    {**base, "severity": t.tier.severity.value, "tier": t.tier.name},
                    float(t.firing),
                )
        return [objective, period, sli, burn, events, remaining, tte, firing, state, last]
