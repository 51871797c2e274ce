"""The Slack bot receiver: post with a bot token (Web API), thread repeats, update resolutions.

The bot posts a firing alert as a new message; its ``ref`` is ``"<channel id>:<ts>"``. With that
ref, a repeat is a thread reply, and a resolution is a thread reply (the delivery) plus a
``chat.update`` that turns the original message into its resolved form; an acknowledgement is a
thread reply plus a ``chat.update`` that adds "acknowledged by …" to the original. A downgrade
(the critical resolved, its warning still fires) arrives with the critical's ref: a thread reply
plus a ``chat.update`` that adds "downgraded to warning at …" to the critical's message; its ref
(the same thread) becomes the warning's, so the warning's reminders and resolution go there too.
The update is best effort: when it fails it is logged and the resolution still counts as
delivered, so a retry never posts the reply twice. When the thread is gone (original deleted),
the resolution is posted to the channel instead. What Slack's answers mean:
:mod:`sloguard.notify.slack.api`.

Slack has no idempotency key, and a post it accepted may still fail for the sender: an answer
later than the deadline, a connection dropped after the request was sent
(:func:`~sloguard.notify.slack.api.maybe_delivered`). Every post carries the notification id in
its message metadata (``event_type`` :data:`EVENT_TYPE`, ``event_payload`` ``{"id": …}``); after
such a failure the next attempt of that notification first looks for it, with
``conversations.history`` (``conversations.replies`` for a thread reply) and
``include_all_metadata``, and when found takes its ts as delivered instead of posting again. That
needs the ``channels:history`` scope (``groups:history`` for a private channel) and the channel's
id: configure the id, or the lookup of a first post to a channel given by name fails before the
bot has learned the id from an answer. A lookup Slack refuses (a missing scope) is logged and the
notification posted anyway; a lookup that fails like a retry is retried. Which notifications
are in doubt is kept in memory (at most :data:`MAX_IN_DOUBT`); the outbox worker also tells the
bot (:meth:`in_doubt`) about a notification another process may have sent (a replica whose
claim ran out, or this daemon killed mid-send: the outbox remembers sends in flight), so the
next leader, or the restarted daemon, looks too.

Example::

    slack = SlackBotNotifier("ops-slack", os.environ["SLOGUARD_SLACK_TOKEN"], "#alerts")
    firing = await slack.send(notification, None)        # Delivery.ok(ref="C123:1700000000.000100")
    resolved = await slack.send(resolution, firing.ref)  # thread reply + update of the original
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse, WebClient

from sloguard.notify.delivery import scrubbed
from sloguard.notify.model import AlertStatus, Delivery, Notification, Outcome, Transition
from sloguard.notify.render import MAX_BLOCKS, acknowledgement, lasted, rfc3339, slack_message
from sloguard.notify.slack.api import (
    DEFAULT_MIN_INTERVAL,
    UNANSWERED,
    classify,
    error_code,
    maybe_delivered,
    sdk_options,
    unanswered,
    whole_seconds,
)
from sloguard.notify.slack.doubts import (
    EVENT_TYPE,
    MAX_IN_DOUBT,
    Doubts,
    Where,
    carries,
    metadata,
)
from sloguard.slo.budget import Severity

__all__ = ["DEFAULT_BASE_URL", "EVENT_TYPE", "MAX_IN_DOUBT", "THREAD_GONE", "SlackBotNotifier"]

_log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api/"
#: A thread reply failing with these has no thread to go to: post to the channel instead.
THREAD_GONE = frozenset({"thread_not_found", "message_not_found"})
#: A lookup reads at most this many pages of this many messages.
_LOOKUP_PAGES = 3
_LOOKUP_LIMIT = 200


@dataclass(frozen=True, slots=True)
class _Failed:
    delivery: Delivery
    code: str | None
    #: the request may have been carried out (:func:`maybe_delivered`)
    in_doubt: bool = False


def _resolved_original(n: Notification) -> tuple[str, list[dict[str, Any]]]:
    """The firing message rewritten as resolved: the resolved rendering plus a note."""
    text, blocks = slack_message(n)
    when = rfc3339(n.ends_at) if n.ends_at is not None else "now"
    note = {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": f":white_check_mark: Resolved {when} (fired {rfc3339(n.starts_at)}); "
                "see the thread for the details.",
            }
        ],
    }
    return text, [*blocks[: MAX_BLOCKS - 1], note]


def _acknowledged_original(n: Notification) -> tuple[str, list[dict[str, Any]]]:
    """The firing message with a note: ``:eyes: acknowledged by ana at …``."""
    firing = replace(n, transition=Transition.FIRING)
    text, blocks = slack_message(firing)
    said = acknowledgement(n)
    note = {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": f":eyes: {said[:1].upper()}{said[1:]}"}],
    }
    return f"{text} ({acknowledgement(n)})", [*blocks[: MAX_BLOCKS - 1], note]


def _downgraded_original(n: Notification) -> tuple[str, list[dict[str, Any]]]:
    """The critical's message, marked: ``:arrow_down: Downgraded to warning at …``."""
    critical = replace(
        n, transition=Transition.FIRING, severity=Severity.CRITICAL, tiers=(),
        labels={**n.labels, "severity": Severity.CRITICAL.value},
        starts_at=n.began, incident_starts_at=None,
    )  # fmt: skip
    text, blocks = slack_message(critical)
    when = rfc3339(n.at) if n.at is not None else "now"
    said = f"Downgraded to warning at {when}: {lasted(n)}; the warning still fires, see the thread."
    note = {"type": "context", "elements": [{"type": "mrkdwn", "text": f":arrow_down: {said}"}]}
    return f"{text} (downgraded to warning at {when})", [*blocks[: MAX_BLOCKS - 1], note]


class SlackBotNotifier:
    """Post to one channel with a bot token (``chat:write``; ``channels:history`` or
    ``groups:history`` to check for a post in doubt); thread and update resolutions.

    ``base_url`` points the Web API client elsewhere (a proxy, a test server); ``timeout`` is in
    seconds (slack-sdk rounds to whole seconds), the deadline of a whole call (see
    :mod:`sloguard.notify.slack.api`); ``ca_file`` replaces the system CAs for TLS; ``clock``
    dates an HTTP-date ``Retry-After``.
    """

    def __init__(
        self,
        name: str,
        token: str,
        channel: str,
        *,
        base_url: str = DEFAULT_BASE_URL,
        timeout: float = 10.0,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        clock: Callable[[], float] = time.time,
        ca_file: str | None = None,
    ) -> None:
        if not token.strip():
            raise ValueError(f"slack receiver {name!r}: the bot token is empty")
        if any(c.isspace() or not c.isprintable() for c in token.strip()):
            # fail now, without echoing it, rather than in http.client at the first alert
            raise ValueError(f"slack receiver {name!r}: the bot token has a space or control char")
        if not channel.strip():
            raise ValueError(f"slack receiver {name!r}: the channel is empty")
        self.name = name
        self.channel = channel
        self.min_interval = min_interval
        self.timeout = float(whole_seconds(timeout))
        self._token = token.strip()
        self._clock = clock
        #: the channel's id, once an answer told it (``channel`` may be a name)
        self._channel_id: str | None = None
        #: notification id → where a post of it may have landed unbeknown to us
        self._doubts = Doubts()
        self._client = WebClient(
            token=self._token, base_url=base_url, **sdk_options(timeout, ca_file)
        )

    def __repr__(self) -> str:
        return f"SlackBotNotifier({self.name!r}, channel={self.channel!r})"

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Post ``notification`` (threaded under ``ref`` for repeats and resolutions)."""
        text, blocks = slack_message(notification)
        original = self._parse(ref)
        acked = notification.transition is Transition.ACKNOWLEDGED
        downgraded = notification.transition is Transition.DOWNGRADED
        if original is None or not (
            notification.repeat or acked or downgraded
            or notification.status is AlertStatus.RESOLVED
        ):  # fmt: skip
            return await self._post(notification, text, blocks)
        channel, ts = original
        reply = await self._post_once(notification, Where(channel, ts), text, blocks)
        if isinstance(reply, _Failed):
            if reply.code in THREAD_GONE:
                _log.info(
                    "%s: thread %s is gone (%s), posting to the channel", self, ts, reply.code
                )
                return await self._post(notification, text, blocks)
            return reply.delivery
        if notification.status is AlertStatus.RESOLVED:
            await self._mark_resolved(notification, channel, ts)
        elif acked:
            await self._mark_acknowledged(notification, channel, ts)
        elif downgraded:
            await self._update(
                channel, ts, _downgraded_original(notification), "downgrade posted in the thread"
            )
        return Delivery.ok(ref=f"{channel}:{ts}")

    async def _post(self, n: Notification, text: str, blocks: list[dict[str, Any]]) -> Delivery:
        answer = await self._post_once(n, Where(self.channel), text, blocks)
        if isinstance(answer, _Failed):
            return answer.delivery
        channel, ts = answer.get("channel"), answer.get("ts")
        if isinstance(channel, str) and channel:
            self._channel_id = channel
        if not isinstance(ts, str):
            _log.warning("%s: chat.postMessage answered ok without a ts", self)
            return Delivery.ok()
        return Delivery.ok(ref=f"{channel if isinstance(channel, str) else self.channel}:{ts}")

    def in_doubt(self, notification_id: str) -> None:
        """Another process may have posted this notification (a replica whose claim ran out,
        or this daemon before a restart): look for it before posting
        (:class:`~sloguard.notify.model.DoubtAware`)."""
        self._doubts.elsewhere(notification_id)

    async def _post_once(
        self, n: Notification, where: Where, text: str, blocks: list[dict[str, Any]]
    ) -> Mapping[str, Any] | _Failed:
        """Post ``n`` to ``where`` unless an earlier attempt whose outcome was unknown landed:
        the answer of the post, or of the lookup (``channel`` and ``ts`` of the found message)."""
        earlier = self._doubts.look_at(n.id, where)
        if earlier is not None:
            found = await self._find(n.id, earlier)
            if isinstance(found, _Failed):
                return found
            if found is not None:
                self._doubts.settled(n.id)
                _log.info("%s: notification %s was posted before (ts %s)", self, n.id, found[1])
                return {"ok": True, "channel": found[0], "ts": found[1]}
        answer = await self._call(
            "chat.postMessage",
            functools.partial(
                self._client.chat_postMessage,
                channel=where.channel,
                text=text,
                blocks=blocks,
                metadata=metadata(n),
                thread_ts=where.thread_ts,  # slack-sdk leaves out what is None
                reply_broadcast=None if where.thread_ts is None else False,
            ),
        )
        if not isinstance(answer, _Failed) or answer.delivery.outcome is not Outcome.RETRY:
            self._doubts.settled(n.id)  # posted now, or never will be
        elif answer.in_doubt:
            self._doubts.mine(n.id, where)
        return answer

    async def _find(self, notification_id: str, where: Where) -> tuple[str, str] | _Failed | None:
        """(channel, ts) of this receiver's message carrying ``notification_id`` at ``where``;
        None when absent or when Slack refuses to look (logged); a failure to retry."""
        channel = (
            self._channel_id
            if where.channel == self.channel and self._channel_id
            else where.channel
        )
        cursor: str | None = None
        for _ in range(_LOOKUP_PAGES):
            if where.thread_ts is None:
                method, request = (
                    "conversations.history",
                    functools.partial(
                        self._client.conversations_history,
                        channel=channel,
                        limit=_LOOKUP_LIMIT,
                        include_all_metadata=True,
                        cursor=cursor,
                    ),
                )
            else:
                method, request = (
                    "conversations.replies",
                    functools.partial(
                        self._client.conversations_replies,
                        channel=channel,
                        ts=where.thread_ts,
                        limit=_LOOKUP_LIMIT,
                        include_all_metadata=True,
                        cursor=cursor,
                    ),
                )
            answer = await self._call(method, request)
            if isinstance(answer, _Failed):
                if answer.delivery.outcome is Outcome.RETRY:
                    return answer
                _log.warning(
                    "%s: cannot check whether notification %s was posted before, posting it: %s",
                    self,
                    notification_id,
                    answer.delivery.reason,
                )
                return None
            messages = answer.get("messages")
            for message in messages if isinstance(messages, list) else []:
                ts = carries(message, notification_id)
                if ts is not None:
                    return channel, ts
            meta = answer.get("response_metadata")
            cursor = meta.get("next_cursor") if isinstance(meta, dict) else None
            if not isinstance(cursor, str) or not cursor:
                return None
        return None

    async def _mark_resolved(self, n: Notification, channel: str, ts: str) -> None:
        """Best effort: the resolution was delivered as a reply whatever happens here."""
        await self._update(channel, ts, _resolved_original(n), "resolution posted in the thread")

    async def _mark_acknowledged(self, n: Notification, channel: str, ts: str) -> None:
        """Best effort, like :meth:`_mark_resolved`: the firing message says who took it."""
        await self._update(
            channel, ts, _acknowledged_original(n), "acknowledgement posted in the thread"
        )

    async def _update(
        self, channel: str, ts: str, message: tuple[str, list[dict[str, Any]]], what: str
    ) -> None:
        """Best effort ``chat.update`` of the original message (logged when it fails)."""
        text, blocks = message
        answer = await self._call(
            "chat.update",
            functools.partial(
                self._client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks
            ),
        )
        if isinstance(answer, _Failed):
            _log.warning(
                "%s: %s, but the original message was not updated: %s",
                self,
                what,
                answer.delivery.reason,
            )

    def _parse(self, ref: str | None) -> tuple[str, str] | None:
        """``"<channel>:<ts>"`` (or a bare ts in this receiver's channel) → (channel, ts)."""
        if not ref:
            return None
        channel, _, ts = ref.rpartition(":")
        return (channel or self.channel, ts) if ts else None

    async def _call(
        self, method: str, request: Callable[[], SlackResponse]
    ) -> Mapping[str, Any] | _Failed:
        where = f"slack {self.name!r} {method}"
        try:
            response = await asyncio.wait_for(asyncio.to_thread(request), self.timeout)
        except SlackApiError as exc:
            answer: SlackResponse = exc.response
            body = answer.data if isinstance(answer.data, dict) else {}
            code = error_code(body.get("error"))
            delivery = classify(
                answer.status_code, code, answer.headers, now=self._clock(), where=where
            )
            return _Failed(scrubbed(delivery, [self._token]), code)
        except UNANSWERED as exc:
            delivery = unanswered(exc, timeout=self.timeout, where=where)
            return _Failed(scrubbed(delivery, [self._token]), None, maybe_delivered(exc))
        return response.data if isinstance(response.data, dict) else {}

    async def aclose(self) -> None:
        """Nothing to release: slack-sdk's urllib client opens a connection per request."""

    async def __aenter__(self) -> SlackBotNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
