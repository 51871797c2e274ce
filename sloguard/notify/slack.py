"""Slack receivers: a bot (Web API: threads and updates) and an incoming webhook.

Example::

    slack = SlackBotNotifier("ops-slack", os.environ["SLOGUARD_SLACK_TOKEN"], "#alerts")
    firing = await slack.send(notification, None)        # Delivery.ok(ref="C123:1700000000.000100")
    resolved = await slack.send(resolution, firing.ref)  # thread reply + update of the original

Both use slack-sdk's synchronous (urllib) clients in a worker thread (``asyncio.to_thread``), so
sloguard needs no aiohttp, with slack-sdk's own retries off (``retry_handlers=[]``): the outbox
retries, with backoff and ``Retry-After``. slack-sdk's logging is silenced (its debug lines print
the webhook URL and bodies, its error lines exception texts that can hold the URL); the receivers
log what matters (on the ``sloguard.notify.slack`` logger), and no token or webhook URL reaches a
``repr``, a log line or a reason.

- :mod:`sloguard.notify.slackbot`: :class:`SlackBotNotifier`, threads and updates;
- :mod:`sloguard.notify.slackwebhook`: :class:`SlackWebhookNotifier`, one new message each time;
- :mod:`sloguard.notify.slackapi`: what both share, and how a Slack answer maps to a
  :class:`~sloguard.notify.base.Delivery` (``ERRORS`` holds the error codes).
"""

from __future__ import annotations

# Besides the two receivers: names kept importable from here since the split (old paths).
from sloguard.notify.slackapi import DEFAULT_MIN_INTERVAL as DEFAULT_MIN_INTERVAL  # noqa: PLC0414
from sloguard.notify.slackapi import ERRORS as ERRORS  # noqa: PLC0414
from sloguard.notify.slackapi import classify as classify  # noqa: PLC0414
from sloguard.notify.slackapi import unanswered as unanswered  # noqa: PLC0414
from sloguard.notify.slackbot import DEFAULT_BASE_URL as DEFAULT_BASE_URL  # noqa: PLC0414
from sloguard.notify.slackbot import THREAD_GONE as THREAD_GONE  # noqa: PLC0414
from sloguard.notify.slackbot import SlackBotNotifier
from sloguard.notify.slackwebhook import SlackWebhookNotifier

__all__ = ["SlackBotNotifier", "SlackWebhookNotifier"]
