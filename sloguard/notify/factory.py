"""Build the receivers of a validated routing file (the I/O side of routing)."""

from __future__ import annotations

from sloguard.notify.base import Notifier
from sloguard.notify.config import (
    AlertmanagerSpec,
    AlertRouting,
    LogSpec,
    SlackSpec,
    SlackWebhookSpec,
    WebhookSpec,
)


def build_notifiers(routing: AlertRouting, *, external_url: str = "") -> dict[str, Notifier]:
    """One notifier per receiver, secrets taken from the validated routing."""
    from sloguard.notify.alertmanager import AlertmanagerNotifier
    from sloguard.notify.log import LogNotifier
    from sloguard.notify.slack.bot import SlackBotNotifier
    from sloguard.notify.slack.webhook import SlackWebhookNotifier
    from sloguard.notify.webhook import WebhookNotifier

    out: dict[str, Notifier] = {}
    for r in routing.receivers.values():
        spec = r.spec
        notifier: Notifier
        if isinstance(spec, LogSpec):
            notifier = LogNotifier(r.name)
        elif isinstance(spec, SlackSpec):
            if spec.base_url:
                notifier = SlackBotNotifier(
                    r.name, r.secrets[0], spec.channel, base_url=spec.base_url
                )
            else:
                notifier = SlackBotNotifier(r.name, r.secrets[0], spec.channel)
        elif isinstance(spec, SlackWebhookSpec):
            notifier = SlackWebhookNotifier(r.name, r.secrets[0])
        elif isinstance(spec, WebhookSpec):
            notifier = WebhookNotifier(
                r.name,
                spec.url,
                secrets=r.secrets,
                timeout=spec.timeout,
                external_url=external_url,
            )
        elif isinstance(spec, AlertmanagerSpec):
            notifier = AlertmanagerNotifier(
                r.name,
                spec.url,
                timeout=spec.timeout,
                resend_after=spec.resend_after,
            )
        else:  # pragma: no cover - the routing models list every kind
            raise TypeError(f"unknown receiver kind {r.kind!r}")
        out[r.name] = notifier
    return out
