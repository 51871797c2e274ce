"""The outbox worker with in-memory receivers and a real SQLite store; explicit clocks."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.store import StateStore
from sloguard.durations import DAY
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, LogSpec, Receiver
from sloguard.notify.model import AlertStatus, Delivery, Transition, from_dict, to_dict
from sloguard.notify.outbox import NotifyMetrics, OutboxWorker
from sloguard.notify.recording import RecordingNotifier
from sloguard.notify.render import webhook_payload
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, Severity, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.slos import make_slo

SLO = make_slo("avail", group_by=("agent_name",))
P = 30 * DAY


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def result(error_ratio: float, at: float) -> InstanceResult:
    windows = {w: Counts(error_ratio * 1e5, 1e5) for w in SLO.windows()}
    ev = evaluate(objective=SLO.objective, period=P, policy=SLO.alerting.policy, windows=windows)
    return InstanceResult(SLO, SLOInstance.of(SLO.name, {"agent_name": "billing"}), ev, at)


def routing(*names: str) -> AlertRouting:
    """Every alert to every named receiver."""
    receivers = {n: Receiver(n, "log", LogSpec()) for n in names}
    return AlertRouting(
        receivers, Route(routes=tuple(Route(receiver=n, continue_=True) for n in names))
    )


def setup(
    tmp_path: Path,
    *notifiers: RecordingNotifier,
    clock: Clock | None = None,
    registry: CollectorRegistry | None = None,
) -> tuple[StateStore, AlertCenter, OutboxWorker]:
    store = StateStore(tmp_path / "alerts.sqlite")
    center = AlertCenter(store, routing(*(n.name for n in notifiers)))
    worker = OutboxWorker(
        store,
        {n.name: n for n in notifiers},
        clock=clock or Clock(),
        metrics=NotifyMetrics(registry) if registry is not None else None,
        rng=random.Random(1),
        base_delay=1.0,
    )
    return store, center, worker


async def test_fire_then_resolve_reaches_every_receiver_once_with_ref(tmp_path: Path) -> None:
    a, b = RecordingNotifier("a"), RecordingNotifier("b")
    clock = Clock()
    store, center, worker = setup(tmp_path, a, b, clock=clock)
    queued = center.process([result(0.05, clock.t)], clock.t)
    assert [(n.receiver, n.status) for n in queued] == [
        ("a", AlertStatus.FIRING),
        ("b", AlertStatus.FIRING),
    ]
    await worker.run_once("a")
    await worker.run_once("b")
    clock.t += 60
    center.process([result(0.0, clock.t)], clock.t)
    await worker.run_once("a")
    await worker.run_once("b")
    for rec in (a, b):
        assert [n.status for n, _ in rec.sent] == [AlertStatus.FIRING, AlertStatus.RESOLVED]
        firing_ref = f"ref-{rec.sent[0][0].id[:8]}"
        assert rec.sent[1][1] == firing_ref  # the resolved message knows the firing one
    assert store.depth() == {}


async def test_retry_after_and_backoff_then_delivered_once(tmp_path: Path) -> None:
    a = RecordingNotifier("a", script=[Delivery.retry("429", after=7.0), Delivery.retry("500")])
    clock = Clock()
    registry = CollectorRegistry()
    _store, center, worker = setup(tmp_path, a, clock=clock, registry=registry)
    center.process([result(0.05, clock.t)], clock.t)
    await worker.run_once("a")
    assert len(a.attempts) == 1 and not a.sent
    clock.t += 6.9
    await worker.run_once("a")
    assert len(a.attempts) == 1  # Retry-After honoured
    clock.t += 0.2
    await worker.run_once("a")
    assert len(a.attempts) == 2  # second attempt: 500 -> backoff (1s * 2^1 * jitter)
    clock.t += 3.1
    await worker.run_once("a")
    assert len(a.attempts) == 3 and len(a.sent) == 1
    get = registry.get_sample_value
    assert (
        get(
            "sloguard_notifications_total",
            {"receiver": "a", "result": "retry", "reason": "rate_limited"},
        )
        == 1
    )
    assert (
        get(
            "sloguard_notifications_total",
            {"receiver": "a", "result": "retry", "reason": "transient"},
        )
        == 1
    )
    assert (
        get(
            "sloguard_notifications_total",
            {"receiver": "a", "result": "delivered", "reason": "delivered"},
        )
        == 1
    )


async def test_one_receivers_permanent_failure_does_not_touch_the_other(tmp_path: Path) -> None:
    bad = RecordingNotifier("bad", script=[Delivery.permanent("HTTP 400: bad request")])
    good = RecordingNotifier("good")
    store, center, worker = setup(tmp_path, bad, good)
    center.process([result(0.05, 1_800_000_000.0)], 1_800_000_000.0)
    await worker.run_once("bad")
    await worker.run_once("good")
    assert [r[2] for r in store.states("bad")] == ["failed"]
    assert [r[2] for r in store.states("good")] == ["delivered"]


async def test_gone_receiver_is_disabled(tmp_path: Path) -> None:
    gone = RecordingNotifier("gone", script=[Delivery.permanent("HTTP 410", disable=True)])
    clock = Clock()
    store, center, worker = setup(tmp_path, gone, clock=clock)
    center.process([result(0.05, clock.t)], clock.t)
    await worker.run_once("gone")
    clock.t += 60
    center.process([result(0.0, clock.t)], clock.t)
    await worker.run_once("gone")
    assert len(gone.attempts) == 1  # the resolved one was never attempted
    assert store.disabled() == {"gone": "HTTP 410"}
    assert [r[2] for r in store.states("gone")] == ["failed", "failed"]


async def test_restart_keeps_state_and_outbox(tmp_path: Path) -> None:
    clock = Clock()
    a = RecordingNotifier("a")
    store, center, _ = setup(tmp_path, a, clock=clock)
    center.process([result(0.05, clock.t)], clock.t)  # queued, never delivered: "crash"
    store.close()
    a2 = RecordingNotifier("a")
    store2, center2, worker2 = setup(tmp_path, a2, clock=clock)
    clock.t += 30
    # the alert is still firing after the restart: no second firing notification
    assert center2.process([result(0.05, clock.t)], clock.t) == []
    await worker2.run_once("a")
    assert [n.status for n, _ in a2.sent] == [AlertStatus.FIRING]
    assert store2.depth() == {}


async def test_drain_delivers_due_notifications(tmp_path: Path) -> None:
    a = RecordingNotifier("a")
    _store, center, worker = setup(tmp_path, a)
    center.process([result(0.05, 1_800_000_000.0)], 1_800_000_000.0)
    assert await worker.drain(5.0) == 0
    assert len(a.sent) == 1


async def test_firing_notifications_carry_recent_failing_trace_ids(tmp_path: Path) -> None:
    a = RecordingNotifier("a")
    clock = Clock()
    _, center, worker = setup(tmp_path, a, clock=clock)
    asked: list[dict[str, str]] = []

    def evidence(r: InstanceResult) -> list[str]:
        asked.append(r.labels)
        return ["t1", "t2", "t3", "t4"]

    center.evidence = evidence
    center.process([result(0.05, clock.t)], clock.t)
    clock.t += 60
    center.process([result(0.0, clock.t)], clock.t)
    await worker.run_once("a")
    firing, resolved = (n for n, _ in a.sent)
    assert firing.trace_ids == ("t1", "t2", "t3")  # at most three
    assert resolved.trace_ids == ()
    assert asked[0] == {"agent_name": "billing"}


async def test_trace_ids_link_to_their_pages_under_the_external_url(tmp_path: Path) -> None:
    a = RecordingNotifier("a")
    clock = Clock()
    store = StateStore(tmp_path / "alerts.sqlite")
    center = AlertCenter(store, routing("a"), external_url="https://slo.example.com/sloguard/")
    worker = OutboxWorker(store, {"a": a}, clock=clock, rng=random.Random(1), base_delay=1.0)
    center.evidence = lambda r: ["t/1", "t2"]
    center.process([result(0.05, clock.t)], clock.t)
    await worker.run_once("a")
    ((firing, _),) = a.sent
    assert firing.trace_urls == (
        "https://slo.example.com/sloguard/ui/#/traces/t%2F1",
        "https://slo.example.com/sloguard/ui/#/traces/t2",
    )
    # what the outbox stored reads back the same (the worker sent the stored copy)
    assert from_dict(to_dict(firing)) == firing
    # an outbox entry written before trace_urls existed still reads
    old = to_dict(firing)
    del old["trace_urls"]
    assert from_dict(old).trace_urls == ()


class Pace:
    """A simulated monotonic clock whose sleep advances it (and records each wait)."""

    def __init__(self) -> None:
        self.t = 5_000.0
        self.waits: list[float] = []

    def monotonic(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.t += seconds


async def test_a_receiver_gets_at_most_one_notification_per_min_interval(tmp_path: Path) -> None:
    slack, hook = RecordingNotifier("slack", min_interval=1.0), RecordingNotifier("hook")
    pace = Pace()
    store = StateStore(tmp_path / "alerts.sqlite")
    center = AlertCenter(store, routing("slack", "hook"))
    worker = OutboxWorker(
        store,
        {"slack": slack, "hook": hook},
        clock=Clock(),
        rng=random.Random(1),
        monotonic=pace.monotonic,
        sleep=pace.sleep,
    )
    for agent in ("billing", "shipping", "research"):
        r = result(0.05, 1_800_000_000.0)
        key = SLOInstance.of(r.slo.name, {"agent_name": agent})
        center.process([InstanceResult(r.slo, key, r.evaluation, r.at)], r.at)
    await worker.run_once("slack")
    await worker.run_once("hook")
    assert len(slack.sent) == len(hook.sent) == 3
    # the first goes at once, each next one a full interval after the previous (sending takes
    # no simulated time here); the receiver without an interval never waits
    assert pace.waits == [1.0, 1.0]

    pace.t += 0.25  # a later notification 0.25 s after the last waits only the rest
    r = result(0.05, 1_800_000_000.0)
    key = SLOInstance.of(r.slo.name, {"agent_name": "writer"})
    center.process([InstanceResult(r.slo, key, r.evaluation, r.at)], r.at)
    await worker.run_once("slack")
    assert pace.waits == [1.0, 1.0, 0.75]


#: An outbox payload exactly as versions before 0.2.0 wrote it: ``status`` plus ``repeat``,
#: ``severity`` and windows as text, tiers with ``tier`` and ``threshold``.
OLD_ROW = {
    "id": "5b1f0c8e9d2a4e7f8a6b3c1d0e9f8a7b", "receiver": "a", "status": "firing",
    "fingerprint": "1f2e3d4c5b6a7988", "slo": "avail", "severity": "critical",
    "labels": {"alertname": "SLOBurn", "slo": "avail", "severity": "critical",
               "agent_name": "billing"},
    "annotations": {"summary": "SLO avail is burning its error budget"},
    "starts_at": 1_800_000_000.0, "ends_at": None, "objective": 0.999, "sli": 0.95,
    "budget_remaining": -49.0, "time_to_exhaustion": 0.0,
    "burn_rates": {"5m": 50.0, "30m": 50.0, "1h": 50.0, "2h": 50.0, "6h": 50.0},
    "tiers": [{"severity": "critical", "tier": "1h/5m", "long_window": 3600.0,
               "short_window": 300.0, "threshold": 14.4, "long_burn": 50.0,
               "short_burn": 50.0}],
    "runbook_url": None, "dashboard_url": None, "generator_url": None, "trace_ids": [],
    "trace_urls": [], "repeat": False,
}  # fmt: skip


@pytest.mark.parametrize(
    ("status", "repeat", "transition"),
    [
        ("firing", False, Transition.FIRING),
        ("firing", True, Transition.REPEAT),
        ("resolved", False, Transition.RESOLVED),
    ],
)
def test_an_outbox_row_of_the_previous_version_loads(
    status: str, repeat: bool, transition: Transition
) -> None:
    n = from_dict({**OLD_ROW, "status": status, "repeat": repeat})
    assert (n.transition, n.status.value, n.repeat) == (transition, status, repeat)
    assert n.severity is Severity.CRITICAL
    assert n.burn_rates == {300.0: 50.0, 1800.0: 50.0, 3600.0: 50.0, 7200.0: 50.0, 21600.0: 50.0}
    (t,) = n.tiers
    assert (t.tier.severity, t.tier.name, t.tier.factor, t.long_burn, t.firing) == (
        Severity.CRITICAL, "1h/5m", 14.4, 50.0, True
    )  # fmt: skip
    # what the receivers render from it is what the previous version rendered
    numbers = webhook_payload(n)["sloguard"]
    assert numbers["burn_rates"] == OLD_ROW["burn_rates"]
    assert numbers["tiers"] == [
        {"severity": "critical", "tier": "1h/5m", "long_window_seconds": 3600.0,
         "short_window_seconds": 300.0, "factor": 14.4, "threshold": 14.4, "long_burn": 50.0,
         "short_burn": 50.0}
    ]  # fmt: skip
    assert (numbers["severity"], numbers["repeat"]) == ("critical", repeat)
    # and it is written back in the current shape, which reads the same
    assert from_dict(json.loads(json.dumps(to_dict(n)))) == n


async def test_an_outbox_of_the_previous_version_is_delivered(tmp_path: Path) -> None:
    db = tmp_path / "alerts.sqlite"
    StateStore(db).close()  # the schema is unchanged: create it, then write as 0.1 did
    with sqlite3.connect(db) as old:
        old.execute(
            "INSERT INTO outbox (id, receiver, fingerprint, started_at, payload, next_at,"
            " created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (OLD_ROW["id"], "a", OLD_ROW["fingerprint"], OLD_ROW["starts_at"],
             json.dumps(OLD_ROW), 1_800_000_000.0, 1_800_000_000.0),
        )  # fmt: skip
    a = RecordingNotifier("a")
    store = StateStore(db)
    worker = OutboxWorker(store, {"a": a}, clock=Clock(), rng=random.Random(1))
    await worker.run_once("a")
    ((sent, ref),) = a.sent
    assert (sent.id, sent.transition, sent.tiers[0].tier.factor, ref) == (
        OLD_ROW["id"], Transition.FIRING, 14.4, None
    )  # fmt: skip
    assert store.depth() == {}
