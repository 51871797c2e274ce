"""What the Slack receivers share about slack-sdk: client settings and what an answer means.

Both receivers use slack-sdk's synchronous (urllib) clients with its own retries off
(``retry_handlers=[]``: the outbox retries, with backoff and ``Retry-After``), whole-second
timeouts (:func:`whole_seconds`) and a logger that prints nothing (:data:`SDK_LOG`: slack-sdk's
debug lines print the webhook URL and bodies, its error lines exception texts that can hold the
URL). No token or webhook URL reaches a reason (:func:`~sloguard.notify.delivery.scrubbed`).

How an answer maps to a :class:`~sloguard.notify.model.Delivery` (:func:`classify` for an answer
other than success, :func:`unanswered` for a request that raised; ``ERRORS`` holds the error
codes; the HTTP status means what it means for every receiver,
:data:`sloguard.notify.delivery.STATUS_ACTIONS`, and a retry from either wins over a disable,
which wins over a permanent failure):

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

Example::

    try:
        answer = await asyncio.to_thread(client.send, text=text, blocks=blocks)
    except UNANSWERED as exc:
        return scrubbed(unanswered(exc, timeout=10, where="slack webhook 'ops'"), [url])
"""

from __future__ import annotations

import http.client
import logging
import math
import re
from collections.abc import Mapping
from typing import Any

from slack_sdk.errors import SlackClientError, SlackRequestError

from sloguard.notify.delivery import (
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
    "classify",
    "error_code",
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


def sdk_options(timeout: float) -> dict[str, Any]:
    """The settings of every slack-sdk client: :func:`whole_seconds`, :data:`SDK_LOG`, and
    slack-sdk's own retries off (the outbox retries)."""
    return {"timeout": whole_seconds(timeout), "logger": SDK_LOG, "retry_handlers": []}


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
