"""The outbox worker: deliver queued notifications, retrying until they land.

Each receiver has its own loop, so one receiver's outage never delays another's deliveries.
Within a receiver notifications go out in order, at most one per ``min_interval`` (Slack allows
about one message per second per channel). Failures are retried with jittered exponential
backoff; a ``Retry-After`` is honoured; permanent failures are recorded and counted; a receiver
that is gone (410, revoked credentials) is disabled. On shutdown :meth:`drain` delivers what it
can within a deadline; the rest stays in the store for the next start. The store is any
:class:`OutboxStore`, the protocol below: the daemon's is the alerting SQLite store
(``sloguard.alerting.store.StateStore``, or ``pgstore.PgAlertStore`` shared by replicas: its
``due`` claims rows for the leader, and ``may_send`` asks right before each send whether this
replica still leads), so ``notify`` never depends on ``alerting``. A store without claims
(SQLite) marks a send in flight to a receiver that can look for it (:class:`SendMarks`), so a
send interrupted by a kill is in doubt after the restart, as a PostgreSQL claim that ran out.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import structlog
from prometheus_client import REGISTRY, CollectorRegistry, Counter, Gauge

from sloguard.notify.model import (
    Delivery,
    DoubtAware,
    Notification,
    Notifier,
    Outcome,
    Transition,
)

_log = logging.getLogger(__name__)
#: One structured line per delivered notification ("notification delivered").
_events = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A notification waiting for delivery; ``in_doubt``: another process may have sent it
    (a replica whose claim ran out, or, on SQLite, a send in flight when the daemon stopped):
    the receiver may have it already."""

    notification: Notification
    attempts: int
    next_at: float
    in_doubt: bool = False


class OutboxStore(Protocol):
    """Queued notifications, their delivery state, and receiver message references."""

    def due(self, now: float, receiver: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """Pending notifications whose time has come, oldest first; one waits behind an older
        pending one of the same alert and receiver until that one is due (in order per alert)."""
        ...

    def delivered(self, n: Notification, now: float, ref: str | None) -> None:
        """Mark delivered and remember the receiver's message reference for the episode."""
        ...

    def retry(self, n: Notification, next_at: float, reason: str) -> None:
        """Schedule another attempt."""
        ...

    def failed(self, n: Notification, now: float, reason: str) -> None:
        """Give up on a notification."""
        ...

    def ref(self, receiver: str, fp: str, started_at: float) -> str | None:
        """The receiver's message reference of an alert episode (Slack ts)."""
        ...

    def depth(self) -> dict[str, int]:
        """Pending notifications per receiver."""
        ...

    def disable(self, receiver: str, reason: str, now: float) -> None:
        """Stop delivering to a receiver."""
        ...

    def disabled(self) -> dict[str, str]:
        """Disabled receivers and why."""
        ...


@runtime_checkable
class SendMarks(Protocol):
    """A store without claims (one replica's SQLite file) that remembers a send in flight, so
    that after a restart the notification is ``in_doubt`` (the process may have been killed
    between the receiver's answer and :meth:`OutboxStore.delivered`)."""

    def sending(self, notification_id: str, now: float) -> None:
        """Mark the notification as being sent now (cleared by delivered, retry and failed)."""
        ...


class NotifyMetrics:
    """``sloguard_notifications_total{receiver,result,reason}`` and the outbox depth."""

    def __init__(self, registry: CollectorRegistry | None = REGISTRY) -> None:
        self.notifications = Counter(
            "sloguard_notifications",
            "Notification delivery attempts by receiver and result.",
            ["receiver", "result", "reason"],
            registry=registry,
        )
        self.depth = Gauge(
            "sloguard_outbox_depth",
            "Notifications waiting for delivery.",
            ["receiver"],
            registry=registry,
        )


def _reason(d: Delivery) -> str:
    if d.outcome is Outcome.OK:
        return "delivered"
    if d.outcome is Outcome.RETRY:
        return "rate_limited" if d.after is not None else "transient"
    return "receiver_gone" if d.disable else "rejected"


class _Fenced(Exception):
    """``may_send`` said no: this replica no longer leads."""


class OutboxWorker:
    """Deliver the outbox to the receivers."""

    def __init__(
        self,
        store: OutboxStore,
        notifiers: Mapping[str, Notifier],
        *,
        metrics: NotifyMetrics | None = None,
        clock: Callable[[], float] = time.time,
        base_delay: float = 1.0,
        max_delay: float = 60.0,
        poll: float = 0.5,
        rng: random.Random | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        may_send: Callable[[], bool] | None = None,
    ) -> None:
        """``clock`` dates the outbox (wall time); ``monotonic`` and ``sleep`` pace a receiver to
        one notification per ``min_interval`` (tests pass a simulated pair). Retries back off
        from ``base_delay`` to ``max_delay`` (a minute: a receiver that is back is found within
        a minute, and an alert's later notifications wait behind its oldest). ``may_send`` is
        asked immediately before each send (replicas: does this one still lead?); when it
        answers False nothing is sent or recorded and the receiver's loop stops until its next
        poll (the notification stays claimed until its claim expires)."""
        self.store = store
        self.notifiers = dict(notifiers)
        self.metrics = metrics
        self.clock = clock
        self.base_delay = base_delay
        self.max_delay = max_delay
        self.poll = poll
        self.rng = rng or random.Random()
        self._monotonic = monotonic
        self._sleep = sleep
        self.may_send = may_send
        self._last_sent: dict[str, float] = {}
        self._wake: dict[str, asyncio.Event] = {}
        self._waiting: dict[str, tuple[str, float]] = {}  # id → (receiver, first attempt)

    def wake(self) -> None:
        """Something was queued: every receiver loop looks now instead of at its next poll."""
        for event in self._wake.values():
            event.set()

    def pending_since(self) -> dict[str, float]:
        """Per receiver, since when its oldest undelivered notification has waited: the time
        of its first attempt by this process (a notification still waiting after a restart
        counts from its first attempt after it)."""
        out: dict[str, float] = {}
        for receiver, since in self._waiting.values():
            if receiver in self.notifiers:  # not one a routing reload removed
                out[receiver] = min(since, out.get(receiver, since))
        return out

    def backoff(self, attempts: int) -> float:
        """Jittered exponential delay before attempt ``attempts + 1``."""
        delay: float = min(self.max_delay, self.base_delay * 2.0 ** max(0, attempts))
        return delay * self.rng.uniform(0.5, 1.5)

    async def deliver_one(self, item: OutboxItem) -> Delivery | None:
        """Try one notification; record the outcome. None when its receiver is unusable."""
        n = item.notification
        now = self.clock()
        self._waiting.setdefault(n.id, (n.receiver, now))
        disabled = self.store.disabled()
        notifier = self.notifiers.get(n.receiver)
        if notifier is None or n.receiver in disabled:
            why = disabled.get(n.receiver, "receiver not configured")
            self.store.failed(n, now, f"receiver {n.receiver!r} unusable: {why}")
            self._waiting.pop(n.id, None)
            self._count(n.receiver, "failed", "receiver_disabled")
            return None
        last = self._last_sent.get(n.receiver)
        wait = 0.0 if last is None else last + notifier.min_interval - self._monotonic()
        if wait > 0:
            await self._sleep(wait)
        ref = (
            self.store.ref(n.receiver, *n.thread)  # a downgrade: the critical's thread
            if n.transition is not Transition.FIRING
            else None
        )
        if self.may_send is not None and not self.may_send():
            _log.warning("not the leader any more: %s to %s not sent", n.id, n.receiver)
            self._count(n.receiver, "fenced", "not_leader")
            raise _Fenced(n.id)
        if isinstance(notifier, DoubtAware):
            if item.in_doubt:
                notifier.in_doubt(n.id)  # look before posting again (no idempotency key)
            if isinstance(self.store, SendMarks):
                self.store.sending(n.id, self.clock())
        try:
            result = await notifier.send(n, ref)
        except Exception as exc:  # a notifier bug must not stop the worker
            _log.exception("receiver %s raised", n.receiver)
            result = Delivery.retry(f"receiver raised {type(exc).__name__}")
        self._last_sent[n.receiver] = self._monotonic()
        now = self.clock()
        if result.outcome is not Outcome.RETRY:
            self._waiting.pop(n.id, None)
        if result.outcome is Outcome.OK:
            self.store.delivered(n, now, result.ref)
            self._count(n.receiver, "delivered", "delivered")
            _events.info(
                "notification delivered", receiver=n.receiver, id=n.id,
                transition=n.transition.value, alertname=n.labels.get("alertname", ""),
                slo=n.slo, severity=n.severity.value, fingerprint=n.fingerprint,
                attempts=item.attempts + 1, ref=result.ref,
            )  # fmt: skip
        elif result.outcome is Outcome.RETRY:
            delay = result.after if result.after is not None else self.backoff(item.attempts)
            self.store.retry(n, now + delay, result.reason)
            self._count(n.receiver, "retry", _reason(result))
            _log.warning(
                "delivery to %s failed, retrying in %.1fs: %s", n.receiver, delay, result.reason
            )
        else:
            self.store.failed(n, now, result.reason)
            self._count(n.receiver, "failed", _reason(result))
            _log.error("delivery to %s failed permanently: %s", n.receiver, result.reason)
            if result.disable:
                self.store.disable(n.receiver, result.reason, now)
                _log.error("receiver %s disabled: %s", n.receiver, result.reason)
        return result

    def _count(self, receiver: str, result: str, reason: str) -> None:
        if self.metrics is not None:
            self.metrics.notifications.labels(receiver, result, reason).inc()

    def update_depth(self) -> None:
        """Refresh the outbox-depth gauge."""
        if self.metrics is None:
            return
        depth = self.store.depth()
        for receiver in self.notifiers:
            self.metrics.depth.labels(receiver).set(depth.get(receiver, 0))

    async def run_once(self, receiver: str) -> int:
        """Deliver every due notification of one receiver, in order; return how many tried."""
        tried = 0
        while True:
            items = self.store.due(self.clock(), receiver, limit=20)
            if not items:
                return tried
            for item in items:
                try:
                    result = await self.deliver_one(item)
                except _Fenced:
                    return tried
                tried += 1
                if result is not None and result.outcome is Outcome.RETRY:
                    return tried  # keep order: later ones wait for this one

    async def _receiver_loop(self, receiver: str, stop: asyncio.Event) -> None:
        wake = self._wake.setdefault(receiver, asyncio.Event())
        while not stop.is_set() and receiver in self.notifiers:
            wake.clear()
            try:
                await self.run_once(receiver)
            except Exception:
                _log.exception("outbox loop of %s failed; continuing", receiver)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), self.poll)

    async def run(self, stop: asyncio.Event) -> None:
        """Run one loop per receiver until ``stop`` is set; receivers added by a routing reload
        get a loop, removed ones lose theirs."""
        loops: dict[str, asyncio.Task[None]] = {}
        try:
            while not stop.is_set():
                for name in self.notifiers:
                    if name not in loops or loops[name].done():
                        loops[name] = asyncio.create_task(
                            self._receiver_loop(name, stop), name=f"outbox-{name}"
                        )
                self.update_depth()
                await asyncio.sleep(self.poll)
        finally:
            await asyncio.gather(*loops.values(), return_exceptions=True)

    async def drain(self, deadline: float) -> int:
        """Deliver what is due now, for at most ``deadline`` seconds; return pending left."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(
                asyncio.gather(*(self.run_once(r) for r in self.notifiers)), deadline
            )
        left = sum(self.store.depth().values())
        if left:
            _log.warning("%d notifications left in the outbox for the next start", left)
        return left

    async def aclose(self) -> None:
        """Close every notifier."""
        for notifier in self.notifiers.values():
            await notifier.aclose()
