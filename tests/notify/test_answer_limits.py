"""Every receiver bounds what it waits for and reads: a deadline per request, a size limit.

Against :class:`tests.support.hostile.HostileServer`, a real server on 127.0.0.1 that answers
with a body that never ends (1 MiB chunks as fast as they are taken, or one byte every
0.1-0.2 s so that a per-read timeout never fires). Each case must end in a retry, quickly, and
without reading more than the limit.
"""

from __future__ import annotations

import asyncio
import gc
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from sloguard.notify.alertmanager import AlertmanagerNotifier
from sloguard.notify.delivery import MAX_ANSWER_BYTES, Poster
from sloguard.notify.model import Notifier, Outcome
from sloguard.notify.slack.bot import SlackBotNotifier
from sloguard.notify.slack.webhook import SlackWebhookNotifier
from sloguard.notify.webhook import WebhookNotifier
from tests.support.hostile import HostileServer, Mode
from tests.support.notifications import notification
from tests.support.promserver import binary

pytestmark = pytest.mark.e2e

LIMIT = 256 * 1024


@pytest.mark.parametrize("status", [200, 500])
@pytest.mark.parametrize("declared", [None, 10 * 1024**3])
async def test_an_endless_answer_is_a_retry_at_the_size_limit(
    status: int, declared: int | None
) -> None:
    with HostileServer("flood", status=status, declared=declared) as server:
        poster = Poster("hook 'h' at server", timeout=30.0, max_answer_bytes=LIMIT)
        try:
            started = time.monotonic()
            for _ in range(3):
                delivery = await poster.post(server.url + "/hook", b"{}")
                assert delivery.outcome is Outcome.RETRY
                assert delivery.reason == (
                    f"hook 'h' at server: answer longer than {LIMIT} bytes: not read"
                )
            assert time.monotonic() - started < 3
        finally:
            await poster.aclose()
    assert server.requests == 3


async def test_a_trickling_answer_is_a_retry_at_the_deadline() -> None:
    with HostileServer("trickle", every=0.1) as server:
        poster = Poster("hook 'h' at server", timeout=0.5)
        try:
            started = time.monotonic()
            delivery = await poster.post(server.url + "/hook", b"{}")
            assert time.monotonic() - started < 2
        finally:
            await poster.aclose()
    assert delivery.outcome is Outcome.RETRY
    assert delivery.reason.startswith("hook 'h' at server: no answer within 0.5s")


async def test_webhook_and_alertmanager_receivers_are_bounded() -> None:
    with HostileServer("trickle", every=0.1) as server:
        hook = WebhookNotifier("h", server.url + "/hook", timeout=0.5)
        am = AlertmanagerNotifier("am", server.url, timeout=0.5)
        try:
            started = time.monotonic()
            for receiver in (hook, am):
                delivery = await receiver.send(notification(), None)
                assert delivery.outcome is Outcome.RETRY
                assert "no answer within 0.5s" in delivery.reason
            assert time.monotonic() - started < 3
        finally:
            await hook.aclose()
            await am.aclose()


async def test_slack_receivers_give_up_at_the_deadline() -> None:
    """slack-sdk's timeout is per socket read: one byte every 0.2 s never trips its 1 s."""
    with HostileServer("trickle", every=0.2, lifetime=4.0) as server:
        bot = SlackBotNotifier("s", "xoxb-1-2-3", "#alerts", base_url=server.url, timeout=1)
        hook = SlackWebhookNotifier("h", server.url + "/services/T/B/C", timeout=1)
        started = time.monotonic()
        for receiver, where in ((bot, "slack 's' chat.postMessage"), (hook, "slack webhook 'h'")):
            delivery = await receiver.send(notification(), None)
            assert delivery.outcome is Outcome.RETRY
            assert delivery.reason == f"{where}: no answer within 1s"
        assert time.monotonic() - started < 3.5


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    root = tmp_path_factory.mktemp("tls")
    cert, key = root / "server.crt", root / "server.key"
    subprocess.run(
        [binary("openssl", "openssl"), "req", "-x509", "-newkey", "rsa:2048", "-nodes",
         "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


def _slack_receivers(url: str, ca_file: str) -> list[tuple[Notifier, str]]:
    bot = SlackBotNotifier("s", "xoxb-1-2-3", "#alerts", base_url=url, timeout=1, ca_file=ca_file)
    hook = SlackWebhookNotifier("h", url + "/services/T/B/C", timeout=1, ca_file=ca_file)
    return [(bot, "slack 's' chat.postMessage"), (hook, "slack webhook 'h'")]


async def _until_closed(server: HostileServer, within: float) -> bool:
    """Whether every connection was closed within ``within`` seconds once nothing refers to it:
    a worker thread still reading an answer keeps its connection open."""
    for _ in range(int(within / 0.05)):
        gc.collect()  # the exception's traceback (cycles) holds the response and its socket
        if not server.open:
            return True
        await asyncio.sleep(0.05)
    return False


@pytest.mark.parametrize("mode", ["flood", "trickle"])
async def test_slack_threads_stop_reading_at_the_limits_over_tls(
    mode: Mode, tls_files: tuple[Path, Path]
) -> None:
    """Over https the worker thread itself stops: at the size limit (flood) or the deadline
    (trickle), not when the server's 8 s lifetime ends."""
    cert, key = tls_files
    server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_tls.load_cert_chain(cert, key)
    with HostileServer(mode, every=0.2, lifetime=8.0, tls=server_tls) as server:
        for receiver, where in _slack_receivers(server.url, str(cert)):
            started = time.monotonic()
            delivery = await receiver.send(notification(), None)
            assert time.monotonic() - started < 3
            assert delivery.outcome is Outcome.RETRY
            if mode == "flood":
                too_long = f"answer longer than {MAX_ANSWER_BYTES} bytes"
                assert delivery.reason == f"{where}: request failed: OSError ({too_long})"
            else:
                assert delivery.reason == f"{where}: no answer within 1s"
            assert await _until_closed(server, within=3.0)
    assert server.sent < 16 * MAX_ANSWER_BYTES
