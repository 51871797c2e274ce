"""A critical that resolves while its warning still fires, against the real receivers (issue 16,
item 7): the Slack bot (a fake Slack Web API) gets one "downgraded" reply in the critical's
thread and an update of the critical's message, and the warning's resolve in that same thread;
a webhook gets one payload; a real Alertmanager keeps its own semantics (the critical resolved,
the warning firing). Also the log lines of fired / resolved / delivered alerts.

Evaluation times are simulated (``T0`` onwards); the receivers are real servers on loopback.
"""

from __future__ import annotations

import io
import json
import logging
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import structlog
from prometheus_client import CollectorRegistry

from sloguard.alerting.runtime import AlertRuntime
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.logs import QUIET_LOGGERS, configure_logging
from sloguard.notify.config import AlertmanagerSpec, AlertRouting, Receiver, SlackSpec, WebhookSpec
from sloguard.notify.render import rfc3339
from sloguard.notify.routing import Matcher, Route
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.amserver import start_alertmanager
from tests.support.fakeslack import DEFAULT_TOKEN, FakeSlack
from tests.support.slos import make_slo
from tests.support.webhookreceiver import WebhookReceiver

SLO = make_slo("checkout", group_by=("agent_name",))
INSTANCE = SLOInstance.of("checkout", {"agent_name": "billing"})
#: In the past: Alertmanager refuses an alert that ends (real clock) before it starts.
T0 = float(int(time.time()) - 3 * 3600)
OUTAGE, AFTER, OK = 0.05, 0.002, 0.0


def result(kind: float, at: float) -> InstanceResult:
    """``OUTAGE``: every tier fires; ``AFTER``: only the 3d/6h warning (the outage has left the
    short windows, not the 6h and longer ones); ``OK``: nothing."""
    windows = {
        w: Counts((kind if kind != AFTER or w >= 6 * 3600 else 0.0) * 1e5, 1e5)
        for w in SLO.windows()
    }
    ev = evaluate(objective=SLO.objective, period=SLO.period, policy=SLO.alerting.policy,
                  windows=windows)  # fmt: skip
    return InstanceResult(SLO, INSTANCE, ev, at)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack() as fake:
        yield fake


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


def make_runtime(
    data: Path, receivers: dict[str, Receiver], routes: tuple[Route, ...]
) -> AlertRuntime:
    data.mkdir()
    return AlertRuntime(
        data, registry=CollectorRegistry(), routing=AlertRouting(receivers, Route(routes=routes))
    )


async def deliver(rt: AlertRuntime, at: float) -> None:
    rt.worker.clock = lambda: at
    for name in rt.worker.notifiers:
        await rt.worker.run_once(name)


@pytest.fixture
async def bot_and_hook(
    tmp_path: Path, slack: FakeSlack, hook: WebhookReceiver
) -> AsyncIterator[AlertRuntime]:
    receivers = {
        "slack": Receiver(
            "slack", "slack", SlackSpec(channel="alerts", base_url=slack.base_url), (DEFAULT_TOKEN,)
        ),
        "hook": Receiver("hook", "webhook", WebhookSpec(url=hook.url)),
    }
    routes = tuple(Route(receiver=n, continue_=True) for n in sorted(receivers))
    rt = make_runtime(tmp_path / "data", receivers, routes)
    yield rt
    await rt.worker.aclose()
    rt.store.close()


async def test_slack_gets_one_downgrade_in_the_critical_thread_and_the_resolve_there_too(
    bot_and_hook: AlertRuntime, slack: FakeSlack, hook: WebhookReceiver
) -> None:
    rt = bot_and_hook
    rt.center.process([result(OUTAGE, T0)], T0)
    await deliver(rt, T0)
    [page] = slack.calls_to("chat.postMessage")
    assert "[CRITICAL]" in page.params["text"]
    # the outage is over after 30 minutes; the 3d/6h warning keeps firing
    t = T0 + 1800
    queued = rt.center.process([result(AFTER, t)], t)
    assert sorted((n.receiver, n.transition.value) for n in queued) == [
        ("hook", "downgraded"),
        ("slack", "downgraded"),
    ]
    await deliver(rt, t)
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 2  # no new top-level "warning firing" message
    reply = posts[1].params
    assert page.params.get("thread_ts") is None
    # a reply in the page's thread (the ref the page's delivery stored)
    [warning] = [n for n in rt.center.active() if n.labels["severity"] == "warning"]
    page_ref = rt.store.ref("slack", queued[0].previous_fingerprint or "", T0)
    assert page_ref is not None and reply["thread_ts"] == page_ref.rpartition(":")[2]
    # ... which is now the warning's too: its reminders and resolve go there
    assert rt.store.ref("slack", warning.fingerprint, warning.started_at) == page_ref
    assert "[DOWNGRADED]" in reply["text"]
    assert "critical lasted 30m" in reply["text"]
    [update] = slack.calls_to("chat.update")
    assert update.params["ts"] == reply["thread_ts"]
    note = json.dumps(update.params["blocks"])
    assert f"Downgraded to warning at {rfc3339(t)}" in note
    assert "downgraded to warning" in update.params["text"]
    # the webhook: one payload, the warning firing plus the critical it replaces, resolved
    assert [d.json["sloguard"]["transition"] for d in hook.deliveries] == [
        "firing",
        "downgraded",
    ]
    body = hook.deliveries[1].json
    assert body["status"] == "firing"
    assert [(a["labels"]["severity"], a["status"]) for a in body["alerts"]] == [
        ("warning", "firing"),
        ("critical", "resolved"),
    ]
    assert body["alerts"][1]["endsAt"] == rfc3339(t)
    assert body["sloguard"]["previous"]["duration_seconds"] == 1800
    assert body["sloguard"]["since"] == rfc3339(T0)

    # hours later the warning resolves: in the same thread, and the original says so
    end = T0 + 5 * 3600
    queued = rt.center.process([result(OK, end)], end)
    assert {n.transition.value for n in queued} == {"resolved"}
    await deliver(rt, end)
    posts = slack.calls_to("chat.postMessage")
    assert len(posts) == 3
    assert posts[2].params["thread_ts"] == reply["thread_ts"]
    assert "[RESOLVED]" in posts[2].params["text"]
    assert "lasted 5h" in posts[2].params["text"]  # the whole incident, from the page on
    assert f"since {rfc3339(T0)}" in posts[2].params["text"]
    assert "at resolution, decaying" in posts[2].params["text"]
    updates = slack.calls_to("chat.update")
    assert len(updates) == 2 and updates[1].params["ts"] == reply["thread_ts"]
    resolved = hook.deliveries[2].json["sloguard"]
    assert resolved["transition"] == "resolved"
    assert resolved["duration_seconds"] == 5 * 3600
    assert resolved["burn_rates_decaying"] is True


async def test_receivers_routed_one_severity_get_that_alerts_own_transition(
    tmp_path: Path,
) -> None:
    def hook(name: str) -> Receiver:
        return Receiver(name, "webhook", WebhookSpec(url="http://127.0.0.1:9/unused"))

    receivers = {n: hook(n) for n in ("pager", "tickets", "both")}
    routes = (
        Route(receiver="pager", matchers=(Matcher("severity", "critical"),), continue_=True),
        Route(receiver="tickets", matchers=(Matcher("severity", "warning"),), continue_=True),
        Route(receiver="both", continue_=True),
    )
    rt = make_runtime(tmp_path / "data", receivers, routes)
    try:
        rt.center.process([result(OUTAGE, T0)], T0)
        queued = rt.center.process([result(AFTER, T0 + 1800)], T0 + 1800)
        assert sorted((n.receiver, n.transition.value, n.severity.value) for n in queued) == [
            ("both", "downgraded", "warning"),
            ("pager", "resolved", "critical"),  # its page must not stay firing
            ("tickets", "firing", "warning"),  # it never heard of the critical
        ]
    finally:
        await rt.worker.aclose()
        rt.store.close()


@pytest.mark.alertmanager
async def test_alertmanager_keeps_its_semantics_the_critical_resolves_the_warning_fires(
    tmp_path: Path, hook: WebhookReceiver
) -> None:
    with start_alertmanager(tmp_path, hook.url) as url:
        receivers = {"am": Receiver("am", "alertmanager", AlertmanagerSpec(url=url))}
        rt = make_runtime(tmp_path / "data", receivers, (Route(receiver="am"),))
        try:
            rt.center.process([result(OUTAGE, T0)], T0)
            await deliver(rt, T0)
            assert [a["labels"]["severity"] for a in am_alerts(url)] == ["critical"]
            t = T0 + 1800
            queued = rt.center.process([result(AFTER, t)], t)
            assert [(n.transition.value, n.severity.value) for n in queued] == [
                ("resolved", "critical"),
                ("firing", "warning"),
            ]
            await deliver(rt, t)
            assert [a["labels"]["severity"] for a in am_alerts(url)] == ["warning"]
        finally:
            await rt.worker.aclose()
            rt.store.close()


def am_alerts(url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{url}/api/v2/alerts", timeout=5.0)
    response.raise_for_status()
    return [a for a in response.json() if a["labels"].get("slo") == "checkout"]


@pytest.fixture
def logged() -> Iterator[io.StringIO]:
    """``configure_logging("info")`` into a buffer; the previous logging state restored after."""
    root = logging.getLogger()
    saved = (root.handlers[:], root.level)
    levels = {name: logging.getLogger(name).level for name in QUIET_LOGGERS}
    out = io.StringIO()
    configure_logging("info", "json", stream=out)
    try:
        yield out
    finally:
        root.handlers = saved[0]
        root.setLevel(saved[1])
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)
        structlog.reset_defaults()


async def test_one_log_line_per_alert_fired_resolved_or_delivered(
    bot_and_hook: AlertRuntime, logged: io.StringIO
) -> None:
    rt = bot_and_hook
    for t, kind in ((T0, OUTAGE), (T0 + 60, OUTAGE), (T0 + 1800, AFTER), (T0 + 7200, OK)):
        rt.center.process([result(kind, t)], t)
        await deliver(rt, t)
    lines = [json.loads(x) for x in logged.getvalue().splitlines() if x.strip()]
    alerts = [x for x in lines if x["event"].startswith("alert ")]
    assert [(x["event"], x["severity"], x["receivers"]) for x in alerts] == [
        ("alert fired", "critical", ["hook", "slack"]),
        ("alert downgraded", "warning", ["hook", "slack"]),
        ("alert resolved", "warning", ["hook", "slack"]),
    ]
    assert all(x["slo"] == "checkout" and x["alertname"] == "SLOBurn" for x in alerts)
    assert alerts[0]["since"] == rfc3339(T0) and alerts[0]["duration_seconds"] is None
    assert alerts[1]["duration_seconds"] == 1800  # how long the critical lasted
    assert alerts[2]["duration_seconds"] == 7200  # the whole incident
    delivered = [x for x in lines if x["event"] == "notification delivered"]
    assert sorted((x["receiver"], x["transition"]) for x in delivered) == sorted(
        (r, t) for r in ("hook", "slack") for t in ("firing", "downgraded", "resolved")
    )
    assert all(x["level"] == "info" and x["attempts"] == 1 for x in delivered)
