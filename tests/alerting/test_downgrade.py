"""The pure state machine's downgrade: a critical resolving while the warning it inhibited still
fires is one ``downgraded`` event for the receivers (:func:`downgrades` of :func:`step`'s
events), not "critical resolved" plus a new "warning firing"; ``step`` itself keeps the two
(what ``simulate`` counts as alert spans).

Also: the no-data alert's episode starts when the data stopped, not at the evaluation that
noticed it (its "since").
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace

from sloguard.alerting.state import (
    AlertEvent,
    AlertRules,
    InstanceAlerts,
    downgrades,
    event_id,
    new_instance,
    step,
)
from sloguard.notify.model import Transition
from sloguard.slo.budget import Evaluation
from tests.alerting.test_state import NO_DATA, ev

RULES = AlertRules(repeat_interval=3600.0, no_data_after=600.0)
BOTH = ev(long=0.05, short=0.05, warn=0.01)  # the 1h/5m critical and the 3d/6h warning fire
WARN_ONLY = ev(warn=0.01)  # the outage is over; the 3d/6h tier keeps firing, by design
OK = ev()


def play(
    seq: Sequence[tuple[float, Evaluation]],
    alerts: InstanceAlerts | None = None,
    silencer: Callable[[Mapping[str, str]], tuple[str, ...]] = lambda labels: (),
) -> tuple[InstanceAlerts, list[AlertEvent]]:
    alerts = alerts or new_instance("avail", {"agent_name": "billing"})
    out: list[AlertEvent] = []
    for now, e in seq:
        alerts, events = step(alerts, e, RULES, now, silencer)
        out += downgrades(events)
    return alerts, out


def test_a_critical_resolving_while_its_warning_fires_is_one_downgraded_event() -> None:
    alerts, events = play([(0, BOTH), (600, BOTH), (1800, WARN_ONLY)])
    assert [(e.at, e.transition.value, e.severity.value) for e in events] == [
        (0, "firing", "critical"),
        (1800, "downgraded", "warning"),  # not "resolved critical" + "firing warning"
    ]
    down = events[1]
    # it is the warning's event, continuing the critical's episode
    assert down.fingerprint == alerts.warning.fingerprint
    assert down.labels["severity"] == "warning"
    assert down.previous_fingerprint == alerts.critical.fingerprint
    assert down.started_at == 0  # the warning burned since the outage began (inhibited till now)
    assert down.incident_started_at == 0
    assert down.id == event_id(alerts.warning.fingerprint, Transition.DOWNGRADED, 0, 1800)
    # what it stands for, for receivers that need the two (Alertmanager)
    resolved, firing = down.replaces
    assert (resolved.transition, resolved.fingerprint) == (
        Transition.RESOLVED,
        alerts.critical.fingerprint,
    )
    assert (firing.transition, firing.fingerprint) == (
        Transition.FIRING,
        alerts.warning.fingerprint,
    )
    assert not alerts.critical.firing
    assert alerts.warning.firing and alerts.warning.notified
    assert alerts.warning.incident_started_at == 0


def test_the_downgraded_warning_repeats_and_resolves_as_part_of_the_same_incident() -> None:
    alerts, events = play([(100, BOTH), (1800, WARN_ONLY), (1800 + 3600, WARN_ONLY)])
    alerts, later = play([(9000, OK)], alerts)
    assert [(e.at, e.transition.value) for e in events[1:] + later] == [
        (1800, "downgraded"),
        (5400, "repeat"),
        (9000, "resolved"),
    ]
    # every later event of the warning remembers when the incident began (its duration)
    assert [e.incident_started_at for e in events[2:] + later] == [100, 100]
    assert [e.previous_fingerprint for e in events[2:] + later] == [None, None]
    # the next episode is a new incident
    assert alerts.warning.incident_started_at is None
    _, again = play([(10_000, WARN_ONLY)], alerts)
    assert [(e.transition.value, e.incident_started_at, e.started_at) for e in again] == [
        ("firing", None, 10_000)
    ]


def test_a_warning_announced_before_the_critical_is_not_downgraded_to() -> None:
    # the warning paged first, then the critical: the warning's thread exists already
    _, events = play([(0, WARN_ONLY), (60, BOTH), (1800, WARN_ONLY)])
    assert [(e.at, e.transition.value, e.severity.value) for e in events] == [
        (0, "firing", "warning"),
        (60, "firing", "critical"),
        (1800, "resolved", "critical"),
    ]


def test_critical_and_warning_resolving_together_is_a_plain_resolve() -> None:
    _, events = play([(0, BOTH), (1800, OK)])
    assert [(e.transition.value, e.severity.value) for e in events] == [
        ("firing", "critical"),
        ("resolved", "critical"),
    ]


def test_a_silenced_warning_is_not_announced_by_a_downgrade() -> None:
    alerts, _ = play([(0, BOTH)])

    def mute_warnings(labels: Mapping[str, str]) -> tuple[str, ...]:
        return ("s1",) if labels["severity"] == "warning" else ()

    _, events = play([(1800, WARN_ONLY)], alerts, mute_warnings)
    assert [(e.transition.value, e.severity.value, e.suppressed) for e in events] == [
        ("resolved", "critical", ""),
        ("firing", "warning", "silenced"),
    ]


def test_step_itself_keeps_the_two_events_the_downgrade_stands_for() -> None:
    alerts = new_instance("avail", {"agent_name": "billing"})
    alerts, _ = step(alerts, BOTH, RULES, 0)
    _, events = step(alerts, WARN_ONLY, RULES, 1800)
    assert [(e.transition.value, e.severity.value, e.incident_started_at) for e in events] == [
        ("resolved", "critical", None),
        ("firing", "warning", 0),  # the warning continues the critical's incident
    ]
    assert downgrades(list(reversed(events)))[0].replaces == tuple(events)  # order-free
    # a firing of another instance's warning is not merged with this critical's resolve
    other = new_instance("avail", {"agent_name": "support"})
    foreign = [events[0], replace(events[1], labels=other.warning.labels)]
    assert [e.transition.value for e in downgrades(foreign)] == ["resolved", "firing"]


def test_no_data_fires_with_the_time_the_data_stopped_as_its_start() -> None:
    _, events = play([(0, OK), (100, NO_DATA), (400, NO_DATA), (700, NO_DATA), (800, OK)])
    assert [(e.at, e.transition.value, e.started_at) for e in events] == [
        (700, "firing", 100),  # "since" 100, when the data stopped; noticed at 700
        (800, "resolved", 100),
    ]
