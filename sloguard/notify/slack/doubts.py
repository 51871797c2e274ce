"""Which Slack posts may have landed though the bot never heard so (:mod:`.bot` looks for
them by the notification id in their metadata before posting again), and that metadata.

A post is in doubt after an ambiguous failure of this bot's own (an answer past the deadline,
a connection dropped after the request was sent), or when the outbox worker says another
process may have sent it (a replica whose claim ran out, or this daemon before a restart:
:meth:`Doubts.elsewhere`). Both are
kept in memory, at most :data:`MAX_IN_DOUBT` each, oldest forgotten first.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from sloguard.notify.model import Notification

__all__ = ["EVENT_TYPE", "MAX_IN_DOUBT", "Doubts", "Where", "carries", "metadata"]

#: The ``event_type`` of the message metadata that carries a notification's id.
EVENT_TYPE = "sloguard_notification"
#: Notifications remembered as maybe posted (oldest forgotten first).
MAX_IN_DOUBT = 1000


@dataclass(frozen=True, slots=True)
class Where:
    """Where a post went: a channel, and the thread's ts for a reply."""

    channel: str
    thread_ts: str | None = None


def metadata(n: Notification) -> dict[str, Any]:
    """The message metadata carrying ``n``'s id."""
    return {"event_type": EVENT_TYPE, "event_payload": {"id": n.id}}


def carries(message: object, notification_id: str) -> str | None:
    """The ts of ``message`` when its metadata carries ``notification_id``."""
    if not isinstance(message, dict):
        return None
    meta = message.get("metadata")
    if not isinstance(meta, dict) or meta.get("event_type") != EVENT_TYPE:
        return None
    payload = meta.get("event_payload")
    ts = message.get("ts")
    if isinstance(payload, dict) and payload.get("id") == notification_id and isinstance(ts, str):
        return ts
    return None


class Doubts:
    """The notifications to look for before posting (see the module docstring)."""

    def __init__(self) -> None:
        self._mine: OrderedDict[str, Where] = OrderedDict()
        self._elsewhere: OrderedDict[str, None] = OrderedDict()

    def look_at(self, notification_id: str, where: Where) -> Where | None:
        """Where to look for the notification before posting it to ``where``, if anywhere."""
        mine = self._mine.get(notification_id)
        return where if mine is None and notification_id in self._elsewhere else mine

    def mine(self, notification_id: str, where: Where) -> None:
        """This bot's post to ``where`` failed in a way that may have posted it."""
        _remember(self._mine, notification_id, where)

    def elsewhere(self, notification_id: str) -> None:
        """Another process (a replica, or this daemon before a restart) may have posted it."""
        _remember(self._elsewhere, notification_id, None)

    def settled(self, notification_id: str) -> None:
        """Posted (or found), or never will be: nothing to look for any more."""
        self._mine.pop(notification_id, None)
        self._elsewhere.pop(notification_id, None)


def _remember(book: OrderedDict[str, Any], key: str, value: Any) -> None:
    book[key] = value
    book.move_to_end(key)
    while len(book) > MAX_IN_DOUBT:
        book.popitem(last=False)
