"""The console receiver (the demo's default): one readable block per notification.

Example::

    console = LogNotifier("console")          # writes to stderr
    await console.send(notification, None)    # Delivery.ok()

Each notification is written as the :func:`~sloguard.notify.render.fallback_text` of the alert,
its first line prefixed with the time (``clock``) and the receiver name, the following lines
(fired tiers, budget, runbook) indented under it::

    2026-01-02T03:04:05.678Z sloguard[console] [CRITICAL] SLO checkout-availability is burning…
        critical tier 1h/5m: burn 20.0x over the long window and 21.0x over the short window…
        budget left 93.0%, exhausted in 1d 4h

``stream`` defaults to whatever ``sys.stderr`` is at send time (so redirection works). A
delivery is always ok, unless writing to the stream itself fails (a closed stream, a broken
pipe): then it is permanent, since writing the same text to the same broken console again
cannot help.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

from sloguard.notify.model import Delivery, Notification
from sloguard.notify.render import fallback_text, rfc3339

INDENT = "    "


def log_line(name: str, notification: Notification, at: float) -> str:
    """The text written for ``notification`` (ends with a newline)."""
    first, *rest = fallback_text(notification).splitlines() or [""]
    lines = [f"{rfc3339(at)} sloguard[{name}] {first}", *(INDENT + line for line in rest)]
    return "\n".join(lines) + "\n"


class LogNotifier:
    """Write notifications to a text stream (stderr by default)."""

    min_interval = 0.0

    def __init__(
        self, name: str, *, stream: TextIO | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.name = name
        self._stream = stream
        self._clock = clock

    def __repr__(self) -> str:
        where = "stderr" if self._stream is None else getattr(self._stream, "name", "stream")
        return f"LogNotifier({self.name!r}, {where!s})"

    async def send(self, notification: Notification, ref: str | None) -> Delivery:
        """Write ``notification``; ok unless the stream fails."""
        stream = self._stream if self._stream is not None else sys.stderr
        try:
            stream.write(log_line(self.name, notification, self._clock()))
            stream.flush()
        except (OSError, ValueError) as exc:  # ValueError: I/O operation on closed file
            return Delivery.permanent(f"log {self.name!r}: cannot write: {exc}")
        return Delivery.ok()

    async def aclose(self) -> None:
        """Nothing to release (the stream belongs to the caller)."""
