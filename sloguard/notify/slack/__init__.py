"""Slack receivers: a bot (Web API: threads and updates) and an incoming webhook.

Example::

    slack = SlackBotNotifier("ops-slack", os.environ["SLOGUARD_SLACK_TOKEN"], "#alerts")
    firing = await slack.send(notification, None)        # Delivery.ok(ref="C123:1700000000.000100")
    resolved = await slack.send(resolution, firing.ref)  # thread reply + update of the original

Both use slack-sdk's synchronous (urllib) clients in a worker thread (``asyncio.to_thread``), so
sloguard needs no aiohttp, with slack-sdk's own retries off (``retry_handlers=[]``): the outbox
retries, with backoff and ``Retry-After``. Each call has a deadline and an answer size limit
(:mod:`sloguard.notify.slack.api`). slack-sdk's logging is silenced (its debug lines print
the webhook URL and bodies, its error lines exception texts that can hold the URL); the receivers
log what matters (on their module loggers), and no token or webhook URL reaches a
``repr``, a log line or a reason.

- :mod:`sloguard.notify.slack.bot`: :class:`SlackBotNotifier`, threads and updates;
- :mod:`sloguard.notify.slack.webhook`: :class:`SlackWebhookNotifier`, one new message each time;
- :mod:`sloguard.notify.slack.api`: what both share, and how a Slack answer maps to a
  :class:`~sloguard.notify.model.Delivery` (``ERRORS`` holds the error codes).

May import: ``notify`` (the model, rendering, the delivery core) and layer 0; never another
receiver module.
"""
