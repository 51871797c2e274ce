"""Alert policies of an SLO document: tiers as written, and the policy each SLO resolves to.

A document may name policies (``policies: {pager-only: [tier, ...]}``) and an SLO picks one with
``alerting.policy:`` — the built-in ``default``, a name, or an inline list of tiers::

    - {severity: critical, long_window: 1h, short_window: 5m, burn_rate: 14.4}
    - {severity: critical, long_window: 6h, budget_fraction: 0.05}   # short: 6h/12

The built-in ``default`` is DESIGN's four tiers scaled to each SLO's period
(:func:`~sloguard.slo.budget.default_policy`); a default tier that could never fire at the SLO's
objective (burn rate × budget ≥ 1, e.g. the 14.4× tier at 90 %) is left out, with a notice.
A named or inline policy is taken as written: its windows are absolute and do not scale with
the period; ``burn_rate`` (F) is used as is; ``budget_fraction`` (f) becomes F = f·P/L with each
SLO's own period P, so one shared policy pages at the same share of budget spent whatever the
period. In such policies a tier that can never fire, fires below burn rate 1, or has a long
window longer than the period is a problem. Windows shorter than the source's resolution
(``floor``) are raised to it, with a notice.

Example::

    named = named_policies(findings, root)               # {name: tier specs, or None if wrong}
    policy = slo_policy(findings, alerting, objective, period, named, floor, used)
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sloguard.slo.budget import Policy, Severity, Tier, default_policy, tier_problems
from sloguard.slo.docreader import (
    DocNode,
    Findings,
    choice,
    duration,
    fraction,
    positive,
    show_duration,
    show_percent,
)
from sloguard.yamldoc import FieldPath, show, suggest

__all__ = [
    "DEFAULT_POLICY",
    "NamedPolicies",
    "TierSpec",
    "named_policies",
    "slo_policy",
    "tier_specs",
]

DEFAULT_POLICY = "default"

_TIER_KEYS = ("severity", "long_window", "short_window", "burn_rate", "budget_fraction")
_severity = choice(Severity, [s.value for s in Severity], "severity")


@dataclass(frozen=True, slots=True)
class TierSpec:
    """A tier as written; its factor F is known only once an SLO's period is.

    Example::

        spec = TierSpec(path, Severity.CRITICAL, 6 * HOUR, 30 * MINUTE, None, 0.05)
        spec.tier(period=30 * DAY).factor   # 6.0 = 0.05 · 30d / 6h
    """

    path: FieldPath
    severity: Severity
    long: float
    short: float
    factor: float | None  # the file's ``burn_rate`` key
    budget_fraction: float | None

    def tier(self, period: float, floor: float = 0.0) -> Tier:
        """The tier for an SLO of ``period``, windows raised to ``floor``."""
        long, short = max(floor, self.long), max(floor, self.short)
        f = self.budget_fraction
        factor = self.factor if f is None else f * period / long
        return Tier(self.severity, long, short, round(factor or 0.0, 6))


#: Named policies of a document: name → its tier specs, or None when they have problems.
NamedPolicies = Mapping[str, tuple[TierSpec, ...] | None]


def tier_specs(findings: Findings, path: FieldPath, value: Any) -> tuple[TierSpec, ...] | None:
    """Parse a list of tiers; None if any of it is wrong (every problem recorded)."""
    if not isinstance(value, list) or not value:
        findings.problem(path, f"must be a non-empty list of tiers (got {show(value)})")
        return None
    before, specs = len(findings.problems), []
    for j, item in enumerate(value):
        t = DocNode(findings, (*path, j), item, _TIER_KEYS)
        if not t.valid:
            continue
        severity = t.get("severity", _severity, required=True)
        long = t.get("long_window", duration, required=True)
        short = t.get("short_window", duration)
        if short is None and "short_window" not in t and long is not None:
            short = long / 12
        factor, share = t.get("burn_rate", positive), t.get("budget_fraction", fraction)
        if "burn_rate" in t and "budget_fraction" in t:
            findings.problem(t.at("budget_fraction"), "give burn_rate or budget_fraction, not both")
        elif "burn_rate" not in t and "budget_fraction" not in t:
            findings.problem(
                t.at("burn_rate"),
                "required field is missing: give burn_rate (F, e.g. 14.4) or budget_fraction "
                "(f, e.g. 0.02: the share of the period's budget spent when the tier fires)",
            )
        if factor is not None and factor < 1:
            findings.problem(
                t.at("burn_rate"),
                f"a tier firing at burn rate {factor:g} < 1 pages while the SLO is still being met",
            )
        if long is not None and short is not None and short > long:
            findings.problem(
                t.at("short_window"),
                f"short window {show_duration(short)} is longer than the long window "
                f"{show_duration(long)}",
            )
        if severity is not None and long is not None and short is not None:
            specs.append(TierSpec((*path, j), severity, long, short, factor, share))
    return tuple(specs) if len(findings.problems) == before else None


def named_policies(findings: Findings, root: DocNode) -> dict[str, tuple[TierSpec, ...] | None]:
    """The document's ``policies:``, by name; a policy with problems maps to None."""
    if "policies" not in root:
        return {}
    value = root.data["policies"]
    if not isinstance(value, dict):
        findings.problem(
            root.at("policies"), f"must be a mapping of policy names to tiers (got {show(value)})"
        )
        return {}
    named: dict[str, tuple[TierSpec, ...] | None] = {}
    for name, tiers in value.items():
        path = ("policies", name)
        if not isinstance(name, str) or not name.strip():
            findings.problem(path, f"a policy name must be a non-empty string (got {show(name)})")
        elif name == DEFAULT_POLICY:
            findings.problem(path, "'default' is the built-in policy; give yours another name")
        else:
            named[name] = tier_specs(findings, path, tiers)
    return named


def _default_policy(
    findings: Findings, path: FieldPath, objective: float, period: float, floor: float
) -> Policy:
    raised = sorted({w for w in default_policy(period).windows() if w < floor})
    if raised:
        findings.notice(
            path,
            f"at period {show_duration(period)} the default policy's windows "
            f"{', '.join(show_duration(w) for w in raised)} are shorter than the source's "
            f"resolution ({show_duration(floor)}) and were raised to it",
        )
    kept = []
    for tier in default_policy(period, floor=floor).tiers:
        needed = tier.factor * (1.0 - objective)
        if needed >= 1.0:
            findings.notice(
                path,
                f"default tier {tier.name} (burn rate {tier.factor:g}) is left out: at "
                f"objective {show_percent(objective)} it needs an error ratio of {needed:.3g} > 1 "
                "and could never fire",
            )
        else:
            kept.append(tier)
    return Policy(DEFAULT_POLICY, tuple(kept))


def _resolve(
    findings: Findings,
    path: FieldPath,
    name: str | None,
    specs: tuple[TierSpec, ...],
    objective: float,
    period: float,
    floor: float,
) -> Policy | None:
    """Tiers of a named (``name``) or inline policy for one SLO; None if any is useless."""
    before, tiers = len(findings.problems), []
    for spec in specs:
        where = path if name else spec.path
        prefix = f"policy {name!r}: " if name else ""
        tier = spec.tier(period, floor)
        if (tier.long_window, tier.short_window) != (spec.long, spec.short):
            findings.notice(
                where,
                f"{prefix}tier {show_duration(spec.long)}/{show_duration(spec.short)}: windows "
                f"shorter than the source's resolution ({show_duration(floor)}) were raised to "
                f"it: {show_duration(tier.long_window)}/{show_duration(tier.short_window)}",
            )
        origin = (
            f" (from budget_fraction {spec.budget_fraction:g} at period {show_duration(period)})"
            if spec.budget_fraction is not None
            else ""
        )
        for message in tier_problems(tier, objective):
            findings.problem(where, f"{prefix}{message}{origin}")
        if tier.long_window > period:
            findings.problem(
                where,
                f"{prefix}tier {tier.name}: long window {show_duration(tier.long_window)} is "
                f"longer than the SLO's period {show_duration(period)}",
            )
        tiers.append(tier)
    return Policy(name or "inline", tuple(tiers)) if len(findings.problems) == before else None


def slo_policy(
    findings: Findings,
    alerting: DocNode,
    objective: float | None,
    period: float | None,
    named: NamedPolicies,
    floor: float,
    used: set[str],
) -> Policy | None:
    """The policy of one SLO's ``alerting:`` node; None if it has problems (or the SLO's
    objective or period does). Adds the name of a named policy it uses to ``used``."""
    path, value = alerting.at("policy"), alerting.data.get("policy")
    name: str | None = None
    if value is None or value == DEFAULT_POLICY:
        if objective is None or period is None:
            return None
        return _default_policy(findings, path, objective, period, floor)
    if isinstance(value, str):
        if value not in named:
            known = [DEFAULT_POLICY, *named]
            findings.problem(path, f"unknown policy {value!r}{suggest(value, known)}")
            return None
        used.add(value)
        name, specs = value, named[value]
    elif isinstance(value, list):
        specs = tier_specs(findings, path, value)
    else:
        findings.problem(path, f"must be a policy name or a list of tiers (got {show(value)})")
        return None
    if specs is None or objective is None or period is None:
        return None
    return _resolve(findings, path, name, specs, objective, period, floor)
