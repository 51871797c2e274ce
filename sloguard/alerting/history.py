"""When an SLO instance's alerts fired and resolved: read-only queries of the alert store.

The store keeps no separate log of transitions; this module reads what it does keep, without
writing anything:

1. the outbox: every ``firing``, ``resolved`` and ``downgraded`` (a critical resolving while its
   warning fires on) notification (one per receiver, counted once),
   kept for :data:`~sloguard.alerting.runtime.OUTBOX_RETENTION` after delivery;
2. the suppressed events: transitions recorded but not sent (silenced, acknowledged);
3. the alert states: a firing alert's start, for an episode announced (not an inhibited
   warning) whose notification is not in the outbox (no receiver routes it, or it was pruned).

So a moment is missing when its alert reached no receiver and is no longer firing, or when its
record was pruned. :func:`moments` is the pure part (rows in, moments out); :func:`alert_moments`
reads the rows of one instance from a :class:`~sloguard.alerting.storebase.AlertStore`.

Example::

    for m in alert_moments(store, SLOInstance.of("availability", {"agent_name": "billing"}),
                           start=now - 86400, end=now):
        print(m.at, m.kind, m.severity)        # 1767225600.0 fired critical
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sloguard.alerting.state import AlertState
from sloguard.notify.model import Notification, Transition, from_dict
from sloguard.slo.budget import Severity
from sloguard.slo.spec import SLOInstance

if TYPE_CHECKING:  # the page's pure chart imports the moments: no SQLite at run time
    from sloguard.alerting.storebase import AlertStore

__all__ = ["FIRED", "MAX_ROWS", "RESOLVED", "AlertMoment", "alert_moments", "moments"]

FIRED = "fired"
RESOLVED = "resolved"
#: The most rows one query reads from each table (a request's cost stays bounded).
MAX_ROWS = 2000
_KINDS = {"firing": FIRED, "resolved": RESOLVED}


@dataclass(frozen=True, slots=True)
class AlertMoment:
    """One alert firing or resolving at ``at``."""

    at: float
    kind: str  # FIRED or RESOLVED
    severity: str
    alertname: str
    fingerprint: str
    #: why it was recorded but not sent (``"silenced"``, ``"acknowledged"``); ``""``: sent
    suppressed: str = ""


def _matches(labels: Mapping[str, str], instance: SLOInstance) -> bool:
    return labels.get("slo") == instance.slo and all(labels.get(k) == v for k, v in instance.labels)


def _sent_moments(n: Notification) -> list[tuple[str, str, str]]:
    """(fingerprint, kind, severity) of what a notification announced: a ``downgraded`` one is
    the critical resolving (``previous_fingerprint``) and its warning firing, at once."""
    if n.transition is Transition.DOWNGRADED:
        out = [(n.fingerprint, FIRED, n.severity.value)]
        if n.previous_fingerprint is not None:
            out.append((n.previous_fingerprint, RESOLVED, Severity.CRITICAL.value))
        return out
    kind = _KINDS.get(n.transition.value)
    return [] if kind is None else [(n.fingerprint, kind, n.severity.value)]


def moments(
    instance: SLOInstance,
    sent: Iterable[Mapping[str, Any]],
    suppressed: Iterable[Mapping[str, Any]],
    states: Iterable[AlertState],
    start: float,
    end: float,
) -> list[AlertMoment]:
    """The moments of ``instance`` in ``[start, end]``, oldest first. Pure.

    ``sent`` are outbox payloads with their ``created_at``; ``suppressed`` rows as
    :meth:`StateStore.suppressions` gives them; ``states`` the instance's alert states.
    """
    found: dict[tuple[str, str, float], AlertMoment] = {}
    for row in sent:
        n = from_dict(row)
        at = float(row["created_at"])
        if not start <= at <= end or not _matches(n.labels, instance):
            continue
        for fingerprint, what, severity in _sent_moments(n):
            found[(fingerprint, what, at)] = AlertMoment(
                at, what, severity, n.labels.get("alertname", ""), fingerprint
            )
    for row in suppressed:
        kind = _KINDS.get(str(row["transition"]))
        at, labels = float(row["at"]), row["labels"]
        if kind is None or not start <= at <= end or not _matches(labels, instance):
            continue
        found.setdefault(
            (row["fingerprint"], kind, at),
            AlertMoment(
                at, kind, labels.get("severity", ""), labels.get("alertname", ""),
                row["fingerprint"], str(row["reason"]),
            ),
        )  # fmt: skip
    for state in states:
        began = state.started_at
        # notified: its firing event was emitted (an inhibited warning's was not)
        if not (state.firing and state.notified) or began is None or not start <= began <= end:
            continue
        known = any(fp == state.fingerprint and k == FIRED and t >= began for fp, k, t in found)
        if not known:
            found[(state.fingerprint, FIRED, began)] = AlertMoment(
                began, FIRED, state.labels.get("severity", ""),
                state.labels.get("alertname", ""), state.fingerprint,
            )  # fmt: skip
    return sorted(found.values(), key=lambda m: (m.at, m.kind, m.fingerprint))


def alert_moments(
    store: AlertStore, instance: SLOInstance, *, start: float, end: float
) -> list[AlertMoment]:
    """The moments of ``instance`` in ``[start, end]`` from ``store`` (reads only).

    Runs on the thread that uses the store (the event loop's), like every store call.
    """
    sent, suppressed = store.history_rows(instance.slo, start, end, MAX_ROWS)
    alerts = store.load_alerts().get(instance)
    states = () if alerts is None else (alerts.critical, alerts.warning, alerts.no_data)
    return moments(instance, sent, suppressed, states, start, end)
