"""The labels of the compiled rules in Sloth's vocabulary, for Sloth's dashboards and UI. Pure.

What Sloth (``sloth generate``) writes, and so do we:

- every recorded series carries the SLO's spec labels (``labels:`` of the SLO) and ``sloth_id``
  (``<service>-<slo>``), ``sloth_service``, ``sloth_slo``; window series also ``sloth_window``;
- a ``sloth_slo_info`` series (``vector(1)``) per SLO with those labels plus ``sloth_mode``,
  ``sloth_spec`` and ``sloth_version``;
- alerts named from the spec (``alerting.name``, default ``SLOBurn``) carrying the spec and
  alerting labels, the ``sloth_*`` identity and ``sloth_severity``: ``page`` for sloguard's
  ``critical`` tiers, ``ticket`` for ``warning``. With :attr:`RuleOptions.sloth_severity` the
  ``severity`` label itself is written as ``page`` / ``ticket`` too, for Alertmanager routes
  written for Sloth.

Beyond Sloth: ``sloguard_slo`` on every series (the daemon's recorded-rate queries select by it),
and ``sloguard_source="rules"`` on every alert. The daemon posts the same ``SLOBurn`` alerts
without that label, so an Alertmanager receiving both keeps them apart (one from Prometheus, one
from sloguard) instead of merging two senders into one alert whose ``startsAt`` and
``generatorURL`` depend on who posted last; the daemon's label sets (and so its fingerprints and
stored alert states) are unchanged. To page once, inhibit the rules' alert while the daemon's
fires (``README``: "Rules and daemon side by side").

Example::

    options = RuleOptions(service="checkout", sloth_severity=True)
    alert_labels(slo, Severity.CRITICAL, options)["severity"]  # "page"
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from sloguard.slo.budget import Severity
from sloguard.slo.promql import SLO_LABEL
from sloguard.slo.spec import SLO

__all__ = [
    "DEFAULT_SERVICE",
    "INFO",
    "L_SLOTH_ID",
    "L_SLOTH_SERVICE",
    "L_SLOTH_SEVERITY",
    "L_SLOTH_SLO",
    "L_SLOTH_WINDOW",
    "L_WINDOW",
    "SERIES_LABELS",
    "SLOTH_SEVERITIES",
    "SOURCE",
    "SOURCE_LABEL",
    "RuleOptions",
    "alert_labels",
    "info_labels",
    "record_labels",
    "slo_labels",
]

DEFAULT_SERVICE = "sloguard"
INFO = "sloth_slo_info"
L_WINDOW = "window"
L_SLOTH_SLO = "sloth_slo"
L_SLOTH_ID = "sloth_id"
L_SLOTH_SERVICE = "sloth_service"
L_SLOTH_WINDOW = "sloth_window"
L_SLOTH_SEVERITY = "sloth_severity"
SOURCE_LABEL = "sloguard_source"
SOURCE = "rules"
#: sloguard's severities as Sloth names its two alerts.
SLOTH_SEVERITIES: Mapping[Severity, str] = {Severity.CRITICAL: "page", Severity.WARNING: "ticket"}
#: Labels the rules put on every series; an SLO may not group by them.
SERIES_LABELS = frozenset(
    {SLO_LABEL, L_WINDOW, L_SLOTH_SLO, L_SLOTH_ID, L_SLOTH_SERVICE, L_SLOTH_WINDOW}
)


@dataclass(frozen=True, slots=True)
class RuleOptions:
    """How the rules label what they write: the ``sloth_service`` and the severity values."""

    service: str = DEFAULT_SERVICE
    sloth_severity: bool = False  # write severity as page/ticket (Sloth's) instead of ours


def slo_labels(slo: SLO, service: str = DEFAULT_SERVICE) -> dict[str, str]:
    """The labels naming ``slo`` on every recorded series."""
    return {
        SLO_LABEL: slo.name,
        L_SLOTH_ID: f"{service}-{slo.name}",
        L_SLOTH_SERVICE: service,
        L_SLOTH_SLO: slo.name,
    }


def _spec_labels(slo: SLO) -> dict[str, str]:
    """The SLO's spec labels, except those its instances carry (the series' own win)."""
    return {k: v for k, v in slo.labels.items() if k not in slo.group_by}


def record_labels(slo: SLO, options: RuleOptions, window: str | None = None) -> dict[str, str]:
    """The static labels of a recording rule of ``slo`` (a window's, when ``window`` is given)."""
    labels = {**_spec_labels(slo), **slo_labels(slo, options.service)}
    if window is not None:
        labels.update({L_WINDOW: window, L_SLOTH_WINDOW: window})
    return dict(sorted(labels.items()))


def info_labels(slo: SLO, options: RuleOptions) -> dict[str, str]:
    """The labels of ``sloth_slo_info`` (no version: the output must not change with it)."""
    extra = {"sloth_mode": "cli-gen-prom", "sloth_spec": "sloguard/v1", "sloth_version": "sloguard"}
    return dict(sorted({**record_labels(slo, options), **extra}.items()))


def alert_labels(
    slo: SLO, severity: Severity, options: RuleOptions | None = None
) -> dict[str, str]:
    """The rule labels of a severity's alert: the daemon's label set minus the instance labels
    (those come from the series; the daemon lets them win over the SLO's labels, so do we),
    plus the ``sloth_*`` identity, ``sloth_severity`` and ``sloguard_source``."""
    options = options or RuleOptions()
    sloth = SLOTH_SEVERITIES[severity]
    labels = {k: v for k, v in slo.alerting.labels.items() if k not in slo.group_by}
    ident = {k: v for k, v in slo_labels(slo, options.service).items() if k != SLO_LABEL}
    ours = {
        "slo": slo.name,
        "severity": sloth if options.sloth_severity else severity.value,
        L_SLOTH_SEVERITY: sloth,
        SOURCE_LABEL: SOURCE,
    }
    return dict(sorted({**labels, **ident, **ours}.items()))
