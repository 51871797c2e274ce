"""One alert event for one receiver → the :class:`~sloguard.notify.model.Notification` that
carries it, with the numbers that explain it. Pure.

:func:`slo_notification` writes an SLO alert's (summary, annotations, the tiers of its severity,
burn rates, failing traces and their pages); :func:`self_notification` one of sloguard's alerts
about itself. A notification's id is the event's id and the receiver's, so a receiver sees the
same id for the same transition however often it is sent (its idempotency key).

Example::

    n = slo_notification(event, result, "slack", evidence=("4bf92f35",),
                         external_url="https://sloguard.example.com")
    n.trace_urls   # ('https://sloguard.example.com/ui/#/traces/4bf92f35',)
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from urllib.parse import quote

from sloguard.alerting.selfcheck import SelfAlert, summary
from sloguard.alerting.state import NO_DATA_ALERT, AlertEvent
from sloguard.durations import format_duration
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.model import Notification, Transition

__all__ = ["notification_id", "self_notification", "slo_notification", "trace_page"]


def trace_page(external_url: str, trace_id: str) -> str:
    """The web page of a stored trace under the daemon's ``external_url``.

    ``trace_page("https://sloguard.example.com", "4bf92f35")`` is
    ``'https://sloguard.example.com/ui/#/traces/4bf92f35'``.
    """
    return f"{external_url.rstrip('/')}/ui/#/traces/{quote(trace_id, safe='')}"


def notification_id(event: AlertEvent, receiver: str) -> str:
    """The idempotency key of ``event`` for ``receiver``."""
    return hashlib.sha256(f"{event.id}|{receiver}".encode()).hexdigest()[:32]


def _summary(event: AlertEvent, r: InstanceResult) -> str:
    slo = r.slo
    head = f"SLO {slo.name} ({slo.objective:.3%} over {format_duration(slo.period)}) "
    if event.transition is Transition.RESOLVED:
        return head + "is back within budget"
    if event.transition is Transition.DOWNGRADED:
        return head + "is no longer critical but still burning its error budget"
    return head + "is burning its error budget"


def slo_notification(
    event: AlertEvent,
    r: InstanceResult,
    receiver: str,
    evidence: Sequence[str] = (),
    external_url: str | None = None,
) -> Notification:
    """The notification of an SLO alert's ``event`` for ``receiver``; ``evidence`` are ids of
    failing traces (linked under ``external_url`` when it is set)."""
    ev, slo = r.evaluation, r.slo
    resolved = event.transition is Transition.RESOLVED
    text = _summary(event, r)
    annotations = {"summary": text, "description": slo.description or text}
    annotations.update(slo.alerting.annotations)
    if slo.alerting.runbook:
        annotations["runbook_url"] = slo.alerting.runbook
    if slo.alerting.dashboard:
        annotations["dashboard_url"] = slo.alerting.dashboard
    tiers = tuple(
        t
        for t in ev.firing
        if t.tier.severity is event.severity or event.labels["alertname"] == NO_DATA_ALERT
    )
    return Notification(
        id=notification_id(event, receiver),
        receiver=receiver,
        transition=event.transition,
        fingerprint=event.fingerprint,
        slo=slo.name,
        severity=event.severity,
        labels=dict(event.labels),
        annotations=annotations,
        starts_at=event.started_at,
        ends_at=event.at if resolved else None,
        objective=slo.objective,
        sli=ev.sli,
        budget_remaining=ev.budget_remaining,
        time_to_exhaustion=ev.time_to_exhaustion,
        burn_rates=dict(sorted(ev.burn_rates.items())),
        tiers=tiers,
        runbook_url=slo.alerting.runbook,
        dashboard_url=slo.alerting.dashboard,
        generator_url=f"{external_url}/api/v1/slos?slo={slo.name}" if external_url else None,
        trace_ids=tuple(evidence),
        trace_urls=tuple(trace_page(external_url, t) for t in evidence) if external_url else (),
        previous_fingerprint=event.previous_fingerprint,
        incident_starts_at=event.incident_started_at,
        at=event.at,
    )


def self_notification(
    event: AlertEvent, alert: SelfAlert | None, receiver: str, external_url: str | None = None
) -> Notification:
    """The notification of one of sloguard's alerts about itself (``alert``: its current
    finding, None when it no longer holds)."""
    labels = dict(event.labels)
    resolved = event.transition is Transition.RESOLVED
    text = summary(labels) + (" (resolved)" if resolved else "")
    description = text if alert is None or resolved else alert.description
    return Notification(
        id=notification_id(event, receiver),
        receiver=receiver,
        transition=event.transition,
        fingerprint=event.fingerprint,
        slo=labels.get("slo", "sloguard"),
        severity=event.severity,
        labels=labels,
        annotations={"summary": text, "description": description},
        starts_at=event.started_at,
        ends_at=event.at if resolved else None,
        objective=0.0,
        generator_url=f"{external_url}/api/v1/alerts" if external_url else None,
        at=event.at,
    )
