"""The webhook receiver against a real local HTTP receiver; Standard Webhooks signatures."""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime
from email.utils import format_datetime

import httpx
import pytest

from sloguard.notify import signing
from sloguard.notify.log import LogNotifier
from sloguard.notify.model import AlertStatus, Notification, Outcome, Transition
from sloguard.notify.render import ZERO_TIME, rfc3339, webhook_payload
from sloguard.notify.webhook import WebhookNotifier
from sloguard.slo.budget import Severity, Tier, TierResult
from tests.support.promserver import free_port
from tests.support.webhookreceiver import WebhookReceiver

T0 = 1_767_323_045.0  # 2026-01-02T03:04:05Z
NEW = "whsec_" + base64.b64encode(b"the new signing secret, 32 bytes").decode()
OLD = "whsec_" + base64.b64encode(b"the old signing secret, 32 bytes").decode()
TOKEN = "Bearer tok-5a1e7c0ffee"


class Clock:
    """A settable clock (seconds)."""

    def __init__(self, now: float = T0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def notification(
    status: AlertStatus = AlertStatus.FIRING, *, id: str = "9f2c1e4ab37d40c1", **kw: object
) -> Notification:
    fields: dict[str, object] = {
        "id": id,
        "receiver": "ops-hook",
        "transition": Transition(status.value),
        "fingerprint": "5c0ffee5c0ffee55",
        "slo": "checkout-availability",
        "severity": Severity.CRITICAL,
        "labels": {
            "alertname": "SLOBurnRateHigh",
            "slo": "checkout-availability",
            "severity": "critical",
            "agent_name": "billing",
        },
        "annotations": {"summary": "billing burns its budget", "runbook_url": "https://rb/1"},
        "starts_at": T0 - 120,
        "ends_at": T0 if status is AlertStatus.RESOLVED else None,
        "objective": 0.999,
        "sli": 0.981,
        "budget_remaining": 0.62,
        "time_to_exhaustion": 7200.0,
        "burn_rates": {3600.0: 18.0, 300.0: 20.5},
        "tiers": (
            TierResult(Tier(Severity.CRITICAL, 3600.0, 300.0, 14.4), 18.0, 20.5, True, False),
        ),
        "runbook_url": "https://rb/1",
        "generator_url": "http://sloguard:9464/slos/checkout-availability",
        "trace_ids": ("4bf92f3577b34da6a3ce929d0e0e4736",),
        "trace_urls": ("http://sloguard:9464/ui/#/traces/4bf92f3577b34da6a3ce929d0e0e4736",),
    }
    fields.update(kw)
    return Notification(**fields)  # type: ignore[arg-type]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def hook(clock: Clock) -> Iterator[WebhookReceiver]:
    """A receiver that knows only the old secret (the sender signs with new and old)."""
    with WebhookReceiver(secrets=[OLD], clock=clock) as receiver:
        yield receiver


def notifier(url: str, clock: Clock, **kw: object) -> WebhookNotifier:
    options: dict[str, object] = {"secrets": [NEW, OLD], "clock": clock, "timeout": 5.0}
    options.update(kw)
    return WebhookNotifier("ops-hook", url, **options)  # type: ignore[arg-type]


# --- the body -----------------------------------------------------------------------------------


async def test_a_firing_alert_arrives_as_an_alertmanager_v4_body(
    hook: WebhookReceiver, clock: Clock
) -> None:
    n = notification()
    async with notifier(hook.url, clock, external_url="http://sloguard:9464") as sender:
        delivery = await sender.send(n, None)
    assert delivery.outcome is Outcome.OK, delivery.reason
    [got] = hook.deliveries
    assert got.verified is True and got.headers["content-type"] == "application/json"
    body = got.json
    assert set(body) == {
        "receiver", "status", "alerts", "groupLabels", "commonLabels", "commonAnnotations",
        "externalURL", "version", "groupKey", "truncatedAlerts", "sloguard",
    }  # fmt: skip
    assert body["receiver"] == "ops-hook" and body["status"] == "firing"
    assert body["version"] == "4" and body["truncatedAlerts"] == 0
    assert body["externalURL"] == "http://sloguard:9464"
    assert body["groupLabels"] == {"alertname": "SLOBurnRateHigh", "slo": "checkout-availability"}
    assert body["groupKey"] == '{}:{alertname="SLOBurnRateHigh", slo="checkout-availability"}'
    assert body["commonLabels"] == dict(n.labels)
    assert body["commonAnnotations"] == dict(n.annotations)
    [alert] = body["alerts"]
    assert alert == {
        "status": "firing",
        "labels": dict(n.labels),
        "annotations": dict(n.annotations),
        "startsAt": "2026-01-02T03:02:05.000Z",
        "endsAt": ZERO_TIME,
        "generatorURL": "http://sloguard:9464/slos/checkout-availability",
        "fingerprint": "5c0ffee5c0ffee55",
    }
    numbers = body["sloguard"]
    assert numbers["id"] == n.id and numbers["objective"] == 0.999 and numbers["sli"] == 0.981
    assert numbers["error_budget_remaining"] == 0.62
    assert numbers["time_to_exhaustion_seconds"] == 7200.0
    assert numbers["burn_rates"] == {"1h": 18.0, "5m": 20.5}
    assert numbers["tiers"][0]["tier"] == "1h/5m" and numbers["tiers"][0]["threshold"] == 14.4
    assert numbers["trace_ids"] == ["4bf92f3577b34da6a3ce929d0e0e4736"]
    assert numbers["trace_urls"] == [
        "http://sloguard:9464/ui/#/traces/4bf92f3577b34da6a3ce929d0e0e4736"
    ]
    # the bytes on the wire are exactly the rendered payload
    assert body == json.loads(json.dumps(webhook_payload(n, external_url="http://sloguard:9464")))


async def test_a_resolved_alert_carries_its_end_time(hook: WebhookReceiver, clock: Clock) -> None:
    async with notifier(hook.url, clock) as sender:
        assert (await sender.send(notification(AlertStatus.RESOLVED), None)).outcome is Outcome.OK
    body = hook.deliveries[0].json
    assert body["status"] == "resolved" and body["alerts"][0]["status"] == "resolved"
    assert body["alerts"][0]["endsAt"] == rfc3339(T0) == "2026-01-02T03:04:05.000Z"


async def test_numbers_json_cannot_carry_are_sent_as_null(
    hook: WebhookReceiver, clock: Clock
) -> None:
    n = notification(time_to_exhaustion=math.inf, burn_rates={3600.0: math.nan, 300.0: 2.0})
    async with notifier(hook.url, clock) as sender:
        assert (await sender.send(n, None)).outcome is Outcome.OK
    numbers = hook.deliveries[0].json["sloguard"]
    assert numbers["time_to_exhaustion_seconds"] is None
    assert numbers["burn_rates"] == {"1h": None, "5m": 2.0}


# --- signatures and the idempotency key ---------------------------------------------------------


async def test_signed_with_every_secret_so_a_receiver_with_either_verifies(
    hook: WebhookReceiver, clock: Clock
) -> None:
    n = notification()
    async with notifier(hook.url, clock) as sender:
        assert (await sender.send(n, None)).outcome is Outcome.OK
    [got] = hook.deliveries
    assert got.verified is True  # the receiver only knows OLD
    assert got.headers["webhook-id"] == n.id
    assert got.headers["webhook-timestamp"] == str(int(T0))
    entries = got.headers["webhook-signature"].split(" ")
    assert [e.split(",")[0] for e in entries] == ["v1", "v1"]
    for secret in (NEW, OLD):  # a receiver that already switched verifies too
        signing.verify([secret], got.headers, got.body, now=T0)
    with pytest.raises(signing.SignatureError, match="no signature matches"):
        signing.verify(["whsec_" + base64.b64encode(b"x" * 32).decode()], got.headers, got.body,
                       now=T0)  # fmt: skip


async def test_a_wrong_secret_is_refused_and_that_is_permanent(
    hook: WebhookReceiver, clock: Clock
) -> None:
    async with notifier(hook.url, clock, secrets=[NEW]) as sender:
        delivery = await sender.send(notification(), None)
    assert delivery.outcome is Outcome.PERMANENT and not delivery.disable
    assert "HTTP 401" in delivery.reason and "no signature matches" in delivery.reason
    assert hook.requests[0].verified is False and hook.deliveries == []


async def test_unsigned_without_secrets(clock: Clock) -> None:
    with WebhookReceiver() as plain:
        async with WebhookNotifier("plain", plain.url, clock=clock) as sender:
            assert (await sender.send(notification(), None)).outcome is Outcome.OK
    [got] = plain.deliveries
    assert got.verified is None and "webhook-signature" not in got.headers
    assert got.headers["webhook-id"] == "9f2c1e4ab37d40c1"


async def test_a_retry_reuses_the_webhook_id_and_a_redelivery_is_a_duplicate(
    hook: WebhookReceiver, clock: Clock
) -> None:
    n = notification()
    hook.script(500)
    async with notifier(hook.url, clock) as sender:
        first = await sender.send(n, None)
        clock.now += 30  # the outbox tries again later
        second = await sender.send(n, None)
    async with notifier(hook.url, clock) as restarted:  # redelivery after a restart
        third = await restarted.send(n, None)
    assert [first.outcome, second.outcome, third.outcome] == [Outcome.RETRY, Outcome.OK, Outcome.OK]
    assert [r.webhook_id for r in hook.requests] == [n.id, n.id, n.id]
    assert [r.headers["webhook-timestamp"] for r in hook.requests] == [
        str(int(T0)), str(int(T0 + 30)), str(int(T0 + 30)),
    ]  # fmt: skip
    assert all(r.verified for r in hook.requests)
    assert len(hook.deliveries) == 1 and len(hook.duplicates) == 1


# --- how answers map to deliveries --------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "header", "after"),
    [
        (500, None, None),
        (502, None, None),
        (503, "120", 120.0),
        (408, None, None),
        (429, "7", 7.0),
        (429, format_datetime(datetime.fromtimestamp(T0 + 90, UTC), usegmt=True), 90.0),
        (429, None, None),
    ],
)
async def test_overload_and_server_errors_are_retried_after_what_the_receiver_says(
    hook: WebhookReceiver, clock: Clock, status: int, header: str | None, after: float | None
) -> None:
    hook.script(status, retry_after=header)
    async with notifier(hook.url, clock) as sender:
        delivery = await sender.send(notification(), None)
    assert delivery.outcome is Outcome.RETRY
    assert delivery.after == after
    assert f"HTTP {status}" in delivery.reason and "127.0.0.1" in delivery.reason
    assert hook.deliveries == []


@pytest.mark.parametrize(("status", "disable"), [(400, False), (404, False), (410, True)])
async def test_client_errors_are_permanent_and_gone_disables(
    hook: WebhookReceiver, clock: Clock, status: int, disable: bool
) -> None:
    hook.script(status, body=b"no such hook")
    async with notifier(hook.url, clock) as sender:
        delivery = await sender.send(notification(), None)
    assert delivery.outcome is Outcome.PERMANENT and delivery.disable is disable
    assert f"HTTP {status}: no such hook" in delivery.reason


async def test_a_redirect_is_not_followed(hook: WebhookReceiver, clock: Clock) -> None:
    hook.script(301)
    async with notifier(hook.url, clock) as sender:
        delivery = await sender.send(notification(), None)
    assert delivery.outcome is Outcome.PERMANENT and "update the URL" in delivery.reason
    assert len(hook.requests) == 1


async def test_connection_refused_is_retried(clock: Clock) -> None:
    async with notifier(f"http://127.0.0.1:{free_port()}/hook", clock) as sender:
        delivery = await sender.send(notification(), None)
    assert delivery.outcome is Outcome.RETRY and "cannot connect" in delivery.reason


async def test_a_slow_receiver_times_out_and_is_retried(
    hook: WebhookReceiver, clock: Clock
) -> None:
    hook.script(200, delay=5.0)
    async with notifier(hook.url, clock, timeout=0.2) as sender:
        delivery = await sender.send(notification(), None)
    assert delivery.outcome is Outcome.RETRY
    assert "no answer within 0.2s" in delivery.reason


async def test_a_send_after_aclose_is_retried_later_not_sent(
    hook: WebhookReceiver, clock: Clock
) -> None:
    sender = notifier(hook.url, clock)
    await sender.aclose()
    delivery = await sender.send(notification(), None)
    # the daemon closes receivers on shutdown: retry keeps the notification for the next start
    assert delivery.outcome is Outcome.RETRY and not delivery.disable
    assert "'ops-hook'" in delivery.reason and "closed" in delivery.reason
    assert hook.requests == []


# --- secrets stay secret -----------------------------------------------------------------------


async def test_secrets_never_show_in_repr_or_reasons(hook: WebhookReceiver, clock: Clock) -> None:
    url = hook.url + "?token=url-secret-123"
    sender = notifier(url, clock, headers={"Authorization": TOKEN})
    try:
        port = httpx.URL(hook.url).port
        assert repr(sender) == (
            f"WebhookNotifier('ops-hook', 'http://127.0.0.1:{port}', signed with 2 secret(s))"
        )
        echo = f"you sent {TOKEN} signed with {NEW} and {OLD} to {url}".encode()
        hook.script(400, body=echo)
        hook.script(500, body=echo)
        reasons = [(await sender.send(notification(), None)).reason for _ in range(2)]
    finally:
        await sender.aclose()
    assert hook.requests[0].headers["authorization"] == TOKEN
    assert hook.requests[0].path == "/hook?token=url-secret-123"
    for text in [repr(sender), *reasons]:
        for secret in (NEW, OLD, TOKEN, "tok-5a1e7c0ffee", "url-secret-123"):
            assert secret not in text
    assert "***" in reasons[0]


async def test_an_error_page_echoing_a_path_token_or_query_value_does_not_leak_them(
    hook: WebhookReceiver, clock: Clock
) -> None:
    url = hook.url + "/pathT0ken-s3cret-0042?format=json&key=urlkey-s3cret-0042"
    hook.script(404, body=b"Cannot POST /hook/pathT0ken-s3cret-0042 with key urlkey-s3cret-0042")
    hook.script(503, body=b"Cannot POST /hook: format=json unsupported")
    async with notifier(url, clock) as sender:
        echoed, plain = [(await sender.send(notification(), None)).reason for _ in range(2)]
    assert hook.requests[0].path == "/hook/pathT0ken-s3cret-0042?format=json&key=urlkey-s3cret-0042"
    assert echoed.endswith("HTTP 404: Cannot POST /hook/*** with key ***")
    # short or plain parts of the URL are no credentials: scrubbing them would mangle reasons
    assert plain.endswith("HTTP 503: Cannot POST /hook: format=json unsupported")


def test_bad_configuration_is_refused_without_echoing_it() -> None:
    with pytest.raises(ValueError, match="must be http") as url_error:
        WebhookNotifier("x", "ftp://user:pw-secret@host/x")
    assert "pw-secret" not in str(url_error.value)
    with pytest.raises(ValueError, match="not a valid URL") as port_error:
        WebhookNotifier("x", "http://user:pw-secret@host:abc/")
    assert "pw-secret" not in str(port_error.value) and "abc" not in str(port_error.value)
    with pytest.raises(ValueError, match="base64") as secret_error:
        WebhookNotifier("x", "http://127.0.0.1:1/x", secrets=["whsec_not*base64!"])
    assert "not*base64" not in str(secret_error.value)
    with pytest.raises(ValueError, match="timeout"):
        WebhookNotifier("x", "http://127.0.0.1:1/x", timeout=0)


# --- signing, as a table ------------------------------------------------------------------------

VECTOR_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
VECTOR_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
VECTOR_TS = 1614265330
VECTOR_BODY = b'{"test": 2432232314}'


def test_sign_matches_the_reference_implementation_vector() -> None:
    # the Standard Webhooks Python library's test vector
    expected = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    assert signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY) == expected
    assert NEW.endswith("=")  # padding is optional
    assert signing.sign(NEW.rstrip("="), "id", 1, b"") == signing.sign(NEW, "id", 1, b"")
    header = signing.signature_header([OLD, VECTOR_SECRET], VECTOR_ID, VECTOR_TS, VECTOR_BODY)
    assert header.split(" ")[1] == expected


def _headers(**override: str) -> dict[str, str]:
    out = {
        "Webhook-Id": VECTOR_ID,  # names are case-insensitive
        "Webhook-Timestamp": str(VECTOR_TS),
        "Webhook-Signature": "v1a,c29tZXRoaW5n v1,Zm9v "
        + signing.sign(VECTOR_SECRET, VECTOR_ID, VECTOR_TS, VECTOR_BODY),
    }
    out.update(override)
    return out


@pytest.mark.parametrize(
    ("headers", "body", "now", "error"),
    [
        (_headers(), VECTOR_BODY, VECTOR_TS + 300, None),
        (_headers(), VECTOR_BODY, VECTOR_TS - 300, None),
        (_headers(), VECTOR_BODY + b" ", VECTOR_TS, "no signature matches"),
        (_headers(), VECTOR_BODY, VECTOR_TS + 301, "too old: 301s"),
        (_headers(), VECTOR_BODY, VECTOR_TS - 301, "too new: 301s"),
        (_headers(**{"Webhook-Timestamp": "soon"}), VECTOR_BODY, VECTOR_TS, "not integer"),
        (_headers(**{"Webhook-Id": "msg_other"}), VECTOR_BODY, VECTOR_TS, "no signature matches"),
        (_headers(**{"Webhook-Signature": "v1a,Zm9v"}), VECTOR_BODY, VECTOR_TS, "no v1 signature"),
        ({"webhook-id": VECTOR_ID}, VECTOR_BODY, VECTOR_TS, "webhook-timestamp, webhook-sig"),
    ],
)
def test_verify(headers: dict[str, str], body: bytes, now: float, error: str | None) -> None:
    secrets = [OLD, VECTOR_SECRET]
    if error is None:
        signing.verify(secrets, headers, body, now=now)
    else:
        with pytest.raises(signing.SignatureError, match=error) as raised:
            signing.verify(secrets, headers, body, now=now)
        assert VECTOR_SECRET not in str(raised.value) and OLD not in str(raised.value)


def test_secret_forms() -> None:
    assert signing.secret_key("whsec_" + base64.b64encode(b"k" * 24).decode()) == b"k" * 24
    assert signing.secret_key("plain passphrase") == b"plain passphrase"
    for bad in ("", "whsec_", "whsec_%%%"):
        with pytest.raises(ValueError):
            signing.secret_key(bad)
    assert signing.webhook_headers([], "id1", 5, b"{}") == {
        "webhook-id": "id1",
        "webhook-timestamp": "5",
    }


# --- the console receiver -----------------------------------------------------------------------


async def test_the_log_receiver_writes_one_readable_block() -> None:
    out = io.StringIO()
    console = LogNotifier("console", stream=out, clock=lambda: T0)
    assert (await console.send(notification(), None)).outcome is Outcome.OK
    assert (await console.send(notification(AlertStatus.RESOLVED), None)).outcome is Outcome.OK
    await console.aclose()
    lines = out.getvalue().splitlines()
    assert lines[0] == (
        "2026-01-02T03:04:05.000Z sloguard[console] [CRITICAL] SLOBurnRateHigh: SLO "
        "checkout-availability (agent_name=billing) is burning its error budget"
    )  # an alert named by the SLO's alerting.name starts with that name
    assert lines[1].startswith("    critical tier 1h/5m: burn 18.0x")
    assert lines[-4:-1] == [
        "2026-01-02T03:04:05.000Z sloguard[console] [RESOLVED] SLOBurnRateHigh: SLO "
        "checkout-availability (agent_name=billing) is back within its error budget",
        # how long it lasted, since the alert started (not since this evaluation)
        "    lasted 2m (since 2026-01-02T03:02:05.000Z)",
        # burn rates at resolution are labelled, not shown like an ongoing incident's
        "    burn rates at resolution, decaying: 5m 20.5x · 1h 18.0x",
    ]
    out.close()
    failed = await console.send(notification(), None)  # a closed stream: not worth repeating
    assert failed.outcome is Outcome.PERMANENT


async def test_the_log_receiver_writes_to_stderr_by_default(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert (await LogNotifier("console").send(notification(), None)).outcome is Outcome.OK
    assert "sloguard[console] [CRITICAL]" in capsys.readouterr().err
