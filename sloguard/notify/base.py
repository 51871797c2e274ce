"""The ``Notifier`` protocol and what a delivery attempt can end in.

Receivers never raise foreign exceptions (httpx, slack_sdk): they map every outcome to a
:class:`Delivery`. The outbox worker decides what happens next from it:

- ``ok``: delivered; ``ref`` is the receiver's message reference (a Slack ``ts``) to keep;
- ``retry``: try again later (``after`` seconds when the receiver said, e.g. Retry-After);
- ``permanent``: never retry (other 4xx); ``disable`` when the receiver is gone (410).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from sloguard.notify.model import Notification


class Outcome(StrEnum):
    """How one delivery attempt ended."""

    OK = "ok"
    RETRY = "retry"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class Delivery:
    """The result of one attempt."""

    outcome: Outcome
    reason: str = ""
    after: float | None = None
    ref: str | None = None
    disable: bool = False

    @classmethod
    def ok(cls, ref: str | None = None) -> Delivery:
        """Delivered."""
        return cls(Outcome.OK, "delivered", ref=ref)

    @classmethod
    def retry(cls, reason: str, after: float | None = None) -> Delivery:
        """Try again later."""
        return cls(Outcome.RETRY, reason, after=after)

    @classmethod
    def permanent(cls, reason: str, *, disable: bool = False) -> Delivery:
        """Give up on this notification (and on the receiver when ``disable``)."""
        return cls(Outcome.PERMANENT, reason, disable=disable)


class Notifier(Protocol):
    """A receiver: delivers rendered notifications somewhere."""

    #: The receiver's configured name.
    name: str
    #: Seconds between two messages to the same destination (Slack: ~1 per channel).
    min_interval: float

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Deliver ``notification``; ``ref`` is the message reference of the alert's firing
        notification on this receiver (to thread or update a resolved message), if any."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...
