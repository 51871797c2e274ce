"""Delivery under faults, end to end: AlertCenter → SQLite outbox → OutboxWorker → real notifiers.

The receivers are the real ``SlackBotNotifier`` (slack-sdk) against :class:`FakeSlack` and the
real ``WebhookNotifier`` (httpx, Standard Webhooks signatures) against :class:`WebhookReceiver`,
both on 127.0.0.1; the store is a real SQLite file. The worker is driven with ``run_once`` and
an explicit clock, so "not before the Retry-After" is checked against the outbox's ``next_at``,
never by sleeping. Slack pacing (``min_interval``) is set to 0: it waits on the real monotonic
clock, which this file does not use.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry

from sloguard.alerting.center import AlertCenter
from sloguard.alerting.store import StateStore
from sloguard.durations import DAY
from sloguard.evaluation.evaluator import InstanceResult
from sloguard.notify.config import AlertRouting, Receiver, SlackSpec, WebhookSpec
from sloguard.notify.model import Notifier
from sloguard.notify.outbox import NotifyMetrics, OutboxWorker
from sloguard.notify.routing import Route
from sloguard.notify.slack.bot import SlackBotNotifier
from sloguard.notify.webhook import WebhookNotifier
from sloguard.slo.budget import Counts, evaluate
from sloguard.slo.spec import SLOInstance
from tests.support.fakeslack import Answer, FakeSlack
from tests.support.slos import make_slo
from tests.support.webhookreceiver import WebhookReceiver

TOKEN = "xoxb-4242-4242-faultT0ken"
SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
CHANNEL_ID = "C123"  # FakeSlack's id of #alerts
T0 = 1_800_000_000.0
SLO = make_slo("avail", group_by=("agent_name",))


class Clock:
    """The one clock of a test: worker, notifiers and the webhook receiver's verification."""

    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def result(error_ratio: float, at: float) -> InstanceResult:
    """One evaluated instance: 5% errors fires (critical), 0% resolves."""
    windows = {w: Counts(error_ratio * 1e5, 1e5) for w in SLO.windows()}
    ev = evaluate(
        objective=SLO.objective, period=30 * DAY, policy=SLO.alerting.policy, windows=windows
    )
    return InstanceResult(SLO, SLOInstance(SLO.name, (("agent_name", "billing"),)), ev, at)


def slack_receiver(name: str = "ops-slack") -> Receiver:
    return Receiver(name, "slack", SlackSpec(channel="#alerts"), (TOKEN,))


def webhook_receiver(name: str, url: str) -> Receiver:
    return Receiver(name, "webhook", WebhookSpec(url=url), (SECRET,))


def everyone(*receivers: Receiver) -> AlertRouting:
    """Every alert to every receiver (``continue: true`` on each route)."""
    return AlertRouting(
        {r.name: r for r in receivers},
        Route(routes=tuple(Route(receiver=r.name, continue_=True) for r in receivers)),
    )


@dataclass
class Rig:
    """One running sloguard alerting side: store, alert center, worker, its metrics."""

    store: StateStore
    center: AlertCenter
    worker: OutboxWorker
    registry: CollectorRegistry

    def count(self, receiver: str, result: str, reason: str) -> float:
        value = self.registry.get_sample_value(
            "sloguard_notifications_total",
            {"receiver": receiver, "result": result, "reason": reason},
        )
        return value or 0.0

    async def run(self, *receivers: str) -> int:
        """One pass of each receiver's loop at the current clock; how many attempts were made."""
        return sum([await self.worker.run_once(r) for r in receivers])

    async def close(self) -> None:
        await self.worker.aclose()
        self.store.close()


def start(
    db: Path, routing: AlertRouting, clock: Clock, urls: Mapping[str, str], rng_seed: int = 1
) -> Rig:
    """Build store, center, real notifiers and worker, as the daemon does (but with ``clock``).

    ``urls`` gives each receiver's local server: FakeSlack's ``base_url`` or the hook's URL.
    """
    store = StateStore(db)
    notifiers: dict[str, Notifier] = {}
    for name, r in routing.receivers.items():
        if isinstance(r.spec, SlackSpec):
            notifiers[name] = SlackBotNotifier(
                name,
                r.secrets[0],
                r.spec.channel,
                base_url=urls[name],
                timeout=5,
                min_interval=0.0,
                clock=clock,
            )
        else:
            notifiers[name] = WebhookNotifier(
                name, r.spec.url, secrets=r.secrets, timeout=5.0, clock=clock
            )
    registry = CollectorRegistry()
    worker = OutboxWorker(
        store,
        notifiers,
        metrics=NotifyMetrics(registry),
        clock=clock,
        rng=random.Random(rng_seed),
        base_delay=1.0,
    )
    return Rig(store, AlertCenter(store, routing), worker, registry)


def accepted_posts(slack: FakeSlack) -> list[dict[str, object]]:
    """Messages the fake actually created (scripted failures create none), in ts order."""
    with slack.lock:
        return [m for _, m in sorted(slack.messages.items(), key=lambda kv: kv[0][1])]


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def slack() -> Iterator[FakeSlack]:
    with FakeSlack(token=TOKEN) as fake:
        yield fake


@pytest.fixture
def hook(clock: Clock) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(secrets=[SECRET], clock=clock) as receiver:
        yield receiver


# --- Slack: 429 with Retry-After ---------------------------------------------------------------


async def test_slack_rate_limit_is_waited_out_then_delivered_once(
    tmp_path: Path, clock: Clock, slack: FakeSlack
) -> None:
    slack.script(
        Answer(429, "ratelimited", retry_after="7"), Answer(429, "ratelimited", retry_after="3")
    )
    rig = start(
        tmp_path / "a.sqlite", everyone(slack_receiver()), clock, {"ops-slack": slack.base_url}
    )
    try:
        [queued] = rig.center.process([result(0.05, T0)], T0)

        assert await rig.run("ops-slack") == 1
        assert rig.store.next_due() == T0 + 7  # the first Retry-After, from the attempt's time
        clock.t = T0 + 6.99
        assert await rig.run("ops-slack") == 0  # not before the wait is over

        clock.t = T0 + 7
        assert await rig.run("ops-slack") == 1
        assert rig.store.next_due() == T0 + 10  # the second Retry-After (3 s)
        clock.t = T0 + 9.99
        assert await rig.run("ops-slack") == 0

        clock.t = T0 + 10
        assert await rig.run("ops-slack") == 1
        clock.t = T0 + 3600
        assert await rig.run("ops-slack") == 0  # nothing left to send, ever

        assert len(slack.calls_to("chat.postMessage")) == 3
        [message] = accepted_posts(slack)  # one message accepted by Slack: delivered once
        assert "thread_ts" not in message
        assert rig.store.states() == [(queued.id, "ops-slack", "delivered", 3)]
        assert rig.store.next_due() is None
        assert rig.count("ops-slack", "retry", "rate_limited") == 2
        assert rig.count("ops-slack", "delivered", "delivered") == 1
    finally:
        await rig.close()


# --- webhook: 500 for a while -------------------------------------------------------------------


async def test_webhook_server_errors_are_retried_with_backoff_under_one_id(
    tmp_path: Path, clock: Clock, hook: WebhookReceiver
) -> None:
    hook.script(500, count=3)
    rig = start(tmp_path / "a.sqlite", everyone(webhook_receiver("audit", hook.url)), clock, {})
    try:
        [queued] = rig.center.process([result(0.05, T0)], T0)
        attempts: list[float] = []
        for failures in range(3):
            attempted_at = clock.t
            attempts.append(attempted_at)
            assert await rig.run("audit") == 1
            due = rig.store.next_due()
            assert due is not None
            # jittered exponential backoff: base 1 s × 2^failures × [0.5, 1.5]
            delay = due - attempted_at
            assert 0.5 * 2**failures <= delay <= 1.5 * 2**failures
            clock.t = due - 0.01
            assert await rig.run("audit") == 0  # not before its time
            clock.t = due
        attempts.append(clock.t)
        assert await rig.run("audit") == 1
        clock.t += 3600
        assert await rig.run("audit") == 0

        assert [r.status for r in hook.requests] == [500, 500, 500, 200]
        assert {r.webhook_id for r in hook.requests} == {queued.id}  # one idempotency key
        assert all(r.verified is True for r in hook.requests)  # every attempt signed anew
        assert [r.headers["webhook-timestamp"] for r in hook.requests] == [
            str(int(t)) for t in attempts
        ]  # each attempt is stamped with its own time
        [delivery] = hook.deliveries
        assert delivery.json["status"] == "firing"
        assert hook.duplicates == []
        assert rig.store.states() == [(queued.id, "audit", "delivered", 4)]
        assert rig.count("audit", "retry", "transient") == 3
        assert rig.count("audit", "delivered", "delivered") == 1
    finally:
        await rig.close()


# --- a 400 from one receiver --------------------------------------------------------------------


async def test_a_rejecting_receiver_fails_permanently_and_the_others_still_deliver(
    tmp_path: Path, clock: Clock, slack: FakeSlack, hook: WebhookReceiver
) -> None:
    with WebhookReceiver(secrets=[SECRET], clock=clock) as strict:
        strict.script(400, body=b"schema mismatch")
        routing = everyone(
            webhook_receiver("strict", strict.url),
            slack_receiver(),
            webhook_receiver("audit", hook.url),
        )
        rig = start(tmp_path / "a.sqlite", routing, clock, {"ops-slack": slack.base_url})
        try:
            queued = rig.center.process([result(0.05, T0)], T0)
            assert sorted(n.receiver for n in queued) == ["audit", "ops-slack", "strict"]
            # the rejecting receiver goes first: its failure must not hold the others back
            assert await rig.run("strict", "ops-slack", "audit") == 3
            clock.t += 3600
            assert await rig.run("strict", "ops-slack", "audit") == 0  # never retried

            assert [r.status for r in strict.requests] == [400]
            assert strict.deliveries == []
            assert {(r[1], r[2], r[3]) for r in rig.store.states()} == {
                ("strict", "failed", 1),
                ("ops-slack", "delivered", 1),
                ("audit", "delivered", 1),
            }
            assert rig.count("strict", "failed", "rejected") == 1
            assert rig.count("strict", "retry", "transient") == 0
            assert rig.store.disabled() == {}  # a 400 is about the message, not the receiver
            assert rig.store.depth() == {}
            assert len(accepted_posts(slack)) == 1
            [delivered] = hook.deliveries
            assert delivered.verified is True and delivered.json["status"] == "firing"
        finally:
            await rig.close()


# --- firing then resolved -----------------------------------------------------------------------


async def test_firing_then_resolved_reaches_each_receiver_once_and_threads_in_slack(
    tmp_path: Path, clock: Clock, slack: FakeSlack, hook: WebhookReceiver
) -> None:
    routing = everyone(slack_receiver(), webhook_receiver("audit", hook.url))
    rig = start(tmp_path / "a.sqlite", routing, clock, {"ops-slack": slack.base_url})
    try:
        rig.center.process([result(0.05, T0)], T0)
        assert await rig.run("ops-slack", "audit") == 2
        [firing] = accepted_posts(slack)
        firing_ts = str(firing["ts"])

        clock.t = T0 + 120
        resolved = rig.center.process([result(0.0, clock.t)], clock.t)
        assert sorted((n.receiver, n.status.value) for n in resolved) == [
            ("audit", "resolved"),
            ("ops-slack", "resolved"),
        ]
        assert await rig.run("ops-slack", "audit") == 2
        for later in (180, 600, 7200):  # still fine later: nothing more to say
            clock.t = T0 + later
            assert rig.center.process([result(0.0, clock.t)], clock.t) == []
            assert await rig.run("ops-slack", "audit") == 0

        posts = slack.calls_to("chat.postMessage")
        assert len(posts) == 2
        assert "thread_ts" not in posts[0].params
        reply = posts[1].params
        assert reply["channel"] == CHANNEL_ID and reply["thread_ts"] == firing_ts
        assert str(reply["text"]).startswith("[RESOLVED]")
        [update] = slack.calls_to("chat.update")
        assert update.params["channel"] == CHANNEL_ID and update.params["ts"] == firing_ts
        original = slack.messages[(CHANNEL_ID, firing_ts)]
        assert "edited" in original and str(original["text"]).startswith("[RESOLVED]")
        replies = [m for m in accepted_posts(slack) if m.get("thread_ts") == firing_ts]
        assert len(replies) == 1  # exactly one resolved message, in the thread

        assert [r.json["status"] for r in hook.deliveries] == ["firing", "resolved"]
        assert len({r.webhook_id for r in hook.deliveries}) == 2
        assert all(r.verified is True for r in hook.requests)
        assert hook.duplicates == []
        assert [r[2] for r in rig.store.states()] == ["delivered"] * 4
    finally:
        await rig.close()


# --- restart after a failed attempt ------------------------------------------------------------


async def test_a_restart_after_a_failed_attempt_delivers_once_and_repeats_nothing(
    tmp_path: Path, clock: Clock, slack: FakeSlack, hook: WebhookReceiver
) -> None:
    db = tmp_path / "alerts.sqlite"
    routing = everyone(slack_receiver(), webhook_receiver("audit", hook.url))
    urls = {"ops-slack": slack.base_url}
    hook.script(503, retry_after="30")
    first = start(db, routing, clock, urls)
    try:
        first.center.process([result(0.05, T0)], T0)
        assert await first.run("ops-slack", "audit") == 2  # Slack delivered, the hook failed
        assert first.store.next_due() == T0 + 30
    finally:
        await first.close()  # the process stops here ("crash" after the failed attempt)

    clock.t = T0 + 5
    second = start(db, routing, clock, urls, rng_seed=2)  # new store on the file, new worker
    try:
        # the alert is still firing: the restarted center knows, and queues nothing new
        assert second.center.process([result(0.05, clock.t)], clock.t) == []
        assert await second.run("ops-slack", "audit") == 0  # the Retry-After survived too
        clock.t = T0 + 30
        assert await second.run("ops-slack", "audit") == 1
        clock.t = T0 + 3600
        assert await second.run("ops-slack", "audit") == 0

        assert [r.status for r in hook.requests] == [503, 200]
        assert len({r.webhook_id for r in hook.requests}) == 1
        assert len(hook.deliveries) == 1 and hook.duplicates == []
        assert len(slack.calls_to("chat.postMessage")) == 1  # not posted again
        assert [r[2:] for r in second.store.states()] == [("delivered", 1), ("delivered", 2)]

        # the resolution after the restart still threads under the message posted before it
        [firing] = accepted_posts(slack)
        clock.t = T0 + 3700
        assert len(second.center.process([result(0.0, clock.t)], clock.t)) == 2
        assert await second.run("ops-slack", "audit") == 2
        reply = slack.calls_to("chat.postMessage")[-1].params
        assert reply["thread_ts"] == firing["ts"]
        assert [u.params["ts"] for u in slack.calls_to("chat.update")] == [firing["ts"]]
        assert [r.json["status"] for r in hook.deliveries] == ["firing", "resolved"]
        assert hook.duplicates == []
        assert second.count("ops-slack", "delivered", "delivered") == 1  # this process' own
        assert second.count("audit", "delivered", "delivered") == 2
    finally:
        await second.close()
