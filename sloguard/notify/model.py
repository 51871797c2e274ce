"""What flows through notify: the :class:`Notification` in, the :class:`Delivery` out, and the
:class:`Notifier` protocol between them. Pure.

A :class:`Notification` is one alert :class:`Transition` (``firing``, ``repeat`` — a reminder of
a still-firing alert —, ``resolved``, ``acknowledged`` — someone took the page —, or
``downgraded`` — the critical resolved while its warning still fires) of one SLO instance and
severity, addressed to one receiver. Its ``id`` is the idempotency key (the Standard
Webhooks ``webhook-id``): a retry or a redelivery after a restart carries the same id, so
receivers can drop duplicates.

The model holds values, not text: ``severity`` is :class:`~sloguard.slo.budget.Severity`,
``tiers`` are the budget's own :class:`~sloguard.slo.budget.TierResult` (the tiers that fired),
``burn_rates`` is keyed by window length in seconds. Windows become text (``1h``) only where
they are shown (:mod:`sloguard.notify.render`); the outbox JSON of :func:`to_dict` keeps seconds.
Alertmanager's two-valued ``status`` is derived (:attr:`Notification.status`).

Receivers never raise foreign exceptions (httpx, slack_sdk): they map every outcome to a
:class:`Delivery`. The outbox worker decides what happens next from it: ``ok`` (delivered;
``ref`` is the receiver's message reference, a Slack ``ts``, to keep), ``retry`` (later;
``after`` seconds when the receiver said, e.g. Retry-After), ``permanent`` (never retry;
``disable`` when the receiver is gone, e.g. 410).

Outbox JSON (:func:`to_dict` / :func:`from_dict`): ``from_dict`` also reads rows written before
0.2.0, which have ``status`` plus ``repeat`` instead of ``transition``, and tiers with
``threshold`` (and ``tier``, the name) instead of ``factor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol, runtime_checkable

from sloguard.durations import parse_duration
from sloguard.slo.budget import Severity, Tier, TierResult


class AlertStatus(StrEnum):
    """Alertmanager-compatible alert status (derived from a :class:`Transition`)."""

    FIRING = "firing"
    RESOLVED = "resolved"


class Transition(StrEnum):
    """What happened to an alert: the alert state machine emits it, a notification carries it."""

    FIRING = "firing"
    REPEAT = "repeat"  # a reminder of a still-firing alert
    RESOLVED = "resolved"
    #: someone acknowledged the still-firing alert (``annotations["acknowledged_by"]``)
    ACKNOWLEDGED = "acknowledged"
    #: the critical resolved while the warning it inhibited still fires: one update of the
    #: critical's messages instead of "critical resolved" plus a new "warning firing"; the
    #: notification is the warning's (``previous_fingerprint``: the critical's)
    DOWNGRADED = "downgraded"

    @property
    def status(self) -> AlertStatus:
        """Alertmanager's status: a repeat is still ``firing``."""
        return AlertStatus.RESOLVED if self is Transition.RESOLVED else AlertStatus.FIRING


@dataclass(frozen=True, slots=True)
class Notification:
    """One alert transition for one receiver, with the numbers that explain it."""

    id: str
    receiver: str
    transition: Transition
    fingerprint: str
    slo: str
    severity: Severity
    labels: Mapping[str, str]
    annotations: Mapping[str, str]
    starts_at: float
    ends_at: float | None  # None while firing
    objective: float
    sli: float | None = None
    budget_remaining: float | None = None
    time_to_exhaustion: float | None = None
    burn_rates: Mapping[float, float | None] = field(default_factory=dict)  # window s → burn
    tiers: tuple[TierResult, ...] = ()  # the tiers that fired
    runbook_url: str | None = None
    dashboard_url: str | None = None
    generator_url: str | None = None
    trace_ids: tuple[str, ...] = ()
    #: The web page of each of ``trace_ids`` (empty without an ``external_url``).
    trace_urls: tuple[str, ...] = ()
    #: ``downgraded``: the fingerprint of the critical alert that resolved (its messages are the
    #: ones this notification continues).
    previous_fingerprint: str | None = None
    #: When the incident began, if before ``starts_at``: the critical episode's start, on a
    #: ``downgraded`` and on the warning's later notifications of the same episode.
    incident_starts_at: float | None = None
    #: When the transition happened (the evaluation that decided it); None in older outboxes.
    at: float | None = None

    @property
    def thread(self) -> tuple[str, float]:
        """(fingerprint, start) of the episode whose message reference this notification uses:
        its own, but the critical's for a ``downgraded`` (it replies in the critical's thread).

        ``Notification(..., fingerprint="w", starts_at=5.0).thread`` is ``("w", 5.0)``.
        """
        if (
            self.transition is Transition.DOWNGRADED
            and self.previous_fingerprint is not None
            and self.incident_starts_at is not None
        ):
            return self.previous_fingerprint, self.incident_starts_at
        return self.fingerprint, self.starts_at

    @property
    def began(self) -> float:
        """When the incident began: ``incident_starts_at`` when earlier, else ``starts_at``."""
        if self.incident_starts_at is None:
            return self.starts_at
        return min(self.starts_at, self.incident_starts_at)

    @property
    def status(self) -> AlertStatus:
        """Alertmanager's ``firing`` / ``resolved`` (payloads)."""
        return self.transition.status

    @property
    def repeat(self) -> bool:
        """A reminder of a still-firing alert; kept while receivers move to ``transition``."""
        return self.transition is Transition.REPEAT

    @property
    def instance(self) -> dict[str, str]:
        """The labels that are neither alertname, slo nor severity."""
        return {k: v for k, v in self.labels.items() if k not in {"alertname", "slo", "severity"}}


def _tier_dict(t: TierResult) -> dict[str, object]:
    return {
        "severity": t.tier.severity.value, "long_window": t.tier.long_window,
        "short_window": t.tier.short_window, "factor": t.tier.factor,
        "long_burn": t.long_burn, "short_burn": t.short_burn,
        "firing": t.firing, "insufficient": t.insufficient,
    }  # fmt: skip


def _tier_from(d: Mapping[str, Any]) -> TierResult:
    factor = d["factor"] if "factor" in d else d["threshold"]  # "threshold" before 0.2.0
    tier = Tier(
        Severity(d["severity"]), float(d["long_window"]), float(d["short_window"]), float(factor)
    )
    return TierResult(
        tier, d.get("long_burn"), d.get("short_burn"),
        firing=bool(d.get("firing", True)), insufficient=bool(d.get("insufficient", False)),
    )  # fmt: skip


def _transition_from(d: Mapping[str, Any]) -> Transition:
    if "transition" in d:
        return Transition(d["transition"])
    # written before 0.2.0: Alertmanager's status plus a repeat flag
    return Transition.REPEAT if d.get("repeat") else Transition(d["status"])


def to_dict(n: Notification) -> dict[str, object]:
    """Serialise for the outbox (JSON-friendly; windows as ``1h``-style text)."""
    return {
        "id": n.id, "receiver": n.receiver, "transition": n.transition.value,
        "fingerprint": n.fingerprint, "slo": n.slo, "severity": n.severity.value,
        "labels": dict(n.labels), "annotations": dict(n.annotations),
        "starts_at": n.starts_at, "ends_at": n.ends_at, "objective": n.objective, "sli": n.sli,
        "budget_remaining": n.budget_remaining, "time_to_exhaustion": n.time_to_exhaustion,
        "burn_rates": {repr(float(w)): b for w, b in sorted(n.burn_rates.items())},
        "tiers": [_tier_dict(t) for t in n.tiers],
        "runbook_url": n.runbook_url, "dashboard_url": n.dashboard_url,
        "generator_url": n.generator_url, "trace_ids": list(n.trace_ids),
        "trace_urls": list(n.trace_urls), "previous_fingerprint": n.previous_fingerprint,
        "incident_starts_at": n.incident_starts_at, "at": n.at,
    }  # fmt: skip


def _window(key: str) -> float:
    """A window key of the outbox JSON: seconds (``"3600.0"``), or text (``"1h"``) before 0.2.0."""
    try:
        return float(key)
    except ValueError:
        return parse_duration(key)


def from_dict(d: Mapping[str, Any]) -> Notification:
    """Inverse of :func:`to_dict`; also reads what versions before 0.2.0 wrote."""
    return Notification(
        id=d["id"], receiver=d["receiver"], transition=_transition_from(d),
        fingerprint=d["fingerprint"], slo=d["slo"], severity=Severity(d["severity"]),
        labels=dict(d["labels"]), annotations=dict(d["annotations"]),
        starts_at=d["starts_at"], ends_at=d["ends_at"], objective=d["objective"],
        sli=d.get("sli"), budget_remaining=d.get("budget_remaining"),
        time_to_exhaustion=d.get("time_to_exhaustion"),
        burn_rates={_window(w): b for w, b in d.get("burn_rates", {}).items()},
        tiers=tuple(_tier_from(t) for t in d.get("tiers", [])),
        runbook_url=d.get("runbook_url"), dashboard_url=d.get("dashboard_url"),
        generator_url=d.get("generator_url"), trace_ids=tuple(d.get("trace_ids", [])),
        trace_urls=tuple(d.get("trace_urls", [])),  # absent in older outboxes
        previous_fingerprint=d.get("previous_fingerprint"),
        incident_starts_at=d.get("incident_starts_at"), at=d.get("at"),
    )  # fmt: skip


class Outcome(StrEnum):
    """How one delivery attempt ended."""

    OK = "ok"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The result of one attempt."""

    outcome: Outcome
    reason: str = ""
    after: float | None = None
    ref: str | None = None
    disable: bool = False

    @classmethod
    def ok(cls, ref: str | None = None) -> Delivery:
        """Delivered."""
        return cls(Outcome.OK, "delivered", ref=ref)

    @classmethod
    def retry(cls, reason: str, after: float | None = None) -> Delivery:
        """Try again later."""
        return cls(Outcome.RETRY, reason, after=after)

    @classmethod
    def permanent(cls, reason: str, *, disable: bool = False) -> Delivery:
        """Give up on this notification (and on the receiver when ``disable``)."""
        return cls(Outcome.PERMANENT, reason, disable=disable)


class Notifier(Protocol):
    """A receiver: delivers rendered notifications somewhere."""

    #: The receiver's configured name.
    name: str
    #: Seconds between two messages to the same destination (Slack: ~1 per channel).
    min_interval: float

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Deliver ``notification``; ``ref`` is the message reference of the alert's firing
        notification on this receiver (to thread or update a resolved message), if any."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@runtime_checkable
class DoubtAware(Protocol):
    """A notifier that can look for a notification before posting it again (Slack, which has
    no idempotency key). The outbox worker tells it about a notification another process may
    have delivered already (a replica whose claim ran out mid-delivery, or this daemon killed
    mid-send before a restart)."""

    def in_doubt(self, notification_id: str) -> None:
        """Look for ``notification_id`` at its next send before posting it."""
        ...
