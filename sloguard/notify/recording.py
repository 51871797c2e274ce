"""An in-memory receiver: records what it is sent and answers from a script (tests, demos).

Example::

    rec = RecordingNotifier("test", script=[Delivery.retry("busy", after=1.0)])
    ...  # the first attempt is retried, later ones succeed
    rec.sent  # [(notification, ref), ...] in delivery order
"""

from __future__ import annotations

from collections.abc import Iterable

from sloguard.notify.model import Delivery, Notification, Outcome


class RecordingNotifier:
    """Answers each attempt with the next scripted Delivery (then ``ok``); records successes."""

    def __init__(
        self, name: str, *, script: Iterable[Delivery] = (), min_interval: float = 0.0
    ) -> None:
        self.name = name
        self.min_interval = min_interval
        self.script = list(script)
        self.attempts: list[Notification] = []
        self.sent: list[tuple[Notification, str | None]] = []
        self.closed = False

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Record the attempt; answer from the script."""
        self.attempts.append(notification)
        result = self.script.pop(0) if self.script else Delivery.ok(f"ref-{notification.id[:8]}")
        if result.outcome is Outcome.OK:
            self.sent.append((notification, ref))
        return result

    async def aclose(self) -> None:
        """Nothing to release."""
        self.closed = True
