"""sloguard SLOs → a Sloth ``prometheus/v1`` spec (``sloguard convert --to sloth``). Pure.

One sloguard file becomes one Sloth document, one service: the service is the part of the SLO
names before their first ``-`` when every name shares it (``checkout-availability`` →
service ``checkout``, SLO ``availability``), else ``sloguard`` (or the ``service`` given).
Reading the result back (:mod:`sloguard.slo.peers.sloth`) names each SLO ``<service>-<name>``
again, so names round-trip whenever the service is their shared prefix.

Each SLO's indicator becomes ``sli.events`` with exactly the PromQL sloguard runs for it
(:func:`sloguard.slo.promql.bad_and_total`, ``{{.window}}`` in place of the window), so built-in
kinds (``success_rate``, ``latency``, …) and ``kind: ratio`` evaluate the same in Sloth and after
the round trip. The objective is written in percent; labels, annotations, ``runbook`` and
``dashboard`` (as annotations) go under ``alerting``; the policy becomes Sloth's page (critical)
and ticket (warning) alerts.

What a Sloth spec cannot say is a :class:`~sloguard.errors.ConfigError` listing every such SLO
at its source line: a period other than Sloth's 30 days, a policy other than sloguard's default
(or its critical or warning half alone, written with the other alert disabled), ``group_by``
(Sloth's queries must return one series), and ``min_events``.

Example::

    spec = to_sloth(load_slo_file("config/slos.yaml").slos)
    spec["slos"][0]["sli"]["events"]["error_query"]
    # 'sum(increase(agent_calls_total{status="error"}[{{.window}}]))'
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sloguard.durations import DAY, format_duration
from sloguard.errors import ConfigError, Problem
from sloguard.slo.budget import Policy, Severity, default_policy
from sloguard.slo.promql import bad_and_total
from sloguard.slo.spec import SLO

__all__ = ["DEFAULT_SERVICE", "SLOTH_VERSION", "sloth_service", "sloth_slo_name", "to_sloth"]

SLOTH_VERSION = "prometheus/v1"
DEFAULT_SERVICE = "sloguard"
#: Sloth's default SLO period (``--default-slo-period``); its spec has no period field.
SLOTH_PERIOD = 30 * DAY
ALERT_NAME = "SLOBurn"
#: A window no SLO uses, rendered and then replaced by Sloth's ``{{.window}}``.
_SENTINEL = 1_234_567.0
_WINDOW = "{{.window}}"


def sloth_service(slos: Sequence[SLO]) -> str:
    """The service of a Sloth spec for ``slos``: their names' shared first ``-`` part."""
    heads = {s.name.split("-", 1)[0] for s in slos if "-" in s.name.strip("-")}
    if len(heads) == 1 and all(s.name.startswith(f"{next(iter(heads))}-") for s in slos):
        return next(iter(heads))
    return DEFAULT_SERVICE


def sloth_slo_name(name: str, service: str) -> str:
    """The Sloth SLO name of sloguard SLO ``name`` in ``service``: ``name`` without the
    ``<service>-`` prefix (so Sloth's id ``<service>-<slo>`` is ``name`` again)."""
    return name[len(service) + 1 :] if name.startswith(f"{service}-") else name


def to_sloth(slos: Sequence[SLO], service: str | None = None) -> dict[str, Any]:
    """A Sloth ``prometheus/v1`` document for ``slos``; raise :class:`ConfigError` listing what
    it cannot represent."""
    service = service or sloth_service(slos)
    problems: list[Problem] = []
    out = [_slo(slo, i, service, problems) for i, slo in enumerate(slos)]
    if problems:
        raise ConfigError(problems)
    return {"version": SLOTH_VERSION, "service": service, "slos": out}


def _slo(slo: SLO, i: int, service: str, problems: list[Problem]) -> dict[str, Any]:
    def problem(field: str, message: str) -> None:
        where = f"slos[{i}].{field}" if field else f"slos[{i}]"
        problems.append(Problem(slo.source_file, slo.source_line, where, f"{slo.name}: {message}"))

    name = sloth_slo_name(slo.name, service)
    if slo.period != SLOTH_PERIOD:
        problem(
            "period",
            f"period {format_duration(slo.period)} cannot be written to Sloth: a Sloth spec has "
            "no period (every SLO uses sloth's --default-slo-period, 30d by default); use 30d",
        )
    if slo.group_by:
        problem(
            "group_by",
            "group_by cannot be written to Sloth: Sloth's queries return one series per SLO; "
            "write one SLO per label value, or drop group_by",
        )
    if slo.min_events:
        problem("min_events", "min_events cannot be written to Sloth (it has no such guard)")
    alerts = _alerts(slo.alerting.policy, slo.objective)
    scaled = slo.alerting.policy.name == "default" and slo.period != SLOTH_PERIOD
    if alerts is None and not scaled:  # the default policy at another period: said above
        problem(
            "alerting.policy",
            f"policy {slo.alerting.policy.name!r} cannot be written to Sloth: Sloth's alerts "
            "are sloguard's default policy at 30d (page = its critical tiers, ticket = its "
            "warning tiers); use the default policy",
        )
    bad, total = (
        q.replace(format_duration(_SENTINEL), _WINDOW) for q in bad_and_total(slo, _SENTINEL)
    )
    out: dict[str, Any] = {"name": name, "objective": round(slo.objective * 100, 10)}
    if slo.description:
        out["description"] = slo.description
    out["sli"] = {"events": {"error_query": bad, "total_query": total}}
    out["alerting"] = _alerting(slo, alerts or {})
    return out


def _alerts(policy: Policy, objective: float) -> dict[str, Any] | None:
    """Sloth's page and ticket alerts for ``policy``, or None when Sloth cannot say it."""
    default = [t for t in default_policy(SLOTH_PERIOD).tiers if t.factor * (1 - objective) < 1]
    tiers = list(policy.tiers)
    halves = {
        sev: [t for t in default if t.severity is sev]
        for sev in (Severity.CRITICAL, Severity.WARNING)
    }
    page = {"labels": {"severity": Severity.CRITICAL.value}}
    ticket = {"labels": {"severity": Severity.WARNING.value}}
    if tiers == default:
        return {"page_alert": page, "ticket_alert": ticket}
    if tiers == halves[Severity.CRITICAL]:
        return {"page_alert": page, "ticket_alert": {"disable": True}}
    if tiers == halves[Severity.WARNING]:
        return {"page_alert": {"disable": True}, "ticket_alert": ticket}
    return None


def _alerting(slo: SLO, alerts: dict[str, Any]) -> dict[str, Any]:
    alerting: dict[str, Any] = {"name": ALERT_NAME}
    if slo.alerting.labels:
        alerting["labels"] = dict(slo.alerting.labels)
    notes = dict(slo.alerting.annotations)
    if slo.alerting.runbook:
        notes["runbook"] = slo.alerting.runbook
    if slo.alerting.dashboard:
        notes["dashboard"] = slo.alerting.dashboard
    if notes:
        alerting["annotations"] = notes
    return {**alerting, **alerts}
