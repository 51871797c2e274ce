"""The alert state machine under silences and acknowledgements (pure, explicit ``now``)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

import pytest

from sloguard.alerting.silences import new_silence, parse_matcher, silenced_by
from sloguard.alerting.state import (
    AlertRules,
    InstanceAlerts,
    Silencer,
    acknowledge,
    new_instance,
    step,
)
from sloguard.slo.budget import Evaluation
from tests.alerting.test_state import ev

RULES = AlertRules(repeat_interval=3600.0, no_data_after=600.0)
BURNING = ev(long=0.05, short=0.05)
OK = ev()
Row = tuple[float, str, str]


def window(start: float, end: float, matcher: str = "slo=avail") -> Silencer:
    """A silence from ``start`` to ``end`` as the state machine sees it at a given time."""
    s = new_silence(
        "w1", [parse_matcher(matcher)], starts_at=start, ends_at=end, created_by="ana",
        comment="maintenance", now=0.0,
    )  # fmt: skip
    return lambda labels: silenced_by(labels, [s], _clock[0])


_clock = [0.0]


def run(
    seq: Sequence[tuple[float, Evaluation]],
    silencer: Silencer | None = None,
    alerts: InstanceAlerts | None = None,
) -> tuple[list[Row], InstanceAlerts]:
    """(now, transition, suppressed) of the critical SLOBurn alert's events."""
    alerts = alerts or new_instance("avail", {"agent_name": "billing"})
    out: list[Row] = []
    for now, e in seq:
        _clock[0] = now
        if silencer is None:
            alerts, events = step(alerts, e, RULES, now)
        else:
            alerts, events = step(alerts, e, RULES, now, silencer)
        out += [(now, x.transition.value, x.suppressed) for x in events]
    return out, alerts


def test_an_incident_inside_a_silence_is_recorded_not_announced() -> None:
    rows, alerts = run([(10, BURNING), (20, BURNING), (3700, BURNING), (3800, OK)], window(0, 1e5))
    assert rows == [(10, "firing", "silenced"), (3800, "resolved", "silenced")]
    assert alerts.critical.silenced_by == ("w1",)
    assert not alerts.critical.firing


def test_when_the_silence_ends_while_it_still_fires_it_is_announced() -> None:
    rows, _ = run([(10, BURNING), (50, BURNING), (100, BURNING), (200, OK)], window(0, 100))
    assert rows == [(10, "firing", "silenced"), (100, "firing", ""), (200, "resolved", "")]


def test_a_maintenance_window_suppresses_exactly_its_range() -> None:
    seq = [(t, BURNING) for t in (50, 99)] + [(100, OK), (150, BURNING), (199, OK)]
    seq += [(200, BURNING), (210, OK)]
    rows, _ = run(seq, window(100, 200))
    assert rows == [
        (50, "firing", ""),  # before the window: announced
        (100, "resolved", ""),
        (150, "firing", "silenced"),  # inside: recorded only
        (199, "resolved", "silenced"),
        (200, "firing", ""),  # at its end: announced again
        (210, "resolved", ""),
    ]


def test_an_alert_announced_before_the_silence_is_not_repeated_but_resolves() -> None:
    seq = [(0, BURNING), (3600, BURNING), (7200, BURNING), (7300, OK)]
    rows, _ = run(seq, window(1000, 1e5))
    assert rows == [
        (0, "firing", ""),
        (3600, "repeat", "silenced"),
        (7200, "repeat", "silenced"),
        (7300, "resolved", ""),  # receivers that saw it fire see it end
    ]


def test_a_silence_not_matching_changes_nothing() -> None:
    rows, _ = run([(10, BURNING), (3610, BURNING)], window(0, 1e5, "slo=other"))
    assert rows == [(10, "firing", ""), (3610, "repeat", "")]


def test_an_acknowledged_alert_stops_repeating_until_it_resolves() -> None:
    rows, alerts = run([(0, BURNING)])
    alerts = replace(alerts, critical=acknowledge(alerts.critical, "ana", 60.0))
    rows, alerts = run([(3600, BURNING), (7200, BURNING), (7300, OK)], alerts=alerts)
    assert rows == [
        (3600, "repeat", "acknowledged"),
        (7200, "repeat", "acknowledged"),
        (7300, "resolved", ""),
    ]
    assert alerts.critical.acked_by is None  # the acknowledgement ended with the episode
    rows, _ = run([(8000, BURNING), (11600, BURNING)], alerts=alerts)
    assert rows == [(8000, "firing", ""), (11600, "repeat", "")]  # a new episode pages


def test_acknowledging_a_warning_does_not_stop_a_critical() -> None:
    _, alerts = run([(0, ev(warn=0.05))])
    assert alerts.warning.firing
    alerts = replace(alerts, warning=acknowledge(alerts.warning, "ana", 10.0))
    alerts, events = step(alerts, ev(long=0.05, short=0.05, warn=0.05), RULES, 20.0)
    assert [(e.severity.value, e.transition.value, e.suppressed) for e in events] == [
        ("critical", "firing", "")
    ]


def test_only_a_firing_alert_can_be_acknowledged() -> None:
    with pytest.raises(ValueError, match="is not firing"):
        acknowledge(new_instance("avail", {}).critical, "ana", 0.0)
