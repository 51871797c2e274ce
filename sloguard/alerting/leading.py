"""The leadership loop of a replica on the shared database: ask for the lease every
``renew`` seconds, keep the store's fence, the self metrics and the log in step with the
answers (the decisions are :func:`sloguard.alerting.leader.observe`'s).

Self metrics: ``sloguard_is_leader`` (1 on the leader, 0 on a follower) and
``sloguard_leader_changes_total`` (changes of holder or term this replica saw). One log line
per change: ``leadership acquired`` / ``leadership lost`` / ``leadership changed hands``.

Example::

    elector = Elector(store, LeaseTiming.of(interval), registry=registry,
                      on_acquired=center.reload)
    task = asyncio.create_task(elector.run(stop))
    elector.leads()        # True on the leader
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections.abc import Callable
from typing import Protocol

from prometheus_client import CollectorRegistry, Counter, Gauge

from sloguard.alerting.leader import Fence, Leadership, Lease, LeaseTiming, observe

__all__ = ["Elector", "LeaseStore", "leader_gauge", "replica_id"]

_log = logging.getLogger(__name__)


def replica_id() -> str:
    """This process's id in the lease and in outbox claims: host, pid and a random suffix
    (a restarted process on the same host is another holder)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"


def leader_gauge(registry: CollectorRegistry | None) -> Gauge:
    """``sloguard_is_leader`` on ``registry`` (a single replica sets it to 1 for good)."""
    return Gauge(
        "sloguard_is_leader",
        "1 while this replica leads (evaluates alerts and delivers), 0 on a follower.",
        registry=registry,
    )


class LeaseStore(Protocol):
    """What the loop needs of the store: the lease and the fence of fenced writes."""

    holder: str
    lease_name: str
    fence: Fence | None

    def acquire(self, ttl: float) -> tuple[Lease, float]:
        """Acquire or renew the lease; the lease as it now is and the database's time."""
        ...

    def release(self) -> None:
        """Give the lease up."""
        ...


class Elector:
    """Keeps this replica's :class:`~sloguard.alerting.leader.Leadership` (see the module
    docstring). ``on_acquired`` runs on the event loop when this replica starts a term, before
    any fenced write of that term (the alert center reloads the states other leaders
    committed); ``on_lost`` when it stops leading."""

    def __init__(
        self,
        store: LeaseStore,
        timing: LeaseTiming,
        *,
        registry: CollectorRegistry | None = None,
        on_acquired: Callable[[], None] | None = None,
        on_lost: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.timing = timing
        self.state = Leadership.start(store.holder)
        self.on_acquired = on_acquired
        self.on_lost = on_lost
        self.clock = clock
        self._is_leader = leader_gauge(registry)
        self._changes = Counter(
            "sloguard_leader_changes",
            "Changes of the alert leader (holder or term) this replica saw.",
            registry=registry,
        )

    def leads(self) -> bool:
        """Does this replica lead now (by its last answer, not yet expired)?"""
        return self.state.leads(self.clock())

    def details(self) -> dict[str, object]:
        """Leadership for ``/readyz``."""
        return {**self.state.details(), "leads": self.leads()}

    def apply(self, lease: Lease | None, db_now: float | None = None) -> str | None:
        """Fold one answer of the database in (None: it could not be asked); return the
        change, after updating the fence, the metrics, the log and the callbacks."""
        before = self.state
        self.state, change = observe(before, lease, self.clock(), db_now)
        s = self.state
        self.store.fence = Fence(self.store.lease_name, s.me, s.token) if s.leader else None
        self._is_leader.set(1 if s.leader else 0)
        if s.changes != before.changes:
            self._changes.inc(s.changes - before.changes)
        if change is not None:
            _log.warning(
                "leadership %s: leader %s, token %d (this replica: %s)",
                change, s.holder, s.token, s.me,
            )  # fmt: skip
            callback = self.on_acquired if change == "acquired" else None
            if change == "lost":
                callback = self.on_lost
            if callback is not None:
                try:
                    callback()
                except Exception:
                    _log.exception("leadership callback failed")
        return change

    async def once(self) -> str | None:
        """Ask for the lease once (in a thread: the database may be slow)."""
        try:
            lease, db_now = await asyncio.to_thread(self.store.acquire, self.timing.ttl)
        except Exception as exc:  # the database is down: a leader cannot prove it leads
            _log.debug("cannot ask for the lease: %s", exc)
            return self.apply(None)
        return self.apply(lease, db_now)

    async def run(self, stop: asyncio.Event) -> None:
        """Ask every ``renew`` seconds until ``stop`` is set."""
        while not stop.is_set():
            await self.once()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.timing.renew)

    def release(self) -> None:
        """Give the lease up (shutdown): a follower takes over at its next attempt."""
        try:
            self.store.release()
        except Exception as exc:
            _log.warning("cannot release the lease: %s", exc)
        self._is_leader.set(0)
