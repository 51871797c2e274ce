"""Alert state: from evaluations to firing / repeat / resolved transitions. Pure.

Per SLO instance there is one alert per severity (``SLOBurn``, critical and warning) and one
``SLONoData`` alert. Rules:

- a severity fires while any of its tiers fires; it resolves only on a *judged* evaluation
  (``ok`` or ``burning``) in which none of its tiers fires — never on ``error``, ``no_data`` or
  ``insufficient_events``;
- a tier that cannot be judged (too few events in its long window, e.g. just after a gap in the
  source's data) keeps its last judged state, even when the evaluation as a whole is judged: a
  tier that fired keeps its severity firing, one that did not cannot page
  (``AlertState.firing_tiers`` remembers which tiers fired);
- a firing critical inhibits the warning of the same instance: the warning is not notified
  (and not repeated) while the critical fires; if it still fires afterwards it is notified then;
- a firing alert is re-notified every ``repeat_interval``;
- ``no_data`` for longer than ``no_data_after`` fires ``SLONoData`` (warning); data resolves it.

Transitions are :class:`~sloguard.notify.model.Transition`, the enum a notification carries on.
Fingerprints are Alertmanager's (FNV-1a 64 over the sorted label pairs), so the same alert has
the same identity in sloguard, its webhooks and Alertmanager.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace

from sloguard.notify.model import Transition
from sloguard.slo.budget import Evaluation, Severity, State, TierResult

BURN_ALERT = "SLOBurn"
NO_DATA_ALERT = "SLONoData"
_FNV_OFFSET = 14695981039346656037
_FNV_PRIME = 1099511628211
_MASK = (1 << 64) - 1
_SEPARATOR = 0xFF


def fingerprint(labels: Mapping[str, str]) -> str:
    """Alertmanager's label-set fingerprint (16 hex digits)."""
    h = _FNV_OFFSET
    for name in sorted(labels):
        for part in (name, labels[name]):
            for byte in part.encode():
                h = ((h ^ byte) * _FNV_PRIME) & _MASK
            h = ((h ^ _SEPARATOR) * _FNV_PRIME) & _MASK
    return f"{h:016x}"


@dataclass(frozen=True, slots=True)
class AlertState:
    """One alert's persistent state."""

    fingerprint: str
    labels: Mapping[str, str]
    firing: bool = False
    notified: bool = False  # a firing notification went out for the current episode
    started_at: float | None = None
    last_sent_at: float | None = None
    no_data_since: float | None = None  # used by the SLONoData alert only
    #: names of this severity's tiers that fired when last judged (SLOBurn alerts only)
    firing_tiers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class AlertEvent:
    """A transition to notify."""

    id: str  # deterministic: the same transition always gets the same id
    transition: Transition
    fingerprint: str
    labels: Mapping[str, str]
    severity: Severity
    started_at: float
    at: float


@dataclass(frozen=True, slots=True)
class AlertRules:
    """Timing rules of the state machine."""

    repeat_interval: float = 4 * 3600.0
    no_data_after: float | None = 600.0  # None: never raise SLONoData


def event_id(fp: str, transition: Transition, started_at: float, at: float) -> str:
    """A stable id for one transition of one alert."""
    raw = f"{fp}|{transition.value}|{started_at:.3f}|{at:.3f}".encode()
    return hashlib.sha256(raw).hexdigest()[:32]


def alert_labels(
    alertname: str,
    slo: str,
    severity: Severity,
    instance: Mapping[str, str],
    extra: Mapping[str, str],
) -> dict[str, str]:
    """The label set of an alert (SLO labels from the file, then the instance, then ours)."""
    return {**extra, **instance, "alertname": alertname, "slo": slo, "severity": severity.value}


def _event(state: AlertState, transition: Transition, severity: Severity, now: float) -> AlertEvent:
    started = state.started_at if state.started_at is not None else now
    return AlertEvent(
        id=event_id(state.fingerprint, transition, started, now),
        transition=transition,
        fingerprint=state.fingerprint,
        labels=state.labels,
        severity=severity,
        started_at=started,
        at=now,
    )


def _advance(
    state: AlertState,
    active: bool,
    inhibited: bool,
    severity: Severity,
    rules: AlertRules,
    now: float,
) -> tuple[AlertState, list[AlertEvent]]:
    """One alert, one judged evaluation."""
    if active:
        if not state.firing:
            state = replace(state, firing=True, notified=False, started_at=now, last_sent_at=None)
        if inhibited:
            return state, []
        if not state.notified:
            state = replace(state, notified=True, last_sent_at=now)
            return state, [_event(state, Transition.FIRING, severity, now)]
        if state.last_sent_at is not None and now - state.last_sent_at >= rules.repeat_interval:
            state = replace(state, last_sent_at=now)
            return state, [_event(state, Transition.REPEAT, severity, now)]
        return state, []
    if not state.firing:
        return state, []
    events = [_event(state, Transition.RESOLVED, severity, now)] if state.notified else []
    return replace(state, firing=False, notified=False, last_sent_at=None), events


def advance(
    state: AlertState, active: bool, severity: Severity, rules: AlertRules, now: float
) -> tuple[AlertState, list[AlertEvent]]:
    """Advance an alert that is simply active or not (sloguard's self-alerts): fire, repeat
    every ``repeat_interval``, resolve when no longer active."""
    return _advance(state, active, False, severity, rules, now)


@dataclass(frozen=True, slots=True)
class InstanceAlerts:
    """The three alerts of one SLO instance."""

    critical: AlertState
    warning: AlertState
    no_data: AlertState


def new_instance(
    slo: str, instance: Mapping[str, str], extra: Mapping[str, str] | None = None
) -> InstanceAlerts:
    """Fresh (inactive) alerts for an instance."""
    extra = extra or {}

    def make(alertname: str, severity: Severity) -> AlertState:
        labels = alert_labels(alertname, slo, severity, instance, extra)
        return AlertState(fingerprint(labels), labels)

    return InstanceAlerts(
        critical=make(BURN_ALERT, Severity.CRITICAL),
        warning=make(BURN_ALERT, Severity.WARNING),
        no_data=make(NO_DATA_ALERT, Severity.WARNING),
    )


def step(
    alerts: InstanceAlerts, ev: Evaluation, rules: AlertRules, now: float
) -> tuple[InstanceAlerts, list[AlertEvent]]:
    """Advance an instance's alerts by one evaluation."""
    events: list[AlertEvent] = []
    crit, warn, nod = alerts.critical, alerts.warning, alerts.no_data
    # --- no-data alert
    if ev.state is State.NO_DATA:
        since = nod.no_data_since if nod.no_data_since is not None else now
        nod = replace(nod, no_data_since=since)
        if rules.no_data_after is not None and now - since >= rules.no_data_after:
            nod, e = _advance(nod, True, False, Severity.WARNING, rules, now)
            events += e
    elif ev.state is not State.ERROR:
        nod = replace(nod, no_data_since=None)
        nod, e = _advance(nod, False, False, Severity.WARNING, rules, now)
        events += e
    # --- burn alerts: only judged evaluations change them, and only through judged tiers
    if ev.state in (State.OK, State.BURNING):
        crit, crit_active = _judge(crit, ev.tiers, Severity.CRITICAL)
        crit, e = _advance(crit, crit_active, False, Severity.CRITICAL, rules, now)
        events += e
        warn, warn_active = _judge(warn, ev.tiers, Severity.WARNING)
        warn, e = _advance(warn, warn_active, crit_active, Severity.WARNING, rules, now)
        events += e
    else:
        # unjudged: nothing resolves; firing alerts keep their reminders
        crit, e = _repeat_only(crit, False, Severity.CRITICAL, rules, now)
        events += e
        warn, e = _repeat_only(warn, crit.firing, Severity.WARNING, rules, now)
        events += e
    return InstanceAlerts(crit, warn, nod), events


def _judge(
    state: AlertState, tiers: Iterable[TierResult], severity: Severity
) -> tuple[AlertState, bool]:
    """Which of ``severity``'s tiers fire now; an insufficient tier keeps its last judgment."""
    remembered = set(state.firing_tiers)
    # a firing alert stored before tiers were remembered: any of its tiers may have fired
    unknown = state.firing and not remembered
    firing = {
        t.tier.name
        for t in tiers
        if t.tier.severity is severity
        and (t.firing or (t.insufficient and (unknown or t.tier.name in remembered)))
    }
    if firing != remembered:
        state = replace(state, firing_tiers=tuple(sorted(firing)))
    return state, bool(firing)


def _repeat_only(
    state: AlertState, inhibited: bool, severity: Severity, rules: AlertRules, now: float
) -> tuple[AlertState, list[AlertEvent]]:
    if not state.firing or not state.notified or inhibited:
        return state, []
    if state.last_sent_at is not None and now - state.last_sent_at >= rules.repeat_interval:
        state = replace(state, last_sent_at=now)
        return state, [_event(state, Transition.REPEAT, severity, now)]
    return state, []
