"""Watch the watcher: the alerts sloguard raises about itself. Pure.

:func:`firing` takes a snapshot of the daemon's own state (:class:`SelfState`) and ``now`` and
returns the self-alerts that fire (:class:`SelfAlert`); the alert center runs them through the
same state machine and outbox as SLO alerts (firing, repeat, resolved; committed before they
are sent). The checks are a table (:data:`CHECKS`):

==============================  ========  =====================================================
alertname                       severity  fires while
==============================  ========  =====================================================
``SloguardEvaluationErrors``    critical  an SLO's evaluations have been ``error`` for
                                          ``error_for`` evaluation intervals (label ``slo``)
``SloguardOutboxStale``         warning   a receiver's oldest undelivered notification is
                                          older than ``outbox_age`` (label ``receiver``)
``SloguardStorageFailure``      critical  a problem source reports a failing store (label
                                          ``component``)
``SloguardReceiverDisabled``    critical  a receiver was disabled (410, revoked credentials)
``SloguardWatchdog``            none      always, while ``watchdog`` is on: a dead man's switch
                                          for Alertmanager (kube-prometheus's ``Watchdog``)
==============================  ========  =====================================================

:func:`receivers` picks where a self-alert goes: the configured receivers, or every receiver,
minus those that are disabled or whose own outbox is stale (a broken receiver is never the only
path); when none of the configured ones works, every working receiver. The watchdog goes to the
Alertmanager receivers only.

Example::

    rules = SelfCheckRules(interval=30.0)
    state = SelfState(error_since={"checkout": now - 600})
    [a.alertname for a in firing(state, rules, now)]   # ["SloguardEvaluationErrors"]
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from sloguard.durations import format_duration

EVALUATION_ERRORS = "SloguardEvaluationErrors"
OUTBOX_STALE = "SloguardOutboxStale"
STORAGE_FAILURE = "SloguardStorageFailure"
RECEIVER_DISABLED = "SloguardReceiverDisabled"
WATCHDOG = "SloguardWatchdog"


@dataclass(frozen=True, slots=True)
class Check:
    """One kind of self-alert: its severity label and the summary made from its labels."""

    severity: str  # "critical", "warning" or "none" (the watchdog)
    summary: str  # str.format over the alert's labels


#: Every self-alert, by alertname.
CHECKS: Mapping[str, Check] = {
    EVALUATION_ERRORS: Check("critical", "sloguard cannot evaluate SLO {slo}"),
    OUTBOX_STALE: Check("warning", "sloguard cannot deliver notifications to {receiver}"),
    STORAGE_FAILURE: Check("critical", "sloguard's {component} storage is failing"),
    RECEIVER_DISABLED: Check("critical", "sloguard disabled receiver {receiver}"),
    WATCHDOG: Check("none", "sloguard is alive and evaluating SLOs"),
}


@dataclass(frozen=True, slots=True)
class SelfProblem:
    """A failure a component reports about itself (a storage failure hook answers these)."""

    component: str  # e.g. "traces", "samples", "alerts"
    message: str


@dataclass(frozen=True, slots=True)
class SelfState:
    """A snapshot of the daemon's own state."""

    #: SLO name → when its current run of ``error`` evaluations began.
    error_since: Mapping[str, float] = field(default_factory=dict)
    #: Receiver → since when its oldest undelivered notification has waited.
    pending_since: Mapping[str, float] = field(default_factory=dict)
    #: Disabled receiver → why.
    disabled: Mapping[str, str] = field(default_factory=dict)
    #: Current storage (and other) failures reported by problem sources.
    problems: Sequence[SelfProblem] = ()


@dataclass(frozen=True, slots=True)
class SelfCheckRules:
    """Thresholds of the self-checks (from the ``self_alerts`` settings)."""

    interval: float  # seconds between evaluations
    error_for: int = 5  # evaluation intervals in ``error`` before alerting
    outbox_age: float = 900.0  # seconds a notification may wait for delivery
    #: The always-firing ``SloguardWatchdog``; None: on when an Alertmanager receiver exists.
    watchdog: bool | None = None
    repeat_interval: float = 4 * 3600.0  # reminders of a firing self-alert
    #: Receivers for self-alerts; empty: every working receiver.
    receivers: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class SelfAlert:
    """One firing self-alert."""

    labels: Mapping[str, str]  # alertname, severity and the subject (slo, receiver, component)
    since: float
    description: str

    @property
    def alertname(self) -> str:
        """The alert's name, e.g. ``SloguardOutboxStale``."""
        return self.labels["alertname"]


def labels_of(alertname: str, **subject: str) -> dict[str, str]:
    """The label set of a self-alert."""
    return {**subject, "alertname": alertname, "severity": CHECKS[alertname].severity}


def summary(labels: Mapping[str, str]) -> str:
    """The one-line summary of a self-alert from its labels."""
    return CHECKS[labels["alertname"]].summary.format_map(dict(labels))


def track_errors(
    previous: Mapping[str, float], errors: Mapping[str, bool], now: float
) -> dict[str, float]:
    """Fold one tick into the ``error`` runs: ``errors`` says, per SLO, whether it was in error."""
    return {slo: previous.get(slo, now) for slo, failed in errors.items() if failed}


def firing(state: SelfState, rules: SelfCheckRules, now: float) -> list[SelfAlert]:
    """The self-alerts firing at ``now``, sorted by alertname and subject."""
    out: list[SelfAlert] = []
    error_for = rules.error_for * rules.interval
    for slo, since in state.error_since.items():
        if now - since >= error_for:
            text = f"every evaluation of SLO {slo} has failed for {format_duration(now - since)}"
            out.append(SelfAlert(labels_of(EVALUATION_ERRORS, slo=slo), since, text))
    for receiver, since in state.pending_since.items():
        if receiver not in state.disabled and now - since >= rules.outbox_age:
            text = (
                f"a notification to {receiver} has waited {format_duration(now - since)} "
                f"(limit {format_duration(rules.outbox_age)})"
            )
            out.append(SelfAlert(labels_of(OUTBOX_STALE, receiver=receiver), since, text))
    seen: set[str] = set()
    for p in state.problems:
        if p.component not in seen:
            seen.add(p.component)
            out.append(SelfAlert(labels_of(STORAGE_FAILURE, component=p.component), now, p.message))
    for receiver, reason in state.disabled.items():
        text = f"receiver {receiver} was disabled and gets no notifications: {reason}"
        out.append(SelfAlert(labels_of(RECEIVER_DISABLED, receiver=receiver), now, text))
    if rules.watchdog:
        text = "always firing: if it stops arriving, sloguard is down or cannot notify"
        out.append(SelfAlert(labels_of(WATCHDOG), now, text))
    return sorted(out, key=lambda a: sorted(a.labels.items()))


def broken(state: SelfState, rules: SelfCheckRules, now: float) -> set[str]:
    """Receivers that cannot be relied on: disabled, or their outbox is stale."""
    stale = {r for r, since in state.pending_since.items() if now - since >= rules.outbox_age}
    return stale | set(state.disabled)


def receivers(
    labels: Mapping[str, str],
    configured: Iterable[str],
    alertmanagers: Collection[str],
    broken: Collection[str],
    wanted: Sequence[str] = (),
) -> list[str]:
    """Where a firing self-alert goes (sorted): ``wanted`` (or every receiver) that works; the
    watchdog to the working Alertmanager receivers only."""
    names = sorted(set(configured))
    if labels.get("alertname") == WATCHDOG:
        return [r for r in names if r in alertmanagers and r not in broken]
    working = [r for r in names if r not in broken]
    chosen = [r for r in working if r in wanted]
    return chosen or working
