"""Compile SLOs into Prometheus rule files (Sloth-compatible naming). Pure.

The rules compute what the daemon decides, so alerting keeps working from Prometheus and
Alertmanager while sloguard is down. Per SLO there is one rule group (rules of a group run in
order at one timestamp, so the alerts always see this evaluation's recorded series):

``slo:sli_error:ratio_rate<W>`` (one per window W: every tier window, the period, and 5m)
    bad / total over W, per instance (the SLO's ``group_by`` labels), from
    :func:`sloguard.slo.promql.bad_and_total`, the very queries the daemon sends. An instance with
    events but no bad series has ratio 0, as in the daemon.
``slo:sli_total:increase<L>`` (one per tier long window L; a sloguard addition)
    the events in L: a tier is judged only with enough of them
    (:func:`sloguard.slo.budget.min_events_to_judge`), as in the daemon.
``slo:objective:ratio``, ``slo:error_budget:ratio``, ``slo:time_period:days``
    constants of the SLO.
``slo:current_burn_rate:ratio``, ``slo:period_burn_rate:ratio``
    error ratio / budget over 5 minutes (as Sloth) and over the period.
``slo:period_error_budget_remaining:ratio``
    ``1 - e(period) / budget``.
``sloth_slo_info``
    ``vector(1)`` naming the SLO, for Sloth's dashboards.

A time-slice SLO's window records count slices (:func:`sloguard.slo.timeslices.slice_parts`,
a subquery), as the daemon does. A calendar SLO's period cannot be a PromQL range: its period
records cover the nominal length, rolling (:mod:`sloguard.rules.budgetnotes` says so).

A second group per SLO, ``sloguard-<slo>/rates``, runs every 5 minutes (its own ``interval``,
whatever the global evaluation interval) and records the per-instance event rates from which
the daemon can read long windows (``prometheus.recorded_long_windows``):

``slo:sli_bad:rate5m``, ``slo:sli_total:rate5m``
    bad and total events per second over the last 5 minutes (:func:`sloguard.slo.promql.rate_exprs`;
    bad is 0, not absent, while an instance has no bad series), labels ``sloguard_slo`` and the
    SLO's ``group_by``. Events in a window W = ``sum_over_time(slo:sli_total:rate5m[W]) * 300``:
    one record per 5 minutes, each covering the 5 minutes before it.

Series labels (:mod:`sloguard.rules.sloth`): the SLO's spec labels, ``sloguard_slo`` (the SLO
name), ``sloth_slo``, ``sloth_service``, ``sloth_id`` (``<service>-<slo>``) so Sloth's dashboards
work, and for the window series ``window`` and ``sloth_window`` (``5m``, ``1h``, …).

Alerts: **one rule per severity** (``alert:`` the spec's ``alerting.name``, default ``SLOBurn``;
``for: 0m``), its tiers joined with ``or``; one tier is::

    max by (agent_name) (slo:sli_error:ratio_rate1h{sloguard_slo="x"} > (14.4 * 0.005))
    and on (agent_name)
    max by (agent_name) (slo:sli_error:ratio_rate5m{sloguard_slo="x"} > (14.4 * 0.005))
    and on (agent_name)
    max by (agent_name) (slo:sli_total:increase1h{sloguard_slo="x"} >= 50)

One rule per severity gives each SLO instance exactly the daemon's alerts: one ``SLOBurn`` per
severity with the labels ``slo``, ``severity``, the instance labels and the SLO's alerting
labels (``max by`` drops the recording labels), plus ``sloth_severity``, the ``sloth_*``
identity and ``sloguard_source="rules"`` (so Alertmanager never merges the rules' alert with the
daemon's), and the daemon's annotations (``summary``,
``description``, the SLO's annotations, ``runbook_url``, ``dashboard_url``). One rule per tier
would raise duplicate alerts with identical labels whenever two tiers of a severity fire.

What Prometheus cannot copy from the daemon: a critical inhibiting the warning of the same
instance is Alertmanager's job (an ``inhibit_rules`` entry on ``alertname``, ``slo`` and the
instance labels); and an alert resolves when the data stops (or drops under the events a tier
needs), where the daemon holds it through ``no_data``, ``insufficient_events`` and ``error``.
With a Prometheus source the daemon sends these same ``bad_and_total`` queries, so both judge
the same numbers; the tests compare the rules with the embedded source via ``simulate``.

Example::

    groups = compile_groups(slos)
    text = render(rule_file(groups), header("slos.yaml"))
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import yaml

from sloguard.durations import DAY, format_duration
from sloguard.rules.sloth import (
    INFO,
    L_SLOTH_WINDOW,
    L_WINDOW,
    SERIES_LABELS,
    RuleOptions,
    alert_labels,
    info_labels,
    record_labels,
    slo_labels,
)
from sloguard.slo.budget import Severity, Tier, min_events_to_judge
from sloguard.slo.promql import (
    BAD_RATE,
    RATE_INTERVAL,
    SLO_LABEL,
    TOTAL_RATE,
    bad_and_total,
    escape,
    rate_exprs,
)
from sloguard.slo.spec import SLO
from sloguard.slo.timeslices import slice_parts

__all__ = [
    "BUDGET_REMAINING",
    "CURRENT_BURN",
    "ERROR_BUDGET",
    "HEADER",
    "OBJECTIVE",
    "PERIOD_BURN",
    "SERIES_LABELS",
    "TIME_PERIOD",
    "RuleOptions",
    "alert_annotations",
    "alert_labels",
    "compile_group",
    "compile_groups",
    "compile_rate_group",
    "header",
    "prometheus_rule",
    "ratio_record",
    "render",
    "rule_file",
    "slo_labels",
    "tier_condition",
    "total_record",
]

HEADER = "generated by sloguard rules — do not edit"
L_SLO = SLO_LABEL
#: Sloth records every SLO's error ratio over 5 minutes; its current burn rate reads it.
CURRENT_WINDOW = 300.0

OBJECTIVE = "slo:objective:ratio"
ERROR_BUDGET = "slo:error_budget:ratio"
TIME_PERIOD = "slo:time_period:days"
CURRENT_BURN = "slo:current_burn_rate:ratio"
PERIOD_BURN = "slo:period_burn_rate:ratio"
BUDGET_REMAINING = "slo:period_error_budget_remaining:ratio"
Doc = dict[str, Any]


def ratio_record(window: float) -> str:
    """``slo:sli_error:ratio_rate1h`` for a window of 3600 s."""
    return f"slo:sli_error:ratio_rate{format_duration(window)}"


def total_record(window: float) -> str:
    """``slo:sli_total:increase1h`` for a window of 3600 s."""
    return f"slo:sli_total:increase{format_duration(window)}"


def number(value: float) -> str:
    """A float as PromQL reads it back exactly (``14.4``, ``0.0050000000000000044``, ``50``)."""
    if math.isfinite(value) and value == int(value) and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def _select(metric: str, slo: SLO) -> str:
    return f'{metric}{{{L_SLO}="{escape(slo.name)}"}}'


def _by(slo: SLO) -> str:
    return f"by ({', '.join(slo.group_by)}) " if slo.group_by else ""


def _on(slo: SLO) -> str:
    return f"on ({', '.join(slo.group_by)})"


def _indent(text: str, spaces: int = 2) -> str:
    return "\n".join(" " * spaces + line for line in text.splitlines())


def _parts(slo: SLO, window: float) -> tuple[str, str]:
    """(bad, total) over ``window``: events, or a time-slice SLO's slices (a subquery)."""
    return slice_parts(slo, window) if slo.budgeting.sliced else bad_and_total(slo, window)


def ratio_expr(slo: SLO, window: float) -> str:
    """bad / total over ``window`` per instance; no bad series counts as 0 bad events."""
    bad, total = _parts(slo, window)
    return f"(\n  {bad}\n  or\n  0 * {total}\n)\n/\n{total}"


def tier_condition(slo: SLO, tier: Tier) -> str:
    """PromQL that returns one series per instance (its ``group_by`` labels) while ``tier``
    fires: both windows' error ratios above ``F * b`` and enough events in the long window."""
    above = f"({number(tier.factor)} * {number(slo.error_budget)})"
    need = min_events_to_judge(tier, slo.objective, slo.min_events)
    parts = [
        f"max {_by(slo)}({_select(ratio_record(tier.long_window), slo)} > {above})",
        f"max {_by(slo)}({_select(ratio_record(tier.short_window), slo)} > {above})",
        f"max {_by(slo)}({_select(total_record(tier.long_window), slo)} >= {number(need)})",
    ]
    return f"\nand {_on(slo)}\n".join(parts)


def _alert_expr(slo: SLO, tiers: Sequence[Tier]) -> str:
    return "\nor\n".join(f"(\n{_indent(tier_condition(slo, t))}\n)" for t in tiers)


def _template_safe(text: str) -> str:
    """Keep Prometheus from reading ``{{`` in SLO text as a Go template action."""
    return text.replace("{{", '{{ "{{" }}')


def alert_annotations(slo: SLO, *, template_safe: bool = True) -> dict[str, str]:
    """The daemon's annotations of a firing alert (:mod:`sloguard.alerting.center`); with
    ``template_safe`` as written into a rule, without as Prometheus expands them."""
    summary = (
        f"SLO {slo.name} ({slo.objective:.3%} over {format_duration(slo.period)}) "
        "is burning its error budget"
    )
    notes = {"summary": summary, "description": slo.description or summary}
    notes.update(slo.alerting.annotations)
    if slo.alerting.runbook:
        notes["runbook_url"] = slo.alerting.runbook
    if slo.alerting.dashboard:
        notes["dashboard_url"] = slo.alerting.dashboard
    return {k: _template_safe(v) if template_safe else v for k, v in sorted(notes.items())}


def _check(slo: SLO) -> None:
    clash = sorted(SERIES_LABELS.intersection(slo.group_by))
    if clash:
        raise ValueError(
            f"SLO {slo.name!r}: group_by uses {', '.join(clash)}, which the rules set themselves"
        )


def _records(slo: SLO, options: RuleOptions) -> list[Doc]:
    longs = {t.long_window for t in slo.alerting.policy.tiers}
    rules: list[Doc] = []
    for window in sorted(slo.windows() | {CURRENT_WINDOW}):
        labels = record_labels(slo, options, format_duration(window))
        rules.append(
            {"record": ratio_record(window), "expr": ratio_expr(slo, window), "labels": labels}
        )
        if window in longs:
            _, total = _parts(slo, window)
            rules.append({"record": total_record(window), "expr": total, "labels": labels})
    return rules


def _metadata(slo: SLO, options: RuleOptions) -> list[Doc]:
    labels = record_labels(slo, options)
    budget = number(slo.error_budget)
    strip = f"max without ({L_SLOTH_WINDOW}, {L_WINDOW})"
    rules: list[Doc] = [
        {"record": OBJECTIVE, "expr": f"vector({number(slo.objective)})", "labels": labels},
        {"record": ERROR_BUDGET, "expr": f"vector({budget})", "labels": labels},
        {"record": TIME_PERIOD, "expr": f"vector({number(slo.period / DAY)})", "labels": labels},
    ]
    current = f"{strip} ({_select(ratio_record(CURRENT_WINDOW), slo)}) / {budget}"
    rules.append({"record": CURRENT_BURN, "expr": current, "labels": labels})
    period = f"{strip} ({_select(ratio_record(slo.period), slo)}) / {budget}"
    rules.append({"record": PERIOD_BURN, "expr": period, "labels": labels})
    remaining = f"1 - {_select(PERIOD_BURN, slo)}"
    rules.append({"record": BUDGET_REMAINING, "expr": remaining, "labels": labels})
    rules.append({"record": INFO, "expr": "vector(1)", "labels": info_labels(slo, options)})
    return rules


def _alerts(slo: SLO, options: RuleOptions) -> list[Doc]:
    rules: list[Doc] = []
    for severity in (Severity.CRITICAL, Severity.WARNING):
        tiers = sorted(
            (t for t in slo.alerting.policy.tiers if t.severity is severity),
            key=lambda t: (t.long_window, t.short_window, t.factor),
        )
        if not tiers:
            continue
        rules.append(
            {
                "alert": slo.alerting.name,
                "expr": _alert_expr(slo, tiers),
                "for": "0m",
                "labels": alert_labels(slo, severity, options),
                "annotations": alert_annotations(slo),
            }
        )
    return rules


def compile_group(slo: SLO, options: RuleOptions | None = None) -> Doc:
    """The rule group of one SLO: window records, metadata records, then the alerts."""
    _check(slo)
    options = options or RuleOptions()
    rules = _records(slo, options) + _metadata(slo, options) + _alerts(slo, options)
    return {"name": f"sloguard-{slo.name}", "rules": rules}


def compile_rate_group(slo: SLO) -> Doc:
    """The rate records of one SLO, in their own group evaluated every ``RATE_INTERVAL``."""
    _check(slo)
    bad, total = rate_exprs(slo)
    labels = {L_SLO: slo.name}
    return {
        "name": f"sloguard-{slo.name}/rates",
        "interval": format_duration(RATE_INTERVAL),
        "rules": [
            {"record": BAD_RATE, "expr": bad, "labels": labels},
            {"record": TOTAL_RATE, "expr": total, "labels": labels},
        ],
    }


def compile_groups(slos: Iterable[SLO], options: RuleOptions | None = None) -> list[Doc]:
    """Two groups per SLO (windows and alerts; rates), sorted by SLO name."""
    ordered = sorted(slos, key=lambda s: s.name)
    return [g for s in ordered for g in (compile_group(s, options), compile_rate_group(s))]


def rule_file(groups: Sequence[Doc]) -> Doc:
    """A Prometheus rule file (``rule_files:`` of prometheus.yml)."""
    return {"groups": list(groups)}


def prometheus_rule(
    groups: Sequence[Doc], name: str, labels: Mapping[str, str] | None = None
) -> Doc:
    """The groups as a prometheus-operator ``PrometheusRule`` resource."""
    meta_labels = {"app.kubernetes.io/managed-by": "sloguard", **(labels or {})}
    return {
        "apiVersion": "monitoring.coreos.com/v1",
        "kind": "PrometheusRule",
        "metadata": {"name": name, "labels": dict(sorted(meta_labels.items()))},
        "spec": {"groups": list(groups)},
    }


def header(source: str, *lines: str) -> str:
    """The comment block at the top of every generated file."""
    body = [HEADER, f"source: {source}", *lines]
    return "".join(f"# {line}\n" if line else "#\n" for line in body)


class _Dumper(yaml.SafeDumper):
    """Block style, multi-line strings as ``|-`` literals, keys in insertion order, no aliases."""

    def ignore_aliases(self, data: Any) -> bool:
        return True

    def increase_indent(self, flow: bool = False, indentless: bool = False) -> None:
        super().increase_indent(flow, False)  # indent list items under their key


def _str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _str)


def render(doc: Any, head: str = "") -> str:
    """YAML text of ``doc`` after ``head``: deterministic (insertion order, no line folding)."""
    body = yaml.dump(
        doc,
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        default_flow_style=False,
        width=1_000_000,
    )
    return f"{head}---\n{body}" if head else body
