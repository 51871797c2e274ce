"""The alert store: what the alert center, the runtime, the outbox worker, the silences and the
alert history need of the place alert states and the outbox live.

Two implementations pass one contract suite (``tests/contract/test_alertstore_contract.py``):
:class:`~sloguard.alerting.store.StateStore` (one SQLite file, one replica) and
:class:`~sloguard.alerting.pgstore.PgAlertStore` (the shared PostgreSQL database, any number of
replicas). On PostgreSQL the writes that only the leader may make (:meth:`AlertStore.commit`,
claiming due notifications) are *fenced*: they check, in their own transaction, that this
replica still holds the leadership lease with its token (:mod:`sloguard.alerting.leader`), and
refuse with :class:`NotLeader` when it does not. SQLite is always its own leader.

Example::

    store: AlertStore = StateStore(data_dir / "alerts.sqlite")
    store.commit({instance: alerts}, [notification], [], now)
    store.due(now, "slack")   # [OutboxItem(notification, attempts=0, next_at=now)]
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, Protocol

from sloguard.alerting.silences import Silence
from sloguard.alerting.state import AlertEvent, InstanceAlerts
from sloguard.errors import SloguardError
from sloguard.notify.model import Notification
from sloguard.notify.outbox import OutboxItem
from sloguard.slo.spec import SLOInstance

__all__ = ["AlertStore", "NotLeader"]


class NotLeader(SloguardError):
    """A fenced write was refused: this replica does not hold the leadership lease (or holds an
    older token than the lease's)."""


class AlertStore(Protocol):
    """Alert states, the notification outbox, receiver references, silences, suppressions."""

    # --- alert states --------------------------------------------------------------------------
    def load_alerts(self) -> dict[SLOInstance, InstanceAlerts]:
        """Every instance's alerts."""
        ...

    def commit(
        self,
        alerts: Mapping[SLOInstance, InstanceAlerts],
        notifications: Iterable[Notification],
        sent: Iterable[tuple[str, str, float, float]],
        now: float,
        suppressed: Iterable[AlertEvent] = (),
    ) -> int:
        """Save alerts and enqueue notifications atomically (idempotent per notification id);
        return how many were queued. Fenced on a shared store (:class:`NotLeader`)."""
        ...

    def still_leader(self) -> bool:
        """Does this replica still lead (asked right before each send; SQLite: always)?"""
        ...

    def last_sent(self, receiver: str, fp: str, started_at: float) -> float | None:
        """When ``receiver`` was last told about this alert episode."""
        ...

    # --- outbox (the worker's OutboxStore) ------------------------------------------------------
    def due(self, now: float, receiver: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """Pending notifications whose time has come, oldest first, in order per alert."""
        ...

    def next_due(self) -> float | None:
        """The earliest ``next_at`` of pending notifications."""
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

    def states(self, receiver: str | None = None) -> list[tuple[str, str, str, int]]:
        """(id, receiver, state, attempts) of every outbox row, in the order queued."""
        ...

    def disable(self, receiver: str, reason: str, now: float) -> None:
        """Stop delivering to a receiver."""
        ...

    def disabled(self) -> dict[str, str]:
        """Disabled receivers and why."""
        ...

    def prune(self, before: float) -> int:
        """Forget notifications done before ``before`` and old episodes' references."""
        ...

    # --- silences, suppressions, history --------------------------------------------------------
    def silences(self) -> list[Silence]:
        """Every stored silence, latest end first."""
        ...

    def save_silence(self, silence: Silence) -> None:
        """Insert or replace one silence."""
        ...

    def suppress(self, events: Iterable[AlertEvent]) -> None:
        """Record alert events that were not sent (silenced, acknowledged)."""
        ...

    def suppressions(self, since: float = float("-inf")) -> list[dict[str, Any]]:
        """Recorded suppressions at or after ``since``, oldest first."""
        ...

    def prune_silences(self, before: float) -> int:
        """Forget silences that ended before ``before`` and suppressions recorded before it."""
        ...

    def history_rows(
        self, slo: str, start: float, end: float, limit: int
    ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """An SLO's firing/resolved notifications queued in ``[start, end]`` (their payloads
        with ``created_at``) and its suppressions then (:mod:`sloguard.alerting.history`)."""
        ...

    def close(self) -> None:
        """Release the store (a shared pool stays open for its other users)."""
        ...
