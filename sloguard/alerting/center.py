"""From evaluation results to queued notifications: state machine, routing, one commit.

For every evaluated instance the alert state machine decides transitions; each transition is
routed to its receivers, turned into a :class:`Notification` carrying the numbers, and the new
states plus the notifications are committed to the outbox in one transaction.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

import structlog
from prometheus_client import CollectorRegistry

from sloguard.alerting.compose import self_notification, slo_notification
from sloguard.alerting.selfcheck import (
    WATCHDOG,
    SelfAlert,
    SelfCheckRules,
    SelfState,
    broken,
    firing,
    receivers,
)
from sloguard.alerting.silencebook import SilenceBook
from sloguard.alerting.state import (
    ACKNOWLEDGED,
    AlertEvent,
    AlertRules,
    AlertState,
    InstanceAlerts,
    acknowledge,
    acknowledged_event,
    advance,
    downgrades,
    fingerprint,
    new_instance,
    step,
)
from sloguard.alerting.storebase import AlertStore
from sloguard.errors import SloguardError
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting
from sloguard.notify.model import Notification, Transition
from sloguard.notify.render import rfc3339
from sloguard.notify.routing import Target, shortest_repeat, targets
from sloguard.slo.budget import Severity
from sloguard.slo.spec import SLOInstance

#: The ``slo`` column under which self-alert states are stored (not a valid SLO's instance).
SELF_SLO = "@sloguard"
_IDLE = AlertState("", {})
log = structlog.get_logger(__name__)
_LOGGED = {Transition.FIRING: "alert fired", Transition.RESOLVED: "alert resolved",
           Transition.DOWNGRADED: "alert downgraded"}  # fmt: skip


def log_event(event: AlertEvent, receivers: Sequence[str]) -> None:
    """One log line for an alert that fires, resolves or is downgraded (not for reminders):
    ``alert resolved alertname=SLOBurn slo=… severity=critical duration_seconds=1800.0 …``."""
    what = _LOGGED.get(event.transition)
    if what is None:
        return
    began = min(event.started_at, event.incident_started_at or event.started_at)
    log.info(
        what, alertname=event.labels.get("alertname", ""), slo=event.labels.get("slo", ""),
        severity=event.severity.value, fingerprint=event.fingerprint,
        labels=dict(event.labels), since=rfc3339(began),
        duration_seconds=event.at - began if event.transition is not Transition.FIRING else None,
        previous_fingerprint=event.previous_fingerprint, suppressed=event.suppressed or None,
        receivers=sorted(set(receivers)),
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class ActiveAlert:
    """A firing alert, for ``GET /api/v1/alerts``."""

    fingerprint: str
    labels: dict[str, str]
    started_at: float
    notified: bool
    #: ids of the silences muting it (empty: not silenced)
    silenced_by: tuple[str, ...] = ()
    acked_by: str | None = None
    acked_at: float | None = None


def _active(a: AlertState, silenced: tuple[str, ...]) -> ActiveAlert:
    assert a.started_at is not None
    return ActiveAlert(
        a.fingerprint, dict(a.labels), a.started_at, a.notified, silenced, a.acked_by, a.acked_at
    )


class NotFiring(SloguardError, LookupError):
    """No firing alert has this fingerprint (nothing to acknowledge)."""


class AlertCenter:
    """Keeps alert states (cached, persisted) and queues notifications."""

    def __init__(
        self,
        store: AlertStore,
        routing: AlertRouting,
        *,
        no_data_after: float | None = 600.0,
        external_url: str = "",
        min_repeat: float | None = None,
        self_rules: SelfCheckRules | None = None,
        registry: CollectorRegistry | None = None,
    ) -> None:
        """``registry`` gets ``sloguard_notifications_suppressed_total{reason}`` (None: no
        metric)."""
        self.store = store
        self.routing = routing
        self.resend = routing.resend_intervals
        repeat = shortest_repeat(routing.route)
        if min_repeat is not None:
            repeat = min(repeat, min_repeat)
        self.rules = AlertRules(repeat_interval=repeat, no_data_after=no_data_after)
        self.external_url = external_url.rstrip("/")
        #: Called after notifications were queued (the outbox worker's wake-up).
        self.on_queued: Callable[[], None] | None = None
        #: Recent failing trace ids in an instance's scope (evidence for firing notifications).
        self.evidence: Callable[[InstanceResult], Sequence[str]] | None = None
        #: Thresholds of sloguard's alerts about itself (:meth:`check_self`); None: off.
        self.self_rules = self_rules
        loaded = store.load_alerts()
        self._alerts: dict[SLOInstance, InstanceAlerts] = {
            k: v for k, v in loaded.items() if k.slo != SELF_SLO
        }
        self._self: dict[SLOInstance, InstanceAlerts] = {
            k: v for k, v in loaded.items() if k.slo == SELF_SLO
        }
        #: Silences, maintenance windows and the count of what they kept from the receivers.
        self.silences = SilenceBook(store, registry)
        #: The latest result of each instance (the numbers of an acknowledgement's message).
        self._latest: dict[SLOInstance, InstanceResult] = {}

    def reload(self) -> None:
        """Read the alert states and silences from the store again: a new leader before its
        first commit (another replica led meanwhile), a follower to serve what the leader
        committed."""
        loaded = self.store.load_alerts()
        self._alerts = {k: v for k, v in loaded.items() if k.slo != SELF_SLO}
        self._self = {k: v for k, v in loaded.items() if k.slo == SELF_SLO}
        self.silences.by_id = {s.id: s for s in self.store.silences()}

    def replace_routing(self, routing: AlertRouting, min_repeat: float | None = None) -> None:
        """Use a new routing from the next evaluation on (config reload)."""
        repeat = shortest_repeat(routing.route)
        if min_repeat is not None:
            repeat = min(repeat, min_repeat)
        self.routing = routing
        self.resend = routing.resend_intervals
        self.rules = AlertRules(repeat_interval=repeat, no_data_after=self.rules.no_data_after)

    def active(self, now: float | None = None) -> list[ActiveAlert]:
        """Every firing alert; with ``now``, silenced by the silences in force then (else as of
        the last evaluation)."""
        out = []
        candidates = [a for x in self._alerts.values() for a in (x.critical, x.warning, x.no_data)]
        # the watchdog always fires: not news
        candidates += [x.critical for x in self._self.values()
                       if x.critical.labels.get("alertname") != WATCHDOG]  # fmt: skip
        for a in candidates:
            if a.firing and a.started_at is not None:
                silenced = a.silenced_by if now is None else self.silences.silencer(now)(a.labels)
                out.append(_active(a, silenced))
        return sorted(out, key=lambda a: (a.labels.get("slo", ""), a.fingerprint))

    # --- silences and acknowledgements ----------------------------------------------------------
    def process(self, results: Sequence[InstanceResult], now: float) -> list[Notification]:
        """Advance every instance's alerts and queue what must be sent; return it."""
        changed: dict[SLOInstance, InstanceAlerts] = {}
        notifications: list[Notification] = []
        sent: list[tuple[str, str, float, float]] = []
        suppressed: list[AlertEvent] = []
        silencer = self.silences.silencer(now)
        for r in results:
            key = r.instance
            self._latest[key] = r
            before = self._alerts.get(key) or new_instance(
                r.slo.name, r.labels, r.slo.alerting.labels, r.slo.alerting.name
            )
            after, events = step(before, r.evaluation, self.rules, now, silencer)
            events = downgrades(events)  # one update instead of critical resolved + warning firing
            if after != before or key not in self._alerts:
                changed[key] = after
            for announced in events:
                pairs = self._fanout(announced, suppressed)
                log_event(announced, [t.receiver for _, t in pairs])
                for event, target in pairs:
                    if event.transition is Transition.REPEAT:
                        last = self.store.last_sent(
                            target.receiver, event.fingerprint, event.started_at
                        )
                        every = min(
                            target.repeat_interval,
                            self.resend.get(target.receiver, target.repeat_interval),
                        )
                        if last is not None and now - last < every:
                            continue
                    notifications.append(self._notification(event, r, target.receiver))
                    sent.append((target.receiver, event.fingerprint, event.started_at, now))
        if changed or notifications or suppressed:
            self.store.commit(changed, notifications, sent, now, suppressed)
            self._alerts.update(changed)
        if notifications and self.on_queued is not None:
            self.on_queued()
        return notifications

    def _routed(self, event: AlertEvent) -> list[Target]:
        return [
            t for t in targets(self.routing.route, event.labels)
            if t.receiver in self.routing.receivers
        ]  # fmt: skip

    def _fanout(self, event: AlertEvent, held: list[AlertEvent]) -> list[tuple[AlertEvent, Target]]:
        """(event, target) pairs to notify. A ``downgraded`` goes as such to the receivers routed
        both alerts, but Alertmanager ones: those, like the receivers routed only one of the two,
        get the critical's ``resolved`` and the warning's ``firing`` it stands for."""
        if event.transition is Transition.DOWNGRADED and len(event.replaces) == 2:
            resolved, firing = event.replaces
            crit, warn = self._routed(resolved), self._routed(firing)
            both = {t.receiver for t in crit} & {t.receiver for t in warn} - self.resend.keys()
            return [
                *((resolved, t) for t in crit if t.receiver not in both),
                *((event if t.receiver in both else firing, t) for t in warn),
            ]
        routed = self._routed(event)
        going = self._going(event, [t.receiver for t in routed], held)
        return [(event, t) for t in routed if t.receiver in going]

    def _going(
        self, event: AlertEvent, receivers: Sequence[str], held: list[AlertEvent]
    ) -> list[str]:
        """The receivers ``event`` goes to: all unless suppressed; an acknowledged alert's
        reminders still go to Alertmanager receivers (they keep it alive there); a silenced
        alert's to none. What is held back is recorded (``held``) and counted."""
        if not event.suppressed:
            return list(receivers)
        keep = [r for r in receivers if event.suppressed == ACKNOWLEDGED and r in self.resend]
        held.append(event)
        self.silences.count(event.suppressed, len(receivers) - len(keep))
        return keep

    def acknowledge(self, fp: str, by: str, comment: str, now: float) -> ActiveAlert:
        """Acknowledge the firing alert ``fp``: no more reminders until it resolves; tell the
        receivers that were told of it (Slack updates its message: "acknowledged by …").

        Raise :class:`NotFiring` when no firing alert has this fingerprint. Acknowledging again
        changes nothing and sends nothing.
        """
        for table in (self._alerts, self._self):
            for key, alerts in table.items():
                for name in ("critical", "warning", "no_data"):
                    state: AlertState = getattr(alerts, name)
                    if state.fingerprint != fp or not state.firing:
                        continue
                    if state.acked_by is not None:
                        return _active(state, state.silenced_by)
                    acked = acknowledge(state, by, now)
                    after = replace(alerts, **{name: acked})
                    notes = self._ack_notifications(key, acked, comment, now)
                    self.store.commit({key: after}, notes, [], now)
                    table[key] = after
                    if notes and self.on_queued is not None:
                        self.on_queued()
                    return _active(acked, acked.silenced_by)
        raise NotFiring(f"no firing alert has the fingerprint {fp!r}")

    def _ack_notifications(
        self, key: SLOInstance, state: AlertState, comment: str, now: float
    ) -> list[Notification]:
        """One ``acknowledged`` notification per receiver that was told of this episode."""
        event, latest = acknowledged_event(state, now), self._latest.get(key)
        note = {"acknowledged_by": state.acked_by or "", "acknowledged_at": rfc3339(now)}
        note |= {"acknowledge_comment": comment} if comment else {}
        out = []
        for receiver in sorted(self.routing.receivers):
            if self.store.last_sent(receiver, state.fingerprint, event.started_at) is None:
                continue
            if latest is None and key.slo != SELF_SLO:
                break  # not evaluated since this process started: no numbers to send
            n = (
                self._notification(event, latest, receiver)
                if latest is not None and key.slo != SELF_SLO
                else self._self_notification(event, None, receiver)
            )
            out.append(replace(n, annotations={**n.annotations, **note}))
        return out

    def _notification(self, event: AlertEvent, r: InstanceResult, receiver: str) -> Notification:
        resolved = event.transition is Transition.RESOLVED
        evidence = tuple(self.evidence(r))[:3] if self.evidence is not None and not resolved else ()
        return slo_notification(event, r, receiver, evidence, self.external_url)

    def check_self(self, state: SelfState, now: float) -> list[Notification]:
        """Advance sloguard's alerts about itself (:mod:`~sloguard.alerting.selfcheck`) from a
        snapshot of its own state and queue what must be sent, like :meth:`process`."""
        if self.self_rules is None:
            return []
        rules = self.self_rules
        if rules.watchdog is None:
            rules = replace(rules, watchdog=bool(self.resend))
        alerts = {SLOInstance.of(SELF_SLO, a.labels): a for a in firing(state, rules, now)}
        bad = broken(state, rules, now)
        machine = AlertRules(
            repeat_interval=min(rules.repeat_interval, self.routing.resend_floor or math.inf),
            no_data_after=None,
        )
        changed: dict[SLOInstance, InstanceAlerts] = {}
        notifications: list[Notification] = []
        sent: list[tuple[str, str, float, float]] = []
        suppressed: list[AlertEvent] = []
        silencer = self.silences.silencer(now)
        for key in sorted(alerts.keys() | self._self.keys(), key=lambda k: k.labels):
            alert = alerts.get(key)
            before = self._self.get(key)
            if before is None:
                labels = dict(key.labels)
                before = InstanceAlerts(AlertState(fingerprint(labels), labels), _IDLE, _IDLE)
            severity = (
                Severity.CRITICAL
                if before.critical.labels.get("severity") == "critical"
                else Severity.WARNING
            )
            now_state, events = advance(
                before.critical, alert is not None, severity, machine, now, silencer
            )
            after = replace(before, critical=now_state)
            if after != before or key not in self._self:
                changed[key] = after
            for event in events:
                going = self._going(event, self._self_targets(event, state, bad, rules), suppressed)
                if event.labels.get("alertname") != WATCHDOG:  # always fires: not news
                    log_event(event, going)
                for receiver in going:
                    if event.transition is Transition.REPEAT:
                        last = self.store.last_sent(receiver, event.fingerprint, event.started_at)
                        every = min(rules.repeat_interval, self.resend.get(receiver, math.inf))
                        if last is not None and now - last < every:
                            continue
                    notifications.append(self._self_notification(event, alert, receiver))
                    sent.append((receiver, event.fingerprint, event.started_at, now))
        if changed or notifications or suppressed:
            self.store.commit(changed, notifications, sent, now, suppressed)
            self._self.update(changed)
        if notifications and self.on_queued is not None:
            self.on_queued()
        return notifications

    def _self_targets(
        self, event: AlertEvent, state: SelfState, bad: set[str], rules: SelfCheckRules
    ) -> list[str]:
        """Working receivers for a firing self-alert; those told of the episode for a resolve."""
        if event.transition is Transition.RESOLVED:
            return [
                r
                for r in sorted(self.routing.receivers)
                if r not in state.disabled
                and self.store.last_sent(r, event.fingerprint, event.started_at) is not None
            ]
        return receivers(
            event.labels, self.routing.receivers, self.resend.keys(), bad, rules.receivers
        )

    def _self_notification(
        self, event: AlertEvent, alert: SelfAlert | None, receiver: str
    ) -> Notification:
        return self_notification(event, alert, receiver, self.external_url)
