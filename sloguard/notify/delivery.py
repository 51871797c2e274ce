"""The delivery core of the HTTP receivers: URLs, JSON bodies, posting, answers → Delivery.

The webhook and Alertmanager receivers post through a :class:`Poster` (httpx); the Slack
receivers (slack-sdk) map their answers with the same :func:`status_action`,
:func:`retry_after` and :func:`transport_delivery`. Receiver modules are thin adapters over this
one and never import each other.

Example::

    poster = Poster("webhook 'audit' at https://hooks.example", timeout=10.0, hidden=[token])
    try:
        delivery = await poster.post("https://hooks.example/sloguard", json_body(payload))
    finally:
        await poster.aclose()

How an HTTP status maps to an :class:`Action` (:data:`STATUS_ACTIONS`, the Standard Webhooks
status code handling; first match wins):

- 2xx: ok;
- 408, 425, 429 and 5xx: retry; a ``Retry-After`` (seconds or an HTTP date) becomes ``after``;
- 410 Gone: permanent, and the receiver is disabled (it said it wants no more);
- 3xx: permanent (redirects are not followed: update the URL);
- other 4xx: permanent (the request itself is wrong; repeating it cannot help);
- any other status: :func:`http_delivery` retries; Slack lets its error code decide.

A request that got no answer (refused, timeout, reset, TLS failure, a truncated answer) is a
retry (:func:`transport_delivery`). So is an answer a :class:`Poster` stops reading: its
``timeout`` is a deadline for the whole request, answer included (a receiver trickling a byte
at a time never resets it, unlike a per-read timeout), and an answer body longer than
``max_answer_bytes`` (:data:`MAX_ANSWER_BYTES`: far more than a receiver's error page) is not read
further.

No httpx exception leaves this module, and no secret appears in a reason: httpx exception texts
are quoted but every :class:`Poster` delivery is :func:`scrubbed` of the receiver's secrets;
standard-library exception texts are not quoted at all (urllib and http.client put URLs and
header values in some), only an OSError's ``strerror``. URLs are shown as their :func:`origin`
(a webhook path or query often is a credential itself), and the parts of a URL that may be
credentials are among the secrets scrubbed (:func:`url_secrets`, :func:`may_be_secret`).

A closed :class:`Poster` sends nothing and answers retry: receivers are closed when the daemon
shuts down, and a retry keeps the notification in the outbox for the next start (permanent would
drop it).
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import math
import re
import time
from collections.abc import Callable, Container, Iterable, Mapping
from datetime import UTC
from enum import Enum
from typing import Any
from urllib.parse import unquote, unquote_plus

import httpx

from sloguard.httpanswer import read_capped
from sloguard.notify.model import Delivery

__all__ = [
    "GONE",
    "MAX_ANSWER_BYTES",
    "RETRY_STATUSES",
    "STATUS_ACTIONS",
    "USER_AGENT",
    "Action",
    "Poster",
    "check_url",
    "header",
    "http_delivery",
    "json_body",
    "may_be_secret",
    "origin",
    "retry_after",
    "scrub",
    "scrubbed",
    "settle",
    "status_action",
    "strongest",
    "transport_delivery",
    "url_secrets",
]

#: How much of an unexpected answer body a reason quotes.
SNIPPET = 200
#: Longest answer body a :class:`Poster` reads; a longer one is not read further (retry).
MAX_ANSWER_BYTES = 1024 * 1024
#: Status codes worth trying again besides 5xx (timeout, too early, rate limited).
RETRY_STATUSES = frozenset({408, 425, 429})
GONE = 410
USER_AGENT = "sloguard"
#: Shortest URL part (user name, path segment, query value) taken for a possible credential.
MIN_SECRET = 8
#: Longest plain lower-case word (``alerts``, ``sloguard-events``) taken for a name instead.
MAX_NAME = 23
_NAME = re.compile(r"[a-z]+(?:[-_.][a-z]+)*")


class Action(Enum):
    """What an answer says to do next."""

    OK = "ok"
    RETRY = "retry"
    DROP = "permanent"  # give up on this notification
    DISABLE = "disable"  # give up on this notification and the receiver


#: HTTP status → action; first match wins; a status in none of them is not a known answer.
STATUS_ACTIONS: tuple[tuple[Container[int], Action], ...] = (
    (range(200, 300), Action.OK),
    (RETRY_STATUSES, Action.RETRY),
    (range(500, 600), Action.RETRY),
    (frozenset({GONE}), Action.DISABLE),
    (range(300, 500), Action.DROP),
)
#: Which of several verdicts on one failed answer wins (Slack: its status and its error code).
_PRECEDENCE = (Action.RETRY, Action.DISABLE, Action.DROP)


def status_action(status: int) -> Action | None:
    """What HTTP ``status`` says (:data:`STATUS_ACTIONS`); None when it is in none of them."""
    return next((action for codes, action in STATUS_ACTIONS if status in codes), None)


def strongest(*verdicts: Action | None) -> Action:
    """The verdict that wins on a failed answer: retry, else disable, else drop."""
    return next((a for a in _PRECEDENCE if a in verdicts), Action.DROP)


def settle(action: Action, said: str, *, disabled: str, after: float | None = None) -> Delivery:
    """``action`` as a Delivery with the reason ``said`` (``disabled`` appended when it disables
    the receiver); ``after`` is a retry's wait."""
    if action is Action.OK:
        return Delivery.ok()
    if action is Action.RETRY:
        return Delivery.retry(said, after=after)
    if action is Action.DISABLE:
        return Delivery.permanent(said + disabled, disable=True)
    return Delivery.permanent(said)


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


def may_be_secret(part: str) -> bool:
    """True when the URL part ``part`` may be a credential: at least :data:`MIN_SECRET`
    characters and not a plain lower-case word of at most :data:`MAX_NAME` (``hook``,
    ``sloguard-events`` name things; a token has digits, capitals or symbols, or is long).

    Short and plain parts are not scrubbed: hiding ``hook`` or ``v2`` would mangle every reason
    and hide nothing.
    """
    return len(part) >= MIN_SECRET and (len(part) > MAX_NAME or not _NAME.fullmatch(part))


def url_secrets(url: str, parsed: httpx.URL) -> tuple[str, ...]:
    """The parts of ``url`` that may be credentials: itself, its password, and its user name,
    path segments and query values when they :func:`may_be_secret` (as written and decoded:
    an answer may echo either; the whole query too when one of its values may be)."""
    raw_user, _, raw_password = parsed.userinfo.decode("ascii", "replace").partition(":")
    path = parsed.raw_path.decode("ascii", "replace").partition("?")[0]
    query = parsed.query.decode("ascii", "replace")
    raw_values = [pair.partition("=")[2] for pair in query.split("&")]
    values = [(value, unquote_plus(value)) for value in raw_values]
    segments = [(segment, unquote(segment)) for segment in path.split("/")]
    named = [(raw_user, unquote(raw_user)), *segments, *values]
    hidden = [form for forms in named if any(map(may_be_secret, forms)) for form in forms]
    whole = [url, str(parsed), raw_password, unquote(raw_password)]
    if any(may_be_secret(form) for forms in values for form in forms):
        whole += [query, unquote_plus(query)]
    return tuple(dict.fromkeys(p for p in (*whole, *hidden) if len(p) >= 4))


def header(headers: Mapping[str, Any], name: str) -> str | None:
    """The (first) value of the lower-case header ``name``: from httpx's headers or from
    slack-sdk's (a plain dict in any case, values possibly lists)."""
    for key, value in headers.items():
        if key.lower() == name:
            first = value[0] if isinstance(value, list | tuple) and value else value
            return str(first)
    return None


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
    status: int, headers: Mapping[str, Any], body: str, *, now: float, where: str
) -> Delivery:
    """The delivery outcome of an HTTP answer (see the module docstring); ``where`` starts the
    reason and must hold no secret."""
    action = status_action(status)
    if action is Action.OK:
        return Delivery.ok()
    said = f"{where}: HTTP {status}{_snippet(body)}"
    if action is None:
        return Delivery.retry(f"{said} (unexpected status)")
    if action is Action.DROP and status < 400:
        said += " (redirects are not followed: update the URL)"
    after = retry_after(header(headers, "retry-after"), now)
    return settle(action, said, after=after, disabled=" (the receiver is gone: disabled)")


def transport_delivery(exc: BaseException, *, timeout: float, where: str) -> Delivery:
    """The delivery outcome of a request that got no answer: always worth a retry.

    httpx's exception texts are quoted; the standard library's are not (see the module
    docstring): urllib's ``URLError`` is unwrapped to its cause, of which only the type and an
    OSError's ``strerror`` ("Connection refused") are shown.
    """
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return Delivery.retry(f"{where}: no answer within {timeout:g}s ({name})")
    if isinstance(exc, httpx.ConnectError):
        return Delivery.retry(f"{where}: cannot connect: {str(exc) or name}")
    if isinstance(exc, httpx.HTTPError):
        detail = f": {exc}" if str(exc) else ""
        return Delivery.retry(f"{where}: request failed: {name}{detail}")
    cause = getattr(exc, "reason", None) if isinstance(exc, OSError) else None
    if not isinstance(cause, BaseException):
        cause = exc
    if isinstance(cause, TimeoutError):
        return Delivery.retry(f"{where}: no answer within {timeout:g}s")
    detail = f" ({cause.strerror})" if isinstance(cause, OSError) and cause.strerror else ""
    return Delivery.retry(f"{where}: request failed: {type(cause).__name__}{detail}")


def _snippet(body: str) -> str:
    text = " ".join(body.split())
    if not text:
        return ""
    return f": {text[:SNIPPET]}{'…' if len(text) > SNIPPET else ''}"


def scrub(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of a secret replaced by ``***``."""
    for secret in sorted(secrets, key=len, reverse=True):
        if secret:
            text = text.replace(secret, "***")
    return text


def scrubbed(delivery: Delivery, secrets: Iterable[str]) -> Delivery:
    """``delivery`` with its reason :func:`scrub`-bed."""
    clean = scrub(delivery.reason, secrets)
    if clean == delivery.reason:
        return delivery
    return Delivery(delivery.outcome, clean, delivery.after, delivery.ref, delivery.disable)


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


class Poster:
    """POST JSON bodies with one httpx client; every answer, or its absence, is a Delivery.

    ``where`` starts every reason (a receiver's name and :func:`origin`: no secret); ``hidden``
    are the secrets :func:`scrubbed` from reasons, as are the values of ``headers`` (sent as
    given, e.g. an ``Authorization``, plus ``User-Agent`` and ``Content-Type``); ``timeout`` is
    the deadline of a whole request, ``max_answer_bytes`` the longest answer read; ``base_url``,
    ``auth`` and ``transport`` configure the client, which follows no redirect; ``clock`` dates
    an HTTP-date ``Retry-After``. Once closed it sends nothing and answers retry (see the module
    docstring).
    """

    def __init__(
        self,
        where: str,
        *,
        timeout: float,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
        hidden: Iterable[str] = (),
        base_url: httpx.URL | str = "",
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.where = where
        self.timeout = timeout
        self.max_answer_bytes = max_answer_bytes
        self._hidden = (*hidden, *(v for v in (headers or {}).values() if len(v) >= 4))
        self._clock = clock
        client_headers = httpx.Headers({"User-Agent": USER_AGENT, **(headers or {})})
        client_headers["Content-Type"] = "application/json"
        self._client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(timeout),
            headers=client_headers,
            auth=auth,
            transport=transport,
            follow_redirects=False,
        )

    def __repr__(self) -> str:
        return f"Poster({self.where!r})"

    async def post(
        self, target: httpx.URL | str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> Delivery:
        """POST ``body`` to ``target`` (relative to ``base_url``); the answer as a Delivery."""
        if self._client.is_closed:
            # httpx raises RuntimeError here; after aclose the daemon is shutting down, and a
            # retry (not permanent) keeps the notification in the outbox for the next start
            return Delivery.retry(f"{self.where}: not sent: the receiver is closed (shutting down)")
        try:
            async with asyncio.timeout(self.timeout):
                response = await self._read(target, body, headers)
        except (httpx.HTTPError, OSError) as exc:  # OSError: httpcore lets some TLS errors out raw
            # (asyncio's TimeoutError, the deadline, is an OSError too)
            delivery = transport_delivery(exc, timeout=self.timeout, where=self.where)
        else:
            if response is None:
                delivery = Delivery.retry(
                    f"{self.where}: answer longer than {self.max_answer_bytes} bytes: not read"
                )
            else:
                status, answer_headers, text = response
                delivery = http_delivery(
                    status, answer_headers, text, now=self._clock(), where=self.where
                )
        return scrubbed(delivery, self._hidden)

    async def _read(
        self, target: httpx.URL | str, body: bytes, headers: Mapping[str, str] | None
    ) -> tuple[int, httpx.Headers, str] | None:
        """Status, headers and body text of the answer; None when it is longer than
        ``max_answer_bytes`` (the rest is not read: the connection is dropped)."""
        limit = self.max_answer_bytes
        async with self._client.stream("POST", target, content=body, headers=headers) as answer:
            content = await read_capped(answer, limit)
            if content is None:
                return None
            text = content.decode(answer.charset_encoding or "utf-8", "replace")
            return answer.status_code, answer.headers, text

    async def aclose(self) -> None:
        """Close the connection pool; later posts answer retry without sending."""
        await self._client.aclose()
