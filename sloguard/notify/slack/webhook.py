"""The Slack incoming-webhook receiver: every notification is a new message.

An incoming webhook has no threads and cannot update a message, so repeats and resolutions are
new messages too and ``ref`` stays None. The URL is a credential: it appears in no ``repr``, log
line or reason. What Slack's answers mean: :mod:`sloguard.notify.slack.api`.

Example::

    hook = SlackWebhookNotifier("ops-hook", os.environ["SLOGUARD_SLACK_WEBHOOK_URL"])
    delivery = await hook.send(notification, None)   # Delivery.ok(), ref None
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from slack_sdk.webhook import WebhookClient, WebhookResponse

from sloguard.notify.delivery import Action, scrubbed, status_action
from sloguard.notify.model import Delivery, Notification
from sloguard.notify.render import slack_message
from sloguard.notify.slack.api import (
    DEFAULT_MIN_INTERVAL,
    UNANSWERED,
    classify,
    error_code,
    sdk_options,
    unanswered,
    whole_seconds,
)

__all__ = ["SlackWebhookNotifier"]


class SlackWebhookNotifier:
    """Post to a Slack incoming-webhook URL (``https://hooks.slack.com/services/…``).

    The URL is a credential: it appears in no ``repr``, log line or reason. No threads or
    updates are possible, so every notification is a new message and ``ref`` stays None.
    ``timeout`` is the deadline of a whole post (see :mod:`sloguard.notify.slack.api`);
    ``ca_file`` replaces the system CAs for TLS.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 10.0,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        clock: Callable[[], float] = time.time,
        ca_file: str | None = None,
    ) -> None:
        if not url.lower().startswith(("https://", "http://")):
            raise ValueError(f"slack webhook {name!r}: the URL must start with https://")
        self.name = name
        self.min_interval = min_interval
        self.timeout = float(whole_seconds(timeout))
        self._url = url
        self._clock = clock
        self._client = WebhookClient(url, **sdk_options(timeout, ca_file))

    def __repr__(self) -> str:
        return f"SlackWebhookNotifier({self.name!r})"

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Post ``notification`` as a new message (``ref`` is ignored: no threads here)."""
        text, blocks = slack_message(notification)
        where = f"slack webhook {self.name!r}"
        try:
            answer: WebhookResponse = await asyncio.wait_for(
                asyncio.to_thread(self._client.send, text=text, blocks=blocks), self.timeout
            )
        except UNANSWERED as exc:
            delivery = unanswered(exc, timeout=self.timeout, where=where)
        else:
            if status_action(answer.status_code) is Action.OK:
                return Delivery.ok()
            delivery = classify(
                answer.status_code,
                error_code(answer.body.strip()),
                answer.headers,
                now=self._clock(),
                where=where,
            )
        return scrubbed(delivery, [self._url])

    async def aclose(self) -> None:
        """Nothing to release: slack-sdk's urllib client opens a connection per request."""

    async def __aenter__(self) -> SlackWebhookNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
