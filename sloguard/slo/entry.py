"""One entry of an SLO document's ``slos:`` list → an :class:`~sloguard.slo.spec.SLO`.

An entry is written in sloguard's form or in the seed's flat ``AgentSLO`` form::

    - name: checkout-availability
      objective: 99.5                     # percent, or target: 0.995 (a ratio)
      period: 30d                         # or the seed's window:; default 30d; or calendar-
                                          # aligned: {calendar: month, time_zone: Europe/Berlin}
      budgeting: {method: timeslices, slice: 1m, slice_objective: 99}   # optional (budgetread)
      sli: {kind: success_rate}           # latency (+ threshold s), routing_accuracy,
                                          # tool_success_rate, ratio (good|bad + total)
      selector: {agent_name: checkout}
      group_by: [agent_name]
      min_events: 100
      alerting: {policy: pager-only, labels: {team: payments}, runbook: https://...}
    - {name: 에이전트 가용성, target: 0.995, window: 24h, metric: success_rate, threshold: 0.995}

Selector and ``group_by`` labels must be labels of the SLI kind's metric (:data:`KIND_LABELS`)
and none of :data:`RESERVED_LABELS`; the SLO's ``labels`` and ``alerting.labels`` none of
:data:`RESERVED_ALERT_LABELS` (``tier`` is allowed there). Policies are read by
:mod:`sloguard.slo.policies`.

Example::

    options = EntryOptions(latency_buckets=(0.5, 1.0, 5.0), resolution=60.0, embedded=True)
    slo = read_slo(findings, 0, doc.data["slos"][0], named, options, used)  # None on problems
"""

from __future__ import annotations

import math
import re
import types
from collections.abc import Mapping
from typing import Any

from sloguard import conventions as c
from sloguard.slo.budget import DEFAULT_PERIOD
from sloguard.slo.budgetread import read_budgeting, read_calendar
from sloguard.slo.calendar import Calendar
from sloguard.slo.docreader import (
    DocNode,
    Findings,
    any_string,
    choice,
    duration,
    non_negative,
    number,
    positive,
    show_duration,
    show_percent,
    string,
)
from sloguard.slo.histsli import EntryOptions, latency_sli, workflow_sli
from sloguard.slo.policies import NamedPolicies, slo_policy
from sloguard.slo.spec import SLI, SLO, Alerting, SLIKind
from sloguard.yamldoc import FieldPath, show, suggest

__all__ = ["KIND_LABELS", "RESERVED_ALERT_LABELS", "RESERVED_LABELS", "read_slo"]

#: Labels sloguard sets itself on SLO series and alerts; SLOs may not group, select or label by.
RESERVED_LABELS = frozenset(
    {"slo", "window", "severity", "tier", "state", "sloguard_part", "sloguard_source"}
)
#: Those an SLO's ``labels`` and ``alerting.labels`` may not use. ``tier`` is only on the
#: ``sloguard_slo_tier_firing`` gauges, whose labels are the instance's (``group_by``), never
#: the alert labels; alerts and recorded series carry no ``tier`` of sloguard's, so Sloth's
#: ``tier: "2"`` labels them as in Sloth.
RESERVED_ALERT_LABELS = RESERVED_LABELS - {"tier"}
#: The labels each built-in SLI kind may select on and group by (its metric's client labels).
KIND_LABELS: Mapping[SLIKind, frozenset[str]] = types.MappingProxyType(
    {
        SLIKind.SUCCESS_RATE: frozenset({c.L_AGENT}),
        SLIKind.LATENCY: frozenset({c.L_AGENT}),
        SLIKind.ROUTING_ACCURACY: frozenset({c.L_AGENT}),
        SLIKind.TOOL_SUCCESS_RATE: frozenset({c.L_AGENT, c.L_TOOL}),
        SLIKind.WORKFLOW_SUCCESS_RATE: frozenset({c.L_WORKFLOW}),
        SLIKind.WORKFLOW_LATENCY: frozenset({c.L_WORKFLOW}),
        SLIKind.WORKFLOW_COST: frozenset({c.L_WORKFLOW}),
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
_ALERT_NAME = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*")

_SLO_KEYS = (
    "name", "description", "objective", "target", "period", "window", "sli", "metric",
    "threshold", "selector", "group_by", "min_events", "labels", "alerting", "budgeting",
)  # fmt: skip
_SLI_KEYS = ("kind", "threshold", "max_cost_usd", "good", "bad", "total")
_ALERTING_KEYS = ("policy", "labels", "annotations", "runbook", "dashboard", "name")
#: Keys written one level too high, and where they belong (``threshold`` is the seed's own).
_MISPLACED = {
    **dict.fromkeys((k for k in _SLI_KEYS if k not in _SLO_KEYS), "sli"),
    **dict.fromkeys(_ALERTING_KEYS, "alerting"),
}

_kind = choice(SLIKind, [k.value for k in SLIKind], "SLI kind")


def _objective(findings: Findings, s: DocNode) -> float | None:
    if "objective" in s and "target" in s:
        findings.problem(s.at("target"), "give objective (percent) or target (ratio), not both")
        return None
    if "target" in s:
        target = s.get("target", number)
        if target is None or 0 < target < 1:
            return target
        hint = f"; for percent write objective: {target:g}" if 1 < target < 100 else ""
        findings.problem(s.at("target"), f"must be a ratio between 0 and 1 (got {target:g}){hint}")
        return None
    percent = s.get("objective", number)
    if "objective" not in s:
        findings.problem(
            s.at("objective"),
            "required field is missing: give objective (percent, e.g. 99.5) or target "
            "(ratio, e.g. 0.995)",
        )
    elif percent is not None and not 0 < percent < 100:
        findings.problem(s.at("objective"), f"must be between 0 and 100 percent (got {percent:g})")
    elif percent is not None and percent < 1:
        findings.problem(
            s.at("objective"),
            f"is a percent: {percent:g} means {percent:g} %; for {percent * 100:g} % write "
            f"objective: {percent * 100:g} or target: {percent:g}",
        )
    elif percent is not None:
        return round(percent / 100, 12)
    return None


def _calendar(findings: Findings, s: DocNode) -> Calendar | None:
    """A ``period: {calendar: ...}`` mapping's calendar (None: rolling, or problems)."""
    if "period" not in s or not isinstance(s.data["period"], dict):
        return None
    return read_calendar(findings, s.at("period"), s.data["period"])


def _period(
    findings: Findings, s: DocNode, floor: float, calendar: Calendar | None
) -> float | None:
    if "period" in s and "window" in s:
        findings.problem(s.at("window"), "give period or the seed's window, not both")
        return None
    key = "window" if "window" in s else "period"
    if key not in s:
        return DEFAULT_PERIOD
    if key == "period" and isinstance(s.data["period"], dict):
        return None if calendar is None else calendar.nominal
    period = s.get(key, duration)
    if period is not None and period < floor:
        findings.problem(
            s.at(key),
            f"the period {show_duration(period)} is shorter than the source's resolution "
            f"({show_duration(floor)})",
        )
        return None
    return period


def _seed_sli(
    findings: Findings, s: DocNode, objective: float | None, opts: EntryOptions
) -> SLI | None:
    """The seed's flat ``metric:`` + ``threshold:`` form."""
    metric = s.get("metric", string)
    if metric is None:
        return None
    percentile = _PERCENTILE.fullmatch(metric)
    kind = SLIKind.LATENCY if percentile else _SEED_METRICS.get(metric)
    if kind is None:
        names = [*_SEED_METRICS, "latency_p95", "latency_p99"]
        findings.problem(s.at("metric"), f"unknown metric {metric!r}{suggest(metric, names)}")
        return None
    threshold = s.get("threshold", positive)
    if kind is SLIKind.LATENCY:
        share = float("0." + percentile.group(1)) if percentile else None
        if share is not None and objective is not None and not math.isclose(share, objective):
            findings.problem(
                s.at("metric"),
                f"{metric} means {show_percent(share)} of requests within the threshold, but the "
                f"objective is {show_percent(objective)}: use metric: latency, or target: "
                f"{share:g}",
            )
        if "threshold" not in s:
            findings.problem(
                s.at("threshold"),
                "required field is missing: the latency bound in seconds, e.g. threshold: 5",
            )
        return latency_sli(findings, s.at("threshold"), threshold, opts)
    if threshold is not None and objective is not None and not math.isclose(threshold, objective):
        findings.problem(
            s.at("threshold"),
            f"the threshold of a {metric} SLO is its target ({objective:g}), but it is "
            f"{threshold:g}: drop threshold, or make target and threshold equal",
        )
    return SLI(kind)


def _sli(findings: Findings, s: DocNode, objective: float | None, opts: EntryOptions) -> SLI | None:
    if "sli" in s and "metric" in s:
        findings.problem(s.at("metric"), "give sli: or the seed's metric: form, not both")
        return None
    if "metric" in s:
        return _seed_sli(findings, s, objective, opts)
    if "threshold" in s:
        findings.problem(s.at("threshold"), "threshold belongs under sli: (or use metric:)")
    if "sli" not in s:
        findings.problem(
            s.at("sli"),
            "required field is missing (or use the seed's form, e.g. metric: success_rate)",
        )
        return None
    n = DocNode(findings, s.at("sli"), s.data["sli"], _SLI_KEYS)
    kind = n.get("kind", _kind, required=True)
    if kind is None:
        return None
    queries = {k: n.get(k, string) for k in ("good", "bad", "total")}
    if kind is SLIKind.RATIO:
        if "total" not in n:
            findings.problem(n.at("total"), "kind: ratio needs total: the PromQL of all events")
        if "good" in n and "bad" in n:
            findings.problem(n.at("bad"), "give good or bad, not both")
        elif "good" not in n and "bad" not in n:
            findings.problem(
                n.path, "kind: ratio needs good or bad: the PromQL of good or bad events"
            )
        if opts.embedded:
            findings.problem(
                n.at("kind"),
                "kind: ratio runs raw PromQL and needs Prometheus: set prometheus.url "
                "(the embedded source cannot evaluate it)",
            )
    else:
        for key in (k for k in queries if k in n):
            findings.problem(n.at(key), f"{key} applies only to kind: ratio")
    if kind in (SLIKind.WORKFLOW_LATENCY, SLIKind.WORKFLOW_COST):
        sli = workflow_sli(findings, n, kind, opts)
        return sli if sli.threshold is not None or sli.max_cost is not None else None
    if "max_cost_usd" in n:
        findings.problem(n.at("max_cost_usd"), "max_cost_usd applies only to kind: workflow_cost")
    threshold = n.get("threshold", positive)
    if kind is SLIKind.LATENCY:
        if "threshold" not in n:
            findings.problem(n.at("threshold"), "required field is missing: the bound in seconds")
        return latency_sli(findings, n.at("threshold"), threshold, opts)
    if "threshold" in n:
        findings.problem(
            n.at("threshold"),
            f"threshold applies only to kind: latency and workflow_latency (a {kind} SLO's "
            "threshold is its objective)",
        )
    return SLI(kind, good=queries["good"], bad=queries["bad"], total=queries["total"])


def _alert_name(value: Any) -> str:
    if not isinstance(value, str) or not _ALERT_NAME.fullmatch(value):
        raise ValueError(f"{show(value)} is not a valid alert name (letters, digits, _ and :)")
    if value == "SLONoData" or value.startswith("Sloguard"):
        raise ValueError(
            f"{show(value)} is sloguard's own alert name (SLONoData, Sloguard…); name the burn "
            "alert otherwise"
        )
    return value


def _label_problem(
    label: Any, kind: SLIKind | None, reserved: frozenset[str] = RESERVED_LABELS
) -> str | None:
    if not isinstance(label, str) or not _LABEL_NAME.fullmatch(label):
        return f"{show(label)} is not a valid label name"
    if label in reserved:
        return f"label {label!r} is reserved: sloguard sets it on SLO series and alerts"
    allowed = KIND_LABELS.get(kind) if kind is not None else None
    if allowed is not None and label not in allowed:
        return f"{kind} SLIs have no label {label!r} (allowed: {', '.join(sorted(allowed))})"
    return None


def _labels(
    findings: Findings,
    node: DocNode,
    key: str,
    kind: SLIKind | None,
    check_names: bool = True,
    reserved: frozenset[str] = RESERVED_LABELS,
) -> Mapping[str, str] | None:
    """A map of label (or annotation) names to string values."""
    value = node.data[key] if key in node else {}
    if not isinstance(value, dict):
        findings.problem(node.at(key), f"must be a mapping of names to strings (got {show(value)})")
        return None
    before, out = len(findings.problems), {}
    for name, v in value.items():
        message = _label_problem(name, kind, reserved) if check_names else None
        if message is None and not isinstance(v, str):
            message = f"must be a string (got {show(v)}); quote it"
        if message is not None:
            findings.problem((*node.at(key), name), message)
        out[name] = v
    return types.MappingProxyType(out) if len(findings.problems) == before else None


def _group_by(findings: Findings, s: DocNode, kind: SLIKind | None) -> tuple[str, ...] | None:
    value = s.data["group_by"] if "group_by" in s else []
    if not isinstance(value, list):
        findings.problem(s.at("group_by"), f"must be a list of label names (got {show(value)})")
        return None
    before = len(findings.problems)
    for i, label in enumerate(value):
        message = _label_problem(label, kind)
        if message is None and label in value[:i]:
            message = f"label {label!r} is listed twice"
        if message is not None:
            findings.problem((*s.at("group_by"), i), message)
    return tuple(value) if len(findings.problems) == before else None


def read_slo(
    findings: Findings,
    i: int,
    value: Any,
    named: NamedPolicies,
    opts: EntryOptions,
    used: set[str],
) -> SLO | None:
    """The SLO of entry ``i`` of ``slos:``; None if it has problems (every one recorded).

    ``named`` are the document's policies; the name of each one the entry uses is added to
    ``used`` (so unused policies can be noticed).
    """
    path: FieldPath = ("slos", i)
    s = DocNode(findings, path, value, _SLO_KEYS, _MISPLACED)
    if not s.valid:
        return None
    before = len(findings.problems)
    name = s.get("name", string, required=True)
    description = s.get("description", any_string) or ""
    objective = _objective(findings, s)
    calendar = _calendar(findings, s)
    period = _period(findings, s, opts.resolution, calendar)
    budgeting = read_budgeting(findings, s, opts.resolution)
    sli = _sli(findings, s, objective, opts)
    kind = sli.kind if sli is not None else None
    if kind is SLIKind.RATIO and "selector" in s:
        findings.problem(
            s.at("selector"),
            "selector does not apply to kind: ratio; put label matchers in its PromQL",
        )
    selector = _labels(findings, s, "selector", kind)
    group_by = _group_by(findings, s, kind)
    min_events = s.get("min_events", non_negative) or 0.0
    alerting_value = s.data["alerting"] if "alerting" in s else {}
    a = DocNode(findings, s.at("alerting"), alerting_value, _ALERTING_KEYS)
    policy = slo_policy(findings, a, objective, period, named, opts.resolution, used)
    # Sloth's: on records and alerts
    slo_labels = _labels(findings, s, "labels", None, reserved=RESERVED_ALERT_LABELS)
    labels = _labels(findings, a, "labels", None, reserved=RESERVED_ALERT_LABELS)
    alert_name = a.get("name", _alert_name) or "SLOBurn"
    annotations = _labels(findings, a, "annotations", None, check_names=False)
    runbook, dashboard = a.get("runbook", string), a.get("dashboard", string)
    if (
        len(findings.problems) > before
        or name is None or objective is None or period is None or sli is None
        or selector is None or group_by is None or policy is None
        or labels is None or annotations is None or slo_labels is None or budgeting is None
    ):  # fmt: skip
        return None
    labels = types.MappingProxyType({**slo_labels, **labels})
    alerting = Alerting(policy, labels, annotations, runbook, dashboard, alert_name)
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
        labels=slo_labels,
        source_file=findings.doc.file,
        source_line=findings.doc.line(path),
        calendar=calendar,
        budgeting=budgeting,
    )
