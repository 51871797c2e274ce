"""The one notification model every receiver renders from. Pure.

A :class:`Notification` is one alert transition (``firing`` or ``resolved``, or a repeat of a
firing alert) of one SLO instance and severity, addressed to one receiver. Its ``id`` is the
idempotency key (the Standard Webhooks ``webhook-id``): a retry or a redelivery after a restart
carries the same id, so receivers can drop duplicates.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class AlertStatus(StrEnum):
    """Alertmanager-compatible alert status."""

    FIRING = "firing"
    RESOLVED = "resolved"


@dataclass(frozen=True, slots=True)
class FiredTier:
    """A tier whose windows both burn faster than its threshold."""

    severity: str
    tier: str  # "1h/5m"
    long_window: float
    short_window: float
    threshold: float  # burn rate F
    long_burn: float | None
    short_burn: float | None


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert transition for one receiver, with the numbers that explain it."""

    id: str
    receiver: str
    status: AlertStatus
    fingerprint: str
    slo: str
    severity: str
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float | None  # None while firing
    objective: float
    sli: float | None = None
    budget_remaining: float | None = None
    time_to_exhaustion: float | None = None
    burn_rates: Mapping[str, float | None] = field(default_factory=dict)
    tiers: tuple[FiredTier, ...] = ()
    runbook_url: str | None = None
    dashboard_url: str | None = None
    generator_url: str | None = None
    trace_ids: tuple[str, ...] = ()
    #: The web page of each of ``trace_ids`` (empty without an ``external_url``).
    trace_urls: tuple[str, ...] = ()
    repeat: bool = False  # a reminder of a still-firing alert

    @property
    def instance(self) -> dict[str, str]:
        """The labels that are neither alertname, slo nor severity."""
        return {k: v for k, v in self.labels.items() if k not in {"alertname", "slo", "severity"}}


def to_dict(n: Notification) -> dict[str, object]:
    """Serialise for the outbox (JSON-friendly)."""
    return {
        "id": n.id, "receiver": n.receiver, "status": n.status.value,
        "fingerprint": n.fingerprint, "slo": n.slo, "severity": n.severity,
        "labels": dict(n.labels), "annotations": dict(n.annotations),
        "starts_at": n.starts_at, "ends_at": n.ends_at, "objective": n.objective, "sli": n.sli,
        "budget_remaining": n.budget_remaining, "time_to_exhaustion": n.time_to_exhaustion,
        "burn_rates": dict(n.burn_rates),
        "tiers": [
            {"severity": t.severity, "tier": t.tier, "long_window": t.long_window,
             "short_window": t.short_window, "threshold": t.threshold,
             "long_burn": t.long_burn, "short_burn": t.short_burn}
            for t in n.tiers
        ],
        "runbook_url": n.runbook_url, "dashboard_url": n.dashboard_url,
        "generator_url": n.generator_url, "trace_ids": list(n.trace_ids),
        "trace_urls": list(n.trace_urls), "repeat": n.repeat,
    }  # fmt: skip


def from_dict(d: Mapping[str, Any]) -> Notification:
    """Inverse of :func:`to_dict`."""
    raw = dict(d)
    tiers = tuple(FiredTier(**t) for t in raw.pop("tiers", []))
    trace_ids = tuple(raw.pop("trace_ids", []))
    trace_urls = tuple(raw.pop("trace_urls", []))  # absent in outboxes written before 0.x
    status = AlertStatus(raw.pop("status"))
    return Notification(
        status=status, tiers=tiers, trace_ids=trace_ids, trace_urls=trace_urls, **raw
    )
