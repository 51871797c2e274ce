"""Alert state: from evaluations to firing / repeat / resolved transitions. Pure.

Per SLO instance there is one alert per severity (named by the SLO's ``alerting.name``, default
``SLOBurn``; critical and warning) and one ``SLONoData`` alert. Rules:

- a severity fires while any of its tiers fires; it resolves only on a *judged* evaluation
  (``ok`` or ``burning``) in which none of its tiers fires — never on ``error``, ``no_data`` or
  ``insufficient_events``;
- a tier that cannot be judged (too few events in its long window, e.g. just after a gap in the
  source's data) keeps its last judged state, even when the evaluation as a whole is judged: a
  tier that fired keeps its severity firing, one that did not cannot page
  (``AlertState.firing_tiers`` remembers which tiers fired);
- a firing critical inhibits the warning of the same instance: the warning is not notified
  (and not repeated) while the critical fires; if it still fires afterwards it is notified then:
  when the critical resolves in that same evaluation, its ``firing`` carries the critical's
  start (``incident_started_at``, kept by the warning until it resolves) and :func:`downgrades`
  makes the pair one ``downgraded`` event for the receivers (``step`` itself keeps the two);
- a firing alert is re-notified every ``repeat_interval``;
- ``no_data`` for longer than ``no_data_after`` fires ``SLONoData`` (warning), its episode
  starting when the data stopped (not at the evaluation that noticed); data resolves it;
- a **silenced** alert (muted by the silences named in ``silenced_by``, see
  :mod:`sloguard.alerting.silences`) is not announced: its firing and its reminders become
  events with ``suppressed="silenced"`` (recorded, not sent); when the silence ends while it
  still fires, it is announced then; resolving an alert never announced is recorded only, and
  one announced before the silence began is resolved as usual (no message stays "firing");
- an **acknowledged** alert (``acked_by``) is not repeated (``suppressed="acknowledged"``) until
  it resolves, which ends the acknowledgement; a higher severity is another alert and pages.

Transitions are :class:`~sloguard.notify.model.Transition`, the enum a notification carries on.
Fingerprints are Alertmanager's (FNV-1a 64 over the sorted label pairs), so the same alert has
the same identity in sloguard, its webhooks and Alertmanager.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable, Mapping, Sequence
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
    #: names of this severity's tiers that fired when last judged (burn alerts only)
    firing_tiers: tuple[str, ...] = ()
    #: ids of the silences muting it when last advanced
    silenced_by: tuple[str, ...] = ()
    #: a firing notification was withheld by a silence in the current episode
    held: bool = False
    #: who acknowledged the current episode, and when (None: not acknowledged)
    acked_by: str | None = None
    acked_at: float | None = None
    #: a warning downgraded from a critical: the critical episode's start (the incident's)
    incident_started_at: float | None = None


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
    #: why it is recorded but not sent: ``"silenced"``, ``"acknowledged"``; ``""``: sent
    suppressed: str = ""
    #: the silences that muted it (when ``suppressed`` is ``"silenced"``)
    silences: tuple[str, ...] = ()
    #: ``downgraded``: the critical alert that resolved
    previous_fingerprint: str | None = None
    #: when the incident began, if before ``started_at`` (a downgraded warning's episode)
    incident_started_at: float | None = None
    #: ``downgraded``: the critical's ``resolved`` and the warning's ``firing`` it stands for
    replaces: tuple[AlertEvent, ...] = ()


SILENCED = "silenced"
ACKNOWLEDGED = "acknowledged"


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


def _event(
    state: AlertState, transition: Transition, severity: Severity, now: float, suppressed: str = ""
) -> AlertEvent:
    started = state.started_at if state.started_at is not None else now
    return AlertEvent(
        id=event_id(state.fingerprint, transition, started, now),
        transition=transition,
        fingerprint=state.fingerprint,
        labels=state.labels,
        severity=severity,
        started_at=started,
        at=now,
        suppressed=suppressed,
        silences=state.silenced_by if suppressed == SILENCED else (),
        incident_started_at=state.incident_started_at,
    )


#: Which silences mute an alert with these labels now (empty: none). Default: none.
Silencer = Callable[[Mapping[str, str]], tuple[str, ...]]


def _no_silences(labels: Mapping[str, str]) -> tuple[str, ...]:
    return ()


def acknowledge(state: AlertState, by: str, now: float) -> AlertState:
    """Acknowledge a firing alert's current episode: no more reminders until it resolves.

    Raise ``ValueError`` when the alert does not fire (there is nothing to acknowledge).
    """
    if not state.firing:
        raise ValueError(f"alert {state.fingerprint} is not firing")
    return replace(state, acked_by=by, acked_at=now)


def acknowledged_event(state: AlertState, now: float) -> AlertEvent:
    """The ``acknowledged`` transition of a firing alert (told to the receivers that heard of it).

    Its severity is the alert's ``severity`` label (``none`` for the watchdog reads as warning).
    """
    severity = Severity.CRITICAL if state.labels.get("severity") == "critical" else Severity.WARNING
    return _event(state, Transition.ACKNOWLEDGED, severity, now)


def _reminder(
    state: AlertState, severity: Severity, rules: AlertRules, now: float
) -> tuple[AlertState, list[AlertEvent]]:
    """A repeat when one is due: sent, or recorded only when silenced or acknowledged."""
    if state.last_sent_at is None or now - state.last_sent_at < rules.repeat_interval:
        return state, []
    reason = SILENCED if state.silenced_by else ACKNOWLEDGED if state.acked_by else ""
    state = replace(state, last_sent_at=now)
    return state, [_event(state, Transition.REPEAT, severity, now, reason)]


def _advance(
    state: AlertState,
    active: bool,
    inhibited: bool,
    severity: Severity,
    rules: AlertRules,
    now: float,
    since: float | None = None,
) -> tuple[AlertState, list[AlertEvent]]:
    """One alert, one judged evaluation (``state.silenced_by`` already brought up to date);
    a new episode starts at ``since`` (default ``now``)."""
    if active:
        if not state.firing:
            state = replace(
                state, firing=True, notified=False, started_at=now if since is None else since,
                last_sent_at=None, held=False, acked_by=None, acked_at=None,
                incident_started_at=None,
            )  # fmt: skip
        if inhibited:
            return state, []
        if not state.notified:
            if state.silenced_by:
                if state.held:
                    return state, []
                state = replace(state, held=True)
                return state, [_event(state, Transition.FIRING, severity, now, SILENCED)]
            state = replace(state, notified=True, last_sent_at=now)
            return state, [_event(state, Transition.FIRING, severity, now)]
        return _reminder(state, severity, rules, now)
    if not state.firing:
        return state, []
    events = []
    if state.notified:
        events = [_event(state, Transition.RESOLVED, severity, now)]
    elif state.held:
        events = [_event(state, Transition.RESOLVED, severity, now, SILENCED)]
    resolved = replace(
        state, firing=False, notified=False, last_sent_at=None, held=False, acked_by=None,
        acked_at=None, incident_started_at=None,
    )  # fmt: skip
    return resolved, events


def _silence(state: AlertState, silencer: Silencer) -> AlertState:
    ids = silencer(state.labels)
    return state if ids == state.silenced_by else replace(state, silenced_by=ids)


def advance(
    state: AlertState,
    active: bool,
    severity: Severity,
    rules: AlertRules,
    now: float,
    silencer: Silencer = _no_silences,
) -> tuple[AlertState, list[AlertEvent]]:
    """Advance an alert that is simply active or not (sloguard's self-alerts): fire, repeat
    every ``repeat_interval``, resolve when no longer active."""
    return _advance(_silence(state, silencer), active, False, severity, rules, now)


@dataclass(frozen=True, slots=True)
class InstanceAlerts:
    """The three alerts of one SLO instance."""

    critical: AlertState
    warning: AlertState
    no_data: AlertState


def new_instance(
    slo: str,
    instance: Mapping[str, str],
    extra: Mapping[str, str] | None = None,
    burn_alert: str = BURN_ALERT,
) -> InstanceAlerts:
    """Fresh (inactive) alerts for an instance; ``burn_alert`` names its two burn alerts (the
    SLO's ``alerting.name``; the default keeps the labels, and so the fingerprints, of SLOs
    that name none)."""
    extra = extra or {}

    def make(alertname: str, severity: Severity) -> AlertState:
        labels = alert_labels(alertname, slo, severity, instance, extra)
        return AlertState(fingerprint(labels), labels)

    return InstanceAlerts(
        critical=make(burn_alert, Severity.CRITICAL),
        warning=make(burn_alert, Severity.WARNING),
        no_data=make(NO_DATA_ALERT, Severity.WARNING),
    )


def step(
    alerts: InstanceAlerts,
    ev: Evaluation,
    rules: AlertRules,
    now: float,
    silencer: Silencer = _no_silences,
) -> tuple[InstanceAlerts, list[AlertEvent]]:
    """Advance an instance's alerts by one evaluation; ``silencer`` says which silences mute
    an alert's labels now."""
    events: list[AlertEvent] = []
    crit, warn, nod = (
        _silence(alerts.critical, silencer),
        _silence(alerts.warning, silencer),
        _silence(alerts.no_data, silencer),
    )
    # --- no-data alert
    if ev.state is State.NO_DATA:
        since = nod.no_data_since if nod.no_data_since is not None else now
        nod = replace(nod, no_data_since=since)
        if rules.no_data_after is not None and now - since >= rules.no_data_after:
            nod, e = _advance(nod, True, False, Severity.WARNING, rules, now, since)
            events += e
    elif ev.state is not State.ERROR:
        nod = replace(nod, no_data_since=None)
        nod, e = _advance(nod, False, False, Severity.WARNING, rules, now)
        events += e
    # --- burn alerts: only judged evaluations change them, and only through judged tiers
    if ev.state in (State.OK, State.BURNING):
        crit, crit_active = _judge(crit, ev.tiers, Severity.CRITICAL)
        crit, e = _advance(crit, crit_active, False, Severity.CRITICAL, rules, now)
        warn, warn_active = _judge(warn, ev.tiers, Severity.WARNING)
        warn, w = _advance(warn, warn_active, crit_active, Severity.WARNING, rules, now)
        warn, e = _downgrade(warn, e, w)
        events += e
    else:
        # unjudged: nothing resolves; firing alerts keep their reminders
        crit, e = _repeat_only(crit, False, Severity.CRITICAL, rules, now)
        events += e
        warn, e = _repeat_only(warn, crit.firing, Severity.WARNING, rules, now)
        events += e
    return InstanceAlerts(crit, warn, nod), events


def _downgrade(
    warn: AlertState, crit_events: list[AlertEvent], warn_events: list[AlertEvent]
) -> tuple[AlertState, list[AlertEvent]]:
    """The critical's and the warning's events of one evaluation. When a sent ``resolved`` of
    the critical meets a sent ``firing`` of the warning (a downgrade), the warning remembers the
    critical episode's start for the rest of its episode, and its ``firing`` carries it too."""
    if not (
        len(crit_events) == 1 and len(warn_events) == 1
        and crit_events[0].transition is Transition.RESOLVED and not crit_events[0].suppressed
        and warn_events[0].transition is Transition.FIRING and not warn_events[0].suppressed
    ):  # fmt: skip
        return warn, crit_events + warn_events
    began = crit_events[0].started_at
    warn = replace(warn, incident_started_at=began)
    return warn, [*crit_events, replace(warn_events[0], incident_started_at=began)]


def downgrades(events: Sequence[AlertEvent]) -> list[AlertEvent]:
    """``events`` of one instance's :func:`step` with each downgrade — the critical's
    ``resolved`` and the warning's ``firing`` that continues it (``incident_started_at``) — as
    one ``downgraded`` event of the warning (``previous_fingerprint`` the critical's,
    ``replaces`` the two, for receivers that need them). What notifies uses this; what counts
    alert spans (``simulate``) keeps the two.

    Example: ``downgrades([resolved_critical, firing_warning])`` is ``[downgraded_warning]``."""
    out = list(events)
    for firing in [e for e in events if e.transition is Transition.FIRING]:
        if firing.incident_started_at is None or firing.suppressed:
            continue
        critical = {**firing.labels, "severity": Severity.CRITICAL.value}
        resolved = next(
            (e for e in out if e.transition is Transition.RESOLVED and not e.suppressed
             and dict(e.labels) == critical and e.started_at == firing.incident_started_at),
            None,
        )  # fmt: skip
        if resolved is None:
            continue
        merged = replace(
            firing,
            id=event_id(firing.fingerprint, Transition.DOWNGRADED, firing.started_at, firing.at),
            transition=Transition.DOWNGRADED,
            previous_fingerprint=resolved.fingerprint,
            replaces=(resolved, firing),
        )
        out = [merged if e is firing else e for e in out if e is not resolved]
    return out


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
    return _reminder(state, severity, rules, now)
