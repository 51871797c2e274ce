"""sloguard SLOs → OpenSLO ``openslo/v1`` documents (the reverse of
:mod:`~sloguard.slo.peers.openslo`). Pure.

Each SLO becomes one ``kind: SLO`` object with an inline indicator, one objective and one time
window (rolling, or calendar-aligned in its time zone; time-slice budgeting as
``budgetingMethod`` with the objective's ``timeSliceWindow`` and ``timeSliceTarget``); each
tier of its policy (the default policy too, resolved for its period) becomes an inline
``AlertPolicy`` with one ``burnrate`` condition (``lookbackWindow`` = long window,
``alertAfter`` = short window, ``threshold`` = factor, ``op: gt``), all notifying one
``AlertNotificationTarget`` named ``sloguard`` (sloguard's routing file decides where alerts go).

The indicator is a ``ratioMetric`` of Prometheus queries: a built-in SLI kind becomes its counter
selectors (``agent_calls_total{status="error"}``; sloguard counts them over each window, as it
does for the kind), ``kind: ratio`` keeps its PromQL. What OpenSLO has no field for travels in
``sloguard.dev/*`` annotations (``name`` when it is not a DNS label, ``group-by``,
``min-events``, ``runbook``, ``dashboard``, ``alert-name``); alert labels become
``metadata.labels`` (``service`` becomes ``spec.service``, which the reader turns back into the
label ``service``). Reading the result back gives SLOs with the same objective, period, tiers
and PromQL for every window (:func:`sloguard.slo.promql.bad_and_total`), as ``kind: ratio``.

Example::

    docs = to_openslo(load_slo_file("config/slos.yaml").slos)
    yaml.safe_dump_all(docs, sort_keys=False)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from sloguard.slo.budget import Tier
from sloguard.slo.promql import CounterSLI, Terms, counter_sli
from sloguard.slo.spec import SLO, BudgetingMethod

__all__ = ["API_VERSION", "NOTIFICATION_TARGET", "shorthand", "to_openslo"]

API_VERSION = "openslo/v1"
NOTIFICATION_TARGET = "sloguard"
_DNS_LABEL = re.compile(r"[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?")
_UNITS = (("d", 86_400), ("h", 3_600), ("m", 60))
_METHODS = {
    BudgetingMethod.OCCURRENCES: "Occurrences",
    BudgetingMethod.TIMESLICES: "Timeslices",
    BudgetingMethod.RATIO_TIMESLICES: "RatioTimeslices",
}

Doc = dict[str, Any]


def shorthand(seconds: float) -> str:
    """A window as an OpenSLO duration shorthand (``5m``, ``6h``, ``30d``). OpenSLO has no
    seconds: a window that is not whole minutes is written in seconds (``10s``), which
    sloguard's reader accepts with a notice and strict OpenSLO validators refuse."""
    for unit, size in _UNITS:
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds)}s" if float(seconds).is_integer() else f"{seconds!r}s"


def _dns_name(name: str) -> str:
    if _DNS_LABEL.fullmatch(name):
        return name
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:63].strip("-")
    return slug or "slo"


def _source(query: str) -> Doc:
    return {"metricSource": {"type": "Prometheus", "spec": {"query": query}}}


def _terms(terms: Terms) -> str:
    parts = []
    for sign, sel in terms:
        expr = f"sum(increase({sel.promql()}[{{{{.window}}}}]))"
        parts.append(expr if sign > 0 else f"- {expr}")
    return " ".join(parts)


def _counter_queries(c: CounterSLI) -> dict[str, str]:
    """good|bad and total of a built-in kind, as selectors where they are one counter."""
    total = c.total[0][1].promql() if len(c.total) == 1 and c.total[0][0] > 0 else _terms(c.total)
    if len(c.bad) == 1 and c.bad[0][0] > 0:
        return {"bad": c.bad[0][1].promql(), "total": total}
    if len(c.bad) == 2 and c.bad[0] == c.total[0] and c.bad[1][0] < 0:  # count - good
        return {"good": c.bad[1][1].promql(), "total": total}
    return {"bad": _terms(c.bad), "total": _terms(c.total)}


def _queries(slo: SLO) -> dict[str, str]:
    counters = counter_sli(slo)
    if counters is not None:
        return _counter_queries(counters)
    sli = slo.sli
    out = {"good": sli.good, "bad": sli.bad, "total": sli.total}
    return {k: v for k, v in out.items() if v is not None}


def _annotations(slo: SLO, name: str) -> dict[str, str]:
    out = dict(slo.alerting.annotations)
    if name != slo.name:
        out["sloguard.dev/name"] = slo.name
    if slo.group_by:
        out["sloguard.dev/group-by"] = ",".join(slo.group_by)
    if slo.min_events:
        out["sloguard.dev/min-events"] = f"{slo.min_events:g}"
    if slo.alerting.runbook:
        out["sloguard.dev/runbook"] = slo.alerting.runbook
    if slo.alerting.dashboard:
        out["sloguard.dev/dashboard"] = slo.alerting.dashboard
    alert_name = getattr(slo.alerting, "name", "SLOBurn")
    if alert_name != "SLOBurn":
        out["sloguard.dev/alert-name"] = alert_name
    return out


def _alert_policy(name: str, tier: Tier) -> Doc:
    tier_name = f"{name}-{shorthand(tier.long_window)}-{shorthand(tier.short_window)}"
    condition = {
        "kind": "burnrate",
        "op": "gt",
        "threshold": tier.factor,
        "lookbackWindow": shorthand(tier.long_window),
        "alertAfter": shorthand(tier.short_window),
    }
    return {
        "kind": "AlertPolicy",
        "metadata": {"name": tier_name},
        "spec": {
            "alertWhenBreaching": True,
            "conditions": [
                {
                    "kind": "AlertCondition",
                    "metadata": {"name": tier_name},
                    "spec": {"severity": str(tier.severity), "condition": condition},
                }
            ],
            "notificationTargets": [{"targetRef": NOTIFICATION_TARGET}],
        },
    }


def _slo_doc(slo: SLO, taken: set[str]) -> Doc:
    name = base = _dns_name(slo.name)
    n = 1
    while name in taken:
        n += 1
        name = f"{base[: 60 - len(str(n))]}-{n}"
    taken.add(name)
    labels = dict(slo.alerting.labels)
    service = labels.pop("service", name)
    metadata: Doc = {"name": name}
    if name != slo.name:
        metadata["displayName"] = slo.name
    if labels:
        metadata["labels"] = labels
    if annotations := _annotations(slo, name):
        metadata["annotations"] = annotations
    ratio: Doc = {"counter": True}
    ratio.update({k: _source(q) for k, q in _queries(slo).items()})
    spec: Doc = {}
    if slo.description:
        spec["description"] = slo.description
    spec |= {
        "service": service,
        "indicator": {"metadata": {"name": f"{name}-sli"}, "spec": {"ratioMetric": ratio}},
        "timeWindow": [_time_window(slo)],
        "budgetingMethod": _METHODS[slo.budgeting.method],
        "objectives": [_objective(slo)],
    }
    if slo.alerting.policy.tiers:
        spec["alertPolicies"] = [_alert_policy(name, t) for t in slo.alerting.policy.tiers]
    return {"apiVersion": API_VERSION, "kind": "SLO", "metadata": metadata, "spec": spec}


def _time_window(slo: SLO) -> Doc:
    """A rolling window, or a calendar-aligned one (``startTime`` the first Monday of 2024,
    which starts a week, a month and a quarter: sloguard's periods start there)."""
    if slo.calendar is None:
        return {"duration": shorthand(slo.period), "isRolling": True}
    duration = {"week": "1w", "month": "1M", "quarter": "1Q"}[slo.calendar.unit]
    calendar = {"startTime": "2024-01-01 00:00:00", "timeZone": slo.calendar.time_zone}
    return {"duration": duration, "isRolling": False, "calendar": calendar}


def _objective(slo: SLO) -> Doc:
    objective: Doc = {"target": slo.objective}
    b = slo.budgeting
    if b.slice_objective is not None:
        objective["timeSliceTarget"] = b.slice_objective
    if b.sliced:
        objective["timeSliceWindow"] = shorthand(b.slice)
    return objective


def to_openslo(slos: Sequence[SLO]) -> list[Doc]:
    """The OpenSLO v1 documents of ``slos``: one SLO object each, then the notification
    target their alert policies name."""
    taken: set[str] = set()
    docs = [_slo_doc(slo, taken) for slo in slos]
    if any(slo.alerting.policy.tiers for slo in slos):
        docs.append(
            {
                "apiVersion": API_VERSION,
                "kind": "AlertNotificationTarget",
                "metadata": {"name": NOTIFICATION_TARGET},
                "spec": {
                    "description": "sloguard's routing file decides where alerts go",
                    "target": "sloguard",
                },
            }
        )
    return docs
