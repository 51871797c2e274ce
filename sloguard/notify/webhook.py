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

How an answer maps to a :class:`~sloguard.notify.base.Delivery` (:func:`http_delivery`, also
used by the Alertmanager receiver), following the Standard Webhooks status code handling:

- 2xx: ok;
- 408, 425, 429 and 5xx: retry; a ``Retry-After`` (seconds or an HTTP date) becomes ``after``;
- 410 Gone: permanent, and the receiver is disabled (it said it wants no more);
- 3xx: permanent (redirects are not followed: update the URL);
- other 4xx: permanent (the request itself is wrong; repeating it cannot help);
- connection refused, timeout, reset, TLS failure: retry.

No httpx exception leaves this module, and no secret (signing secrets, extra header values such
as an ``Authorization``) appears in ``repr`` or in a delivery's reason. The URL is shown as its
origin only (``https://hooks.example``): a webhook path or query often is a credential itself.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC
from typing import Any

import httpx

from sloguard.notify import signing
from sloguard.notify.base import Delivery
from sloguard.notify.model import Notification
from sloguard.notify.render import webhook_payload

#: How much of an unexpected answer body a reason quotes.
SNIPPET = 200
#: Status codes worth trying again besides 5xx (timeout, too early, rate limited).
RETRY_STATUSES = frozenset({408, 425, 429})
GONE = 410
USER_AGENT = "sloguard"


def origin(url: httpx.URL) -> str:
    """``scheme://host[:port]`` of ``url``: safe to print (no user info, path or query)."""
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"


def check_url(url: str, what: str) -> httpx.URL:
    """``url`` parsed; ValueError (without the URL, which may hold a credential) if unusable."""
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, TypeError):
        # httpx's message can quote parts of the URL (a port, a host): keep them out
        raise ValueError(f"{what} URL is not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.host:
        raise ValueError(f"{what} URL must be http(s)://host[:port][/path]")
    return parsed


def url_secrets(url: str, parsed: httpx.URL) -> tuple[str, ...]:
    """The parts of ``url`` that may be credentials (itself, its query, its password)."""
    parts = [url, str(parsed), parsed.query.decode(), parsed.password or ""]
    return tuple(p for p in parts if len(p) >= 4)


def retry_after(value: str | None, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delay-seconds or an HTTP date), or None."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError, IndexError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=UTC)
        return max(0.0, when.timestamp() - now)
    return seconds if math.isfinite(seconds) and seconds >= 0 else None


def http_delivery(
    status: int, headers: Mapping[str, str], body: str, *, now: float, where: str
) -> Delivery:
    """The delivery outcome of an HTTP answer (see the module docstring); ``where`` starts the
    reason and must hold no secret."""
    if 200 <= status < 300:
        return Delivery.ok()
    said = f"{where}: HTTP {status}{_snippet(body)}"
    if status in RETRY_STATUSES or 500 <= status < 600:
        return Delivery.retry(said, after=retry_after(headers.get("retry-after"), now))
    if status == GONE:
        return Delivery.permanent(f"{said} (the receiver is gone: disabled)", disable=True)
    if 300 <= status < 400:
        return Delivery.permanent(f"{said} (redirects are not followed: update the URL)")
    if 400 <= status < 500:
        return Delivery.permanent(said)
    return Delivery.retry(f"{said} (unexpected status)")


def transport_delivery(exc: Exception, *, timeout: float, where: str) -> Delivery:
    """The delivery outcome of a request that got no answer: always worth a retry."""
    if isinstance(exc, httpx.TimeoutException):
        return Delivery.retry(f"{where}: no answer within {timeout:g}s ({type(exc).__name__})")
    if isinstance(exc, httpx.ConnectError):
        return Delivery.retry(f"{where}: cannot connect: {str(exc) or type(exc).__name__}")
    detail = f": {exc}" if str(exc) else ""
    return Delivery.retry(f"{where}: request failed: {type(exc).__name__}{detail}")


def _snippet(body: str) -> str:
    text = " ".join(body.split())
    if not text:
        return ""
    return f": {text[:SNIPPET]}{'…' if len(text) > SNIPPET else ''}"


def scrub(text: str, secrets: Sequence[str]) -> str:
    """``text`` with every occurrence of a secret replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


def _finite(value: Any) -> Any:
    """``value`` with NaN/±Inf floats as None: JSON has no such numbers."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def json_body(payload: Any) -> bytes:
    """Compact UTF-8 JSON; the bytes sent are the bytes signed."""
    text = json.dumps(_finite(payload), separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return text.encode()


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
        self._hidden = (
            *self._secrets,
            *(v for v in (headers or {}).values() if len(v) >= 4),
            *url_secrets(url, parsed),
        )
        self._clock = clock
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(timeout),
            headers={"User-Agent": USER_AGENT, **(headers or {})},
            transport=transport,
            follow_redirects=False,
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
        request_headers = {
            "Content-Type": "application/json",
            **signing.webhook_headers(self._secrets, notification.id, stamp, body),
        }
        return await post_delivery(
            self._client,
            self._target,
            body,
            headers=request_headers,
            timeout=self.timeout,
            clock=self._clock,
            where=f"webhook {self.name!r} at {self.url}",
            hidden=self._hidden,
        )

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()

    async def __aenter__(self) -> WebhookNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


def scrubbed(delivery: Delivery, secrets: Sequence[str]) -> Delivery:
    """``delivery`` with its reason :func:`scrub`-bed."""
    clean = scrub(delivery.reason, secrets)
    if clean == delivery.reason:
        return delivery
    return Delivery(delivery.outcome, clean, delivery.after, delivery.ref, delivery.disable)


async def post_delivery(
    client: httpx.AsyncClient,
    target: str | httpx.URL,
    body: bytes,
    *,
    headers: Mapping[str, str] | None = None,
    timeout: float,  # noqa: ASYNC109 - the client's timeout, named in the failure reason
    clock: Callable[[], float],
    where: str,
    hidden: Sequence[str],
) -> Delivery:
    """POST ``body``; map the answer (or its absence) to a scrubbed Delivery."""
    try:
        response = await client.post(target, content=body, headers=headers)
    except (httpx.HTTPError, OSError) as exc:  # OSError: httpcore lets some TLS failures out raw
        delivery = transport_delivery(exc, timeout=timeout, where=where)
    else:
        delivery = http_delivery(
            response.status_code, response.headers, response.text, now=clock(), where=where
        )
    return scrubbed(delivery, hidden)
