"""Notifications read at 3 am (issue 16, item 7): the ``downgraded`` transition through every
receiver's rendering, how long a resolved incident lasted, "since" = when the incident began,
and burn rates at resolution labelled as decaying. The Slack bot against the fake Slack.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from sloguard.durations import HOUR, MINUTE
from sloguard.notify.alertmanager import AlertmanagerNotifier
from sloguard.notify.model import Notification, Outcome, Transition, from_dict, to_dict
from sloguard.notify.render import (
    fallback_text,
    lasted,
    numbers,
    rfc3339,
    slack_message,
    title,
    webhook_payload,
)
from sloguard.notify.slack.bot import SlackBotNotifier
from sloguard.slo.budget import Severity, Tier, TierResult
from tests.support.fakeslack import Answer, FakeSlack

TOKEN = "xoxb-4242-4242-t0kenS3cretValue"
CRIT_START = 1_700_000_000.0  # 2023-11-14T22:13:20Z: the outage (and the critical) began
WARN_START = CRIT_START + 60.0  # the 3d/6h warning fired a minute later, inhibited
DOWN_AT = CRIT_START + 30 * MINUTE  # the critical resolved, the warning still fires
END = CRIT_START + 5 * HOUR  # the warning resolved


def warning(transition: Transition = Transition.DOWNGRADED, **changes: Any) -> Notification:
    """The warning of the incident (continuing the critical ``c1…``), at ``DOWN_AT``."""
    n = Notification(
        id=f"w-{transition.value}",
        receiver="ops",
        transition=transition,
        fingerprint="5e5e5e5e5e5e5e5e",
        slo="agent-availability",
        severity=Severity.WARNING,
        labels={
            "alertname": "SLOBurn",
            "slo": "agent-availability",
            "severity": "warning",
            "agent_name": "billing",
        },
        annotations={"summary": "billing burns its budget"},
        starts_at=WARN_START,
        ends_at=END if transition is Transition.RESOLVED else None,
        objective=0.999,
        sli=0.9981,
        budget_remaining=0.41,
        time_to_exhaustion=40 * HOUR,
        burn_rates={300.0: 0.0, 3600.0: 0.4, 21600.0: 2.1, 259200.0: 1.3},
        tiers=(TierResult(Tier(Severity.WARNING, 259200.0, 21600.0, 1.0), 1.3, 2.1, True, False),),
        previous_fingerprint="c1c1c1c1c1c1c1c1" if transition is Transition.DOWNGRADED else None,
        incident_starts_at=CRIT_START,
        at=END if transition is Transition.RESOLVED else DOWN_AT,
    )
    return dataclasses.replace(n, **changes)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", [])]
        out += [e["text"] for e in b.get("elements", []) if "text" in e]
    return out


# --- the text ---------------------------------------------------------------------------------


def test_a_downgrade_says_the_critical_is_over_and_the_warning_still_burns() -> None:
    n = warning()
    assert title(n) == (
        "[DOWNGRADED] SLO agent-availability (agent_name=billing) is no longer critical, "
        "still burning its error budget (warning)"
    )
    lines = fallback_text(n).splitlines()
    assert lines[1] == "critical lasted 30m (since 2023-11-14T22:13:20.000Z)"
    assert lines[2].startswith("warning tier 3d/6h: burn 1.3x")  # what still fires


def test_a_resolution_says_how_long_since_when_and_that_burn_rates_decay() -> None:
    n = warning(Transition.RESOLVED)
    assert lasted(n) == "lasted 5h (since 2023-11-14T22:13:20.000Z)"  # the whole incident
    text = fallback_text(n)
    assert "burn rates at resolution, decaying: 5m 0.0x · 1h 0.4x · 6h 2.1x · 3d 1.3x" in text
    assert "warning tier" not in text and "exhausted in" not in text
    _, blocks = slack_message(n)
    shown = texts(blocks)
    assert "*Lasted*\n5h" in shown
    assert "*Burn rates at resolution (decaying)*\n5m 0.0x · 1h 0.4x · 6h 2.1x · 3d 1.3x" in shown
    assert any(
        t.startswith("fingerprint `5e5e5e5e5e5e5e5e` · since 2023-11-14T22:13:20") for t in shown
    )


def test_since_is_when_the_alert_began_not_the_evaluation_time() -> None:
    n = warning(Transition.REPEAT, incident_starts_at=None, at=END - HOUR)
    _, blocks = slack_message(n)
    context = texts(blocks)[-1]
    assert f"since {rfc3339(WARN_START)}" in context
    assert numbers(n)["since"] == rfc3339(WARN_START)
    assert lasted(n) == ""  # still firing: no duration


def test_an_older_row_without_the_time_of_the_transition_still_renders() -> None:
    n = warning(Transition.RESOLVED, ends_at=None, at=None)
    assert lasted(n) == ""
    assert title(n).startswith("[RESOLVED]")


# --- the webhook payload ------------------------------------------------------------------------


def test_the_webhook_gets_one_payload_with_both_alerts_and_the_transition() -> None:
    body = webhook_payload(warning())
    assert body["status"] == "firing"
    assert body["sloguard"]["transition"] == "downgraded"
    warn, crit = body["alerts"]
    assert (warn["status"], warn["labels"]["severity"], warn["endsAt"]) == (
        "firing", "warning", "0001-01-01T00:00:00Z",
    )  # fmt: skip
    assert (crit["status"], crit["labels"]["severity"], crit["fingerprint"]) == (
        "resolved", "critical", "c1c1c1c1c1c1c1c1",
    )  # fmt: skip
    assert (crit["startsAt"], crit["endsAt"]) == (rfc3339(CRIT_START), rfc3339(DOWN_AT))
    assert body["sloguard"]["previous"] == {
        "fingerprint": "c1c1c1c1c1c1c1c1", "severity": "critical",
        "started_at": rfc3339(CRIT_START), "ended_at": rfc3339(DOWN_AT),
        "duration_seconds": 30 * MINUTE,
    }  # fmt: skip
    assert body["sloguard"]["burn_rates_decaying"] is False


def test_the_resolved_webhook_payload_has_the_duration_and_flags_decaying_burn_rates() -> None:
    body = webhook_payload(warning(Transition.RESOLVED))
    assert len(body["alerts"]) == 1
    s = body["sloguard"]
    assert s["duration_seconds"] == 5 * HOUR
    assert s["since"] == rfc3339(CRIT_START)
    assert s["burn_rates_decaying"] is True
    assert s["burn_rates"]["6h"] == 2.1  # the numbers are kept, labelled
    assert s["previous"] is None


def test_the_outbox_keeps_the_new_fields_and_reads_older_rows() -> None:
    n = warning()
    assert from_dict(json.loads(json.dumps(to_dict(n)))) == n
    old = to_dict(n)
    for key in ("previous_fingerprint", "incident_starts_at", "at"):
        del old[key]
    back = from_dict(old)
    assert (back.previous_fingerprint, back.incident_starts_at, back.at) == (None, None, None)
    assert back.thread == (back.fingerprint, back.starts_at)
    assert n.thread == ("c1c1c1c1c1c1c1c1", CRIT_START)  # replies in the critical's thread
    assert warning(Transition.RESOLVED).thread == ("5e5e5e5e5e5e5e5e", WARN_START)


# --- Alertmanager ----------------------------------------------------------------------------


async def test_alertmanager_gets_the_critical_resolved_and_the_warning_firing_in_one_post() -> None:
    posted: list[Any] = []

    def answer(request: httpx.Request) -> httpx.Response:
        posted.append(json.loads(request.content))
        return httpx.Response(200)

    am = AlertmanagerNotifier(
        "am", "http://am.example:9093", clock=lambda: DOWN_AT + 5,
        transport=httpx.MockTransport(answer),
    )  # fmt: skip
    try:
        assert (await am.send(warning(), None)).outcome is Outcome.OK
    finally:
        await am.aclose()
    [[crit, warn]] = posted
    assert crit["labels"]["severity"] == "critical" and crit["endsAt"] == rfc3339(DOWN_AT)
    assert warn["labels"]["severity"] == "warning" and warn["endsAt"] > rfc3339(DOWN_AT + 5)


# --- the Slack bot ---------------------------------------------------------------------------


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def bot(slack: FakeSlack) -> SlackBotNotifier:
    return SlackBotNotifier("ops-slack", TOKEN, "#alerts", base_url=slack.base_url, timeout=5)


def critical_page() -> Notification:
    w = warning(Transition.FIRING)
    return dataclasses.replace(
        w, id="c-firing", fingerprint="c1c1c1c1c1c1c1c1", severity=Severity.CRITICAL,
        labels={**w.labels, "severity": "critical"}, starts_at=CRIT_START, incident_starts_at=None,
        at=CRIT_START,
    )  # fmt: skip


async def test_the_bot_replies_in_the_critical_thread_and_marks_its_message(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    page = await bot.send(critical_page(), None)
    down = await bot.send(warning(), page.ref)
    assert down.outcome is Outcome.OK and down.ref == page.ref  # the warning's ref from now on
    _, reply = slack.calls_to("chat.postMessage")
    assert reply.params["thread_ts"] == "1700000000.000100"
    assert reply.params["text"].startswith("[DOWNGRADED]")
    original = slack.messages[("C123", "1700000000.000100")]
    assert "[CRITICAL]" in original["text"] and "downgraded to warning at" in original["text"]
    note = texts(original["blocks"])[-1]
    assert note == (
        f":arrow_down: Downgraded to warning at {rfc3339(DOWN_AT)}: critical lasted 30m "
        f"(since {rfc3339(CRIT_START)}); the warning still fires, see the thread."
    )
    # the warning's resolve later: the same thread, and the original turns resolved
    done = await bot.send(warning(Transition.RESOLVED), down.ref)
    assert done.ref == page.ref
    *_, last = slack.calls_to("chat.postMessage")
    assert last.params["thread_ts"] == "1700000000.000100"
    assert slack.messages[("C123", "1700000000.000100")]["text"].startswith("[RESOLVED]")


async def test_a_downgrade_without_the_critical_thread_is_a_new_message(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    delivery = await bot.send(warning(), None)
    assert delivery.outcome is Outcome.OK
    [post] = slack.calls
    assert "thread_ts" not in post.params and post.params["text"].startswith("[DOWNGRADED]")


async def test_a_failed_update_does_not_fail_the_delivered_downgrade(
    slack: FakeSlack, bot: SlackBotNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    page = await bot.send(critical_page(), None)
    slack.script(Answer(), Answer(200, "cant_update_message"))
    with caplog.at_level(logging.WARNING, logger="sloguard.notify.slack.bot"):
        delivery = await bot.send(warning(), page.ref)
    assert delivery.outcome is Outcome.OK and delivery.ref == page.ref
    assert "downgrade posted in the thread" in caplog.text
    assert "cant_update_message" in caplog.text and TOKEN not in caplog.text
