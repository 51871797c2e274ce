"""The generic webhook receiver: the Alertmanager v4 body, signed per Standard Webhooks.

Example::

    hook = WebhookNotifier("ops-hook", "https://hooks.example/sloguard",
                           secrets=[os.environ["SLOGUARD_WEBHOOK_SECRET"]])
    try:
        delivery = await hook.send(notification, None)   # Delivery.ok / retry / permanent
    finally:
        await hook.aclose()

Each POST carries ``webhook-id`` = ``notification.id`` (the idempotency key: a retry or a
redelivery after a restart reuses it, so the receiver can drop duplicates), ``webhook-timestamp``
(the attempt's time, integer seconds from ``clock``) and, when secrets are set,
``webhook-signature`` with one ``v1`` signature per secret (rotation; see
:mod:`sloguard.notify.signing`).

The request goes out through :class:`sloguard.notify.delivery.Poster`, which maps the answer to
a :class:`~sloguard.notify.model.Delivery` per the Standard Webhooks status code handling (2xx
ok; 408, 425, 429, 5xx and no answer retry, after ``Retry-After``; 410 disables the receiver;
3xx and other 4xx are permanent). No secret (signing secrets, the URL's password, its path
segments and query values that may be credentials, extra header values such as an
``Authorization``) appears in ``repr`` or in a delivery's reason, even when the receiver echoes
it ("Cannot POST /hook/<token>" reads "Cannot POST /hook/***"; see
:func:`sloguard.notify.delivery.url_secrets`). The URL is shown as its origin only
(``https://hooks.example``): a webhook path or query often is a credential itself. A send after
:meth:`WebhookNotifier.aclose` answers retry, keeping the notification for the next start.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence

import httpx

from sloguard.notify import signing
from sloguard.notify.delivery import Poster, check_url, json_body, origin, url_secrets
from sloguard.notify.model import Delivery, Notification
from sloguard.notify.render import webhook_payload


class WebhookNotifier:
    """POST each notification as an Alertmanager v4 webhook body (plus ``sloguard``) to ``url``.

    ``secrets`` sign every request (several: one signature each, for rotation); ``headers`` are
    sent as given (e.g. an ``Authorization``) and kept out of messages; ``external_url`` is the
    body's ``externalURL`` (sloguard's own address); ``clock`` gives ``webhook-timestamp`` and
    dates ``Retry-After``; ``transport`` replaces the network (httpx transports).
    """

    min_interval = 0.0

    def __init__(
        self,
        name: str,
        url: str,
        *,
        secrets: Sequence[str] = (),
        headers: Mapping[str, str] | None = None,
        timeout: float = 10.0,
        clock: Callable[[], float] = time.time,
        transport: httpx.AsyncBaseTransport | None = None,
        external_url: str = "",
    ) -> None:
        parsed = check_url(url, f"webhook {name!r}")
        if not timeout > 0:
            raise ValueError(f"webhook {name!r}: timeout must be > 0")
        for secret in secrets:
            signing.secret_key(secret)  # fail now (without echoing it), not at the first alert
        self.name = name
        self.url = origin(parsed)
        self.timeout = timeout
        self.external_url = external_url
        self._target = parsed
        self._secrets = tuple(secrets)
        self._clock = clock
        self._poster = Poster(
            f"webhook {name!r} at {self.url}",
            timeout=timeout,
            hidden=(*self._secrets, *url_secrets(url, parsed)),
            headers=headers,
            transport=transport,
            clock=clock,
        )

    def __repr__(self) -> str:
        signed = f", signed with {len(self._secrets)} secret(s)" if self._secrets else ""
        return f"WebhookNotifier({self.name!r}, {self.url!r}{signed})"

    @property
    def signed(self) -> bool:
        """True when requests carry a ``webhook-signature``."""
        return bool(self._secrets)

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """POST ``notification``; map the answer (or its absence) to a Delivery."""
        body = json_body(webhook_payload(notification, external_url=self.external_url))
        stamp = int(self._clock())
        signed = signing.webhook_headers(self._secrets, notification.id, stamp, body)
        return await self._poster.post(self._target, body, signed)

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._poster.aclose()

    async def __aenter__(self) -> WebhookNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
