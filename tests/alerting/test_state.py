"""Table tests of the pure alert state machine, with explicit ``now``."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import replace

from sloguard.alerting.state import (
    AlertRules,
    InstanceAlerts,
    event_id,
    fingerprint,
    new_instance,
    step,
)
from sloguard.durations import DAY
from sloguard.notify.model import AlertStatus, Transition
from sloguard.slo.budget import Counts, Evaluation, Policy, Severity, State, Tier, evaluate
from sloguard.slo.budget import default_policy as policy_for

P = 30 * DAY
POLICY = policy_for(P)
RULES = AlertRules(repeat_interval=3600.0, no_data_after=600.0)


def ev(
    *,
    long: float = 0.0,
    short: float = 0.0,
    warn: float = 0.0,
    total: float = 1e5,
    error: str | None = None,
) -> Evaluation:
    """An evaluation where the 1h/5m tier sees ``long``/``short`` and the 3d/6h ``warn``."""
    if error:
        return evaluate(objective=0.999, period=P, policy=POLICY, windows={}, error=error)
    ratios = {w: 0.0 for w in POLICY.windows() | {P}}
    ratios[3600.0], ratios[300.0] = long, short
    ratios[3 * DAY], ratios[6 * 3600.0] = warn, warn
    windows = {w: Counts(r * total, total) for w, r in ratios.items()}
    return evaluate(objective=0.999, period=P, policy=POLICY, windows=windows)


NO_DATA = evaluate(
    objective=0.999,
    period=P,
    policy=POLICY,
    windows={w: Counts(0, 0) for w in POLICY.windows() | {P}},
)
FEW = evaluate(
    objective=0.999,
    period=P,
    policy=POLICY,
    windows={w: Counts(1, 10) for w in POLICY.windows() | {P}},
)


def run(seq: Sequence[tuple[float, Evaluation]]) -> list[tuple[float, str, str, str]]:
    alerts: InstanceAlerts = new_instance("avail", {"agent_name": "billing"}, {"team": "ai"})
    out = []
    for now, e in seq:
        alerts, events = step(alerts, e, RULES, now)
        out += [(now, x.transition.value, x.labels["alertname"], x.severity.value) for x in events]
    return out


def test_fire_repeat_resolve() -> None:
    burning = ev(long=0.05, short=0.05)
    assert run([(0, ev()), (10, burning), (20, burning), (3610, burning), (3620, ev())]) == [
        (10, "firing", "SLOBurn", "critical"),
        (3610, "repeat", "SLOBurn", "critical"),
        (3620, "resolved", "SLOBurn", "critical"),
    ]


def test_unjudged_states_never_resolve() -> None:
    burning = ev(long=0.05, short=0.05)
    seq = [(0, burning), (10, ev(error="prometheus down")), (20, FEW), (30, NO_DATA), (40, ev())]
    assert run(seq) == [
        (0, "firing", "SLOBurn", "critical"),
        (40, "resolved", "SLOBurn", "critical"),
    ]


def test_critical_inhibits_warning_of_the_same_instance() -> None:
    both = ev(long=0.05, short=0.05, warn=0.01)
    warn_only = ev(warn=0.01)
    assert run([(0, both), (10, both), (20, warn_only), (30, ev())]) == [
        (0, "firing", "SLOBurn", "critical"),
        (20, "resolved", "SLOBurn", "critical"),
        (20, "firing", "SLOBurn", "warning"),  # notified once the critical is gone
        (30, "resolved", "SLOBurn", "warning"),
    ]


def test_no_data_alert_after_a_while_and_resolved_by_data() -> None:
    assert run([(0, NO_DATA), (300, NO_DATA), (600, NO_DATA), (700, NO_DATA), (800, ev())]) == [
        (600, "firing", "SLONoData", "warning"),
        (800, "resolved", "SLONoData", "warning"),
    ]


def test_event_ids_are_deterministic_and_distinct() -> None:
    alerts = new_instance("avail", {})
    burning = ev(long=0.05, short=0.05)
    a1, e1 = step(alerts, burning, RULES, 100.0)
    _, e2 = step(alerts, burning, RULES, 100.0)
    assert [e.id for e in e1] == [e.id for e in e2]  # same transition, same id
    _, e3 = step(a1, ev(), RULES, 200.0)
    assert e3[0].transition is Transition.RESOLVED and e3[0].id != e1[0].id


def test_fingerprint_is_alertmanagers() -> None:
    # Alertmanager (prometheus/common model.LabelSet.Fingerprint) gives these for the sets
    assert fingerprint({}) == "cbf29ce484222325"
    assert fingerprint({"alertname": "x"}) != fingerprint({"alertname": "y"})
    assert fingerprint({"a": "b", "c": "d"}) == fingerprint({"c": "d", "a": "b"})


def test_severity_is_the_enum_and_labels_stay_plain_text() -> None:
    _, events = step(new_instance("avail", {}), ev(long=0.05, short=0.05), RULES, 0.0)
    assert [(e.severity, type(e.labels["severity"])) for e in events] == [(Severity.CRITICAL, str)]


def test_a_transition_knows_alertmanagers_status() -> None:
    assert [t.status for t in Transition] == [
        AlertStatus.FIRING,  # firing
        AlertStatus.FIRING,  # repeat: still firing
        AlertStatus.RESOLVED,
        AlertStatus.FIRING,  # acknowledged: still firing
        AlertStatus.FIRING,  # downgraded: the warning still fires
    ]


def test_event_ids_are_what_they_were_before_the_transition_enum() -> None:
    # restart dedupe: an id stored by an older version must be computed again the same way
    assert (
        event_id("cbf29ce484222325", Transition.REPEAT, 1.0, 2.0)
        == (hashlib.sha256(b"cbf29ce484222325|repeat|1.000|2.000").hexdigest()[:32])
    )


# --- a tier that cannot be judged keeps its last judged state (issue 13, defect 17) -------------
#: The policy of the Prometheus-gap report: critical 2m/20s at 14.4, warning 4m/40s at 6.
SHORT = Policy(
    "short",
    (Tier(Severity.CRITICAL, 120.0, 20.0, 14.4), Tier(Severity.WARNING, 240.0, 40.0, 6.0)),
)


def gap_ev(seconds: dict[float, float], *, ratio: float = 1.0, rate: float = 2.0) -> Evaluation:
    """An evaluation of SHORT at 99.9 % where window ``w`` holds ``seconds[w]`` s of traffic."""
    windows = {w: Counts(ratio * rate * s, rate * s) for w, s in seconds.items()}
    return evaluate(objective=0.999, period=P, policy=SHORT, windows=windows)


FULL = {P: 3600.0, 120.0: 120.0, 20.0: 20.0, 240.0: 240.0, 40.0: 40.0}
#: the first evaluation after a 121 s gap: the 2m window holds ~10 s of samples (20 events, the
#: tier needs 69 to be judged), the 4m window still reaches back before the gap
AFTER_GAP = {P: 3600.0, 120.0: 10.0, 20.0: 10.0, 240.0: 230.0, 40.0: 10.0}


def run_short(seq: Sequence[tuple[float, Evaluation]]) -> list[tuple[float, str, str]]:
    return [(now, kind, sev) for now, kind, _, sev in run(seq)]


def test_a_gap_mid_incident_neither_resolves_nor_pages_again() -> None:
    outage, after_gap = gap_ev(FULL), gap_ev(AFTER_GAP)
    assert after_gap.state is State.BURNING  # judged: the warning tier fires
    assert [(t.firing, t.insufficient) for t in after_gap.tiers] == [(False, True), (True, False)]
    seq = [
        (0, outage),
        (10, outage),
        (20, ev(error="prometheus down")),  # 121 s without Prometheus
        (141, after_gap),
        (151, after_gap),
        (181, outage),  # the 2m window is judged again: still the same incident
        (300, gap_ev(FULL, ratio=0.0)),
    ]
    assert run_short(seq) == [(0, "firing", "critical"), (300, "resolved", "critical")]


def test_an_insufficient_tier_that_never_fired_does_not_hold_its_severity() -> None:
    # the warning fired on its own; the critical tier cannot judge but had not fired either
    warn_only = {P: 3600.0, 120.0: 10.0, 20.0: 10.0, 240.0: 240.0, 40.0: 40.0}
    seq = [(0, gap_ev(warn_only)), (10, gap_ev(warn_only, ratio=0.0))]
    assert run_short(seq) == [(0, "firing", "warning"), (10, "resolved", "warning")]


def test_an_insufficient_tier_resolves_once_judged_again() -> None:
    seq = [(0, gap_ev(FULL)), (10, gap_ev(AFTER_GAP, ratio=0.0)), (20, gap_ev(FULL, ratio=0.0))]
    assert run_short(seq) == [(0, "firing", "critical"), (20, "resolved", "critical")]


def test_a_firing_alert_stored_before_tiers_were_remembered_is_held_too() -> None:
    alerts = new_instance("avail", {})
    alerts = replace(alerts, critical=replace(alerts.critical, firing=True, notified=True,
                                              started_at=0.0, last_sent_at=0.0))  # fmt: skip
    held, events = step(alerts, gap_ev(AFTER_GAP), RULES, 10.0)
    assert events == [] and held.critical.firing
    assert held.critical.firing_tiers == ("2m/20s",)
