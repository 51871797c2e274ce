"""The Slack bot receiver: post with a bot token (Web API), thread repeats, update resolutions.

The bot posts a firing alert as a new message; its ``ref`` is ``"<channel id>:<ts>"``. With that
ref, a repeat is a thread reply, and a resolution is a thread reply (the delivery) plus a
``chat.update`` that turns the original message into its resolved form. The update is best
effort: when it fails it is logged and the resolution still counts as delivered, so a retry
never posts the reply twice. When the thread is gone (original deleted), the resolution is posted
to the channel instead. What Slack's answers mean: :mod:`sloguard.notify.slack.api`.

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
from dataclasses import dataclass
from typing import Any

from slack_sdk.errors import SlackApiError
from slack_sdk.web import SlackResponse, WebClient

from sloguard.notify.delivery import scrubbed
from sloguard.notify.model import AlertStatus, Delivery, Notification
from sloguard.notify.render import MAX_BLOCKS, rfc3339, slack_message
from sloguard.notify.slack.api import (
    DEFAULT_MIN_INTERVAL,
    UNANSWERED,
    classify,
    error_code,
    sdk_options,
    unanswered,
    whole_seconds,
)

__all__ = ["DEFAULT_BASE_URL", "THREAD_GONE", "SlackBotNotifier"]

_log = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://slack.com/api/"
#: A thread reply failing with these has no thread to go to: post to the channel instead.
THREAD_GONE = frozenset({"thread_not_found", "message_not_found"})


@dataclass(frozen=True, slots=True)
class _Failed:
    delivery: Delivery
    code: str | None


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


class SlackBotNotifier:
    """Post to one channel with a bot token (``chat:write``); thread and update resolutions.

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
        self._client = WebClient(
            token=self._token, base_url=base_url, **sdk_options(timeout, ca_file)
        )

    def __repr__(self) -> str:
        return f"SlackBotNotifier({self.name!r}, channel={self.channel!r})"

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Post ``notification`` (threaded under ``ref`` for repeats and resolutions)."""
        text, blocks = slack_message(notification)
        original = self._parse(ref)
        if original is None or not (
            notification.repeat or notification.status is AlertStatus.RESOLVED
        ):
            return await self._post(text, blocks)
        channel, ts = original
        reply = await self._call(
            "chat.postMessage",
            functools.partial(
                self._client.chat_postMessage,
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=ts,
                reply_broadcast=False,
            ),
        )
        if isinstance(reply, _Failed):
            if reply.code in THREAD_GONE:
                _log.info(
                    "%s: thread %s is gone (%s), posting to the channel", self, ts, reply.code
                )
                return await self._post(text, blocks)
            return reply.delivery
        if notification.status is AlertStatus.RESOLVED:
            await self._mark_resolved(notification, channel, ts)
        return Delivery.ok(ref=f"{channel}:{ts}")

    async def _post(self, text: str, blocks: list[dict[str, Any]]) -> Delivery:
        answer = await self._call(
            "chat.postMessage",
            functools.partial(
                self._client.chat_postMessage, channel=self.channel, text=text, blocks=blocks
            ),
        )
        if isinstance(answer, _Failed):
            return answer.delivery
        channel, ts = answer.get("channel"), answer.get("ts")
        if not isinstance(ts, str):
            _log.warning("%s: chat.postMessage answered ok without a ts", self)
            return Delivery.ok()
        return Delivery.ok(ref=f"{channel if isinstance(channel, str) else self.channel}:{ts}")

    async def _mark_resolved(self, n: Notification, channel: str, ts: str) -> None:
        """Best effort: the resolution was delivered as a reply whatever happens here."""
        text, blocks = _resolved_original(n)
        answer = await self._call(
            "chat.update",
            functools.partial(
                self._client.chat_update, channel=channel, ts=ts, text=text, blocks=blocks
            ),
        )
        if isinstance(answer, _Failed):
            _log.warning(
                "%s: resolution posted in the thread, but the firing message was not updated: %s",
                self,
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
            return _Failed(scrubbed(delivery, [self._token]), None)
        return response.data if isinstance(response.data, dict) else {}

    async def aclose(self) -> None:
        """Nothing to release: slack-sdk's urllib client opens a connection per request."""

    async def __aenter__(self) -> SlackBotNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
