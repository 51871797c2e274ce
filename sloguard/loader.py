"""SLO documents (YAML) → the frozen models of :mod:`sloguard.spec`; every problem at once.

A document (DESIGN §6)::

    apiVersion: sloguard/v1                 # optional
    policies:                               # optional: named alert policies
      pager-only:
        - {severity: critical, long_window: 1h, short_window: 5m, burn_rate: 14.4}
        - {severity: critical, long_window: 6h, budget_fraction: 0.05}   # short: 6h/12
    slos:
      - name: checkout-availability
        objective: 99.5                     # percent, or target: 0.995 (a ratio)
        period: 30d                         # or the seed's window:; default 30d
        sli: {kind: success_rate}           # latency (+ threshold s), routing_accuracy,
                                            # tool_success_rate, ratio (good|bad + total)
        selector: {agent_name: checkout}
        group_by: [agent_name]
        min_events: 100
        alerting: {policy: pager-only, labels: {team: payments}, runbook: https://...}
      # the seed's AgentSLO form loads as written:
      - {name: 에이전트 가용성, target: 0.995, window: 24h, metric: success_rate, threshold: 0.995}

Policies. The built-in ``default`` is DESIGN's four tiers scaled to each SLO's period
(:func:`~sloguard.budget.default_policy`); a default tier that could never fire at the SLO's
objective (burn rate × budget ≥ 1, e.g. the 14.4× tier at 90 %) is left out, with a notice.
A named or inline policy is taken as written: its windows are absolute and do not scale with
the period; ``burn_rate`` (F) is used as is; ``budget_fraction`` (f) becomes F = f·P/L with each
SLO's own period P, so one shared policy pages at the same share of budget spent whatever the
period. In such policies a tier that can never fire, fires below burn rate 1, or has a long
window longer than the period is a problem. ``SLOFile.policies`` holds the named policies with
budget fractions resolved at the 30-day reference period; each SLO's ``alerting.policy`` is the
one resolved for that SLO.

Notices. What sloguard adjusts or ignores on purpose is a *notice*, which leaves the document
valid: a window shorter than the source can resolve (``resolution``) raised to it, a default
tier left out, a policy no SLO uses. :func:`check_slo_file` returns problems
and notices side by side (``sloguard validate`` prints both); the ``load_*`` and
:func:`parse_slo_text` functions drop the notices and raise :class:`ConfigError` on problems.

Example::

    slos = load_slo_files(["config/slos.yaml"], resolution=source.resolution)
    check = check_slo_file("config/slos.yaml", embedded=True)
    check.problems, check.notices
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from sloguard import conventions as c
from sloguard.budget import (
    DEFAULT_PERIOD,
    Policy,
    Severity,
    Tier,
    default_policy,
    format_duration,
    parse_duration,
    tier_problems,
)
from sloguard.errors import ConfigError, Problem
from sloguard.spec import SLI, SLO, Alerting, SLIKind, SLOFile
from sloguard.yamldoc import FieldPath, YamlDoc, load_yaml, parse_yaml, show, suggest

__all__ = [
    "API_VERSION",
    "DEFAULT_POLICY",
    "KIND_LABELS",
    "RESERVED_LABELS",
    "SLOCheck",
    "check_slo_doc",
    "check_slo_file",
    "check_slo_text",
    "duplicate_names",
    "load_slo_file",
    "load_slo_files",
    "parse_slo_text",
]

_T = TypeVar("_T")

API_VERSION = "sloguard/v1"
DEFAULT_POLICY = "default"
#: Labels sloguard sets itself on SLO series and alerts; SLOs may not group, select or label by.
RESERVED_LABELS = frozenset({"slo", "window", "severity", "tier", "state", "sloguard_part"})
#: The labels each built-in SLI kind may select on and group by (its metric's client labels).
KIND_LABELS: Mapping[SLIKind, frozenset[str]] = types.MappingProxyType(
    {
        SLIKind.SUCCESS_RATE: frozenset({c.L_AGENT}),
        SLIKind.LATENCY: frozenset({c.L_AGENT}),
        SLIKind.ROUTING_ACCURACY: frozenset({c.L_AGENT}),
        SLIKind.TOOL_SUCCESS_RATE: frozenset({c.L_AGENT, c.L_TOOL}),
    }
)
#: The seed's ``metric:`` values (plus ``latency_pNN``, see ``_PERCENTILE``).
_SEED_METRICS: Mapping[str, SLIKind] = {
    "success_rate": SLIKind.SUCCESS_RATE,
    "tool_success_rate": SLIKind.TOOL_SUCCESS_RATE,
    "routing_accuracy": SLIKind.ROUTING_ACCURACY,
    "latency": SLIKind.LATENCY,
}
_PERCENTILE = re.compile(r"latency_p(\d{2,3})")
_LABEL_NAME = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*")

_DOC_KEYS = ("apiVersion", "slos", "policies")
_SLO_KEYS = (
    "name", "description", "objective", "target", "period", "window", "sli", "metric",
    "threshold", "selector", "group_by", "min_events", "alerting",
)  # fmt: skip
_SLI_KEYS = ("kind", "threshold", "good", "bad", "total")
_ALERTING_KEYS = ("policy", "labels", "annotations", "runbook", "dashboard")
_TIER_KEYS = ("severity", "long_window", "short_window", "burn_rate", "budget_fraction")
#: Keys written one level too high, and where they belong.
_MISPLACED = {
    **dict.fromkeys(("kind", "good", "bad", "total"), "sli"),
    **dict.fromkeys(("policy", "labels", "annotations", "runbook", "dashboard"), "alerting"),
}


@dataclass(frozen=True, slots=True)
class SLOCheck:
    """What checking one SLO document found: the model (None when it has problems), problems,
    and notices (things changed or left out on purpose, e.g. windows raised to the resolution).
    """

    file: str
    slo_file: SLOFile | None
    problems: tuple[Problem, ...]
    notices: tuple[Problem, ...]

    def raise_for_problems(self) -> SLOFile:
        """Return the model, or raise :class:`ConfigError` listing every problem."""
        if self.problems or self.slo_file is None:
            raise ConfigError(self.problems)
        return self.slo_file


@dataclass(frozen=True, slots=True)
class _Options:
    latency_buckets: tuple[float, ...]
    resolution: float
    embedded: bool


@dataclass(frozen=True, slots=True)
class _TierSpec:
    """A tier as written; F is known only once an SLO's period is."""

    path: FieldPath
    severity: Severity
    long: float
    short: float
    burn_rate: float | None
    budget_fraction: float | None

    def tier(self, period: float, floor: float = 0.0) -> Tier:
        long, short = max(floor, self.long), max(floor, self.short)
        f = self.budget_fraction
        rate = self.burn_rate if f is None else f * period / long
        return Tier(self.severity, long, short, round(rate or 0.0, 6))


class _Check:
    """Problems and notices of one document, located by field path."""

    def __init__(self, doc: YamlDoc) -> None:
        self.doc = doc
        self.problems: list[Problem] = list(doc.problems)
        self.notices: list[Problem] = []

    def problem(self, path: Sequence[Any], message: str) -> None:
        self.problems.append(self.doc.problem(path, message))

    def notice(self, path: Sequence[Any], message: str) -> None:
        self.notices.append(self.doc.problem(path, message))


class _Node:
    """One mapping of the document, read key by key; unknown keys become problems.

    A key whose value is null counts as absent (``alerting:`` with everything commented out).
    """

    def __init__(
        self,
        check: _Check,
        path: FieldPath,
        value: Any,
        keys: Sequence[str],
        misplaced: Mapping[str, str] | None = None,
    ) -> None:
        self.check, self.path, self.valid = check, path, isinstance(value, dict)
        self.data: Mapping[Any, Any] = value if isinstance(value, dict) else {}
        if not self.valid:
            check.problem(path, f"must be a mapping (got {show(value)})")
        for key in self.data:
            if key not in keys:
                hint = misplaced or {}
                where = f" (it belongs under {hint[key]}:)" if key in hint else ""
                check.problem(
                    (*path, key), f"unknown key {key!r}{where or suggest(str(key), keys)}"
                )

    def __contains__(self, key: str) -> bool:
        return self.data.get(key) is not None

    def at(self, key: str) -> FieldPath:
        return (*self.path, key)

    def get(self, key: str, convert: Callable[[Any], _T], *, required: bool = False) -> _T | None:
        """The converted value of ``key``; None (and a problem) when missing or invalid."""
        if key not in self:
            if required:
                self.check.problem(self.at(key), "required field is missing")
            return None
        try:
            return convert(self.data[key])
        except ValueError as exc:
            self.check.problem(self.at(key), str(exc))
            return None


# --- value converters: return the value or raise ValueError(message) -----------------------------


def _string(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValueError(f"must be a non-empty string (got {show(value)})")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise ValueError(f"must be a string (got {show(value)})")
    return value


def _number(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        pct = isinstance(value, str) and value.strip().endswith("%")
        raise ValueError(f"must be a number{' without %' if pct else ''} (got {show(value)})")
    if not math.isfinite(value):
        raise ValueError(f"must be a finite number (got {show(value)})")
    return float(value)


def _positive(value: Any) -> float:
    if (x := _number(value)) <= 0:
        raise ValueError(f"must be greater than 0 (got {show(value)})")
    return x


def _non_negative(value: Any) -> float:
    if (x := _number(value)) < 0:
        raise ValueError(f"must be 0 or more (got {show(value)})")
    return x


def _fraction(value: Any) -> float:
    if not 0 < (x := _number(value)) <= 1:
        raise ValueError(f"must be a fraction of the budget, more than 0 and at most 1 (got {x:g})")
    return x


def _duration(value: Any) -> float:
    if isinstance(value, int | float) and not isinstance(value, bool):
        raise ValueError(f"a duration needs a unit, e.g. 30d, 6h or 5m (got {show(value)})")
    if not isinstance(value, str):
        raise ValueError(f"must be a duration such as 30d, 6h or 5m (got {show(value)})")
    if (seconds := parse_duration(value)) <= 0:
        raise ValueError(f"must be longer than 0 (got {show(value)})")
    return seconds


def _choice(enum: Callable[[str], _T], choices: Collection[str], what: str) -> Callable[[Any], _T]:
    def convert(value: Any) -> _T:
        if not isinstance(value, str) or value not in choices:
            raise ValueError(f"unknown {what} {show(value)}{suggest(str(value), choices)}")
        return enum(value)

    return convert


_kind = _choice(SLIKind, [k.value for k in SLIKind], "SLI kind")
_severity = _choice(Severity, [s.value for s in Severity], "severity")


def _fmt(seconds: float) -> str:
    return format_duration(seconds) if seconds == int(seconds) else f"{seconds:.3g}s"


def _pct(ratio: float) -> str:
    return f"{ratio * 100:.10g} %"


# --- policies -----------------------------------------------------------------------------------


def _tier_specs(check: _Check, path: FieldPath, value: Any) -> tuple[_TierSpec, ...] | None:
    """Parse a list of tiers; None if any of it is wrong (every problem recorded)."""
    if not isinstance(value, list) or not value:
        check.problem(path, f"must be a non-empty list of tiers (got {show(value)})")
        return None
    before, specs = len(check.problems), []
    for j, item in enumerate(value):
        t = _Node(check, (*path, j), item, _TIER_KEYS)
        if not t.valid:
            continue
        severity = t.get("severity", _severity, required=True)
        long = t.get("long_window", _duration, required=True)
        short = t.get("short_window", _duration)
        if short is None and "short_window" not in t and long is not None:
            short = long / 12
        rate, fraction = t.get("burn_rate", _positive), t.get("budget_fraction", _fraction)
        if "burn_rate" in t and "budget_fraction" in t:
            check.problem(t.at("budget_fraction"), "give burn_rate or budget_fraction, not both")
        elif "burn_rate" not in t and "budget_fraction" not in t:
            check.problem(
                t.at("burn_rate"),
                "required field is missing: give burn_rate (F, e.g. 14.4) or budget_fraction "
                "(f, e.g. 0.02: the share of the period's budget spent when the tier fires)",
            )
        if rate is not None and rate < 1:
            check.problem(
                t.at("burn_rate"),
                f"a tier firing at burn rate {rate:g} < 1 pages while the SLO is still being met",
            )
        if long is not None and short is not None and short > long:
            check.problem(
                t.at("short_window"),
                f"short window {_fmt(short)} is longer than the long window {_fmt(long)}",
            )
        if severity is not None and long is not None and short is not None:
            specs.append(_TierSpec((*path, j), severity, long, short, rate, fraction))
    return tuple(specs) if len(check.problems) == before else None


def _named_policies(check: _Check, root: _Node) -> dict[str, tuple[_TierSpec, ...] | None]:
    if "policies" not in root:
        return {}
    value = root.data["policies"]
    if not isinstance(value, dict):
        check.problem(
            root.at("policies"), f"must be a mapping of policy names to tiers (got {show(value)})"
        )
        return {}
    named: dict[str, tuple[_TierSpec, ...] | None] = {}
    for name, tiers in value.items():
        path = ("policies", name)
        if not isinstance(name, str) or not name.strip():
            check.problem(path, f"a policy name must be a non-empty string (got {show(name)})")
        elif name == DEFAULT_POLICY:
            check.problem(path, "'default' is the built-in policy; give yours another name")
        else:
            named[name] = _tier_specs(check, path, tiers)
    return named


def _default_policy(
    check: _Check, path: FieldPath, objective: float, period: float, floor: float
) -> Policy:
    raised = sorted({w for w in default_policy(period).windows() if w < floor})
    if raised:
        check.notice(
            path,
            f"at period {_fmt(period)} the default policy's windows "
            f"{', '.join(_fmt(w) for w in raised)} are shorter than the source's resolution "
            f"({_fmt(floor)}) and were raised to it",
        )
    kept = []
    for tier in default_policy(period, floor=floor).tiers:
        needed = tier.burn_rate * (1.0 - objective)
        if needed >= 1.0:
            check.notice(
                path,
                f"default tier {tier.name} (burn rate {tier.burn_rate:g}) is left out: at "
                f"objective {_pct(objective)} it needs an error ratio of {needed:.3g} > 1 "
                "and could never fire",
            )
        else:
            kept.append(tier)
    return Policy(DEFAULT_POLICY, tuple(kept))


def _resolve(
    check: _Check,
    path: FieldPath,
    name: str | None,
    specs: tuple[_TierSpec, ...],
    objective: float,
    period: float,
    floor: float,
) -> Policy | None:
    """Tiers of a named (``name``) or inline policy for one SLO; None if any is useless."""
    before, tiers = len(check.problems), []
    for spec in specs:
        where = path if name else spec.path
        prefix = f"policy {name!r}: " if name else ""
        tier = spec.tier(period, floor)
        if (tier.long_window, tier.short_window) != (spec.long, spec.short):
            check.notice(
                where,
                f"{prefix}tier {_fmt(spec.long)}/{_fmt(spec.short)}: windows shorter than the "
                f"source's resolution ({_fmt(floor)}) were raised to it: "
                f"{_fmt(tier.long_window)}/{_fmt(tier.short_window)}",
            )
        origin = (
            f" (from budget_fraction {spec.budget_fraction:g} at period {_fmt(period)})"
            if spec.budget_fraction is not None
            else ""
        )
        for message in tier_problems(tier, objective):
            check.problem(where, f"{prefix}{message}{origin}")
        if tier.long_window > period:
            check.problem(
                where,
                f"{prefix}tier {tier.name}: long window {_fmt(tier.long_window)} is longer than "
                f"the SLO's period {_fmt(period)}",
            )
        tiers.append(tier)
    return Policy(name or "inline", tuple(tiers)) if len(check.problems) == before else None


def _policy(
    check: _Check,
    a: _Node,
    objective: float | None,
    period: float | None,
    named: Mapping[str, tuple[_TierSpec, ...] | None],
    opts: _Options,
    used: set[str],
) -> Policy | None:
    path, value = a.at("policy"), a.data.get("policy")
    name: str | None = None
    if value is None or value == DEFAULT_POLICY:
        if objective is None or period is None:
            return None
        return _default_policy(check, path, objective, period, opts.resolution)
    if isinstance(value, str):
        if value not in named:
            known = [DEFAULT_POLICY, *named]
            check.problem(path, f"unknown policy {value!r}{suggest(value, known)}")
            return None
        used.add(value)
        name, specs = value, named[value]
    elif isinstance(value, list):
        specs = _tier_specs(check, path, value)
    else:
        check.problem(path, f"must be a policy name or a list of tiers (got {show(value)})")
        return None
    if specs is None or objective is None or period is None:
        return None
    return _resolve(check, path, name, specs, objective, period, opts.resolution)


# --- one SLO --------------------------------------------------------------------------------------


def _objective(check: _Check, s: _Node) -> float | None:
    if "objective" in s and "target" in s:
        check.problem(s.at("target"), "give objective (percent) or target (ratio), not both")
        return None
    if "target" in s:
        target = s.get("target", _number)
        if target is None or 0 < target < 1:
            return target
        hint = f"; for percent write objective: {target:g}" if 1 < target < 100 else ""
        check.problem(s.at("target"), f"must be a ratio between 0 and 1 (got {target:g}){hint}")
        return None
    percent = s.get("objective", _number)
    if "objective" not in s:
        check.problem(
            s.at("objective"),
            "required field is missing: give objective (percent, e.g. 99.5) or target "
            "(ratio, e.g. 0.995)",
        )
    elif percent is not None and not 0 < percent < 100:
        check.problem(s.at("objective"), f"must be between 0 and 100 percent (got {percent:g})")
    elif percent is not None and percent < 1:
        check.problem(
            s.at("objective"),
            f"is a percent: {percent:g} means {percent:g} %; for {percent * 100:g} % write "
            f"objective: {percent * 100:g} or target: {percent:g}",
        )
    elif percent is not None:
        return round(percent / 100, 12)
    return None


def _period(check: _Check, s: _Node, floor: float) -> float | None:
    if "period" in s and "window" in s:
        check.problem(s.at("window"), "give period or the seed's window, not both")
        return None
    key = "window" if "window" in s else "period"
    if key not in s:
        return DEFAULT_PERIOD
    period = s.get(key, _duration)
    if period is not None and period < floor:
        check.problem(
            s.at(key),
            f"the period {_fmt(period)} is shorter than the source's resolution ({_fmt(floor)})",
        )
        return None
    return period


def _latency(check: _Check, path: FieldPath, threshold: float | None, opts: _Options) -> SLI | None:
    if threshold is None:
        return None
    for bound in opts.latency_buckets:
        if math.isclose(threshold, bound, rel_tol=1e-9):
            return SLI(SLIKind.LATENCY, threshold=bound)
    bounds = ", ".join(f"{b:g}" for b in opts.latency_buckets)
    check.problem(
        path,
        f"latency threshold {threshold:g} s is not a bucket bound of {c.AGENT_LATENCY}; use one "
        f"of {bounds} (or add it to metrics.buckets.agent_latency)",
    )
    return None


def _seed_sli(check: _Check, s: _Node, objective: float | None, opts: _Options) -> SLI | None:
    """The seed's flat ``metric:`` + ``threshold:`` form."""
    metric = s.get("metric", _string)
    if metric is None:
        return None
    percentile = _PERCENTILE.fullmatch(metric)
    kind = SLIKind.LATENCY if percentile else _SEED_METRICS.get(metric)
    if kind is None:
        names = [*_SEED_METRICS, "latency_p95", "latency_p99"]
        check.problem(s.at("metric"), f"unknown metric {metric!r}{suggest(metric, names)}")
        return None
    threshold = s.get("threshold", _positive)
    if kind is SLIKind.LATENCY:
        share = float("0." + percentile.group(1)) if percentile else None
        if share is not None and objective is not None and not math.isclose(share, objective):
            check.problem(
                s.at("metric"),
                f"{metric} means {_pct(share)} of requests within the threshold, but the "
                f"objective is {_pct(objective)}: use metric: latency, or target: {share:g}",
            )
        if "threshold" not in s:
            check.problem(
                s.at("threshold"),
                "required field is missing: the latency bound in seconds, e.g. threshold: 5",
            )
        return _latency(check, s.at("threshold"), threshold, opts)
    if threshold is not None and objective is not None and not math.isclose(threshold, objective):
        check.problem(
            s.at("threshold"),
            f"the threshold of a {metric} SLO is its target ({objective:g}), but it is "
            f"{threshold:g}: drop threshold, or make target and threshold equal",
        )
    return SLI(kind)


def _sli(check: _Check, s: _Node, objective: float | None, opts: _Options) -> SLI | None:
    if "sli" in s and "metric" in s:
        check.problem(s.at("metric"), "give sli: or the seed's metric: form, not both")
        return None
    if "metric" in s:
        return _seed_sli(check, s, objective, opts)
    if "threshold" in s:
        check.problem(s.at("threshold"), "threshold belongs under sli: (or use metric:)")
    if "sli" not in s:
        check.problem(
            s.at("sli"),
            "required field is missing (or use the seed's form, e.g. metric: success_rate)",
        )
        return None
    n = _Node(check, s.at("sli"), s.data["sli"], _SLI_KEYS)
    kind = n.get("kind", _kind, required=True)
    if kind is None:
        return None
    queries = {k: n.get(k, _string) for k in ("good", "bad", "total")}
    if kind is SLIKind.RATIO:
        if "total" not in n:
            check.problem(n.at("total"), "kind: ratio needs total: the PromQL of all events")
        if "good" in n and "bad" in n:
            check.problem(n.at("bad"), "give good or bad, not both")
        elif "good" not in n and "bad" not in n:
            check.problem(n.path, "kind: ratio needs good or bad: the PromQL of good or bad events")
        if opts.embedded:
            check.problem(
                n.at("kind"),
                "kind: ratio runs raw PromQL and needs Prometheus: set prometheus.url "
                "(the embedded source cannot evaluate it)",
            )
    else:
        for key in (k for k in queries if k in n):
            check.problem(n.at(key), f"{key} applies only to kind: ratio")
    threshold = n.get("threshold", _positive)
    if kind is SLIKind.LATENCY:
        if "threshold" not in n:
            check.problem(n.at("threshold"), "required field is missing: the bound in seconds")
        return _latency(check, n.at("threshold"), threshold, opts)
    if "threshold" in n:
        check.problem(
            n.at("threshold"),
            f"threshold applies only to kind: latency (a {kind} SLO's threshold is its objective)",
        )
    return SLI(kind, good=queries["good"], bad=queries["bad"], total=queries["total"])


def _label_problem(label: Any, kind: SLIKind | None) -> str | None:
    if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
        return f"{show(label)} is not a valid label name"
    if label in RESERVED_LABELS:
        return f"label {label!r} is reserved: sloguard sets it on SLO series and alerts"
    allowed = KIND_LABELS.get(kind) if kind is not None else None
    if allowed is not None and label not in allowed:
        return f"{kind} SLIs have no label {label!r} (allowed: {', '.join(sorted(allowed))})"
    return None


def _labels(
    check: _Check, node: _Node, key: str, kind: SLIKind | None, check_names: bool = True
) -> Mapping[str, str] | None:
    """A map of label (or annotation) names to string values."""
    value = node.data[key] if key in node else {}
    if not isinstance(value, dict):
        check.problem(node.at(key), f"must be a mapping of names to strings (got {show(value)})")
        return None
    before, out = len(check.problems), {}
    for name, v in value.items():
        message = _label_problem(name, kind) if check_names else None
        if message is None and not isinstance(v, str):
            message = f"must be a string (got {show(v)}); quote it"
        if message is not None:
            check.problem((*node.at(key), name), message)
        out[name] = v
    return types.MappingProxyType(out) if len(check.problems) == before else None


def _group_by(check: _Check, s: _Node, kind: SLIKind | None) -> tuple[str, ...] | None:
    value = s.data["group_by"] if "group_by" in s else []
    if not isinstance(value, list):
        check.problem(s.at("group_by"), f"must be a list of label names (got {show(value)})")
        return None
    before = len(check.problems)
    for i, label in enumerate(value):
        message = _label_problem(label, kind)
        if message is None and label in value[:i]:
            message = f"label {label!r} is listed twice"
        if message is not None:
            check.problem((*s.at("group_by"), i), message)
    return tuple(value) if len(check.problems) == before else None


def _slo(
    check: _Check,
    i: int,
    value: Any,
    named: Mapping[str, tuple[_TierSpec, ...] | None],
    opts: _Options,
    used: set[str],
) -> SLO | None:
    path: FieldPath = ("slos", i)
    s = _Node(check, path, value, _SLO_KEYS, _MISPLACED)
    if not s.valid:
        return None
    before = len(check.problems)
    name = s.get("name", _string, required=True)
    description = s.get("description", _text) or ""
    objective = _objective(check, s)
    period = _period(check, s, opts.resolution)
    sli = _sli(check, s, objective, opts)
    kind = sli.kind if sli is not None else None
    if kind is SLIKind.RATIO and "selector" in s:
        check.problem(
            s.at("selector"),
            "selector does not apply to kind: ratio; put label matchers in its PromQL",
        )
    selector = _labels(check, s, "selector", kind)
    group_by = _group_by(check, s, kind)
    min_events = s.get("min_events", _non_negative) or 0.0
    a = _Node(
        check, s.at("alerting"), s.data["alerting"] if "alerting" in s else {}, _ALERTING_KEYS
    )
    policy = _policy(check, a, objective, period, named, opts, used)
    labels = _labels(check, a, "labels", None)
    annotations = _labels(check, a, "annotations", None, check_names=False)
    runbook, dashboard = a.get("runbook", _string), a.get("dashboard", _string)
    if (
        len(check.problems) > before
        or name is None or objective is None or period is None or sli is None
        or selector is None or group_by is None or policy is None
        or labels is None or annotations is None
    ):  # fmt: skip
        return None
    alerting = Alerting(policy, labels, annotations, runbook, dashboard)
    return SLO(
        name=name,
        objective=objective,
        period=period,
        sli=sli,
        alerting=alerting,
        description=description,
        selector=selector,
        group_by=group_by,
        min_events=min_events,
        source_file=check.doc.file,
        source_line=check.doc.line(path),
    )


# --- documents -----------------------------------------------------------------------------------


def check_slo_doc(
    doc: YamlDoc,
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOCheck:
    """Check a parsed SLO document: every problem and notice, and the model if it is valid.

    ``latency_buckets`` are the bounds of ``agent_latency_seconds`` (latency thresholds must be
    one of them); ``resolution`` is the shortest window the SLI source can resolve (seconds);
    ``embedded`` refuses SLIs that need Prometheus.
    """
    opts = _Options(tuple(latency_buckets), resolution, embedded)
    check = _Check(doc)
    named: dict[str, tuple[_TierSpec, ...] | None] = {}
    slos: list[SLO] = []
    if not isinstance(doc.data, dict):
        check.problem((), f"an SLO file is a mapping with an 'slos:' list (got {show(doc.data)})")
    else:
        root = _Node(check, (), doc.data, _DOC_KEYS)
        version = root.get("apiVersion", _text)
        if version is not None and version != API_VERSION:
            check.problem(
                ("apiVersion",), f"unsupported apiVersion {version!r} (supported: {API_VERSION})"
            )
        named = _named_policies(check, root)
        items = root.data.get("slos", ())
        if "slos" not in root.data:
            check.problem(("slos",), "required field is missing: the list of SLOs")
        elif items is None:  # every SLO commented out
            items = []
        elif not isinstance(items, list):
            check.problem(("slos",), f"must be a list of SLOs (got {show(items)})")
            items = []
        used: set[str] = set()
        first: dict[str, int | None] = {}
        for i, item in enumerate(items):
            slo = _slo(check, i, item, named, opts, used)
            name = item.get("name") if isinstance(item, dict) else None
            if isinstance(name, str) and name in first:
                check.problem(
                    ("slos", i, "name"),
                    f"duplicate SLO name {name!r} (first on line {first[name]})",
                )
            elif isinstance(name, str):
                first[name] = doc.line(("slos", i, "name"))
            if slo is not None:
                slos.append(slo)
        for name in (n for n in named if n not in used):
            check.notice(("policies", name), f"policy {name!r} is not used by any SLO")
    problems = tuple(sorted(check.problems, key=lambda p: p.line or 0))
    notices = tuple(sorted(check.notices, key=lambda p: p.line or 0))
    if problems:
        return SLOCheck(doc.file, None, problems, notices)
    policies = {
        name: Policy(name, tuple(spec.tier(DEFAULT_PERIOD) for spec in specs))
        for name, specs in named.items()
        if specs is not None
    }
    model = SLOFile(tuple(slos), types.MappingProxyType(policies))
    return SLOCheck(doc.file, model, (), notices)


def check_slo_text(
    text: str,
    file: str = "<string>",
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOCheck:
    """:func:`check_slo_doc` of YAML ``text``; ``file`` names it in problems."""
    try:
        doc = parse_yaml(text, file)
    except ConfigError as exc:
        return SLOCheck(file, None, exc.problems, ())
    return check_slo_doc(
        doc, latency_buckets=latency_buckets, resolution=resolution, embedded=embedded
    )


def check_slo_file(
    path: str | Path,
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOCheck:
    """:func:`check_slo_doc` of the file at ``path``; an unreadable file is a problem too."""
    try:
        doc = load_yaml(path)
    except ConfigError as exc:
        return SLOCheck(str(path), None, exc.problems, ())
    return check_slo_doc(
        doc, latency_buckets=latency_buckets, resolution=resolution, embedded=embedded
    )


def parse_slo_text(
    text: str,
    file: str = "<string>",
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOFile:
    """Validate the SLO document ``text``; raise :class:`ConfigError` listing every problem."""
    return check_slo_text(
        text, file, latency_buckets=latency_buckets, resolution=resolution, embedded=embedded
    ).raise_for_problems()


def load_slo_file(
    path: str | Path,
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
) -> SLOFile:
    """Load and validate the SLO file at ``path``; raise :class:`ConfigError` on problems."""
    return check_slo_file(
        path, latency_buckets=latency_buckets, resolution=resolution, embedded=embedded
    ).raise_for_problems()


def duplicate_names(slos: Iterable[SLO]) -> list[Problem]:
    """One problem per SLO whose name an earlier SLO (of any file) already uses."""
    first: dict[str, SLO] = {}
    index: dict[str, int] = {}
    problems = []
    for slo in slos:
        i = index[slo.source_file] = index.get(slo.source_file, -1) + 1
        if slo.name in first:
            prev = first[slo.name]
            where = (
                f"{prev.source_file}:{prev.source_line}" if prev.source_line else prev.source_file
            )
            problems.append(
                Problem(
                    slo.source_file,
                    slo.source_line,
                    f"slos[{i}].name",
                    f"duplicate SLO name {slo.name!r} (also in {where})",
                )
            )
        else:
            first[slo.name] = slo
    return problems


def load_slo_files(
    paths: Iterable[str | Path],
    *,
    latency_buckets: Sequence[float] = c.AGENT_LATENCY_BUCKETS,
    resolution: float = 0.0,
    embedded: bool = False,
    on_notice: Callable[[Problem], object] | None = None,
) -> tuple[SLO, ...]:
    """Load every SLO of ``paths``; raise :class:`ConfigError` with every problem of every file,
    including names used in more than one file. ``on_notice`` is called with each notice (the
    daemon logs them)."""
    checks = [
        check_slo_file(p, latency_buckets=latency_buckets, resolution=resolution, embedded=embedded)
        for p in paths
    ]
    slos = tuple(s for ch in checks if ch.slo_file is not None for s in ch.slo_file.slos)
    problems = [p for ch in checks for p in ch.problems] + duplicate_names(slos)
    if problems:
        raise ConfigError(problems)
    for notice in (n for ch in checks for n in ch.notices):
        if on_notice is not None:
            on_notice(notice)
    return slos
