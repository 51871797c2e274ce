"""Slack receivers: a bot (Web API: threads and updates) and an incoming webhook.

Example::

    slack = SlackBotNotifier("ops-slack", os.environ["SLOGUARD_SLACK_TOKEN"], "#alerts")
    firing = await slack.send(notification, None)        # Delivery.ok(ref="C123:1700000000.000100")
    resolved = await slack.send(resolution, firing.ref)  # thread reply + update of the original

Both use slack-sdk's synchronous (urllib) clients in a worker thread (``asyncio.to_thread``), so
sloguard needs no aiohttp, with slack-sdk's own retries off (``retry_handlers=[]``): the outbox
retries, with backoff and ``Retry-After``. slack-sdk's logging is silenced (its debug lines print
the webhook URL and bodies, its error lines exception texts that can hold the URL); this module
logs what matters, and no token or webhook URL reaches a ``repr``, a log line or a reason.

The bot posts a firing alert as a new message; its ``ref`` is ``"<channel id>:<ts>"``. With that
ref, a repeat is a thread reply, and a resolution is a thread reply (the delivery) plus a
``chat.update`` that turns the original message into its resolved form. The update is best
effort: when it fails it is logged and the resolution still counts as delivered, so a retry
never posts the reply twice. When the thread is gone (original deleted), the resolution is posted
to the channel instead. The webhook has no threads: every notification is a new message.

How an answer maps to a :class:`~sloguard.notify.base.Delivery` (first match wins; ``ERRORS``
holds the error codes):

- HTTP 429, or error ``ratelimited`` / ``rate_limited``: retry, ``after`` = Retry-After;
- HTTP 5xx, 408, 425, or no answer at all (refused, reset, timeout, DNS, TLS, truncated): retry,
  ``after`` = Retry-After when given;
- ``internal_error``, ``fatal_error``, ``service_unavailable``, ``request_timeout``,
  ``org_login_required``, ``team_added_to_org``, ``rollup_error`` (webhook 500): retry;
- the token is dead or powerless (``invalid_auth``, ``not_authed``, ``account_inactive``,
  ``token_revoked``, ``token_expired``, ``no_permission``, ``missing_scope``,
  ``not_allowed_token_type``, ``ekm_access_denied``, ``access_denied``,
  ``team_access_not_granted``): permanent, receiver disabled;
- the destination is gone (``channel_not_found``, ``is_archived``, ``not_in_channel``,
  ``restricted_action``; webhook ``channel_is_archived`` (410), ``no_service``,
  ``no_service_id``, ``no_team``, ``team_disabled``, ``invalid_token``, ``action_prohibited``,
  ``posting_to_general_channel_denied``): permanent, receiver disabled;
- HTTP 410 Gone, whatever the body: permanent, receiver disabled;
- this message is wrong (``invalid_blocks``, ``msg_too_long``, ``no_text``,
  ``invalid_payload``, …), any other error code or other 4xx: permanent;
- a request the HTTP library refuses before sending (not an http(s) URL, a token with control
  characters): permanent, receiver disabled; any other slack-sdk client error: permanent.

"Disabled" is for errors every later message to this receiver would hit too, until someone fixes
its configuration; a channel that is gone counts (Slack answers ``channel_not_found`` when the
bot cannot see a private channel, ``not_in_channel`` when it was removed).
"""

from __future__ import annotations

import asyncio
import functools
import http.client
import logging
import math
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from slack_sdk.errors import SlackApiError, SlackClientError, SlackRequestError
from slack_sdk.web import SlackResponse, WebClient
from slack_sdk.webhook import WebhookClient, WebhookResponse

from sloguard.notify.base import Delivery
from sloguard.notify.model import AlertStatus, Notification
from sloguard.notify.render import MAX_BLOCKS, rfc3339, slack_message
from sloguard.notify.webhook import GONE, RETRY_STATUSES, retry_after, scrub

__all__ = ["SlackBotNotifier", "SlackWebhookNotifier"]

_log = logging.getLogger("sloguard.notify.slack")

DEFAULT_BASE_URL = "https://slack.com/api/"
#: Slack allows about one message per second per channel.
DEFAULT_MIN_INTERVAL = 1.0
_RATE_LIMITED = 429
_CODE = re.compile(r"[a-z0-9_]{1,80}")


class _Action(Enum):
    RETRY = "retry"
    DROP = "permanent"
    DISABLE = "disable"


#: Slack error codes (Web API ``error``, incoming-webhook body) → what to do. Unlisted: DROP.
ERRORS: Mapping[str, _Action] = {
    **dict.fromkeys(
        (
            "ratelimited",
            "rate_limited",
            "internal_error",
            "fatal_error",
            "service_unavailable",
            "request_timeout",
            "org_login_required",
            "team_added_to_org",
            "rollup_error",
        ),
        _Action.RETRY,
    ),
    **dict.fromkeys(
        (
            # the token
            "invalid_auth",
            "not_authed",
            "account_inactive",
            "token_revoked",
            "token_expired",
            "no_permission",
            "missing_scope",
            "not_allowed_token_type",
            "ekm_access_denied",
            "access_denied",
            "team_access_not_granted",
            # the destination
            "channel_not_found",
            "is_archived",
            "not_in_channel",
            "restricted_action",
            "channel_is_archived",
            "no_service",
            "no_service_id",
            "no_team",
            "team_disabled",
            "invalid_token",
            "action_prohibited",
            "posting_to_general_channel_denied",
        ),
        _Action.DISABLE,
    ),
}
#: A thread reply failing with these has no thread to go to: post to the channel instead.
THREAD_GONE = frozenset({"thread_not_found", "message_not_found"})


def _silent_logger() -> logging.Logger:
    """A logger for slack-sdk that emits nothing. Not registered with :mod:`logging`, so no
    logging configuration (a root at DEBUG, ``dictConfig``) can turn it back on."""
    logger = logging.Logger("sloguard.notify.slack.sdk", level=logging.CRITICAL + 1)
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    return logger


_SDK_LOG = _silent_logger()


def _whole_seconds(timeout: float) -> int:
    """slack-sdk takes whole seconds; round up so a timeout is never shorter than asked."""
    if not timeout > 0 or not math.isfinite(timeout):
        raise ValueError("timeout must be a positive number of seconds")
    return max(1, math.ceil(timeout))


def _code(value: object) -> str | None:
    """A Slack error code, or None for anything else (an HTML page, a long message)."""
    return value if isinstance(value, str) and _CODE.fullmatch(value) else None


def _header(headers: Mapping[str, Any], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name:
            first = value[0] if isinstance(value, list | tuple) and value else value
            return str(first)
    return None


def classify(
    status: int, code: str | None, headers: Mapping[str, Any], *, now: float, where: str
) -> Delivery:
    """The delivery outcome of a Slack answer other than success (see the module table).

    ``code`` is Slack's error code (the Web API ``error`` or an incoming webhook's body);
    ``where`` starts the reason and must hold no secret.
    """
    said = f"{where}: {code or 'error'} (HTTP {status})"
    after = retry_after(_header(headers, "retry-after"), now)
    action = ERRORS.get(code or "")
    if status == _RATE_LIMITED or action is _Action.RETRY:
        return Delivery.retry(said, after=after)
    if status in RETRY_STATUSES or 500 <= status < 600:
        return Delivery.retry(said, after=after)
    if action is _Action.DISABLE or status == GONE:
        return Delivery.permanent(f"{said}: receiver disabled", disable=True)
    return Delivery.permanent(said)


def unanswered(exc: Exception, *, timeout: float, where: str) -> Delivery:
    """The delivery outcome of a request that raised instead of answering.

    Exception texts are not quoted: urllib and http.client put URLs and header values (the
    token) in some of them. An OSError's ``strerror`` ("Connection refused") is safe.
    """
    if isinstance(exc, SlackRequestError | ValueError):
        return Delivery.permanent(
            f"{where}: request refused before sending ({type(exc).__name__}): "
            "check the URL and token; receiver disabled",
            disable=True,
        )
    if isinstance(exc, SlackClientError):  # e.g. blocks slack-sdk cannot serialise
        return Delivery.permanent(f"{where}: slack-sdk refused the request ({type(exc).__name__})")
    if isinstance(exc, TimeoutError):
        return Delivery.retry(f"{where}: no answer within {timeout:g}s")
    if isinstance(exc, OSError):
        cause = getattr(exc, "reason", None)  # urllib.error.URLError wraps the socket error
        if not isinstance(cause, BaseException):
            cause = exc
        detail = cause.strerror if isinstance(cause, OSError) and cause.strerror else ""
        if isinstance(cause, TimeoutError):
            return Delivery.retry(f"{where}: no answer within {timeout:g}s")
        return Delivery.retry(
            f"{where}: request failed: {type(cause).__name__}{f' ({detail})' if detail else ''}"
        )
    return Delivery.retry(f"{where}: request failed: {type(exc).__name__}")


#: What a request through slack-sdk can raise besides an answer.
_UNANSWERED = (OSError, http.client.HTTPException, SlackClientError, ValueError)


def _scrubbed(delivery: Delivery, secret: str) -> Delivery:
    """Belt and braces: reasons are built without exception texts, but never show ``secret``."""
    reason = scrub(delivery.reason, [secret])
    if reason == delivery.reason:
        return delivery
    return Delivery(delivery.outcome, reason, delivery.after, delivery.ref, delivery.disable)


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
    seconds (slack-sdk rounds to whole seconds); ``clock`` dates an HTTP-date ``Retry-After``.
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
        self.timeout = float(_whole_seconds(timeout))
        self._token = token.strip()
        self._clock = clock
        self._client = WebClient(
            token=self._token,
            base_url=base_url,
            timeout=int(self.timeout),
            logger=_SDK_LOG,
            retry_handlers=[],
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
            response = await asyncio.to_thread(request)
        except SlackApiError as exc:
            answer: SlackResponse = exc.response
            body = answer.data if isinstance(answer.data, dict) else {}
            code = _code(body.get("error"))
            delivery = classify(
                answer.status_code, code, answer.headers, now=self._clock(), where=where
            )
            return _Failed(_scrubbed(delivery, self._token), code)
        except _UNANSWERED as exc:
            delivery = unanswered(exc, timeout=self.timeout, where=where)
            return _Failed(_scrubbed(delivery, self._token), None)
        return response.data if isinstance(response.data, dict) else {}

    async def aclose(self) -> None:
        """Nothing to release: slack-sdk's urllib client opens a connection per request."""

    async def __aenter__(self) -> SlackBotNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()


class SlackWebhookNotifier:
    """Post to a Slack incoming-webhook URL (``https://hooks.slack.com/services/…``).

    The URL is a credential: it appears in no ``repr``, log line or reason. No threads or
    updates are possible, so every notification is a new message and ``ref`` stays None.
    """

    def __init__(
        self,
        name: str,
        url: str,
        *,
        timeout: float = 10.0,
        min_interval: float = DEFAULT_MIN_INTERVAL,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if not url.lower().startswith(("https://", "http://")):
            raise ValueError(f"slack webhook {name!r}: the URL must start with https://")
        self.name = name
        self.min_interval = min_interval
        self.timeout = float(_whole_seconds(timeout))
        self._url = url
        self._clock = clock
        self._client = WebhookClient(
            url,
            timeout=int(self.timeout),
            logger=_SDK_LOG,
            retry_handlers=[],
        )

    def __repr__(self) -> str:
        return f"SlackWebhookNotifier({self.name!r})"

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Post ``notification`` as a new message (``ref`` is ignored: no threads here)."""
        text, blocks = slack_message(notification)
        where = f"slack webhook {self.name!r}"
        try:
            answer: WebhookResponse = await asyncio.to_thread(
                self._client.send, text=text, blocks=blocks
            )
        except _UNANSWERED as exc:
            delivery = unanswered(exc, timeout=self.timeout, where=where)
        else:
            if 200 <= answer.status_code < 300:
                return Delivery.ok()
            delivery = classify(
                answer.status_code,
                _code(answer.body.strip()),
                answer.headers,
                now=self._clock(),
                where=where,
            )
        return _scrubbed(delivery, self._url)

    async def aclose(self) -> None:
        """Nothing to release: slack-sdk's urllib client opens a connection per request."""

    async def __aenter__(self) -> SlackWebhookNotifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()
