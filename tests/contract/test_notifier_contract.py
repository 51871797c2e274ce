"""The contract of a :class:`~sloguard.notify.model.Notifier`, run against every receiver.

What a receiver must do (the outbox worker, :mod:`sloguard.notify.outbox`, relies on each point):

1. **Identity.** ``name`` is the name it was built with; ``min_interval`` is a finite number of
   seconds >= 0 (the worker's pacing).
2. **Delivery.** ``send(firing, None)``, then ``send(repeat, ref)`` and ``send(resolved, ref)``
   with the ``ref`` the firing delivery returned, are each ``ok``; so is a notification with
   non-ASCII labels and a description far over every receiver's limit (receivers clip); so is a
   ``downgraded`` (the critical resolved, its warning still fires) sent with the critical's
   ``ref``, and the warning's ``resolved`` sent with the ref the downgrade returned.
3. **Redelivery is safe.** Sending the same notification (same idempotency key) twice is ``ok``
   both times; a receiver that can deduplicate holds it once (the webhook consumer by
   ``webhook-id``, Alertmanager by label set). Slack has no idempotency key: a redelivery is a
   second message, the documented limit of at-least-once delivery there.
4. **Failures are Deliveries, never exceptions**, and their reason names the receiver:
   a destination that is gone (connection refused) is ``retry`` for a network receiver; an HTTP
   answer of 5xx or 429 is ``retry`` (``after`` = its ``Retry-After``); 410 is ``permanent`` and
   disables the receiver; another 4xx is ``permanent``; no answer within the timeout is
   ``retry``; after a failure the next notification is delivered normally.
5. **No secret shows**: tokens, signing secrets, secret URL parts and header values appear in no
   ``repr`` and no reason, even when the receiving server echoes them in its answer.
6. **Closing.** ``aclose()`` may be called twice; a ``send`` after it returns a Delivery.

Receivers under test, each against a real local endpoint: ``SlackBotNotifier`` and
``SlackWebhookNotifier`` against :class:`~tests.support.fakeslack.FakeSlack` (real slack-sdk
clients); ``WebhookNotifier`` against :class:`~tests.support.webhookreceiver.WebhookReceiver`
(which verifies signatures); ``AlertmanagerNotifier`` against a real Alertmanager for points
1-3, 5-6, and, for the HTTP answers of point 4, against a ``WebhookReceiver`` standing in for
Alertmanager's ``/api/v2/alerts`` (a real Alertmanager cannot be made to answer 503 or 429 on
demand); ``LogNotifier`` on a text stream; ``RecordingNotifier`` in memory.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from sloguard.notify.model import Delivery, Outcome
from tests.contract.receivers import LATE, NAME, Fault, Rig, open_rig
from tests.support.amserver import start_alertmanager
from tests.support.webhookreceiver import WebhookReceiver

E2E = pytest.mark.e2e


@pytest.fixture(scope="module")
def real_alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real Alertmanager (its URL), notifying a webhook receiver nobody reads."""
    with (
        WebhookReceiver() as its_receiver,
        start_alertmanager(tmp_path_factory.mktemp("am"), its_receiver.url) as url,
    ):
        yield url


ALL = [
    pytest.param("slack-bot", marks=E2E),
    pytest.param("slack-webhook", marks=E2E),
    pytest.param("webhook", marks=E2E),
    pytest.param("alertmanager", marks=[E2E, pytest.mark.alertmanager]),
    "log",
    "recording",
]
HTTP = [
    pytest.param(name, marks=E2E)
    for name in ("slack-bot", "slack-webhook", "webhook", "alertmanager-api")
]


@pytest.fixture(params=ALL)
async def rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for r in open_rig(request.param, lambda: request.getfixturevalue("real_alertmanager")):
        yield r


@pytest.fixture(params=HTTP)
async def http_rig(request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    async for r in open_rig(request.param, lambda: request.getfixturevalue("real_alertmanager")):
        yield r


def assert_failure(d: Delivery, rig: Rig) -> None:
    """A failed delivery explains itself: it names the receiver and shows no secret."""
    assert d.outcome is not Outcome.OK, d
    assert NAME in d.reason, d.reason
    for secret in rig.secrets:
        assert secret not in d.reason, d.reason


# --- 1. identity -----------------------------------------------------------------------------


def test_has_its_name_and_a_pacing_interval(rig: Rig) -> None:
    assert rig.notifier.name == NAME
    assert math.isfinite(rig.notifier.min_interval) and rig.notifier.min_interval >= 0


# --- 2. delivery -----------------------------------------------------------------------------


async def test_a_firing_alert_its_repeat_and_its_resolution_are_delivered(rig: Rig) -> None:
    fired = await rig.notifier.send(rig.alert("firing"), None)
    assert fired.outcome is Outcome.OK, fired.reason
    assert fired.ref is None or isinstance(fired.ref, str)
    repeated = await rig.notifier.send(rig.alert("repeat", key="n-repeat"), fired.ref)
    assert repeated.outcome is Outcome.OK, repeated.reason
    resolved = await rig.notifier.send(rig.alert("resolved", key="n-resolved"), fired.ref)
    assert resolved.outcome is Outcome.OK, resolved.reason


async def test_an_acknowledgement_is_delivered(rig: Rig) -> None:
    """Every receiver takes an ``acknowledged`` notification (Alertmanager: as a no-op)."""
    fired = await rig.notifier.send(rig.alert("firing", key="a-firing"), None)
    assert fired.outcome is Outcome.OK, fired.reason
    acked = await rig.notifier.send(rig.alert("acknowledged", key="a-ack"), fired.ref)
    assert acked.outcome is Outcome.OK, acked.reason


async def test_a_downgrade_and_the_warnings_later_resolve_are_delivered(rig: Rig) -> None:
    """Every receiver takes a ``downgraded`` notification (Alertmanager: the critical resolved
    and the warning firing, in one post)."""
    fired = await rig.notifier.send(rig.alert("firing", key="d-firing"), None)
    assert fired.outcome is Outcome.OK, fired.reason
    down = await rig.notifier.send(rig.alert("downgraded", key="d-down"), fired.ref)
    assert down.outcome is Outcome.OK, down.reason
    assert down.ref is None or isinstance(down.ref, str)  # becomes the warning's ref
    resolved = await rig.notifier.send(rig.alert("resolved", key="d-resolved"), down.ref)
    assert resolved.outcome is Outcome.OK, resolved.reason


async def test_non_ascii_and_oversized_content_is_delivered(rig: Rig) -> None:
    n = rig.alert(agent="bïlling ✓ 请求", description="预算 🚨 <&> " * 2000)
    delivery = await rig.notifier.send(n, None)
    assert delivery.outcome is Outcome.OK, delivery.reason


# --- 3. redelivery -----------------------------------------------------------------------------


async def test_the_same_notification_twice_is_delivered_and_held_once(rig: Rig) -> None:
    n = rig.alert()
    first, second = [await rig.notifier.send(n, None) for _ in range(2)]
    assert (first.outcome, second.outcome) == (Outcome.OK, Outcome.OK), (first, second)
    if rig.held is not None:
        assert await rig.held(rig.tag) == 1


# --- 4. failures ---------------------------------------------------------------------------------


async def test_a_destination_that_is_gone_is_a_delivery_not_an_exception(rig: Rig) -> None:
    dead = rig.dead()
    try:
        delivery = await dead.send(rig.alert(), None)
    finally:
        await dead.aclose()
    assert delivery.outcome is rig.dead_outcome, delivery
    assert_failure(delivery, rig)


FAULTS = {
    "500": (Fault(500), Outcome.RETRY, None, False),
    "502 html page": (Fault(502, body=b"<html>Bad Gateway</html>"), Outcome.RETRY, None, False),
    "503 retry-after": (Fault(503, retry_after="7"), Outcome.RETRY, 7.0, False),
    "429 retry-after": (Fault(429, retry_after="7"), Outcome.RETRY, 7.0, False),
    "429": (Fault(429), Outcome.RETRY, None, False),
    "408": (Fault(408), Outcome.RETRY, None, False),
    "400": (Fault(400), Outcome.PERMANENT, None, False),
    "404": (Fault(404), Outcome.PERMANENT, None, False),
    "422": (Fault(422), Outcome.PERMANENT, None, False),
    "410 gone": (Fault(410), Outcome.PERMANENT, None, True),
}


@pytest.mark.parametrize(
    ("fault", "outcome", "after", "disable"), FAULTS.values(), ids=FAULTS.keys()
)
async def test_http_answers_map_to_outcomes_and_the_next_delivery_works(
    http_rig: Rig, fault: Fault, outcome: Outcome, after: float | None, disable: bool
) -> None:
    assert http_rig.script is not None
    http_rig.script(fault)
    delivery = await http_rig.notifier.send(http_rig.alert(), None)
    assert (delivery.outcome, delivery.after, delivery.disable) == (outcome, after, disable)
    assert_failure(delivery, http_rig)
    following = await http_rig.notifier.send(http_rig.alert(key="n-next"), None)
    assert following.outcome is Outcome.OK, following.reason


async def test_no_answer_within_the_timeout_is_retry(http_rig: Rig) -> None:
    assert http_rig.script is not None
    http_rig.script(Fault(200, body=b"", delay=LATE))
    started = time.monotonic()
    delivery = await http_rig.notifier.send(http_rig.alert(), None)
    assert time.monotonic() - started < LATE
    assert delivery.outcome is Outcome.RETRY, delivery
    assert_failure(delivery, http_rig)


# --- 5. secrets --------------------------------------------------------------------------------


def test_no_secret_in_repr(rig: Rig) -> None:
    dead = rig.dead()
    shown = f"{rig.notifier!r} {rig.notifier!s} {dead!r}"
    for secret in rig.secrets:
        assert secret not in shown


@pytest.mark.parametrize("status", [400, 503])
async def test_no_secret_in_a_reason_even_when_the_server_echoes_it(
    http_rig: Rig, status: int
) -> None:
    assert http_rig.script is not None
    echo = ("you sent: " + " ".join(http_rig.secrets)).encode()
    http_rig.script(Fault(status, body=echo))
    delivery = await http_rig.notifier.send(http_rig.alert(), None)
    assert_failure(delivery, http_rig)


# --- 6. closing ------------------------------------------------------------------------------


async def test_aclose_is_idempotent(rig: Rig) -> None:
    await rig.notifier.aclose()
    await rig.notifier.aclose()


async def test_a_send_after_aclose_returns_a_delivery(rig: Rig) -> None:
    await rig.notifier.aclose()
    delivery = await asyncio.wait_for(rig.notifier.send(rig.alert(), None), 10)
    assert isinstance(delivery, Delivery)
