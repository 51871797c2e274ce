"""Slack receivers through the real slack-sdk clients against a fake Slack on 127.0.0.1."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web import WebClient

from sloguard.notify.model import Delivery, Notification, Outcome, Transition
from sloguard.notify.render import MAX_HEADER
from sloguard.notify.slack.bot import SlackBotNotifier
from sloguard.notify.slack.webhook import SlackWebhookNotifier
from sloguard.slo.budget import Severity, Tier, TierResult
from tests.support.fakeslack import Answer, FakeSlack

TOKEN = "xoxb-4242-4242-t0kenS3cretValue"
STARTS = 1_700_000_000.0


def notification(**changes: Any) -> Notification:
    """A firing critical alert of one agent's availability SLO; ``changes`` override fields."""
    base = Notification(
        id="01HZY-firing",
        receiver="ops-slack",
        transition=Transition.FIRING,
        fingerprint="a1b2c3d4e5f60718",
        slo="agent-availability",
        severity=Severity.CRITICAL,
        labels={
            "alertname": "SLOBurn",
            "slo": "agent-availability",
            "severity": "critical",
            "agent_name": "billing",
        },
        annotations={"description": "The billing agent fails more than its SLO allows."},
        starts_at=STARTS,
        ends_at=None,
        objective=0.999,
        sli=0.9812,
        budget_remaining=0.423,
        time_to_exhaustion=5_400.0,
        burn_rates={3_600.0: 18.8, 300.0: 22.5},
        tiers=(TierResult(Tier(Severity.CRITICAL, 3_600.0, 300.0, 14.4), 18.8, 22.5, True, False),),
        runbook_url="https://runbooks.example/agent-availability",
        dashboard_url="https://grafana.example/d/slo",
        trace_ids=("4bf92f3577b34da6a3ce929d0e0e4736",),
    )
    return dataclasses.replace(base, **changes)


def resolution(**changes: Any) -> Notification:
    """The resolution of :func:`notification`."""
    return notification(
        id="01HZY-resolved", transition=Transition.RESOLVED, ends_at=STARTS + 3_600.0, **changes
    )


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def bot(slack: FakeSlack) -> SlackBotNotifier:
    return SlackBotNotifier("ops-slack", TOKEN, "#alerts", base_url=slack.base_url, timeout=5)


@pytest.fixture
def hook(slack: FakeSlack) -> SlackWebhookNotifier:
    return SlackWebhookNotifier("ops-hook", slack.webhook_url, timeout=5)


def texts(blocks: list[dict[str, Any]]) -> list[str]:
    """Every mrkdwn/plain text of a message's blocks."""
    out = []
    for b in blocks:
        if isinstance(b.get("text"), dict):
            out.append(b["text"]["text"])
        out += [f["text"] for f in b.get("fields", [])]
        out += [e["text"] for e in b.get("elements", []) if "text" in e]
    return out


# --- the bot: messages ---------------------------------------------------------------------


async def test_firing_posts_block_kit_with_the_numbers(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    delivery = await bot.send(notification(), None)

    [call] = slack.calls
    assert call.method == "chat.postMessage"
    assert call.token == TOKEN and call.headers["Authorization"] == f"Bearer {TOKEN}"
    assert call.content_type.startswith("application/json")
    assert call.params["channel"] == "#alerts"
    assert "thread_ts" not in call.params
    text, blocks = call.params["text"], call.params["blocks"]
    assert text.startswith("[CRITICAL] SLO agent-availability (agent_name=billing)")
    assert "budget left 42.3%" in text and "runbook: https://runbooks.example/" in text
    assert 0 < len(blocks) <= 50
    header = blocks[0]
    assert header["type"] == "header" and header["text"]["type"] == "plain_text"
    assert len(header["text"]["text"]) <= MAX_HEADER
    assert "agent-availability" in header["text"]["text"]
    fields = [f["text"] for b in blocks for f in b.get("fields", [])]
    assert "*SLO*\nagent-availability" in fields
    assert "*Instance*\nagent_name=billing" in fields
    assert "*Budget left*\n42.3%" in fields
    assert "*Exhausted in*\n1h 30m" in fields
    [fired] = [t for t in texts(blocks) if t.startswith("*Fired*")]
    assert "critical tier 1h/5m: burn 18.8x" in fired and "threshold 14.4x" in fired
    assert "`4bf92f3577b34da6a3ce929d0e0e4736`" in " ".join(texts(blocks))
    context = blocks[-1]
    assert context["type"] == "context"
    assert "<https://runbooks.example/agent-availability|Runbook>" in texts([context])[0]

    assert delivery == Delivery.ok(ref="C123:1700000000.000100")
    assert slack.messages[("C123", "1700000000.000100")]["blocks"] == blocks


async def test_trace_ids_link_to_their_pages(slack: FakeSlack, bot: SlackBotNotifier) -> None:
    url = "https://slo.example.com/ui/#/traces/4bf92f35"
    n = notification(trace_ids=("4bf92f35", "a<b>&c"), trace_urls=(url,))
    await bot.send(n, None)
    [call] = slack.calls
    [traces] = [t for t in texts(call.params["blocks"]) if t.startswith("*Recent failing")]
    # a link where the page is known, code otherwise; nothing Slack would read as markup
    assert traces == f"*Recent failing traces*\n<{url}|4bf92f35>, `a&lt;b&gt;&amp;c`"


async def test_a_long_name_stays_within_slack_limits(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    """The fake enforces Block Kit limits (header ≤ 150 …): a long SLO name must still post."""
    n = notification(slo="x" * 300, labels={"agent_name": "y" * 300})
    delivery = await bot.send(n, None)
    assert delivery.outcome is Outcome.OK, delivery.reason
    header = slack.calls[0].params["blocks"][0]["text"]["text"]
    assert len(header) == MAX_HEADER and header.endswith("…")


async def test_resolution_replies_in_the_thread_and_updates_the_original(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    fired = await bot.send(notification(), None)
    assert fired.ref == "C123:1700000000.000100"

    delivery = await bot.send(resolution(), fired.ref)

    assert delivery == Delivery.ok(ref=fired.ref)
    _, reply = slack.calls_to("chat.postMessage")
    assert reply.params["channel"] == "C123"
    assert reply.params["thread_ts"] == "1700000000.000100"
    assert reply.params["reply_broadcast"] is False
    assert reply.params["text"].startswith("[RESOLVED] SLO agent-availability")
    [update] = slack.calls_to("chat.update")
    assert update.params["channel"] == "C123" and update.params["ts"] == "1700000000.000100"
    original = slack.messages[("C123", "1700000000.000100")]
    assert "edited" in original
    assert original["text"].startswith("[RESOLVED]")
    assert original["blocks"][0]["text"]["text"].startswith(":white_check_mark: [RESOLVED]")
    note = texts(original["blocks"])[-1]
    assert "Resolved 2023-11-14T23:13:20.000Z" in note and "thread" in note
    assert len(original["blocks"]) <= 50
    assert slack.messages[("C123", "1700000000.000101")]["thread_ts"] == "1700000000.000100"


async def test_a_failed_update_does_not_fail_the_delivered_reply(
    slack: FakeSlack, bot: SlackBotNotifier, caplog: pytest.LogCaptureFixture
) -> None:
    fired = await bot.send(notification(), None)
    slack.script(Answer(), Answer(200, "cant_update_message"))  # the reply works, the update not

    with caplog.at_level(logging.WARNING, logger="sloguard.notify.slack.bot"):
        delivery = await bot.send(resolution(), fired.ref)

    assert delivery == Delivery.ok(ref=fired.ref)
    assert [c.method for c in slack.calls] == ["chat.postMessage"] * 2 + ["chat.update"]
    assert "not updated" in caplog.text and "cant_update_message" in caplog.text
    assert TOKEN not in caplog.text


async def test_a_failed_reply_is_retried_before_any_update(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    fired = await bot.send(notification(), None)
    slack.script(Answer(500, body=b"<html>upstream error</html>"))

    delivery = await bot.send(resolution(), fired.ref)

    assert delivery.outcome is Outcome.RETRY
    assert slack.calls_to("chat.update") == []


async def test_a_resolution_whose_thread_is_gone_goes_to_the_channel(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    slack.script(Answer(200, "thread_not_found"))

    delivery = await bot.send(resolution(), "C123:1600000000.000001")

    assert delivery.outcome is Outcome.OK and delivery.ref == "C123:1700000000.000100"
    first, second = slack.calls_to("chat.postMessage")
    assert first.params["thread_ts"] == "1600000000.000001"
    assert "thread_ts" not in second.params and second.params["channel"] == "#alerts"
    assert slack.calls_to("chat.update") == []


async def test_a_resolution_without_ref_is_a_plain_message(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    delivery = await bot.send(resolution(), None)

    assert delivery == Delivery.ok(ref="C123:1700000000.000100")
    [post] = slack.calls
    assert post.method == "chat.postMessage" and "thread_ts" not in post.params
    assert post.params["blocks"][0]["text"]["text"].startswith(":white_check_mark: [RESOLVED]")


async def test_a_repeat_replies_in_the_thread_without_an_update(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    fired = await bot.send(notification(), None)

    delivery = await bot.send(
        notification(id="01HZY-repeat", transition=Transition.REPEAT), fired.ref
    )

    assert delivery == Delivery.ok(ref=fired.ref)
    _, reply = slack.calls_to("chat.postMessage")
    assert reply.params["thread_ts"] == "1700000000.000100"
    assert reply.params["reply_broadcast"] is False
    assert "(still)" in reply.params["text"]
    assert slack.calls_to("chat.update") == []


async def test_a_new_firing_is_a_new_message_even_with_an_old_ref(
    slack: FakeSlack, bot: SlackBotNotifier
) -> None:
    await bot.send(notification(), "C123:1600000000.000001")
    assert "thread_ts" not in slack.calls[0].params


# --- the bot: how answers map ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("answer", "outcome", "after", "disable"),
    [
        (Answer(429, "ratelimited", retry_after="7"), Outcome.RETRY, 7.0, False),
        (Answer(429, body=b"", retry_after="30"), Outcome.RETRY, 30.0, False),
        (Answer(200, "ratelimited"), Outcome.RETRY, None, False),
        (Answer(500, body=b"<html>Internal Server Error</html>"), Outcome.RETRY, None, False),
        (Answer(503, "service_unavailable", retry_after="3"), Outcome.RETRY, 3.0, False),
        (Answer(200, "internal_error"), Outcome.RETRY, None, False),
        (Answer(200, "channel_not_found"), Outcome.PERMANENT, None, True),
        (Answer(200, "is_archived"), Outcome.PERMANENT, None, True),
        (Answer(200, "not_in_channel"), Outcome.PERMANENT, None, True),
        (Answer(200, "invalid_auth"), Outcome.PERMANENT, None, True),
        (Answer(200, "account_inactive"), Outcome.PERMANENT, None, True),
        (Answer(200, "token_revoked"), Outcome.PERMANENT, None, True),
        (Answer(200, "not_authed"), Outcome.PERMANENT, None, True),
        (Answer(200, "invalid_blocks"), Outcome.PERMANENT, None, False),
        (Answer(200, "msg_too_long"), Outcome.PERMANENT, None, False),
        (Answer(200, "some_future_error"), Outcome.PERMANENT, None, False),
        (Answer(400, body=b"<html>Bad Request</html>"), Outcome.PERMANENT, None, False),
        (Answer(410, body=b"gone"), Outcome.PERMANENT, None, True),
    ],
)
async def test_bot_answers_map_to_deliveries(
    slack: FakeSlack,
    bot: SlackBotNotifier,
    answer: Answer,
    outcome: Outcome,
    after: float | None,
    disable: bool,
) -> None:
    slack.script(answer)

    delivery = await bot.send(notification(), None)

    assert (delivery.outcome, delivery.after, delivery.disable) == (outcome, after, disable)
    assert delivery.reason.startswith("slack 'ops-slack' chat.postMessage: ")
    assert f"HTTP {answer.status}" in delivery.reason
    if answer.error:
        assert answer.error in delivery.reason
    assert len(slack.calls) == 1  # slack-sdk's own retries are off


async def test_a_wrong_token_is_invalid_auth_and_disables(slack: FakeSlack) -> None:
    wrong = "xoxb-0000-0000-wrongS3cret"
    bot = SlackBotNotifier("ops-slack", wrong, "#alerts", base_url=slack.base_url)

    delivery = await bot.send(notification(), None)

    assert delivery.outcome is Outcome.PERMANENT and delivery.disable
    assert "invalid_auth" in delivery.reason and wrong not in delivery.reason


async def test_real_channel_errors_from_the_fake(slack: FakeSlack) -> None:
    """Not scripted: the fake itself knows the channels (``old-alerts`` is archived here)."""
    with FakeSlack(token=TOKEN, archived=frozenset({"old-alerts"})) as fake:
        for channel, error in (("#nowhere", "channel_not_found"), ("#old-alerts", "is_archived")):
            bot = SlackBotNotifier("ops-slack", TOKEN, channel, base_url=fake.base_url)
            delivery = await bot.send(notification(), None)
            assert delivery.outcome is Outcome.PERMANENT and delivery.disable
            assert error in delivery.reason


async def test_connection_refused_is_retried(slack: FakeSlack, bot: SlackBotNotifier) -> None:
    slack.stop()

    delivery = await bot.send(notification(), None)

    assert delivery.outcome is Outcome.RETRY
    assert "ConnectionRefusedError" in delivery.reason and "Connection refused" in delivery.reason


async def test_a_dropped_connection_is_left_to_the_outbox(
    slack: FakeSlack, bot: SlackBotNotifier, hook: SlackWebhookNotifier
) -> None:
    """slack-sdk's own retry handlers are off: one attempt, one request, then a retry."""
    slack.script(Answer(drop=True))
    slack.script(Answer(drop=True), webhook=True)

    delivery = await bot.send(notification(), None)
    hooked = await hook.send(notification(), None)

    assert delivery.outcome is Outcome.RETRY and hooked.outcome is Outcome.RETRY
    assert "RemoteDisconnected" in delivery.reason
    assert [c.method for c in slack.calls] == ["chat.postMessage", "webhook"]


async def test_no_answer_within_the_timeout_is_retried(slack: FakeSlack) -> None:
    """slack-sdk takes whole seconds: 0.2 s becomes 1 s (never shorter than asked)."""
    bot = SlackBotNotifier("ops-slack", TOKEN, "#alerts", base_url=slack.base_url, timeout=0.2)
    assert bot.timeout == 1.0
    slack.script(Answer(delay=3.0))

    delivery = await bot.send(notification(), None)

    assert delivery.outcome is Outcome.RETRY
    assert "no answer within 1s" in delivery.reason


# --- the incoming webhook ----------------------------------------------------------------


async def test_webhook_posts_text_and_blocks(slack: FakeSlack, hook: SlackWebhookNotifier) -> None:
    delivery = await hook.send(notification(), None)

    assert delivery == Delivery.ok()
    [call] = slack.calls
    assert call.method == "webhook" and call.path == slack.webhook_path
    assert call.content_type.startswith("application/json")
    assert call.token is None  # the URL is the credential
    assert call.params["text"].startswith("[CRITICAL] SLO agent-availability")
    assert call.params["blocks"][0]["type"] == "header"
    assert slack.webhook_messages == [call.params]


async def test_webhook_ignores_refs(slack: FakeSlack, hook: SlackWebhookNotifier) -> None:
    delivery = await hook.send(resolution(), "C123:1700000000.000100")
    assert delivery == Delivery.ok()
    assert "thread_ts" not in slack.calls[0].params


@pytest.mark.parametrize(
    ("answer", "outcome", "after", "disable"),
    [
        (Answer(410, "channel_is_archived"), Outcome.PERMANENT, None, True),
        (Answer(404, "no_service"), Outcome.PERMANENT, None, True),
        (Answer(403, "invalid_token"), Outcome.PERMANENT, None, True),
        (Answer(404, "channel_not_found"), Outcome.PERMANENT, None, True),
        (Answer(403, "action_prohibited"), Outcome.PERMANENT, None, True),
        (Answer(400, "invalid_payload"), Outcome.PERMANENT, None, False),
        (Answer(400, "invalid_blocks"), Outcome.PERMANENT, None, False),
        (Answer(429, "rate_limited", retry_after="12"), Outcome.RETRY, 12.0, False),
        (Answer(500, "rollup_error"), Outcome.RETRY, None, False),
        (Answer(502, body=b"<html>Bad Gateway</html>"), Outcome.RETRY, None, False),
    ],
)
async def test_webhook_answers_map_to_deliveries(
    slack: FakeSlack,
    hook: SlackWebhookNotifier,
    answer: Answer,
    outcome: Outcome,
    after: float | None,
    disable: bool,
) -> None:
    slack.script(answer, webhook=True)

    delivery = await hook.send(notification(), None)

    assert (delivery.outcome, delivery.after, delivery.disable) == (outcome, after, disable)
    assert delivery.reason.startswith("slack webhook 'ops-hook': ")
    assert len(slack.calls) == 1


async def test_a_revoked_webhook_url_is_no_service_from_the_fake(slack: FakeSlack) -> None:
    hook = SlackWebhookNotifier("ops-hook", f"{slack.url}/services/T000FAKE/B000FAKE/revoked")

    delivery = await hook.send(notification(), None)

    assert delivery.outcome is Outcome.PERMANENT and delivery.disable
    assert "no_service (HTTP 404)" in delivery.reason


async def test_webhook_connection_refused_is_retried(
    slack: FakeSlack, hook: SlackWebhookNotifier
) -> None:
    slack.stop()
    delivery = await hook.send(notification(), None)
    assert delivery.outcome is Outcome.RETRY and "Connection refused" in delivery.reason


# --- secrets -----------------------------------------------------------------------------


async def test_no_secret_in_repr_reasons_or_logs(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    """With every logger at DEBUG (slack-sdk prints URLs and bodies there) and each failure."""
    caplog.set_level(logging.DEBUG)
    secret_segment = slack.webhook_path.rsplit("/", 1)[1]
    bot = SlackBotNotifier("ops-slack", TOKEN, "#alerts", base_url=slack.base_url, timeout=1)
    hook = SlackWebhookNotifier("ops-hook", slack.webhook_url, timeout=1)
    assert TOKEN not in repr(bot) and TOKEN not in str(bot)
    assert secret_segment not in repr(hook) and "services" not in repr(hook)

    deliveries: list[Delivery] = []
    fired = await bot.send(notification(), None)
    deliveries.append(fired)
    slack.script(Answer(200, "invalid_auth"), Answer(429, "ratelimited", retry_after="1"))
    deliveries += [await bot.send(notification(), None), await bot.send(notification(), None)]
    slack.script(Answer(), Answer(200, "cant_update_message"))
    deliveries.append(await bot.send(resolution(), fired.ref))
    slack.script(Answer(410, "channel_is_archived"), Answer(500, "rollup_error"), webhook=True)
    deliveries += [await hook.send(notification(), None), await hook.send(notification(), None)]
    deliveries.append(await hook.send(notification(), None))
    slack.stop()
    deliveries += [await bot.send(notification(), None), await hook.send(notification(), None)]

    assert {d.outcome for d in deliveries} == {Outcome.OK, Outcome.RETRY, Outcome.PERMANENT}
    for d in deliveries:
        assert TOKEN not in d.reason and secret_segment not in d.reason, d.reason
    assert caplog.records  # the update failure was logged
    assert TOKEN not in caplog.text and secret_segment not in caplog.text


def test_bad_settings_fail_at_construction_without_echoing_them() -> None:
    with pytest.raises(ValueError, match="space or control") as bad_token:
        SlackBotNotifier("ops-slack", "xoxb-12\n34-S3cret", "#alerts")
    assert "S3cret" not in str(bad_token.value)
    with pytest.raises(ValueError, match="empty"):
        SlackBotNotifier("ops-slack", "  ", "#alerts")
    with pytest.raises(ValueError, match="https://") as bad_url:
        SlackWebhookNotifier("ops-hook", "ftp://hooks.example/services/T/B/S3cret")
    assert "S3cret" not in str(bad_url.value)


def test_receivers_declare_slack_pacing() -> None:
    bot = SlackBotNotifier("ops-slack", TOKEN, "#alerts")
    hook = SlackWebhookNotifier("ops-hook", "https://hooks.slack.com/services/T/B/X")
    assert bot.min_interval == hook.min_interval == 1.0
    assert SlackBotNotifier("s", TOKEN, "#a", min_interval=0.5).min_interval == 0.5


# --- the fake itself -----------------------------------------------------------------------


def test_the_fake_takes_form_bodies_like_slack(slack: FakeSlack) -> None:
    """slack-sdk's ``api_call(params=…)`` sends a form; ``blocks`` is a JSON string there."""
    client = WebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "hi"}}]

    answer = client.api_call(
        "chat.postMessage", params={"channel": "C123", "text": "hi", "blocks": json.dumps(blocks)}
    )

    assert answer["ok"] is True and answer["channel"] == "C123"
    [call] = slack.calls
    assert call.content_type == "application/x-www-form-urlencoded"
    assert call.params["blocks"] == blocks and call.token == TOKEN


def test_the_fake_rejects_what_slack_rejects(slack: FakeSlack) -> None:
    client = WebClient(token=TOKEN, base_url=slack.base_url, retry_handlers=[])
    too_many = [{"type": "divider"}] * 51

    def error(method: str, **kwargs: Any) -> tuple[int, str]:
        with pytest.raises(SlackApiError) as failed:
            client.api_call(method, json=kwargs)
        return failed.value.response.status_code, failed.value.response["error"]

    post = "chat.postMessage"
    assert error(post, channel="C123", text="x", blocks=too_many) == (200, "invalid_blocks")
    assert error(post, channel="C123") == (200, "no_text")
    assert error(post, channel="C123", text="x" * 40_001) == (200, "msg_too_long")
    assert error(post, channel="#general", text="x") == (200, "channel_not_found")
    assert error("chat.update", channel="C123", ts="1.2", text="x") == (200, "message_not_found")
    assert error("chat.update", channel="#alerts", ts="1.2", text="x") == (
        200,
        "channel_not_found",
    )
    assert error("chat.unknownMethod") == (404, "unknown_method")
