"""When alerts fired and resolved, read back from the alert store that the real center wrote.

The center processes results at simulated times with two receivers (each notification is in
the outbox twice: the moment is counted once); silenced events come from the store's record of
suppressed events; an alert that reached no receiver is known from its firing state.
"""

from __future__ import annotations

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.history import FIRED, RESOLVED, AlertMoment, alert_moments, moments
from sloguard.alerting.state import AlertEvent, AlertState, fingerprint
from sloguard.alerting.store import StateStore
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.model import Transition
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, Severity, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.slos import make_slo

SLO = make_slo("checkout", group_by=("agent_name",))
BILLING = SLOInstance.of("checkout", {"agent_name": "billing"})
SEARCH = SLOInstance.of("checkout", {"agent_name": "search"})
T0 = 1_800_000_000.0


def result(instance: SLOInstance, error_ratio: float, at: float) -> InstanceResult:
    windows = {w: Counts(error_ratio * 1e5, 1e5) for w in SLO.windows()}
    ev = evaluate(
        objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy, windows=windows
    )
    return InstanceResult(SLO, instance, ev, at)


def two_receivers() -> AlertRouting:
    receivers = {n: Receiver(n, "log", LogSpec()) for n in ("console", "audit")}
    return AlertRouting(
        receivers,
        Route(routes=(Route(receiver="audit", continue_=True), Route(receiver="console"))),
    )


def test_fired_and_resolved_moments_of_one_instance_counted_once() -> None:
    store = StateStore()
    center = AlertCenter(store, two_receivers())
    center.process([result(BILLING, 0.05, T0), result(SEARCH, 0.0, T0)], T0)
    center.process([result(BILLING, 0.05, T0 + 60), result(SEARCH, 0.05, T0 + 60)], T0 + 60)
    center.process([result(BILLING, 0.0, T0 + 600), result(SEARCH, 0.05, T0 + 600)], T0 + 600)
    assert len({r for _, r, _, _ in store.states()}) == 2  # both receivers were told

    got = alert_moments(store, BILLING, start=T0 - 1, end=T0 + 3600)
    assert [(m.at, m.kind, m.severity) for m in got] == [
        (T0, FIRED, "critical"),
        (T0 + 600, RESOLVED, "critical"),
    ]
    assert all(m.alertname == "SLOBurn" and m.suppressed == "" for m in got)
    # another instance has its own moments; a range leaves out what is outside it
    search = alert_moments(store, SEARCH, start=T0 - 1, end=T0 + 3600)
    assert [(m.at, m.kind) for m in search] == [(T0 + 60, FIRED)]
    assert alert_moments(store, BILLING, start=T0 + 1, end=T0 + 599) == []


def test_silenced_moments_come_from_the_record_of_suppressed_events() -> None:
    store = StateStore()
    labels = {
        "alertname": "SLOBurn",
        "slo": "checkout",
        "severity": "warning",
        "agent_name": "billing",
    }
    fp = fingerprint(labels)
    event = AlertEvent(
        id="e1", transition=Transition.FIRING, fingerprint=fp, labels=labels,
        severity=Severity.WARNING, started_at=T0, at=T0, suppressed="silenced", silences=("s1",),
    )  # fmt: skip
    store.suppress([event])
    assert alert_moments(store, BILLING, start=T0 - 1, end=T0 + 1) == [
        AlertMoment(T0, FIRED, "warning", "SLOBurn", fp, "silenced")
    ]
    assert alert_moments(store, SEARCH, start=T0 - 1, end=T0 + 1) == []


def test_an_alert_no_receiver_heard_of_is_known_from_its_state() -> None:
    store = StateStore()
    routing = AlertRouting({}, Route(receiver="nobody"))  # routes to no configured receiver
    center = AlertCenter(store, routing)
    center.process([result(BILLING, 0.05, T0)], T0)
    assert store.states() == []
    [m] = alert_moments(store, BILLING, start=T0 - 1, end=T0 + 1)
    assert (m.at, m.kind, m.severity) == (T0, FIRED, "critical")


def test_a_state_adds_nothing_when_its_episode_was_notified() -> None:
    labels = {
        "alertname": "SLOBurn",
        "slo": "checkout",
        "severity": "critical",
        "agent_name": "billing",
    }
    fp = fingerprint(labels)
    state = AlertState(fp, labels, firing=True, notified=True, started_at=T0)
    sent = [{
        "id": "n1", "receiver": "console", "transition": "firing", "fingerprint": fp,
        "slo": "checkout", "severity": "critical", "labels": labels, "annotations": {},
        "starts_at": T0, "ends_at": None, "objective": 0.999, "created_at": T0 + 1,
    }]  # fmt: skip
    got = moments(BILLING, sent, [], [state], T0 - 10, T0 + 10)
    assert [(m.at, m.kind) for m in got] == [(T0 + 1, FIRED)]
    assert [(m.at, m.kind) for m in moments(BILLING, [], [], [state], T0 - 10, T0 + 10)] == [
        (T0, FIRED)
    ]


def test_a_downgrade_is_the_critical_resolving_and_the_warning_firing() -> None:
    # burn 50 pages (critical; the warning is inhibited), burn 4 keeps only the warning's
    # tiers: one "downgraded" notification per receiver stands for both moments
    store = StateStore()
    center = AlertCenter(store, two_receivers())
    center.process([result(BILLING, 0.05, T0)], T0)
    center.process([result(BILLING, 0.004, T0 + 600)], T0 + 600)
    sent, _ = store.history_rows("checkout", T0 - 1, T0 + 3600, 100)
    assert [r["transition"] for r in sent] == ["firing"] * 2 + ["downgraded"] * 2
    got = alert_moments(store, BILLING, start=T0 - 1, end=T0 + 3600)
    assert [(m.at, m.kind, m.severity) for m in got] == [
        (T0, FIRED, "critical"),
        (T0 + 600, FIRED, "warning"),
        (T0 + 600, RESOLVED, "critical"),
    ]
    critical = fingerprint({**BILLING.labels_dict, "alertname": "SLOBurn", "slo": "checkout",
                            "severity": "critical"})  # fmt: skip
    assert [m.fingerprint for m in got if m.severity == "critical"] == [critical, critical]
