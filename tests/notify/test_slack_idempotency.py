"""The Slack bot posts a notification once even when Slack accepted a post the bot never heard
back about (an answer past the deadline, a connection dropped after the request was sent): the
retry looks for the message by the notification id in its metadata before posting again."""

from __future__ import annotations

import http.client
import logging
import urllib.error
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web import WebClient

from sloguard.notify.model import Delivery, DoubtAware, Outcome
from sloguard.notify.slack.api import maybe_delivered
from sloguard.notify.slack.bot import SlackBotNotifier
from sloguard.notify.slack.doubts import Where
from tests.notify.test_slack import TOKEN, notification, resolution
from tests.support.fakeslack import Answer, FakeSlack

EVENT = "sloguard_notification"
#: Slack accepts the post but the bot hears nothing back within its 1 s deadline
LATE = Answer(accept=True, delay=3.0)
#: Slack accepts the post and then the connection drops before the answer
DROPPED = Answer(accept=True, drop=True)


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


def make_bot(slack: FakeSlack, channel: str = "C123") -> SlackBotNotifier:
    return SlackBotNotifier("ops-slack", TOKEN, channel, base_url=slack.base_url, timeout=1)


def posts(slack: FakeSlack, thread_ts: str | None = None) -> list[dict[str, Any]]:
    """Messages stored in C123: top-level ones, or the replies in one thread."""
    return [
        m
        for (channel, _), m in slack.messages.items()
        if channel == "C123" and m.get("thread_ts") == thread_ts
    ]


# --- a post Slack accepted but did not answer in time is not posted again ------------------


@pytest.mark.parametrize("answer", [LATE, DROPPED], ids=["late", "dropped"])
async def test_firing_post_in_doubt_is_found_not_posted_again(
    slack: FakeSlack, answer: Answer
) -> None:
    bot = make_bot(slack)
    slack.script(answer)
    first = await bot.send(notification(), None)
    assert first.outcome is Outcome.RETRY
    [stored] = posts(slack)  # Slack has it

    second = await bot.send(notification(), None)

    assert len(posts(slack)) == 1
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert second == Delivery.ok(ref=f"C123:{stored['ts']}")
    assert stored["metadata"] == {"event_type": EVENT, "event_payload": {"id": "01HZY-firing"}}
    [lookup] = slack.calls_to("conversations.history")
    assert lookup.params["channel"] == "C123"
    assert lookup.params["include_all_metadata"] in {"1", "true", True}


@pytest.mark.parametrize("answer", [LATE, DROPPED], ids=["late", "dropped"])
async def test_resolve_reply_in_doubt_is_found_and_the_original_still_updated(
    slack: FakeSlack, answer: Answer
) -> None:
    bot = make_bot(slack)
    firing = await bot.send(notification(), None)
    assert firing.ref is not None
    firing_ts = firing.ref.split(":")[1]
    slack.script(answer)
    first = await bot.send(resolution(), firing.ref)
    assert first.outcome is Outcome.RETRY
    assert len(posts(slack, firing_ts)) == 1

    second = await bot.send(resolution(), firing.ref)

    assert second == Delivery.ok(ref=firing.ref)
    [reply] = posts(slack, firing_ts)
    assert reply["metadata"]["event_payload"] == {"id": "01HZY-resolved"}
    assert len(slack.calls_to("chat.postMessage")) == 2  # the firing post and one reply
    [lookup] = slack.calls_to("conversations.replies")
    assert lookup.params["channel"] == "C123" and lookup.params["ts"] == firing_ts
    assert slack.messages[("C123", firing_ts)]["text"].startswith("[RESOLVED]")  # updated


async def test_post_in_doubt_that_never_landed_is_posted_once(slack: FakeSlack) -> None:
    bot = make_bot(slack)
    slack.script(Answer(delay=3.0))  # late, and not carried out
    assert (await bot.send(notification(), None)).outcome is Outcome.RETRY
    assert posts(slack) == []

    delivery = await bot.send(notification(), None)

    [stored] = posts(slack)
    assert delivery == Delivery.ok(ref=f"C123:{stored['ts']}")
    assert len(slack.calls_to("conversations.history")) == 1


async def test_lookup_pages_through_a_busy_channel(slack: FakeSlack) -> None:
    bot = make_bot(slack)
    slack.script(DROPPED)
    await bot.send(notification(), None)
    [ours] = posts(slack)
    with slack.lock:  # 250 newer messages from others push ours to the second page
        for i in range(250):
            ts = f"1700000001.{i:06d}"
            slack.messages[("C123", ts)] = {"type": "message", "text": f"chatter {i}", "ts": ts}

    delivery = await bot.send(notification(), None)

    assert delivery == Delivery.ok(ref=f"C123:{ours['ts']}")
    assert len(slack.calls_to("chat.postMessage")) == 1
    first, second = slack.calls_to("conversations.history")
    assert "cursor" not in first.params and second.params["cursor"]


async def test_channel_given_by_name_is_looked_up_by_the_id_an_answer_told(
    slack: FakeSlack,
) -> None:
    bot = make_bot(slack, "#alerts")
    await bot.send(notification(id="earlier"), None)  # answered: the channel is C123
    slack.script(LATE)
    await bot.send(notification(), None)

    delivery = await bot.send(notification(), None)

    assert delivery.outcome is Outcome.OK
    assert len(posts(slack)) == 2
    assert slack.calls_to("conversations.history")[0].params["channel"] == "C123"


# --- another replica's post: a new leader looks first ---------------------------------------


async def test_a_post_another_replica_made_before_it_stopped_is_found_not_posted_again(
    slack: FakeSlack,
) -> None:
    """The old leader posted and died before recording it; the next leader's bot (another
    process: nothing in memory) is told by the outbox worker that the row was in doubt."""
    old, new = make_bot(slack), make_bot(slack)
    assert (await old.send(notification(), None)).outcome is Outcome.OK
    [stored] = posts(slack)
    assert isinstance(new, DoubtAware)
    new.in_doubt("01HZY-firing")
    assert await new.send(notification(), None) == Delivery.ok(ref=f"C123:{stored['ts']}")
    assert len(slack.calls_to("chat.postMessage")) == 1
    # settled: a later send of the same id (not in doubt any more) is not looked for again
    assert len(slack.calls_to("conversations.history")) == 1


async def test_a_row_in_doubt_that_never_reached_slack_is_posted_once(slack: FakeSlack) -> None:
    bot = make_bot(slack)
    bot.in_doubt("01HZY-firing")
    assert (await bot.send(notification(), None)).outcome is Outcome.OK
    assert len(posts(slack)) == 1 and len(slack.calls_to("conversations.history")) == 1


# --- failures that are not in doubt, and lookups that fail ----------------------------------


@pytest.mark.parametrize(
    "answer",
    [
        Answer(500, body=b"<html>Internal Server Error</html>"),
        Answer(429, "ratelimited", retry_after="1"),
        Answer(200, "internal_error"),
    ],
    ids=["500", "ratelimited", "internal_error"],
)
async def test_an_answered_failure_is_retried_without_a_lookup(
    slack: FakeSlack, answer: Answer
) -> None:
    bot = make_bot(slack)
    slack.script(answer)
    assert (await bot.send(notification(), None)).outcome is Outcome.RETRY

    delivery = await bot.send(notification(), None)

    [stored] = posts(slack)
    assert delivery == Delivery.ok(ref=f"C123:{stored['ts']}")
    assert slack.calls_to("conversations.history") == []


async def test_refused_connection_is_retried_without_a_lookup() -> None:
    with FakeSlack(token=TOKEN) as gone:
        bot = make_bot(gone)
    first = await bot.send(notification(), None)  # the port is closed: nothing was sent
    assert first.outcome is Outcome.RETRY
    assert bot._doubts.look_at("01HZY-firing", Where("C123")) is None


async def test_a_failed_lookup_is_retried_before_anything_is_posted(slack: FakeSlack) -> None:
    bot = make_bot(slack)
    slack.script(DROPPED, Answer(200, "ratelimited", retry_after="2"))
    await bot.send(notification(), None)

    retried = await bot.send(notification(), None)  # the lookup is rate limited

    assert retried.outcome is Outcome.RETRY and retried.after == 2.0
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert (await bot.send(notification(), None)).outcome is Outcome.OK
    assert len(posts(slack)) == 1 and len(slack.calls_to("chat.postMessage")) == 1


async def test_a_refused_lookup_is_logged_and_the_notification_posted(
    slack: FakeSlack, caplog: pytest.LogCaptureFixture
) -> None:
    bot = make_bot(slack)
    slack.script(Answer(delay=3.0), Answer(200, "missing_scope"))
    await bot.send(notification(), None)

    with caplog.at_level(logging.WARNING, "sloguard.notify.slack.bot"):
        delivery = await bot.send(notification(), None)

    assert delivery.outcome is Outcome.OK and not delivery.disable
    assert len(posts(slack)) == 1
    assert "cannot check whether notification 01HZY-firing was posted" in caplog.text
    assert TOKEN not in caplog.text


@pytest.mark.parametrize(
    ("exc", "in_doubt"),
    [
        (TimeoutError(), True),
        (http.client.RemoteDisconnected("closed"), True),
        (http.client.IncompleteRead(b"{"), True),
        (ConnectionResetError(), True),
        (urllib.error.URLError(ConnectionRefusedError()), False),
        (urllib.error.URLError(TimeoutError()), False),  # while connecting or sending
        (SlackRequestError("bad url"), False),
        (ValueError("bad header"), False),
    ],
)
def test_which_failures_may_have_been_carried_out(exc: Exception, in_doubt: bool) -> None:
    assert maybe_delivered(exc) is in_doubt


# --- the fake's history and replies, as Slack documents them --------------------------------


def test_fake_history_and_replies_show_metadata_only_when_asked(slack: FakeSlack) -> None:
    client = WebClient(token=TOKEN, base_url=slack.base_url)
    meta = {"event_type": EVENT, "event_payload": {"id": "x"}}
    parent = client.chat_postMessage(channel="#alerts", text="one", metadata=meta)["ts"]
    client.chat_postMessage(channel="C123", text="reply", thread_ts=parent, metadata=meta)
    client.chat_postMessage(channel="C123", text="two")

    history = client.conversations_history(channel="C123")
    assert [m["text"] for m in history["messages"]] == ["two", "one"]  # newest first, no replies
    assert all("metadata" not in m for m in history["messages"])
    full = client.conversations_history(channel="C123", include_all_metadata=True, limit=1)
    assert full["messages"][0]["text"] == "two" and full["has_more"] is True
    more = client.conversations_history(
        channel="C123", include_all_metadata=True, cursor=full["response_metadata"]["next_cursor"]
    )
    assert more["messages"][0]["metadata"] == meta and more["has_more"] is False
    thread = client.conversations_replies(channel="C123", ts=parent, include_all_metadata=True)
    assert [m["text"] for m in thread["messages"]] == ["one", "reply"]  # oldest first

    refused: list[tuple[Callable[[], object], str]] = [
        (lambda: client.conversations_history(channel="#alerts"), "channel_not_found"),
        (lambda: client.conversations_replies(channel="C123", ts="1.2"), "thread_not_found"),
        (lambda: client.conversations_history(channel="C123", cursor="%%"), "invalid_cursor"),
        (
            lambda: client.chat_postMessage(channel="C123", text="x", metadata={"a": 1}),
            "invalid_metadata_format",
        ),
    ]
    for call, error in refused:
        with pytest.raises(SlackApiError) as raised:
            call()
        assert raised.value.response["error"] == error


# --- one replica (SQLite), killed mid-send: the restarted daemon looks first ----------------


class _Killed(BaseException):
    """The process dies right after Slack answered (nothing after it runs)."""


async def test_a_send_killed_after_slack_answered_is_found_after_a_restart(
    slack: FakeSlack, tmp_path: Any
) -> None:
    """SQLite has no claims: the worker marks a send in flight to a receiver that can look, so
    the restarted daemon (a new store, bot and worker on the same file) reads the row as in doubt
    and the bot finds the post instead of posting again."""
    from prometheus_client import CollectorRegistry

    from sloguard.alerting.store import StateStore
    from sloguard.notify.outbox import NotifyMetrics, OutboxWorker

    class DiesAfterSlack(SlackBotNotifier):
        async def send(self, n: Any, ref: str | None) -> Delivery:
            await super().send(n, ref)
            raise _Killed

    path = tmp_path / "alerts.sqlite"
    first = StateStore(path)
    first.commit({}, [notification()], [], 1000.0)
    dying = DiesAfterSlack("ops-slack", TOKEN, "C123", base_url=slack.base_url, timeout=1)
    worker = OutboxWorker(
        first,
        {"ops-slack": dying},
        metrics=NotifyMetrics(CollectorRegistry()),
        clock=lambda: 1000.0,
    )
    with pytest.raises(_Killed):
        await worker.run_once("ops-slack")
    [stored] = posts(slack)
    first.close()

    again = StateStore(path)  # the restart
    [item] = again.due(1001.0)
    assert item.in_doubt
    restarted = OutboxWorker(
        again,
        {"ops-slack": make_bot(slack)},
        metrics=NotifyMetrics(CollectorRegistry()),
        clock=lambda: 1001.0,
    )
    assert await restarted.run_once("ops-slack") == 1
    assert posts(slack) == [stored]  # found, not posted again
    assert len(slack.calls_to("chat.postMessage")) == 1
    assert again.states() == [("01HZY-firing", "ops-slack", "delivered", 1)]
    assert again.due(2000.0) == []


def test_a_send_mark_is_cleared_by_every_outcome_and_older_files_get_the_column(
    tmp_path: Any,
) -> None:
    import sqlite3

    from sloguard.alerting.store import StateStore

    store = StateStore(tmp_path / "a.sqlite")
    n = notification()
    store.commit({}, [n], [], 1000.0)
    assert not store.due(1000.0)[0].in_doubt
    store.sending(n.id, 1000.0)
    assert store.due(1000.0)[0].in_doubt
    store.retry(n, 1000.0, "timeout")
    assert not store.due(1000.0)[0].in_doubt
    store.close()
    old = tmp_path / "old.sqlite"
    with sqlite3.connect(old) as db:  # an outbox table of the version before the column
        db.execute(
            "CREATE TABLE outbox (id TEXT PRIMARY KEY, receiver TEXT NOT NULL,"
            " fingerprint TEXT NOT NULL, started_at REAL NOT NULL, payload TEXT NOT NULL,"
            " state TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
            " next_at REAL NOT NULL, created_at REAL NOT NULL, last_error TEXT, done_at REAL)"
        )
    upgraded = StateStore(old)
    upgraded.commit({}, [n], [], 1000.0)
    upgraded.sending(n.id, 1000.0)
    assert upgraded.due(1000.0)[0].in_doubt
    upgraded.close()
