"""Notifiers wired to live local endpoints, for the notifier contract (not a test module).

Each builder returns a :class:`Rig`: the notifier under test, the secrets it must never show, a
way to build the same kind of notifier pointed at a destination that is gone, and, for HTTP
endpoints this process controls, a way to script the endpoint's next answer. Servers started
for a rig are entered on the caller's :class:`~contextlib.ExitStack`.
"""

from __future__ import annotations

import base64
import io
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import ExitStack
from dataclasses import dataclass, replace

import httpx

from sloguard.notify.alertmanager import AlertmanagerNotifier
from sloguard.notify.log import LogNotifier
from sloguard.notify.model import Delivery, Notification, Notifier, Outcome
from sloguard.notify.recording import RecordingNotifier
from sloguard.notify.slack.bot import SlackBotNotifier
from sloguard.notify.slack.webhook import SlackWebhookNotifier
from sloguard.notify.webhook import WebhookNotifier
from tests.support.fakeslack import Answer, FakeSlack
from tests.support.notifications import Kind, notification
from tests.support.promserver import free_port
from tests.support.webhookreceiver import WebhookReceiver

NAME = "contract-receiver"
SLACK_TOKEN = "xoxb-4242-contract-s3cretT0ken"
SLACK_HOOK_SECRET = "hookS3cretPathPart0123456789"
SIGNING_SECRET = "whsec_" + base64.b64encode(b"the contract's signing secret 32").decode()
AUTHORIZATION = "Bearer webhook-auth-s3cret"
URL_KEY = "urlkey-s3cret-0042"
PATH_SECRET = "pathT0ken-s3cret-0042"
AM_TOKEN = "am-bearer-s3cret-0042"
#: A server that answers this late has missed every receiver's timeout (Slack's is 1 s, whole).
LATE = 3.0


@dataclass(frozen=True)
class Fault:
    """What the endpoint answers next."""

    status: int
    retry_after: str | None = None
    body: bytes = b"<html>error</html>"
    delay: float = 0.0


@dataclass(frozen=True)
class Rig:
    """A notifier wired to a live endpoint, and what the contract needs to know about it."""

    notifier: Notifier
    #: Texts that must never show (tokens, secret URL parts, signing secrets, header values).
    secrets: tuple[str, ...]
    #: The same kind of notifier, pointed at a destination that is gone.
    dead: Callable[[], Notifier]
    dead_outcome: Outcome
    #: Make the endpoint answer the next request with a fault (HTTP endpoints we control).
    script: Callable[[Fault], None] | None = None
    #: How many distinct alerts of this test the receiver holds (receivers that deduplicate).
    held: Callable[[str], Awaitable[int]] | None = None
    #: Labels every notification of this test carries, so a shared server tells tests apart.
    tag: str = ""

    def alert(self, transition: Kind = "firing", **changes: str) -> Notification:
        """A notification to this receiver, happening now."""
        agent = changes.pop("agent", "billing")
        return notification(
            transition,
            receiver=self.notifier.name,
            instance={"agent_name": agent, "contract_run": self.tag},
            at=round(time.time(), 3),
            **changes,
        )


def dead_url(path: str = "") -> str:
    return f"http://127.0.0.1:{free_port()}{path}"


def slack_answer(fault: Fault) -> Answer:
    return Answer(fault.status, body=fault.body, retry_after=fault.retry_after, delay=fault.delay)


def hook_script(hook: WebhookReceiver) -> Callable[[Fault], None]:
    def script(f: Fault) -> None:
        hook.script(f.status, retry_after=f.retry_after, delay=f.delay, body=f.body)

    return script


def slack_bot(stack: ExitStack) -> Rig:
    slack = stack.enter_context(FakeSlack(token=SLACK_TOKEN))

    def bot(base_url: str) -> SlackBotNotifier:
        return SlackBotNotifier(
            NAME, SLACK_TOKEN, "#alerts", base_url=base_url, timeout=1, min_interval=0
        )

    return Rig(
        bot(slack.base_url),
        (SLACK_TOKEN,),
        dead=lambda: bot(dead_url("/api/")),
        dead_outcome=Outcome.RETRY,
        script=lambda f: slack.script(slack_answer(f)),
    )


def slack_webhook(stack: ExitStack) -> Rig:
    path = f"/services/T000FAKE/B000FAKE/{SLACK_HOOK_SECRET}"
    slack = stack.enter_context(FakeSlack(token=SLACK_TOKEN, webhook_path=path))

    def hook(url: str) -> SlackWebhookNotifier:
        return SlackWebhookNotifier(NAME, url, timeout=1, min_interval=0)

    return Rig(
        hook(slack.webhook_url),
        (SLACK_HOOK_SECRET, slack.webhook_url),
        dead=lambda: hook(dead_url(path)),
        dead_outcome=Outcome.RETRY,
        script=lambda f: slack.script(slack_answer(f), webhook=True),
    )


def webhook(stack: ExitStack) -> Rig:
    receiver = stack.enter_context(WebhookReceiver(secrets=[SIGNING_SECRET]))

    def sender(url: str) -> WebhookNotifier:
        return WebhookNotifier(
            NAME,
            f"{url}/{PATH_SECRET}?key={URL_KEY}",
            secrets=[SIGNING_SECRET],
            headers={"Authorization": AUTHORIZATION},
            timeout=0.5,
        )

    async def held(tag: str) -> int:
        return len(receiver.deliveries)  # unique by webhook-id; duplicates are set apart

    return Rig(
        sender(receiver.url),
        (SIGNING_SECRET, AUTHORIZATION, URL_KEY, PATH_SECRET),
        dead=lambda: sender(dead_url("/hook")),
        dead_outcome=Outcome.RETRY,
        script=hook_script(receiver),
        held=held,
    )


def alertmanager(url: str) -> Rig:
    """A real Alertmanager (its API cannot be scripted)."""

    async def held(tag: str) -> int:
        async with httpx.AsyncClient(timeout=5.0) as client:
            response = await client.get(f"{url}/api/v2/alerts")
        response.raise_for_status()
        return sum(1 for a in response.json() if a["labels"].get("contract_run") == tag)

    def am(base: str) -> AlertmanagerNotifier:
        return AlertmanagerNotifier(NAME, base, bearer_token=AM_TOKEN, timeout=5)

    return Rig(
        am(url), (AM_TOKEN,), dead=lambda: am(dead_url()), dead_outcome=Outcome.RETRY, held=held
    )


def alertmanager_api(stack: ExitStack) -> Rig:
    """A WebhookReceiver standing in for Alertmanager's API, to script its answers."""
    receiver = stack.enter_context(WebhookReceiver())

    def am(base: str) -> AlertmanagerNotifier:
        return AlertmanagerNotifier(NAME, base, bearer_token=AM_TOKEN, timeout=0.5)

    return Rig(
        am(receiver.url),
        (AM_TOKEN,),
        dead=lambda: am(dead_url()),
        dead_outcome=Outcome.RETRY,
        script=hook_script(receiver),
    )


def log() -> Rig:
    def closed() -> LogNotifier:
        stream = io.StringIO()
        stream.close()
        return LogNotifier(NAME, stream=stream)

    return Rig(
        LogNotifier(NAME, stream=io.StringIO()),
        (),
        dead=closed,
        dead_outcome=Outcome.PERMANENT,  # writing again to a closed console cannot help
    )


def recording() -> Rig:
    def down() -> RecordingNotifier:
        return RecordingNotifier(NAME, script=[Delivery.retry(f"recording {NAME!r}: down")])

    return Rig(RecordingNotifier(NAME), (), dead=down, dead_outcome=Outcome.RETRY)


#: Rigs by name (``alertmanager``, which needs a running Alertmanager, is added by open_rig).
BUILDERS: dict[str, Callable[[ExitStack], Rig]] = {
    "slack-bot": slack_bot,
    "slack-webhook": slack_webhook,
    "webhook": webhook,
    "alertmanager-api": alertmanager_api,
    "log": lambda _: log(),
    "recording": lambda _: recording(),
}


async def open_rig(name: str, real_alertmanager: Callable[[], str]) -> AsyncIterator[Rig]:
    """The rig ``name`` (a key of ``BUILDERS``, or ``alertmanager``: a real one at
    ``real_alertmanager()``), with a fresh tag; its notifier is closed and its servers stopped
    when the iteration ends."""
    builders: dict[str, Callable[[ExitStack], Rig]] = {
        **BUILDERS,
        "alertmanager": lambda _: alertmanager(real_alertmanager()),
    }
    with ExitStack() as stack:
        rig = replace(builders[name](stack), tag=uuid.uuid4().hex[:12])
        try:
            yield rig
        finally:
            await rig.notifier.aclose()
