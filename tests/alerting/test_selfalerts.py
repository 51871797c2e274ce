"""Self-alerts through the real runtime: AlertCenter, SQLite StateStore and OutboxWorker, with
in-memory receivers and an explicit clock."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from sloguard.alerting.runtime import AlertRuntime
from sloguard.alerting.selfcheck import (
    EVALUATION_ERRORS,
    OUTBOX_STALE,
    RECEIVER_DISABLED,
    STORAGE_FAILURE,
    WATCHDOG,
    SelfCheckRules,
)
from sloguard.durations import DAY
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertmanagerSpec, AlertRouting, LogSpec, Receiver
from sloguard.notify.model import Delivery, Notification, Transition
from sloguard.notify.recording import RecordingNotifier
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.slos import make_slo

T0 = 1_800_000_000.0
SLO = make_slo("avail")
RULES = SelfCheckRules(interval=30.0, error_for=5, outbox_age=900.0)


class Clock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def result(at: float, *, error: str | None = None, bad: float = 0.0) -> InstanceResult:
    windows = {} if error else {w: Counts(bad * 1e5, 1e5) for w in SLO.windows()}
    ev = evaluate(
        objective=SLO.objective,
        period=30 * DAY,
        policy=SLO.alerting.policy,
        windows=windows,
        error=error,
    )
    return InstanceResult(SLO, SLOInstance.of(SLO.name, {}), ev, at)


def routing(*names: str, alertmanager: str | None = None) -> AlertRouting:
    """Every alert to every named receiver (and the Alertmanager one, resend_after 60s)."""
    receivers = {n: Receiver(n, "log", LogSpec()) for n in names}
    if alertmanager is not None:
        spec = AlertmanagerSpec.model_validate({"url": "http://127.0.0.1:9", "resend_after": "60s"})
        receivers[alertmanager] = Receiver(alertmanager, "alertmanager", spec)
    routes = tuple(Route(receiver=n, continue_=True) for n in receivers)
    return AlertRouting(receivers, Route(routes=routes))


async def runtime(
    tmp_path: Path,
    route: AlertRouting,
    *notifiers: RecordingNotifier,
    clock: Clock,
    rules: SelfCheckRules = RULES,
) -> AlertRuntime:
    """The daemon's alerting side with recording receivers in place of the real ones."""
    rt = AlertRuntime(tmp_path, registry=CollectorRegistry(), routing=route, self_check=rules)
    for built in rt.worker.notifiers.values():
        await built.aclose()
    rt.worker.notifiers = {n.name: n for n in notifiers}
    rt.worker.clock = clock
    return rt


async def deliver(rt: AlertRuntime) -> None:
    for name in list(rt.worker.notifiers):
        await rt.worker.run_once(name)


def self_sent(rec: RecordingNotifier) -> list[tuple[str, Transition, dict[str, str]]]:
    """(alertname, transition, labels) of the self-alerts a receiver got."""
    return [
        (n.labels["alertname"], n.transition, dict(n.labels))
        for n, _ in rec.sent
        if n.labels["alertname"].startswith("Sloguard")
    ]


async def test_a_disabled_receiver_is_reported_through_the_other(tmp_path: Path) -> None:
    clock = Clock()
    slack = RecordingNotifier("slack", script=[Delivery.permanent("HTTP 410", disable=True)])
    webhook = RecordingNotifier("webhook")
    rt = await runtime(tmp_path, routing("slack", "webhook"), slack, webhook, clock=clock)
    rt.center.process([result(clock.t, bad=0.05)], clock.t)  # an SLO burns: both receivers
    await deliver(rt)
    assert rt.store.disabled() == {"slack": "HTTP 410"}
    clock.t += 30
    queued = rt.check_self([result(clock.t, bad=0.05)], clock.t)
    assert [(n.receiver, n.labels["alertname"]) for n in queued] == [("webhook", RECEIVER_DISABLED)]
    await deliver(rt)
    [(name, transition, labels)] = self_sent(webhook)
    assert (name, transition, labels["receiver"]) == (RECEIVER_DISABLED, Transition.FIRING, "slack")
    n: Notification = webhook.sent[-1][0]
    assert n.annotations["summary"] == "sloguard disabled receiver slack"
    assert "HTTP 410" in n.annotations["description"]
    assert self_sent(slack) == []
    assert {a.labels["alertname"] for a in rt.center.active()} == {"SLOBurn", RECEIVER_DISABLED}
    # still firing: no second notification before the repeat interval
    clock.t += 30
    assert rt.check_self([], clock.t) == []
    # the receiver leaves the routing: the alert resolves, on the receiver that heard of it
    rt.routing = routing("webhook")
    rt.center.replace_routing(rt.routing)
    clock.t += 30
    rt.check_self([], clock.t)
    await deliver(rt)
    assert [(a, t) for a, t, _ in self_sent(webhook)] == [
        (RECEIVER_DISABLED, Transition.FIRING),
        (RECEIVER_DISABLED, Transition.RESOLVED),
    ]
    await rt.stop()


async def test_evaluation_errors_fire_after_n_intervals_and_resolve(tmp_path: Path) -> None:
    clock = Clock()
    a = RecordingNotifier("a")
    rt = await runtime(tmp_path, routing("a"), a, clock=clock)
    for _ in range(5):  # 0, 30, …, 120 s of errors: not yet 5 intervals
        assert rt.check_self([result(clock.t, error="Prometheus unreachable")], clock.t) == []
        clock.t += 30
    queued = rt.check_self([result(clock.t, error="Prometheus unreachable")], clock.t)
    assert [(n.labels["alertname"], n.labels["slo"]) for n in queued] == [
        (EVALUATION_ERRORS, "avail")
    ]
    assert queued[0].severity.value == "critical"
    clock.t += 30
    assert rt.check_self([result(clock.t)], clock.t)[0].transition is Transition.RESOLVED
    await deliver(rt)
    assert [(x, t) for x, t, _ in self_sent(a)] == [
        (EVALUATION_ERRORS, Transition.FIRING),
        (EVALUATION_ERRORS, Transition.RESOLVED),
    ]
    await rt.stop()


async def test_a_stale_outbox_is_reported_elsewhere_and_resolves(tmp_path: Path) -> None:
    clock = Clock()
    stuck = RecordingNotifier("stuck", script=[Delivery.retry("HTTP 503", after=600.0)] * 2)
    ok = RecordingNotifier("ok")
    rt = await runtime(tmp_path, routing("ok", "stuck"), ok, stuck, clock=clock)
    rt.center.process([result(clock.t, bad=0.05)], clock.t)
    await deliver(rt)
    assert rt.worker.pending_since() == {"stuck": T0}
    clock.t += 600
    await deliver(rt)  # second 503
    clock.t += 299
    assert rt.check_self([], clock.t) == []  # 14m59s
    clock.t += 1
    queued = rt.check_self([], clock.t)
    assert [(n.receiver, n.labels["alertname"], n.labels["receiver"]) for n in queued] == [
        ("ok", OUTBOX_STALE, "stuck")  # never to the stuck receiver itself
    ]
    clock.t += 300
    await deliver(rt)  # the receiver recovers: the SLO alert is delivered
    assert rt.worker.pending_since() == {}
    queued = rt.check_self([], clock.t)
    assert [(n.receiver, n.transition) for n in queued] == [("ok", Transition.RESOLVED)]
    await deliver(rt)
    assert [(x, t) for x, t, _ in self_sent(ok)] == [
        (OUTBOX_STALE, Transition.FIRING),
        (OUTBOX_STALE, Transition.RESOLVED),
    ]
    assert self_sent(stuck) == []
    await rt.stop()


async def test_storage_failures_from_watched_components(tmp_path: Path) -> None:
    clock = Clock()
    a = RecordingNotifier("a")
    rt = await runtime(tmp_path, routing("a"), a, clock=clock)
    reason: list[str | None] = ["trace store: write failing: database or disk is full"]
    rt.watch("traces", lambda: reason[0])
    queued = rt.check_self([], clock.t)
    assert [(n.labels["alertname"], n.labels["component"]) for n in queued] == [
        (STORAGE_FAILURE, "traces")
    ]
    assert "disk is full" in queued[0].annotations["description"]
    reason[0] = None
    clock.t += 30
    assert [n.transition for n in rt.check_self([], clock.t)] == [Transition.RESOLVED]

    def broken_probe() -> str | None:
        raise OSError("no such file")

    rt.watch("samples", broken_probe)  # a probe that raises reports that, the tick goes on
    clock.t += 30
    [n] = rt.check_self([], clock.t)
    assert n.labels["component"] == "samples" and "OSError" in n.annotations["description"]
    await rt.stop()


async def test_watchdog_goes_to_alertmanager_at_its_resend_interval(tmp_path: Path) -> None:
    clock = Clock()
    am, log = RecordingNotifier("am"), RecordingNotifier("log")
    route = routing("log", alertmanager="am")
    rt = await runtime(tmp_path, route, am, log, clock=clock)  # watchdog unset: Alertmanager on
    for _ in range(11):  # 5 minutes of ticks every 30 s
        rt.check_self([result(clock.t)], clock.t)
        await deliver(rt)
        clock.t += 30
    times = [n.labels["alertname"] for n, _ in am.sent]
    assert times == [WATCHDOG] * 6
    assert [n.transition for n, _ in am.sent] == [Transition.FIRING] + [Transition.REPEAT] * 5
    assert {n.labels["severity"] for n, _ in am.sent} == {"none"}
    assert log.sent == []  # the heartbeat is Alertmanager's business only
    assert rt.center.active() == []  # and not news on /api/v1/alerts
    await rt.stop()

    # a restart keeps the episode: the next post is a repeat, on schedule, not a new firing
    am2 = RecordingNotifier("am")
    rt2 = await runtime(tmp_path, route, am2, RecordingNotifier("log"), clock=clock)
    rt2.check_self([], clock.t)  # 30 s after the last post: too early
    await deliver(rt2)
    assert am2.sent == []
    clock.t += 30
    rt2.check_self([], clock.t)
    await deliver(rt2)
    assert [n.transition for n, _ in am2.sent] == [Transition.REPEAT]
    assert am2.sent[0][0].starts_at == T0
    await rt2.stop()


async def test_watchdog_off_and_self_alerts_off(tmp_path: Path) -> None:
    clock = Clock()
    am = RecordingNotifier("am")
    off = SelfCheckRules(interval=30.0, watchdog=False)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    rt = await runtime(tmp_path / "a", routing(alertmanager="am"), am, clock=clock, rules=off)
    assert rt.check_self([], clock.t) == []
    await rt.stop()
    rt = AlertRuntime(tmp_path / "b", registry=CollectorRegistry(), routing=routing("x"))
    rt.store.disable("x", "gone", clock.t)
    assert rt.check_self([], clock.t) == []  # no rules: no self-alerts
    await rt.worker.aclose()
    rt.store.close()


def test_the_daemon_takes_the_thresholds_from_the_settings() -> None:
    from sloguard.assembly import self_check_rules
    from sloguard.settings.model import Settings

    assert self_check_rules(Settings(evaluation_interval=15.0)) == SelfCheckRules(interval=15.0)
