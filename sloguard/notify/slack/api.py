"""What the Slack receivers share about slack-sdk: client settings and what an answer means.

Both receivers use slack-sdk's synchronous (urllib) clients with its own retries off
(``retry_handlers=[]``: the outbox retries, with backoff and ``Retry-After``), whole-second
timeouts (:func:`whole_seconds`) and a logger that prints nothing (:data:`SDK_LOG`: slack-sdk's
debug lines print the webhook URL and bodies, its error lines exception texts that can hold the
URL). No token or webhook URL reaches a reason (:func:`~sloguard.notify.delivery.scrubbed`).

The timeout is also the deadline of a whole call, and an answer is read up to
:data:`~sloguard.notify.delivery.MAX_ANSWER_BYTES`; both end in a retry. slack-sdk's own timeout
is urllib's per-read socket timeout, which an answer trickling a byte at a time never trips, and
it reads an answer body whole (``resp.read()``) with no size limit. So:

- the receivers wait for the worker thread with ``asyncio.wait_for`` (its ``TimeoutError`` is
  in :data:`UNANSWERED`);
- over https (Slack always is), the clients' TLS context (:func:`bounded_tls`) makes its sockets
  stop reading past the byte budget or the deadline, so the worker thread, which cannot be
  cancelled, ends by itself too. A plain-http ``base_url`` (a test server, a local proxy) has
  the ``wait_for`` deadline only: its abandoned thread reads until the peer stops.

How an answer maps to a :class:`~sloguard.notify.model.Delivery` (:func:`classify` for an answer
other than success, :func:`unanswered` for a request that raised; ``ERRORS`` holds the error
codes; the HTTP status means what it means for every receiver,
:data:`sloguard.notify.delivery.STATUS_ACTIONS`, and a retry from either wins over a disable,
which wins over a permanent failure):

- HTTP 429, or error ``ratelimited`` / ``rate_limited``: retry, ``after`` = Retry-After;
- HTTP 5xx, 408, 425, or no answer at all (refused, reset, timeout, DNS, TLS, truncated, or
  not complete within the deadline): retry, ``after`` = Retry-After when given;
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

A request that raised may still have been carried out (:func:`maybe_delivered`): Slack has no
idempotency key, so before posting again the bot receiver looks for its own message.

"Disabled" is for errors every later message to this receiver would hit too, until someone fixes
its configuration; a channel that is gone counts (Slack answers ``channel_not_found`` when the
bot cannot see a private channel, ``not_in_channel`` when it was removed).

Example::

    try:
        answer = await asyncio.to_thread(client.send, text=text, blocks=blocks)
    except UNANSWERED as exc:
        return scrubbed(unanswered(exc, timeout=10, where="slack webhook 'ops'"), [url])
"""

from __future__ import annotations

import errno
import http.client
import logging
import math
import os
import re
import ssl
import time
import urllib.error
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackClientError, SlackRequestError

from sloguard.notify.delivery import (
    MAX_ANSWER_BYTES,
    Action,
    header,
    retry_after,
    settle,
    status_action,
    strongest,
    transport_delivery,
)
from sloguard.notify.model import Delivery

__all__ = [
    "DEFAULT_MIN_INTERVAL",
    "ERRORS",
    "SDK_LOG",
    "UNANSWERED",
    "bounded_tls",
    "classify",
    "error_code",
    "maybe_delivered",
    "sdk_options",
    "unanswered",
    "whole_seconds",
]

#: Slack allows about one message per second per channel.
DEFAULT_MIN_INTERVAL = 1.0
_CODE = re.compile(r"[a-z0-9_]{1,80}")


#: Slack error codes (Web API ``error``, incoming-webhook body) → what to do. Unlisted: DROP.
ERRORS: Mapping[str, Action] = {
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
        Action.RETRY,
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
        Action.DISABLE,
    ),
}


def _silent_logger() -> logging.Logger:
    """A logger for slack-sdk that emits nothing. Not registered with :mod:`logging`, so no
    logging configuration (a root at DEBUG, ``dictConfig``) can turn it back on."""
    logger = logging.Logger("sloguard.notify.slack.sdk", level=logging.CRITICAL + 1)
    logger.propagate = False
    logger.addHandler(logging.NullHandler())
    return logger


#: The ``logger`` of every slack-sdk client: it emits nothing.
SDK_LOG = _silent_logger()


def whole_seconds(timeout: float) -> int:
    """slack-sdk takes whole seconds; round up so a timeout is never shorter than asked."""
    if not timeout > 0 or not math.isfinite(timeout):
        raise ValueError("timeout must be a positive number of seconds")
    return max(1, math.ceil(timeout))


class _BoundedSocket(ssl.SSLSocket):
    """A TLS socket that stops reading past its context's byte budget or deadline, both counted
    from its first read (urllib opens one connection per request)."""

    def recv_into(self, buffer: Any, nbytes: int | None = None, flags: int = 0) -> int:
        context = self.context
        assert isinstance(context, _BoundedContext)
        bounds = self.__dict__.setdefault(
            "_sloguard_bounds", [time.monotonic() + context.deadline, 0, self.gettimeout()]
        )
        try:
            left = bounds[0] - time.monotonic()
            if left <= 0:
                raise TimeoutError(errno.ETIMEDOUT, "no complete answer within the deadline")
            self.settimeout(left if bounds[2] is None else min(left, bounds[2]))
            read = super().recv_into(buffer, nbytes, flags)
            bounds[1] += read
            if bounds[1] > context.max_bytes:
                raise OSError(errno.EMSGSIZE, f"answer longer than {context.max_bytes} bytes")
        except OSError:
            # drop the connection now: slack-sdk keeps the failed answer (and so this socket) in
            # a reference cycle (its ``last_error``) that only the garbage collector breaks
            os.close(self.detach())
            raise
        return read


class _BoundedContext(ssl.SSLContext):
    sslsocket_class = _BoundedSocket
    deadline: float
    max_bytes: int


def bounded_tls(
    timeout: float, *, max_answer_bytes: int = MAX_ANSWER_BYTES, ca_file: str | None = None
) -> ssl.SSLContext:
    """A client TLS context (verifying, like urllib's default; ``ca_file`` replaces the system
    CAs) whose sockets read at most ``max_answer_bytes`` (headers included) within ``timeout``
    seconds of their first read, then raise an OSError (a retry, :func:`unanswered`)."""
    context = _BoundedContext(ssl.PROTOCOL_TLS_CLIENT)
    if ca_file is None:
        context.load_default_certs()
    else:
        context.load_verify_locations(ca_file)
    context.deadline = timeout
    context.max_bytes = max_answer_bytes
    return context


def sdk_options(timeout: float, ca_file: str | None = None) -> dict[str, Any]:
    """The settings of every slack-sdk client: :func:`whole_seconds`, :data:`SDK_LOG`,
    slack-sdk's own retries off (the outbox retries), and :func:`bounded_tls`."""
    seconds = whole_seconds(timeout)
    return {
        "timeout": seconds,
        "logger": SDK_LOG,
        "retry_handlers": [],
        "ssl": bounded_tls(seconds, ca_file=ca_file),
    }


def error_code(value: object) -> str | None:
    """A Slack error code, or None for anything else (an HTML page, a long message)."""
    return value if isinstance(value, str) and _CODE.fullmatch(value) else None


def classify(
    status: int, code: str | None, headers: Mapping[str, Any], *, now: float, where: str
) -> Delivery:
    """The delivery outcome of a Slack answer other than success (see the module table).

    ``code`` is Slack's error code (the Web API ``error`` or an incoming webhook's body);
    ``where`` starts the reason and must hold no secret.
    """
    said = f"{where}: {code or 'error'} (HTTP {status})"
    action = strongest(status_action(status), ERRORS.get(code or ""))
    after = retry_after(header(headers, "retry-after"), now)
    return settle(action, said, after=after, disabled=": receiver disabled")


def unanswered(exc: Exception, *, timeout: float, where: str) -> Delivery:
    """The delivery outcome of a request that raised instead of answering.

    slack-sdk refusing the request is permanent; anything else (the network) is a retry, per
    :func:`~sloguard.notify.delivery.transport_delivery`, which quotes no text of these
    exceptions: urllib and http.client put URLs and header values (the token) in some of them.
    """
    if isinstance(exc, SlackRequestError | ValueError):
        return Delivery.permanent(
            f"{where}: request refused before sending ({type(exc).__name__}): "
            "check the URL and token; receiver disabled",
            disable=True,
        )
    if isinstance(exc, SlackClientError):  # e.g. blocks slack-sdk cannot serialise
        return Delivery.permanent(f"{where}: slack-sdk refused the request ({type(exc).__name__})")
    return transport_delivery(exc, timeout=timeout, where=where)


#: What a request through slack-sdk can raise besides an answer.
UNANSWERED = (OSError, http.client.HTTPException, SlackClientError, ValueError)


def maybe_delivered(exc: BaseException) -> bool:
    """Whether a request that raised instead of answering may still have been carried out.

    No when it never left whole: slack-sdk or urllib refused it, or connecting or sending failed
    (urllib raises those as ``URLError``). Yes when it failed after it was sent: the deadline
    passed (``TimeoutError``, also when the worker thread had not started), the connection was
    dropped or the answer cut short, too long or too slow.
    """
    if isinstance(exc, urllib.error.URLError | SlackClientError | ValueError):
        return False
    return isinstance(exc, OSError | http.client.HTTPException)
