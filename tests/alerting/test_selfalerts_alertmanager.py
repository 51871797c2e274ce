"""Self-alerts through a real Alertmanager: the watchdog heartbeat and a disabled receiver's
alert reach Alertmanager, and through it its own webhook receiver (the dead man's switch)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client import CollectorRegistry

from sloguard.alerting.runtime import AlertRuntime
from sloguard.alerting.selfcheck import RECEIVER_DISABLED, WATCHDOG, SelfCheckRules
from sloguard.notify.config import AlertmanagerSpec, AlertRouting, LogSpec, Receiver
from sloguard.notify.routing import Route
from tests.support.amserver import start_alertmanager
from tests.support.webhookreceiver import WebhookReceiver

pytestmark = pytest.mark.alertmanager

DEADLINE = 15.0
RESEND = 30.0


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    """Alertmanager's own receiver: where a dead man's switch would listen."""
    with WebhookReceiver() as receiver:
        yield receiver


@pytest.fixture
def alertmanager(tmp_path: Path, hook: WebhookReceiver) -> Iterator[str]:
    with start_alertmanager(tmp_path, hook.url) as url:
        yield url


def at(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


async def active(url: str) -> dict[str, dict[str, Any]]:
    """Alertmanager's active alerts by alertname."""
    async with httpx.AsyncClient(timeout=5.0) as client:
        response = await client.get(f"{url}/api/v2/alerts")
    response.raise_for_status()
    return {a["labels"]["alertname"]: a for a in response.json()}


def routing(url: str) -> AlertRouting:
    spec = AlertmanagerSpec.model_validate({"url": url, "resend_after": f"{RESEND:g}s"})
    receivers = {
        "am": Receiver("am", "alertmanager", spec),
        "console": Receiver("console", "log", LogSpec()),
    }
    routes = tuple(Route(receiver=n, continue_=True) for n in receivers)
    return AlertRouting(receivers, Route(routes=routes))


async def test_watchdog_and_a_disabled_receiver_reach_alertmanager(
    tmp_path: Path, alertmanager: str, hook: WebhookReceiver
) -> None:
    data = tmp_path / "data"
    data.mkdir()
    rt = AlertRuntime(
        data,
        registry=CollectorRegistry(),
        routing=routing(alertmanager),
        self_check=SelfCheckRules(interval=30.0),
    )
    skew = [0.0]  # simulated time ahead of the clock (the Alertmanager notifier keeps real time)
    rt.worker.clock = lambda: time.time() + skew[0]
    try:
        now = time.time()
        [n] = rt.check_self([], now)
        assert (n.receiver, n.labels["alertname"]) == ("am", WATCHDOG)
        await rt.worker.run_once("am")
        alerts = await active(alertmanager)
        watchdog = alerts[WATCHDOG]
        assert watchdog["labels"] == {"alertname": WATCHDOG, "severity": "none"}
        first_end = at(watchdog["endsAt"])
        assert first_end == pytest.approx(time.time() + 4 * RESEND, abs=5.0)
        await asyncio.to_thread(hook.wait_for, lambda h: len(h.deliveries) >= 1, DEADLINE)
        assert hook.deliveries[0].json["alerts"][0]["labels"]["alertname"] == WATCHDOG

        # one resend interval later the heartbeat is posted again and lives longer
        await asyncio.sleep(1.0)
        skew[0] = RESEND
        [again] = rt.check_self([], now + RESEND)
        assert again.transition.value == "repeat"
        await rt.worker.run_once("am")
        assert at((await active(alertmanager))[WATCHDOG]["endsAt"]) > first_end

        # the console receiver is disabled: Alertmanager hears of it, the console does not
        rt.store.disable("console", "HTTP 410", now + RESEND)
        queued = rt.check_self([], now + RESEND + 1)
        assert [(q.receiver, q.labels["alertname"]) for q in queued] == [("am", RECEIVER_DISABLED)]
        await rt.worker.run_once("am")
        alert = (await active(alertmanager))[RECEIVER_DISABLED]
        assert alert["labels"]["receiver"] == "console"
        assert "HTTP 410" in alert["annotations"]["description"]
    finally:
        await rt.stop()
