"""What ``simulate`` says the daemon does, as promtool test expectations.

A :class:`Run` is one SLO's simulation of one scenario, read as "is this tier (or severity)
firing ``x`` seconds after the incident started"; a :class:`Grid` is the test's clock (the
incident after ``lead`` seconds, Prometheus evaluating rules every ``every``).
:func:`alert_cases` expects the ``SLOBurn`` alerts of every SLO reading the test series around
each detection and reset; :func:`tier_cases` each tier's own condition of one SLO. Times where
simulate cannot tell are left out rather than guessed.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sloguard.durations import format_duration
from sloguard.rules.compiler import Doc, alert_annotations, tier_condition
from sloguard.rules.simulate import SimulationResult
from sloguard.rules.sloth import RuleOptions, alert_labels
from sloguard.slo.budget import Severity
from sloguard.slo.spec import SLO

__all__ = ["Grid", "Run", "alert_cases", "tier_cases"]


@dataclass(frozen=True, slots=True)
class Run:
    """One SLO's simulation of one scenario, read as 'is tier i firing at x'."""

    slo: SLO
    result: SimulationResult
    duration: float
    horizon: float  # simulate evaluated every interval up to here (seconds after the incident)

    def tier_firing(self, i: int, x: float) -> bool | None:
        """Tier ``i`` at ``x`` seconds after the incident start; None when simulate cannot say."""
        if x < 0 or x > self.horizon + 1e-9:
            return None  # simulate evaluates from the incident on, finely up to the horizon
        t = self.result.tiers[i]
        if t.detected_after is None or x < t.detected_after:
            return False
        if x < self.duration or t.reset_after is None:
            return True  # a step incident only raises the ratios until it ends
        return x < self.duration + t.reset_after

    def firing(self, severity: Severity, x: float) -> bool | None:
        """Whether the severity's alert fires at ``x`` (any of its tiers)."""
        states = [
            self.tier_firing(i, x)
            for i, t in enumerate(self.slo.alerting.policy.tiers)
            if t.severity is severity
        ]
        if any(states):
            return True
        return None if None in states else False

    def edges(self) -> set[float]:
        """Times worth asserting around: the incident's end, each severity's first detection
        and, once all its tiers reset, its reset."""
        out = {self.duration}
        for severity in Severity:
            tiers = [
                r
                for r, t in zip(self.result.tiers, self.slo.alerting.policy.tiers, strict=True)
                if t.severity is severity and r.detected_after is not None
            ]
            if not tiers:
                continue
            out.add(min(t.detected_after or 0.0 for t in tiers))
            resets = [t.reset_after for t in tiers]
            if all(r is not None for r in resets):
                out.add(self.duration + max(r or 0.0 for r in resets))
        return out


def _severities(slo: SLO) -> list[Severity]:
    return [s for s in Severity if any(t.severity is s for t in slo.alerting.policy.tiers)]


def _instance(slo: SLO, labels: Mapping[str, str]) -> dict[str, str]:
    return {g: labels[g] for g in slo.group_by if labels.get(g)}


def _label_text(labels: Mapping[str, str]) -> str:
    return "{" + ",".join(f'{k}="{v}"' for k, v in sorted(labels.items())) + "}"


@dataclass(frozen=True, slots=True)
class Grid:
    """The test's clock: the incident at ``lead``; Prometheus evaluates every ``every``."""

    lead: float
    every: float

    def around(self, x: float) -> tuple[float, float]:
        """The rule evaluations just before and at-or-after ``x`` s after the incident start."""
        at = math.ceil((self.lead + x) / self.every - 1e-9) * self.every
        return at - self.every - self.lead, at - self.lead

    def text(self, x: float) -> str:
        """``x`` s after the incident start as a promtool ``eval_time``."""
        return format_duration(self.lead + x) if self.lead + x > 0 else "0s"


def _expected_alerts(
    runs: Sequence[Run], labels: Mapping[str, str], x: float, options: RuleOptions
) -> list[Doc] | None:
    """Every alert of ``runs`` firing at ``x``; None when some SLO's state is unknown there
    (promtool compares the whole list of an alert name, so a partial list cannot be tested)."""
    expected: list[Doc] = []
    for run in runs:
        for severity in _severities(run.slo):
            state = run.firing(severity, x)
            if state is None:
                return None
            if state:
                exp = {**alert_labels(run.slo, severity, options), **_instance(run.slo, labels)}
                notes = alert_annotations(run.slo, template_safe=False)
                expected.append({"exp_labels": dict(sorted(exp.items())), "exp_annotations": notes})
    return sorted(expected, key=lambda a: sorted(a["exp_labels"].items()))


def alert_cases(
    runs: Sequence[Run], labels: Mapping[str, str], grid: Grid, options: RuleOptions | None = None
) -> list[Doc]:
    """The alerts of every run (grouped by alert name) just before and after each edge."""
    options = options or RuleOptions()
    times = {t for r in runs for x in r.edges() for t in grid.around(x)}
    cases: list[Doc] = []
    for name in sorted({r.slo.alerting.name for r in runs}):
        named = [r for r in runs if r.slo.alerting.name == name]
        for x in sorted(times):
            expected = _expected_alerts(named, labels, x, options)
            if expected is None:
                continue
            case: Doc = {"eval_time": grid.text(x), "alertname": name}
            if expected:
                case["exp_alerts"] = expected
            cases.append(case)
    return cases


def tier_cases(run: Run, labels: Mapping[str, str], grid: Grid) -> list[Doc]:
    slo = run.slo
    by = f" by ({', '.join(slo.group_by)})" if slo.group_by else ""
    sample = {"labels": _label_text(_instance(slo, labels)), "value": 1}
    cases: list[Doc] = []
    for i, tier in enumerate(slo.alerting.policy.tiers):
        found = run.result.tiers[i].detected_after
        for x in grid.around(run.duration if found is None else found):
            state = run.tier_firing(i, x)
            if state is None:
                continue
            expr = f"count{by} (\n{tier_condition(slo, tier)}\n)"
            cases.append(
                {"expr": expr, "eval_time": grid.text(x), "exp_samples": [sample] if state else []}
            )
    return cases
