"""The delivery core: answers, Retry-After and failures as tables; posting against a real server."""

from __future__ import annotations

import http.client
import math
import socket
import ssl
import urllib.error
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import pytest

from sloguard.notify.delivery import (
    Action,
    Poster,
    check_url,
    header,
    http_delivery,
    json_body,
    may_be_secret,
    origin,
    retry_after,
    scrub,
    scrubbed,
    status_action,
    strongest,
    transport_delivery,
    url_secrets,
)
from sloguard.notify.model import Delivery, Outcome
from sloguard.notify.slack.api import classify, unanswered
from tests.support.promserver import free_port
from tests.support.webhookreceiver import WebhookReceiver

T0 = 1_767_323_045.0  # 2026-01-02T03:04:05Z
WHERE = "webhook 'audit' at https://hooks.example"
SLACK = "slack 'ops' chat.postMessage"
OK, RETRY, PERMANENT = Outcome.OK, Outcome.RETRY, Outcome.PERMANENT


# --- HTTP status → action -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "action"),
    [
        (200, Action.OK),
        (202, Action.OK),
        (299, Action.OK),
        (301, Action.DROP),
        (308, Action.DROP),
        (400, Action.DROP),
        (401, Action.DROP),
        (404, Action.DROP),
        (408, Action.RETRY),
        (410, Action.DISABLE),
        (425, Action.RETRY),
        (429, Action.RETRY),
        (499, Action.DROP),
        (500, Action.RETRY),
        (503, Action.RETRY),
        (599, Action.RETRY),
        (100, None),
        (199, None),
        (600, None),
    ],
)
def test_status_actions(status: int, action: Action | None) -> None:
    assert status_action(status) is action


@pytest.mark.parametrize(
    ("verdicts", "winner"),
    [
        ((Action.DROP, Action.RETRY), Action.RETRY),
        ((Action.DISABLE, Action.RETRY), Action.RETRY),
        ((Action.DROP, Action.DISABLE), Action.DISABLE),
        ((Action.OK, None), Action.DROP),  # a failed answer with a success status: give up
        ((None, None), Action.DROP),
    ],
)
def test_the_strongest_verdict_wins(
    verdicts: tuple[Action | None, Action | None], winner: Action
) -> None:
    assert strongest(*verdicts) is winner


# --- an HTTP answer → Delivery ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "headers", "body", "outcome", "after", "disable", "reason"),
    [
        (200, {}, "ok", OK, None, False, "delivered"),
        (204, {"Retry-After": "5"}, "", OK, None, False, "delivered"),
        (500, {}, "", RETRY, None, False, f"{WHERE}: HTTP 500"),
        (503, {"Retry-After": "120"}, "busy", RETRY, 120.0, False, f"{WHERE}: HTTP 503: busy"),
        (429, {"retry-after": "Fri, 02 Jan 2026 03:05:35 GMT"}, "", RETRY, 90.0, False, None),
        (429, {"Retry-After": "soon"}, "", RETRY, None, False, None),
        (408, {}, "", RETRY, None, False, f"{WHERE}: HTTP 408"),
        (400, {"Retry-After": "9"}, "bad\n  body", PERMANENT, None, False,
         f"{WHERE}: HTTP 400: bad body"),
        (404, {}, "", PERMANENT, None, False, f"{WHERE}: HTTP 404"),
        (410, {}, "gone", PERMANENT, None, True,
         f"{WHERE}: HTTP 410: gone (the receiver is gone: disabled)"),
        (301, {}, "", PERMANENT, None, False,
         f"{WHERE}: HTTP 301 (redirects are not followed: update the URL)"),
        (600, {"Retry-After": "9"}, "", RETRY, None, False,
         f"{WHERE}: HTTP 600 (unexpected status)"),
    ],
)  # fmt: skip
def test_http_answers_map_to_deliveries(
    status: int,
    headers: dict[str, str],
    body: str,
    outcome: Outcome,
    after: float | None,
    disable: bool,
    reason: str | None,
) -> None:
    got = http_delivery(status, httpx.Headers(headers), body, now=T0, where=WHERE)
    assert (got.outcome, got.after, got.disable) == (outcome, after, disable)
    if reason is not None:
        assert got.reason == reason


def test_a_long_answer_is_quoted_in_part() -> None:
    got = http_delivery(500, {}, "x" * 500, now=T0, where=WHERE)
    assert got.reason == f"{WHERE}: HTTP 500: {'x' * 200}…"


@pytest.mark.parametrize(
    ("status", "code", "outcome", "after", "disable", "reason"),
    [
        (429, "ratelimited", RETRY, 7.0, False, f"{SLACK}: ratelimited (HTTP 429)"),
        (200, "ratelimited", RETRY, 7.0, False, None),
        (200, "internal_error", RETRY, 7.0, False, None),
        (503, "invalid_auth", RETRY, 7.0, False, None),  # retry wins over disable
        (200, "invalid_auth", PERMANENT, None, True,
         f"{SLACK}: invalid_auth (HTTP 200): receiver disabled"),
        (404, "no_service", PERMANENT, None, True, None),
        (410, None, PERMANENT, None, True, f"{SLACK}: error (HTTP 410): receiver disabled"),
        (200, "invalid_blocks", PERMANENT, None, False, None),
        (200, "some_future_error", PERMANENT, None, False, None),
        (302, None, PERMANENT, None, False, f"{SLACK}: error (HTTP 302)"),
        (600, None, PERMANENT, None, False, None),  # Slack: unknown status, no code: drop
    ],
)  # fmt: skip
def test_slack_answers_use_the_same_statuses_and_add_error_codes(
    status: int,
    code: str | None,
    outcome: Outcome,
    after: float | None,
    disable: bool,
    reason: str | None,
) -> None:
    got = classify(status, code, {"Retry-After": ["7"]}, now=T0, where=SLACK)
    assert (got.outcome, got.after, got.disable) == (outcome, after, disable)
    if reason is not None:
        assert got.reason == reason


@pytest.mark.parametrize(
    ("headers", "value"),
    [
        (httpx.Headers({"Retry-After": "7"}), "7"),
        ({"retry-after": "7"}, "7"),
        ({"RETRY-AFTER": ["8", "9"]}, "8"),  # slack-sdk: lists of values
        ({"Retry-After": ("10",)}, "10"),
        ({"Other": "1"}, None),
    ],
)
def test_header_lookup(headers: Mapping[str, Any], value: str | None) -> None:
    assert header(headers, "retry-after") == value


@pytest.mark.parametrize(
    ("value", "seconds"),
    [
        ("7", 7.0),
        (" 0 ", 0.0),
        ("1.5", 1.5),
        ("Fri, 02 Jan 2026 03:05:05 GMT", 60.0),
        ("Fri, 02 Jan 2026 03:00:00 GMT", 0.0),  # already past: now
        ("Fri, 02 Jan 2026 03:05:05", 60.0),  # no zone: UTC
        ("-3", None),
        ("inf", None),
        ("nan", None),
        ("soon", None),
        ("", None),
        (None, None),
    ],
)
def test_retry_after_values(value: str | None, seconds: float | None) -> None:
    assert retry_after(value, now=T0) == seconds


# --- no answer → Delivery -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("exc", "reason"),
    [
        (httpx.ConnectTimeout("timed out"), "no answer within 2.5s (ConnectTimeout)"),
        (httpx.ReadTimeout(""), "no answer within 2.5s (ReadTimeout)"),
        (httpx.ConnectError("[Errno 111] Connection refused"),
         "cannot connect: [Errno 111] Connection refused"),
        (httpx.ConnectError(""), "cannot connect: ConnectError"),
        (httpx.RemoteProtocolError("peer closed"),
         "request failed: RemoteProtocolError: peer closed"),
        (httpx.ReadError(""), "request failed: ReadError"),
        (TimeoutError("timed out"), "no answer within 2.5s"),
        (socket.timeout("timed out"), "no answer within 2.5s"),  # noqa: UP041 - the old name
        (urllib.error.URLError(TimeoutError()), "no answer within 2.5s"),
        (urllib.error.URLError(ConnectionRefusedError(111, "Connection refused")),
         "request failed: ConnectionRefusedError (Connection refused)"),
        (ConnectionResetError(104, "Connection reset by peer"),
         "request failed: ConnectionResetError (Connection reset by peer)"),
        (http.client.RemoteDisconnected("Remote end closed connection"),
         "request failed: RemoteDisconnected"),
        (http.client.IncompleteRead(b"par"), "request failed: IncompleteRead"),
        (ssl.SSLError(1, "[SSL] certificate verify failed"),
         "request failed: SSLError ([SSL] certificate verify failed)"),
    ],
)  # fmt: skip
def test_no_answer_is_a_retry(exc: BaseException, reason: str) -> None:
    got = transport_delivery(exc, timeout=2.5, where=WHERE)
    assert got == Delivery.retry(f"{WHERE}: {reason}")


@pytest.mark.parametrize(
    "exc",
    [
        urllib.error.URLError("unknown url type: https://hooks.slack.com/services/T/B/s3cret"),
        OSError("cannot reach https://hooks.slack.com/services/T/B/s3cret"),
        http.client.InvalidURL("nonnumeric port: 's3cret'"),
    ],
)
def test_standard_library_texts_are_not_quoted(exc: BaseException) -> None:
    got = transport_delivery(exc, timeout=1, where="slack webhook 'ops'")
    assert got.outcome is Outcome.RETRY and "s3cret" not in got.reason
    assert got.reason == f"slack webhook 'ops': request failed: {type(exc).__name__}"


@pytest.mark.parametrize(
    ("exc", "outcome", "disable"),
    [
        (ValueError("unknown url type"), Outcome.PERMANENT, True),  # refused before sending
        (ConnectionRefusedError(111, "Connection refused"), Outcome.RETRY, False),
        (TimeoutError(), Outcome.RETRY, False),
    ],
)
def test_slack_failures_add_what_slack_sdk_refuses(
    exc: Exception, outcome: Outcome, disable: bool
) -> None:
    got = unanswered(exc, timeout=1, where=SLACK)
    assert (got.outcome, got.disable) == (outcome, disable)


# --- secrets ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "secrets", "clean"),
    [
        ("token abc123 again abc123", ["abc123"], "token *** again ***"),
        ("Bearer abc123def", ["abc123", "abc123def"], "Bearer ***"),  # the longest first
        ("nothing here", ["abc123"], "nothing here"),
        ("empty secrets change nothing", ["", ""], "empty secrets change nothing"),
        ("no secrets", [], "no secrets"),
    ],
)
def test_scrub(text: str, secrets: list[str], clean: str) -> None:
    assert scrub(text, secrets) == clean


def test_scrubbed_keeps_everything_but_the_secret() -> None:
    failed = Delivery.permanent("HTTP 410: token s3cret-value is gone", disable=True)
    clean = scrubbed(failed, ["s3cret-value"])
    assert clean == Delivery.permanent("HTTP 410: token *** is gone", disable=True)
    waiting = Delivery.retry("HTTP 429", after=3.0)
    assert scrubbed(waiting, ["s3cret-value"]) is waiting


# --- URLs and bodies ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://hooks.example/sloguard?token=abc", "https://hooks.example"),
        ("http://user:pw-secret@127.0.0.1:8080/x", "http://127.0.0.1:8080"),
        ("HTTP://Hooks.Example:443/", "http://hooks.example:443"),
    ],
)
def test_urls_are_shown_by_their_origin(url: str, shown: str) -> None:
    assert origin(check_url(url, "webhook 'x'")) == shown


@pytest.mark.parametrize(
    ("url", "error"),
    [
        ("ftp://user:pw-secret@host/x", "must be http"),
        ("hooks.example/x", "must be http"),
        ("http:///path-only", "must be http"),
        ("http://user:pw-secret@host:abc/", "not a valid URL"),
    ],
)
def test_unusable_urls_are_refused_without_echoing_them(url: str, error: str) -> None:
    with pytest.raises(ValueError, match=error) as raised:
        check_url(url, "webhook 'x'")
    assert "pw-secret" not in str(raised.value) and "abc" not in str(raised.value)


def test_url_secrets_are_the_url_its_query_and_its_password() -> None:
    url = "https://bot:pw-secret@hooks.example/x?key=k3y-value"
    parts = url_secrets(url, check_url(url, "webhook 'x'"))
    assert {url, "key=k3y-value", "pw-secret"} <= set(parts)
    assert set(url_secrets("http://h/", check_url("http://h/", "x"))) == {"http://h/"}


@pytest.mark.parametrize(
    ("part", "secret"),
    [
        ("", False),
        ("/", False),
        ("hook", False),
        ("v2", False),
        ("T0ken", False),  # under 8 characters: too short to hide without mangling reasons
        ("sloguard", False),  # plain lower-case words name things
        ("incoming-webhooks", False),
        ("sloguard_events.v", False),
        ("pathT0ken-s3cret-0042", True),
        ("k3y-value", True),  # a digit
        ("IncomingWebhook", True),  # capitals
        ("aGVsbG8=xyz", True),  # symbols
        ("c2f1e0d9-7b6a-4c3d-9e8f-0a1b2c3d4e5f", True),
        ("abcdefghijklmnopqrstuvwx", True),  # 24 lower-case letters: a token, not a name
        ("abcdefghijklmnopqrstuvw", False),
    ],
)
def test_may_be_secret(part: str, secret: bool) -> None:
    assert may_be_secret(part) is secret


@pytest.mark.parametrize(
    ("url", "hidden", "kept"),
    [
        (
            "https://hooks.example/hook/pathT0ken-s3cret-0042",
            {"pathT0ken-s3cret-0042"},
            {"/", "hook", "/hook", "hooks.example"},
        ),
        (
            "https://hooks.example/sloguard?format=json&key=urlkey-s3cret-0042&v=2",
            {"urlkey-s3cret-0042", "format=json&key=urlkey-s3cret-0042&v=2"},
            {"sloguard", "/sloguard", "json", "format=json", "key", "2"},
        ),
        (  # as written and decoded: an answer may echo either
            "https://h.example/a%20b%2Bc9?t=x%2By+z0123",
            {"a%20b%2Bc9", "a b+c9", "x%2By+z0123", "x+y z0123"},
            {"a", "t"},
        ),
        (  # a token as the user name
            "https://ghp_T0kenAsUser42@h.example/repo",
            {"ghp_T0kenAsUser42"},
            {"repo", "/repo"},
        ),
        ("https://hooks.example/hook?format=json", set(), {"/hook", "format=json", "json"}),
    ],
)
def test_url_secrets_are_the_path_segments_and_query_values_that_may_be_secret(
    url: str, hidden: set[str], kept: set[str]
) -> None:
    parts = set(url_secrets(url, check_url(url, "webhook 'x'")))
    assert url in parts
    assert hidden <= parts
    assert not kept & parts


def test_an_echoed_path_token_is_scrubbed_and_plain_path_words_are_kept() -> None:
    url = "https://hooks.example/hook/pathT0ken-s3cret-0042?key=urlkey-s3cret-0042"
    secrets = url_secrets(url, check_url(url, "webhook 'x'"))
    echo = "Cannot POST /hook/pathT0ken-s3cret-0042 (key urlkey-s3cret-0042)"
    assert scrub(echo, secrets) == "Cannot POST /hook/*** (key ***)"


def test_json_body_is_compact_utf8_without_nan() -> None:
    payload = {"name": "dépôt", "burn": [math.nan, 1.5, math.inf], "left": (-math.inf,)}
    assert json_body(payload) == '{"name":"dépôt","burn":[null,1.5,null],"left":[null]}'.encode()


# --- posting, against a real local server -------------------------------------------------------


@pytest.fixture
def hook() -> Iterator[WebhookReceiver]:
    with WebhookReceiver() as receiver:
        yield receiver


async def post_once(
    poster: Poster, target: str, body: bytes = b"{}", headers: dict[str, str] | None = None
) -> Delivery:
    """One POST, then close the poster."""
    try:
        return await poster.post(target, body, headers)
    finally:
        await poster.aclose()


async def test_a_post_sends_json_with_the_client_headers(hook: WebhookReceiver) -> None:
    poster = Poster("hook", timeout=5.0, headers={"Authorization": "Bearer tok-12", "X-Team": "a"})
    got = await post_once(poster, hook.url, json_body({"a": 1}), {"webhook-id": "n-1"})
    assert got == Delivery.ok()
    [request] = hook.requests
    assert request.method == "POST" and request.json == {"a": 1}
    assert request.headers["content-type"] == "application/json"
    assert request.headers["user-agent"] == "sloguard"
    assert request.headers["authorization"] == "Bearer tok-12"
    assert request.headers["x-team"] == "a" and request.headers["webhook-id"] == "n-1"


async def test_a_relative_target_joins_the_base_url(hook: WebhookReceiver) -> None:
    poster = Poster("am", timeout=5.0, base_url=hook.url.removesuffix("/hook") + "/prefix/")
    assert (await post_once(poster, "api/v2/alerts", b"[]")).outcome is Outcome.OK
    assert [r.path for r in hook.requests] == ["/prefix/api/v2/alerts"]


async def test_an_answer_echoing_secrets_is_scrubbed(hook: WebhookReceiver) -> None:
    hook.script(503, retry_after="15", body=b"Bearer tok-1234 with pw-5678 is over quota")
    headers = {"Authorization": "Bearer tok-1234"}
    poster = Poster("hook", timeout=5.0, hidden=["pw-5678"], headers=headers)
    got = await post_once(poster, hook.url)
    assert got == Delivery.retry("hook: HTTP 503: *** with *** is over quota", after=15.0)
    assert "tok-1234" not in repr(poster)


async def test_a_redirect_is_an_answer_not_followed(hook: WebhookReceiver) -> None:
    hook.script(302)
    got = await post_once(Poster("hook", timeout=5.0), hook.url)
    assert got.outcome is Outcome.PERMANENT and "update the URL" in got.reason
    assert len(hook.requests) == 1


async def test_a_closed_poster_sends_nothing_and_answers_retry(hook: WebhookReceiver) -> None:
    poster = Poster("hook", timeout=5.0)
    await poster.aclose()
    got = await post_once(poster, hook.url)  # closes it again: idempotent
    # retry, not permanent: receivers close on shutdown and the outbox must keep the notification
    # for the next start; no ``after``, so a worker still running backs off instead of spinning
    assert got == Delivery.retry("hook: not sent: the receiver is closed (shutting down)")
    assert hook.requests == []


async def test_no_answer_is_a_delivery_not_an_exception(hook: WebhookReceiver) -> None:
    hook.script(200, delay=5.0)
    late = await post_once(Poster("hook", timeout=0.2), hook.url)
    refused = await post_once(Poster("hook", timeout=0.2), f"http://127.0.0.1:{free_port()}/")
    assert late.outcome is refused.outcome is Outcome.RETRY
    assert late.reason.startswith("hook: no answer within 0.2s")
    assert refused.reason.startswith("hook: cannot connect")
