"""The ``OutboxStore`` protocol: what the outbox worker needs from where notifications are kept.

The alert center queues notifications in a store (``sloguard.alerting.store.StateStore``, SQLite);
the :class:`~sloguard.notify.outbox.OutboxWorker` takes them from it through this protocol
only, so ``notify`` never depends on ``alerting``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from sloguard.notify.model import Notification


@dataclass(frozen=True, slots=True)
class OutboxItem:
    """A notification waiting for delivery."""

    notification: Notification
    attempts: int
    next_at: float


class OutboxStore(Protocol):
    """Queued notifications, their delivery state, and receiver message references."""

    def due(self, now: float, receiver: str | None = None, limit: int = 100) -> list[OutboxItem]:
        """Pending notifications whose time has come, oldest first."""
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
