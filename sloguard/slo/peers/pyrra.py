"""Pyrra SLO documents → sloguard/v1. Pure.

Reads ``apiVersion: pyrra.dev/v1alpha1``, ``kind: ServiceLevelObjective`` (several documents per
file). How each field translates:

- ``metadata.name`` → the SLO's name (``namespace`` is not part of it: keep names unique within a
  file); ``metadata.labels`` and ``metadata.annotations`` prefixed ``pyrra.dev/`` → the alert
  labels and annotations without the prefix, as Pyrra propagates them to its rules; other
  metadata is Kubernetes' (Pyrra does not propagate it either).
- ``spec.target`` (a percent, written as a string) → ``objective``; ``spec.window`` → ``period``;
  ``spec.description`` → ``description``.
- Indicators become ``kind: ratio`` SLIs (sloguard's built-in kinds are not guessed from the
  metric names; a ratio over ``agent_*`` metrics runs the same queries): ``ratio`` → ``bad:
  errors.metric``, ``total: total.metric``; ``latency`` → ``good: success.metric`` (the
  ``_bucket{le=...}`` selector), ``total: total.metric``; both selectors sloguard wraps in
  ``increase(…[window])`` as Pyrra does. ``latencyNative`` → ``histogram_fraction(0, latency,
  …)`` times ``histogram_count`` of the native histogram's increase, over its count; ``bool_gauge``
  → ``sum_over_time`` (good) over ``count_over_time`` (all) of the gauge. ``grouping`` →
  ``group_by``.
- Alerting: Pyrra's four tiers for the window (:mod:`sloguard.slo.peers.pyrrawindows`) become an
  inline policy, with a notice comparing them with sloguard's default; a tier that could never
  fire at the target is left out with a notice. ``severities`` of the tiers must be
  ``critical`` or ``warning``. ``disabled: true`` or ``burnrates: false`` is a problem (a sloguard
  SLO always alerts). Pyrra's absent alert (``absent``, ``absentName``, ``severities.absent``) has
  no sloguard equivalent (an SLO without data shows state ``no_data``): a notice. ``name`` is a
  notice (sloguard names its alerts ``SLOBurn``). ``partial_response_strategy``,
  ``performanceOverAccuracy`` and ``ruleOutput`` shape how Pyrra writes its rule files: notices.

Example::

    translation = translate(parse_yaml_all(text, "slo.pyrra.yaml"))
    translation.data["slos"][0]["objective"]     # 99.5
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sloguard.durations import format_duration, parse_duration
from sloguard.slo.peers.base import Translation, TranslationBuilder
from sloguard.slo.peers.pyrrawindows import PYRRA_TIER_NAMES, compare_note, pyrra_tiers
from sloguard.slo.peers.slothread import PeerReader
from sloguard.yamldoc import FieldPath, YamlDoc, show

__all__ = ["PREFIX", "VERSIONS", "translate"]

VERSIONS: tuple[str, ...] = ("pyrra.dev/v1alpha1",)
KIND = "ServiceLevelObjective"
#: Metadata labels and annotations with this prefix go on Pyrra's rules (prefix removed).
PREFIX = "pyrra.dev/"
_ROOT = ("apiVersion", "kind", "metadata", "spec", "status")
_SPEC = (
    "description", "target", "window", "indicator", "alerting", "partial_response_strategy",
    "performanceOverAccuracy", "ruleOutput",
)  # fmt: skip
_INDICATORS = ("ratio", "latency", "latencyNative", "bool_gauge")
_ALERTING = ("disabled", "burnrates", "absent", "name", "absentName", "severities")
_RULE_KNOBS = ("partial_response_strategy", "performanceOverAccuracy", "ruleOutput")
_W = "{{.window}}"
_ALWAYS = (
    "a sloguard SLO always alerts on burn rates; remove it, or route this SLO's alerts to no "
    "receiver in sloguard's routing file"
)


def translate(docs: Sequence[YamlDoc]) -> Translation:
    """The sloguard/v1 equivalent of the Pyrra documents of one file."""
    b = TranslationBuilder("Pyrra")
    b.put(("slos",), [], (0, ()))
    count = 0
    for index, doc in enumerate(docs):
        if _document(PeerReader(b, index, "Pyrra"), doc.data, count):
            count += 1
    return b.build()


def _document(r: PeerReader, data: Any, i: int) -> bool:
    root = r.mapping((), data, _ROOT)
    if root is None:
        return False
    if root.get("kind") != KIND:
        r.problem(("kind",), f"a Pyrra SLO has kind: {KIND} (got {show(root.get('kind'))})")
    to: FieldPath = ("slos", i)
    r.b.origin_of(to, r.origin(("metadata",)))
    meta = root.get("metadata")
    if not isinstance(meta, dict):
        if meta is not None:
            r.problem(("metadata",), f"must be a mapping (got {show(meta)})")
        meta = {}
    name = meta.get("name")
    if name is None:
        r.problem(("metadata", "name"), "required field is missing: the SLO's name")
        name = "unnamed"
    r.put((*to, "name"), name, ("metadata", "name"))
    spec = r.mapping(("spec",), root.get("spec"), _SPEC)
    if not spec:
        r.problem(("spec",), "required field is missing: target, window and indicator")
        r.put((*to, "objective"), 99, ("spec",))
        r.put((*to, "sli"), {"kind": "success_rate"}, ("spec",))  # stand-in: reported above
        return True
    if "description" in spec:
        r.put((*to, "description"), spec["description"], ("spec", "description"))
    objective = _target(r, spec.get("target"), to)
    period = _window(r, spec.get("window"), to)
    _indicator(r, spec.get("indicator"), to)
    _propagated(r, meta, to)
    _alerting(r, spec.get("alerting"), to, objective, period)
    for knob in (k for k in _RULE_KNOBS if spec.get(k) is not None):
        r.notice(
            ("spec", knob),
            f"{knob} shapes how Pyrra writes its rule files; sloguard's rules do not use it",
        )
    return True


def _target(r: PeerReader, value: Any, to: FieldPath) -> float | None:
    where = ("spec", "target")
    if value is None:
        r.problem(where, 'required field is missing: the objective in percent, e.g. "99.5"')
    elif not isinstance(value, str):
        r.problem(where, f'must be a quoted string such as "99.5" (got {show(value)})')
    else:
        try:
            objective = float(value)
        except ValueError:
            r.problem(where, f'must be a percent such as "99.5" (got {show(value)})')
        else:
            r.put((*to, "objective"), objective, where)
            return objective
    r.put((*to, "objective"), 99, where)  # stand-in: reported above
    return None


def _window(r: PeerReader, value: Any, to: FieldPath) -> float | None:
    where = ("spec", "window")
    if value is None:
        r.problem(where, "required field is missing: the SLO window, e.g. 28d or 4w")
        return None
    r.put((*to, "period"), value, where)
    try:
        return parse_duration(value) if isinstance(value, str) else None
    except ValueError:
        return None  # the sloguard reader reports it at spec.window


def _metric(r: PeerReader, path: FieldPath, value: Any) -> Any:
    m = r.mapping(path, value, ("metric",))
    if m is None:
        return None
    metric = m.get("metric")
    if metric is None:
        r.problem((*path, "metric"), "required field is missing: a PromQL selector")
    return metric


def _indicator(r: PeerReader, value: Any, to: FieldPath) -> None:
    path = ("spec", "indicator")
    ind = r.mapping(path, value, _INDICATORS)
    given = [k for k in _INDICATORS if ind and ind.get(k) is not None]
    sli: dict[str, Any] | None = None
    if ind is not None and len(given) != 1:
        r.problem(path, "give exactly one of ratio, latency, latencyNative or bool_gauge")
    elif ind is not None:
        kind = given[0]
        where = (*path, kind)
        keys = {
            "ratio": ("errors", "total", "grouping"),
            "latency": ("success", "total", "grouping"),
            "latencyNative": ("latency", "total", "grouping"),
            "bool_gauge": ("metric", "grouping"),
        }[kind]
        node = r.mapping(where, ind[kind], keys)
        if node is not None:
            sli = _sli(r, where, kind, node)
            grouping = node.get("grouping")
            if sli is not None and grouping is not None:
                r.put((*to, "group_by"), grouping, (*where, "grouping"))
    if sli is None:
        r.put((*to, "sli"), {"kind": "success_rate"}, path)  # stand-in: reported above
        return
    r.b.origin_of((*to, "sli"), r.origin(path))
    for key, (text, origin) in sli.items():
        r.put((*to, "sli", key), text, origin)


def _sli(r: PeerReader, where: FieldPath, kind: str, node: dict[str, Any]) -> dict[str, Any] | None:
    """The ratio SLI's fields, each as (value, origin path)."""
    out: dict[str, Any] = {"kind": ("ratio", where)}
    if kind in ("ratio", "latency"):
        first = "errors" if kind == "ratio" else "success"
        target = "bad" if kind == "ratio" else "good"
        for key, field in ((first, target), ("total", "total")):
            metric = _metric(r, (*where, key), node.get(key))
            if metric is None:
                return None
            out[field] = (metric, (*where, key, "metric"))
        return out
    group = node.get("grouping")
    by = f" by ({', '.join(map(str, group))})" if isinstance(group, list) and group else ""
    if kind == "bool_gauge":
        metric = node.get("metric")
        if not isinstance(metric, str) or not metric.strip():
            r.problem((*where, "metric"), f"must be a PromQL selector (got {show(metric)})")
            return None
        at = (*where, "metric")
        out["good"] = (f"sum{by} (sum_over_time({metric}[{_W}]))", at)
        out["total"] = (f"sum{by} (count_over_time({metric}[{_W}]))", at)
        return out
    metric = _metric(r, (*where, "total"), node.get("total"))
    latency = node.get("latency")
    try:
        bound = parse_duration(latency) if isinstance(latency, str) else None
    except ValueError:
        bound = None
    if bound is None:
        r.problem(
            (*where, "latency"), f"must be a duration such as 100ms or 1s (got {show(latency)})"
        )
    if not isinstance(metric, str) or bound is None:
        return None
    hist = f"sum{by} (increase({metric}[{_W}]))"
    at = (*where, "total", "metric")
    out["good"] = (f"histogram_fraction(0, {bound:g}, {hist}) * histogram_count({hist})", at)
    out["total"] = (f"histogram_count({hist})", at)
    return out


def _propagated(r: PeerReader, meta: dict[str, Any], to: FieldPath) -> None:
    for key, target in (("labels", "labels"), ("annotations", "annotations")):
        for name, value in r.labels(("metadata", key), meta.get(key)).items():
            if isinstance(name, str) and name.startswith(PREFIX):
                short = name[len(PREFIX) :]
                r.put((*to, "alerting", target, short), value, ("metadata", key, name))


def _alerting(
    r: PeerReader, value: Any, to: FieldPath, objective: float | None, period: float | None
) -> None:
    path = ("spec", "alerting")
    a = r.mapping(path, value, _ALERTING) or {}
    if r.flag((*path, "disabled"), a.get("disabled")):
        r.problem(
            (*path, "disabled"),
            "disabling alerts cannot be represented: " + _ALWAYS,
        )
    if r.flag((*path, "burnrates"), a.get("burnrates")) is False:
        r.problem(
            (*path, "burnrates"),
            "burnrates: false cannot be represented: " + _ALWAYS,
        )
    name = r.string((*path, "name"), a.get("name"))
    if name is not None:
        r.notice((*path, "name"), f"sloguard names its burn alerts SLOBurn; {name!r} is not used")
    severities = r.mapping(
        (*path, "severities"), a.get("severities"), ("absent", *PYRRA_TIER_NAMES)
    )
    if r.flag((*path, "absent"), a.get("absent")) is not False:
        r.notice(
            (*path, "absent") if "absent" in a else path,
            "Pyrra's absent alert (SLOMetricAbsent) has no sloguard equivalent: an SLO whose "
            "metrics are missing shows state no_data instead"
            + ("; absentName and severities.absent are not used" if a.get("absentName") else ""),
        )
    if objective is None or period is None:
        return
    _tiers(r, path, to, severities or {}, objective, period)


def _tiers(
    r: PeerReader,
    path: FieldPath,
    to: FieldPath,
    severities: dict[str, Any],
    objective: float,
    period: float,
) -> None:
    if min(t.short for t in pyrra_tiers(period)) <= 0:
        r.problem(
            ("spec", "window"),
            f"a {format_duration(period)} window is too short for Pyrra's burn-rate tiers: the "
            "shortest, window/8064, rounds to 0 minutes (Pyrra rounds to the minute); use a "
            "window of 3d or more",
        )
        return
    tiers = []
    for name, tier in zip(PYRRA_TIER_NAMES, pyrra_tiers(period), strict=True):
        severity = severities.get(name, tier.severity)
        if severity not in ("critical", "warning"):
            r.problem(
                (*path, "severities", name),
                f"severity {show(severity)} cannot be represented: sloguard's tiers are "
                "critical or warning",
            )
            continue
        if tier.factor * (1 - objective / 100) >= 1:
            r.notice(
                ("spec", "target"),
                f"Pyrra's {name} tier ({tier.factor:g}x) could never fire at target "
                f"{objective:g} % and is left out",
            )
            continue
        tiers.append(
            {
                "severity": severity,
                "long_window": format_duration(tier.long),
                "short_window": format_duration(tier.short),
                "burn_rate": tier.factor,
            }
        )
    if tiers:
        r.put((*to, "alerting", "policy"), tiers, ("spec", "window"))
        r.notice(("spec", "window"), compare_note(period))
