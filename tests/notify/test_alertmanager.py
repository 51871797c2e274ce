"""The Alertmanager receiver against a real Alertmanager, whose own webhook receiver is ours."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from sloguard.notify.alertmanager import AlertmanagerNotifier
from sloguard.notify.model import AlertStatus, Notification, Outcome, Transition
from sloguard.notify.render import ZERO_TIME, rfc3339, webhook_payload
from sloguard.slo.budget import Severity
from tests.support.amserver import start_alertmanager
from tests.support.promserver import free_port
from tests.support.webhookreceiver import Request, WebhookReceiver

pytestmark = pytest.mark.alertmanager

#: How long Alertmanager may take to notify its webhook (group_wait 0s, group_interval 1s).
DEADLINE = 15.0
MS = 0.0005
LABELS = {
    "alertname": "SLOBurnRateHigh",
    "slo": "checkout-availability",
    "severity": "critical",
    "agent_name": "billing",
}
ANNOTATIONS = {"summary": "billing burns its error budget", "runbook_url": "https://rb/1"}


def notification(
    status: AlertStatus, *, starts_at: float, ends_at: float | None = None, **kw: Any
) -> Notification:
    fields: dict[str, Any] = {
        "id": f"n-{status.value}",
        "receiver": "alertmanager",
        "transition": Transition(status.value),
        "fingerprint": "5c0ffee5c0ffee55",
        "slo": "checkout-availability",
        "severity": Severity.CRITICAL,
        "labels": LABELS,
        "annotations": ANNOTATIONS,
        "starts_at": starts_at,
        "ends_at": ends_at,
        "objective": 0.999,
        "generator_url": "http://sloguard:9464/slos/checkout-availability",
    }
    fields.update(kw)
    return Notification(**fields)


class Clock:
    """Real time, frozen to whole milliseconds (what RFC 3339 with millis can show)."""

    def __init__(self) -> None:
        self.now = round(time.time(), 3)

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    """Where Alertmanager sends its own notifications."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager(tmp_path: Path, hook: WebhookReceiver) -> Iterator[str]:
    with start_alertmanager(tmp_path, hook.url) as url:
        yield url


def at(text: str) -> float:
    """Unix seconds of an Alertmanager time (Go's RFC 3339 trims trailing zeros: ``.33Z``)."""
    return datetime.fromisoformat(text).timestamp()


async def active_alerts(url: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"{url}/api/v2/alerts")
    response.raise_for_status()
    alerts: list[dict[str, Any]] = response.json()
    return alerts


async def notified(hook: WebhookReceiver, count: int) -> list[Request]:
    """Alertmanager's webhook notifications, once there are ``count`` of them."""
    await asyncio.to_thread(hook.wait_for, lambda h: len(h.deliveries) >= count, DEADLINE)
    return list(hook.deliveries)


async def test_a_firing_alert_is_active_in_alertmanager_and_notified_by_it(
    alertmanager: str, hook: WebhookReceiver
) -> None:
    clock = Clock()
    n = notification(AlertStatus.FIRING, starts_at=clock.now - 90)
    async with AlertmanagerNotifier("am", alertmanager, resend_after=60, clock=clock) as am:
        delivery = await am.send(n, None)
    assert delivery.outcome is Outcome.OK, delivery.reason

    [alert] = await active_alerts(alertmanager)
    assert alert["labels"] == LABELS and alert["annotations"] == ANNOTATIONS
    assert at(alert["startsAt"]) == pytest.approx(n.starts_at, abs=MS)
    assert at(alert["endsAt"]) == pytest.approx(clock.now + 4 * 60, abs=MS)  # 4 × resend_after
    assert alert["generatorURL"] == "http://sloguard:9464/slos/checkout-availability"
    assert alert["status"]["state"] == "active"
    assert [r["name"] for r in alert["receivers"]] == ["hook"]

    [sent] = await notified(hook, 1)
    assert sent.headers["user-agent"].startswith("Alertmanager/")
    body = sent.json
    assert body["status"] == "firing" and body["version"] == "4"
    assert body["alerts"][0]["labels"] == LABELS
    assert body["alerts"][0]["annotations"] == ANNOTATIONS
    assert body["alerts"][0]["endsAt"] == ZERO_TIME
    # sloguard's own webhook body has Alertmanager's shape, key for key, plus "sloguard"
    ours = webhook_payload(n, external_url=alertmanager)
    assert set(ours) - {"sloguard"} == set(body)
    assert set(ours["alerts"][0]) == set(body["alerts"][0])
    for key in ("groupKey", "groupLabels", "commonLabels", "commonAnnotations", "externalURL"):
        assert ours[key] == body[key], key


async def test_a_repeat_extends_the_alert_without_a_second_page(
    alertmanager: str, hook: WebhookReceiver
) -> None:
    clock = Clock()
    n = notification(AlertStatus.FIRING, starts_at=clock.now - 90)
    async with AlertmanagerNotifier("am", alertmanager, resend_after=30, clock=clock) as am:
        assert (await am.send(n, None)).outcome is Outcome.OK
        await notified(hook, 1)
        clock.now += 20
        repeat = notification(
            AlertStatus.FIRING, starts_at=n.starts_at, transition=Transition.REPEAT
        )
        assert (await am.send(repeat, None)).outcome is Outcome.OK
    [alert] = await active_alerts(alertmanager)
    assert at(alert["endsAt"]) == pytest.approx(clock.now + 4 * 30, abs=MS)
    assert at(alert["startsAt"]) == pytest.approx(n.starts_at, abs=MS)
    await asyncio.sleep(2.5)  # more than two group_interval ticks: still the one notification
    assert len(hook.deliveries) == 1


async def test_a_resolved_notification_resolves_the_alert(
    alertmanager: str, hook: WebhookReceiver
) -> None:
    clock = Clock()
    started = clock.now - 90
    async with AlertmanagerNotifier("am", alertmanager, clock=clock) as am:
        firing = await am.send(notification(AlertStatus.FIRING, starts_at=started), None)
        assert firing.outcome is Outcome.OK
        await notified(hook, 1)
        clock.now = ended = round(time.time(), 3)
        resolved = notification(AlertStatus.RESOLVED, starts_at=started, ends_at=ended)
        assert (await am.send(resolved, None)).outcome is Outcome.OK
    assert await active_alerts(alertmanager) == []  # the v2 API lists unresolved alerts only
    first, second = await notified(hook, 2)
    assert first.json["status"] == "firing"
    assert second.json["status"] == "resolved"
    [alert] = second.json["alerts"]
    assert alert["status"] == "resolved" and alert["labels"] == LABELS
    assert at(alert["startsAt"]) == pytest.approx(started, abs=MS)
    assert at(alert["endsAt"]) == pytest.approx(ended, abs=MS)


async def test_an_alert_alertmanager_refuses_is_permanent(alertmanager: str) -> None:
    clock = Clock()
    bad = notification(
        AlertStatus.FIRING, starts_at=clock.now, labels={**LABELS, "not-a-label-name": "x"}
    )
    async with AlertmanagerNotifier("am", alertmanager, clock=clock) as am:
        delivery = await am.send(bad, None)
    assert delivery.outcome is Outcome.PERMANENT and not delivery.disable
    assert "HTTP 400" in delivery.reason and "not-a-label-name" in delivery.reason
    assert await active_alerts(alertmanager) == []


async def test_alertmanager_down_is_retried() -> None:
    clock = Clock()
    url = f"http://127.0.0.1:{free_port()}"
    async with AlertmanagerNotifier("am", url, clock=clock) as am:
        delivery = await am.send(notification(AlertStatus.FIRING, starts_at=clock.now), None)
    assert delivery.outcome is Outcome.RETRY
    assert delivery.reason.startswith(f"Alertmanager 'am' at {url}: cannot connect")


async def test_a_send_after_aclose_is_retried_later_not_sent() -> None:
    clock = Clock()
    with WebhookReceiver() as stand_in:
        am = AlertmanagerNotifier("am", stand_in.url.removesuffix("/hook"), clock=clock)
        await am.aclose()
        delivery = await am.send(notification(AlertStatus.FIRING, starts_at=clock.now), None)
    # the daemon closes receivers on shutdown: retry keeps the notification for the next start
    assert delivery.outcome is Outcome.RETRY and not delivery.disable
    assert delivery.reason.startswith(f"Alertmanager 'am' at {am.url}: not sent")
    assert stand_in.requests == []


# --- what a real Alertmanager cannot be made to do: auth, path prefix, overload -----------------


async def test_credentials_and_path_prefix_reach_the_server_and_nothing_else() -> None:
    clock = Clock()
    n = notification(AlertStatus.FIRING, starts_at=clock.now)
    with WebhookReceiver() as stand_in:
        base = stand_in.url.removesuffix("/hook") + "/am/"
        stand_in.script(503, retry_after="15", body=b"token tok-8c1d2e3f is over quota")
        bearer = AlertmanagerNotifier("am", base, clock=clock, bearer_token="tok-8c1d2e3f")
        basic = AlertmanagerNotifier("am", base, clock=clock, basic_auth=("sloguard", "pw-77aa"))
        try:
            busy = await bearer.send(n, None)
            assert (await bearer.send(n, None)).outcome is Outcome.OK
            assert (await basic.send(n, None)).outcome is Outcome.OK
        finally:
            await bearer.aclose()
            await basic.aclose()
    assert busy.outcome is Outcome.RETRY and busy.after == 15.0
    assert "HTTP 503" in busy.reason and "tok-8c1d2e3f" not in busy.reason
    assert [r.path for r in stand_in.requests] == ["/am/api/v2/alerts"] * 3
    assert stand_in.requests[1].headers["authorization"] == "Bearer tok-8c1d2e3f"
    assert stand_in.requests[2].headers["authorization"].startswith("Basic ")
    [posted] = stand_in.requests[1].json
    assert set(posted) == {"labels", "annotations", "startsAt", "endsAt", "generatorURL"}
    assert posted["endsAt"] == rfc3339(clock.now + 4 * 60)
    for text in (repr(bearer), repr(basic)):
        assert "tok-8c1d2e3f" not in text and "pw-77aa" not in text
    assert bearer.resend_interval == 60.0


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="resend_after"):
        AlertmanagerNotifier("am", "http://127.0.0.1:9093", resend_after=0)
    with pytest.raises(ValueError, match="either"):
        AlertmanagerNotifier("am", "http://h:1", bearer_token="t", basic_auth=("u", "p"))
    with pytest.raises(ValueError, match="must be http"):
        AlertmanagerNotifier("am", "127.0.0.1:9093")
