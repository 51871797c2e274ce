"""Silences, maintenance windows and acknowledgements against the real receivers: the Slack bot
(a fake Slack Web API), a webhook receiver and a real Alertmanager (issue 16's acceptance).

Evaluation times are simulated (``T0`` onwards); the receivers are real servers on loopback.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.alerting.runtime import AlertRuntime
from sloguard.alerting.silences import parse_matcher
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertmanagerSpec, AlertRouting, Receiver, SlackSpec, WebhookSpec
from sloguard.notify.routing import Route
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.amserver import start_alertmanager
from tests.support.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.support.slos import make_slo
from tests.support.webhookreceiver import WebhookReceiver

pytestmark = pytest.mark.alertmanager

SLO = make_slo("checkout", group_by=("agent_name",))
INSTANCE = SLOInstance.of("checkout", {"agent_name": "billing"})
#: Simulated evaluation times start in the past: the Alertmanager receiver dates a firing
#: alert's end from the real clock, and Alertmanager refuses an alert that ends before it starts.
T0 = time.time() - 2100
RECEIVERS = ("am", "hook", "slack")


def result(error_ratio: float, at: float) -> InstanceResult:
    windows = {w: Counts(error_ratio * 1e5, 1e5) for w in SLO.windows()}
    ev = evaluate(objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy,
                  windows=windows)  # fmt: skip
    return InstanceResult(SLO, INSTANCE, ev, at)


BURNING, OK = 0.05, 0.0


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def am_hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager(tmp_path: Path, am_hook: WebhookReceiver) -> Iterator[str]:
    with start_alertmanager(tmp_path, am_hook.url) as url:
        yield url


@pytest.fixture
async def runtime(
    tmp_path: Path, slack: FakeSlack, hook: WebhookReceiver, alertmanager: str
) -> AsyncIterator[tuple[AlertRuntime, CollectorRegistry]]:
    receivers = {
        "slack": Receiver(
            "slack", "slack", SlackSpec(channel="alerts", base_url=slack.base_url), (DEFAULT_TOKEN,)
        ),
        "hook": Receiver("hook", "webhook", WebhookSpec(url=hook.url)),
        "am": Receiver("am", "alertmanager", AlertmanagerSpec(url=alertmanager)),
    }
    routes = tuple(Route(receiver=n, continue_=True) for n in sorted(receivers))
    registry = CollectorRegistry()
    data = tmp_path / "data"
    data.mkdir()
    rt = AlertRuntime(
        data, registry=registry, routing=AlertRouting(receivers, Route(routes=routes))
    )
    yield rt, registry
    await rt.worker.aclose()
    rt.store.close()


async def deliver(rt: AlertRuntime, at: float) -> None:
    """Deliver what is due at the simulated time ``at``."""
    rt.worker.clock = lambda: at
    for name in RECEIVERS:
        await rt.worker.run_once(name)


def am_alerts(url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v2/alerts", timeout=5.0)
    response.raise_for_status()
    return [a for a in response.json() if a["labels"].get("slo") == "checkout"]


def hook_transitions(hook: WebhookReceiver) -> list[str]:
    return [r.json["sloguard"].get("transition", r.json["status"]) for r in hook.deliveries]


def suppressed(registry: CollectorRegistry, reason: str) -> float:
    value = registry.get_sample_value("sloguard_notifications_suppressed_total", {"reason": reason})
    return value or 0.0


async def test_a_silenced_incident_sends_nothing_and_is_announced_when_the_silence_ends(
    runtime: tuple[AlertRuntime, CollectorRegistry],
    slack: FakeSlack,
    hook: WebhookReceiver,
    alertmanager: str,
) -> None:
    rt, registry = runtime
    silence = rt.center.silences.add(
        [parse_matcher("slo=checkout"), parse_matcher("severity=~critical|warning")],
        starts_at=T0, ends_at=T0 + 3600, created_by="ana", comment="known incident", now=T0,
    )  # fmt: skip
    for t in (T0 + 10, T0 + 70, T0 + 200, T0 + 400):  # firing, and repeats that would be due
        assert rt.center.process([result(BURNING, t)], t) == []
    await deliver(rt, T0 + 400)
    assert slack.calls_to("chat.postMessage") == []
    assert hook.deliveries == []
    assert am_alerts(alertmanager) == []
    # recorded: in the alert state, the suppression log and the metric
    alerts = rt.center.active(T0 + 400)
    assert {a.labels["severity"]: a.silenced_by for a in alerts} == {
        "critical": (silence.id,),
        "warning": (silence.id,),  # inhibited by the critical anyway
    }
    log = rt.store.suppressions()
    assert [(e["transition"], e["reason"], e["silences"]) for e in log] == [
        ("firing", "silenced", [silence.id])
    ]
    assert suppressed(registry, "silenced") == len(RECEIVERS)

    # expired while the alert still fires: announced now, everywhere
    rt.center.silences.expire(silence.id, T0 + 500)
    queued = rt.center.process([result(BURNING, T0 + 510)], T0 + 510)
    assert sorted((n.receiver, n.transition.value) for n in queued) == [
        (r, "firing") for r in RECEIVERS
    ]
    await deliver(rt, T0 + 510)
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert hook_transitions(hook) == ["firing"]
    assert [a["labels"]["severity"] for a in am_alerts(alertmanager)] == ["critical"]


async def test_an_incident_that_ends_inside_the_silence_is_recorded_only(
    runtime: tuple[AlertRuntime, CollectorRegistry],
    slack: FakeSlack,
    hook: WebhookReceiver,
    alertmanager: str,
) -> None:
    rt, registry = runtime
    matchers = [parse_matcher("agent_name=billing")]
    rt.center.silences.add(
        matchers, starts_at=T0, ends_at=T0 + 3600, created_by="ana", comment="deploy", now=T0
    )
    rt.center.process([result(BURNING, T0 + 10)], T0 + 10)
    assert rt.center.process([result(OK, T0 + 20)], T0 + 20) == []
    await deliver(rt, T0 + 20)
    assert (slack.calls, hook.deliveries, am_alerts(alertmanager)) == ([], [], [])
    assert [(e["transition"], e["reason"]) for e in rt.store.suppressions()] == [
        ("firing", "silenced"),
        ("resolved", "silenced"),
    ]
    assert suppressed(registry, "silenced") == 2 * len(RECEIVERS)


async def test_a_maintenance_window_created_in_advance_suppresses_exactly_its_range(
    runtime: tuple[AlertRuntime, CollectorRegistry], slack: FakeSlack, hook: WebhookReceiver
) -> None:
    rt, _ = runtime
    start, end = T0 + 1000, T0 + 2000
    matchers = [parse_matcher("slo=checkout")]
    window = rt.center.silences.add(
        matchers, starts_at=start, ends_at=end, created_by="ana", comment="db upgrade", now=T0
    )
    assert window.state(T0).value == "pending"
    timeline = [(T0 + 10, BURNING), (T0 + 20, OK), (start - 1, BURNING), (start, OK),
                (start + 1, BURNING), (end - 1, OK), (end - 0.5, BURNING), (end, BURNING),
                (end + 10, OK)]  # fmt: skip
    sent: list[tuple[float, str]] = []
    for t, ratio in timeline:
        sent += [(t - T0, n.transition.value) for n in rt.center.process([result(ratio, t)], t)
                 if n.receiver == "hook"]  # fmt: skip
        await deliver(rt, t)
    assert sent == [
        (10, "firing"), (20, "resolved"),  # before the window
        (999, "firing"), (1000, "resolved"),  # the resolve at its first second: no incident
        # (1001 … 1999.5): nothing
        (2000, "firing"), (2010, "resolved"),  # from its end on
    ]  # fmt: skip
    assert hook_transitions(hook) == ["firing", "resolved"] * 3
    assert [(e["at"] - T0, e["transition"]) for e in rt.store.suppressions()] == [
        (1001, "firing"), (1999, "resolved"), (1999.5, "firing"),
    ]  # fmt: skip
    assert len(slack.calls_to("chat.postMessage")) == 6


async def test_an_acknowledged_page_stops_repeating_and_slack_says_who_took_it(
    runtime: tuple[AlertRuntime, CollectorRegistry],
    slack: FakeSlack,
    hook: WebhookReceiver,
    alertmanager: str,
) -> None:
    rt, registry = runtime
    every = rt.center.rules.repeat_interval
    [firing, *_] = rt.center.process([result(BURNING, T0)], T0)
    await deliver(rt, T0)
    [post] = slack.calls_to("chat.postMessage")
    alert = rt.center.acknowledge(firing.fingerprint, "ana", "on it", T0 + 5)
    assert alert.acked_by == "ana"
    await deliver(rt, T0 + 5)
    # Slack: a thread reply, and the original updated with who acknowledged it
    replies = slack.calls_to("chat.postMessage")[1:]
    assert [r.params.get("thread_ts") is not None for r in replies] == [True]
    assert "acknowledged by ana" in replies[0].params["text"]
    [update] = slack.calls_to("chat.update")
    assert "Acknowledged by ana" in json.dumps(update.params["blocks"])
    assert "acknowledged by ana" in update.params["text"]
    assert post.params["text"] in update.params["text"]
    # the webhook hears of it; Alertmanager has no acknowledgements: nothing more is posted
    assert hook_transitions(hook) == ["firing", "acknowledged"]
    assert hook.deliveries[1].json["commonAnnotations"]["acknowledged_by"] == "ana"
    assert len(am_alerts(alertmanager)) == 1
    # acknowledging again sends nothing
    rt.center.acknowledge(firing.fingerprint, "bob", "", T0 + 6)
    assert rt.store.depth() == {}

    # no reminders while acknowledged, except to Alertmanager, where the re-post keeps the
    # alert alive (without it Alertmanager would end the alert by itself)
    for k in (1, 2, 3):
        reminders = rt.center.process([result(BURNING, T0 + k * every)], T0 + k * every)
        assert [(n.receiver, n.transition.value) for n in reminders] == [("am", "repeat")]
        await deliver(rt, T0 + k * every)
    assert suppressed(registry, "acknowledged") == 3 * 2  # slack and hook, three times
    assert hook_transitions(hook) == ["firing", "acknowledged"]
    assert len(slack.calls_to("chat.postMessage")) == 2  # the alert and the acknowledgement
    assert len(am_alerts(alertmanager)) == 1
    # the resolve goes out; the next episode pages and repeats again
    t = T0 + 4 * every
    resolved = rt.center.process([result(OK, t)], t)
    assert {n.transition.value for n in resolved} == {"resolved"}
    again = rt.center.process([result(BURNING, t + 10)], t + 10)
    assert {n.transition.value for n in again} == {"firing"}
    repeat = rt.center.process([result(BURNING, t + 10 + every)], t + 10 + every)
    assert {n.transition.value for n in repeat} == {"repeat"}
