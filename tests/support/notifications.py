"""Notifications for tests, built in one place: a renamed ``Notification`` field is fixed here.

Tests say what they vary in their own words (``transition="resolved"``, ``key=``, ``instance=``)
and never name a field of :class:`~sloguard.notify.model.Notification`. Not a test module::

    n = notification("firing", receiver="ops-hook", at=now)
    r = notification("resolved", receiver="ops-hook", at=now + 600)
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from sloguard.durations import HOUR, MINUTE
from sloguard.notify.model import Notification, Transition
from sloguard.slo.budget import Severity, Tier, TierResult

T0 = 1_767_323_045.0  # 2026-01-02T03:04:05Z
#: The idempotency key of a notification built without ``key=``.
DEFAULT_KEY = "9f2c1e4ab37d40c1"
#: How long before ``at`` a notification's alert started firing.
FIRING_FOR = 2 * MINUTE

Kind = Literal["firing", "repeat", "resolved", "acknowledged", "downgraded"]
#: The critical alert a ``downgraded`` notification continues, and how long before ``at`` it
#: began (a downgraded notification is the warning's; its own episode starts ``FIRING_FOR``
#: before ``at``).
PREVIOUS_FINGERPRINT = "c1c1c1c1c1c1c1c1"
CRITICAL_FOR = 30 * MINUTE


def notification(
    transition: Kind = "firing",
    *,
    key: str = DEFAULT_KEY,
    receiver: str = "test",
    slo: str = "checkout-availability",
    instance: Mapping[str, str] | None = None,
    at: float = T0,
    description: str = "billing burns its error budget",
) -> Notification:
    """One critical alert transition of ``slo`` (instance ``agent_name=billing`` by default).

    ``key`` is the idempotency key; ``at`` is when the transition happened: the alert started
    firing ``FIRING_FOR`` before it and, when resolved, ended at it. ``description`` is the
    alert's description annotation (receivers clip it to their limits). A ``downgraded`` is
    the warning's, continuing a critical (``PREVIOUS_FINGERPRINT``) that began ``CRITICAL_FOR``
    before ``at``.
    """
    down = transition == "downgraded"
    severity = Severity.WARNING if down else Severity.CRITICAL
    labels = {
        "alertname": "SLOBurn",
        "slo": slo,
        "severity": severity.value,
        **(instance if instance is not None else {"agent_name": "billing"}),
    }
    tier = Tier(Severity.CRITICAL, HOUR, 5 * MINUTE, 14.4)
    return Notification(
        id=key,
        receiver=receiver,
        transition=Transition(transition),
        fingerprint="5c0ffee5c0ffee55",
        slo=slo,
        severity=severity,
        labels=labels,
        annotations={"summary": f"{slo} burns its budget", "description": description},
        starts_at=at - FIRING_FOR,
        ends_at=at if transition == "resolved" else None,
        objective=0.999,
        sli=0.981,
        budget_remaining=0.62,
        time_to_exhaustion=2 * HOUR,
        burn_rates={HOUR: 18.0, 5 * MINUTE: 20.5},
        tiers=(TierResult(tier, 18.0, 20.5, firing=True, insufficient=False),),
        runbook_url="https://runbooks.example/checkout",
        generator_url=f"http://sloguard:9464/slos/{slo}",
        trace_ids=("4bf92f3577b34da6a3ce929d0e0e4736",),
        previous_fingerprint=PREVIOUS_FINGERPRINT if down else None,
        incident_starts_at=at - CRITICAL_FOR if down else None,
        at=at,
    )
