"""The daemon's silences: kept in memory, persisted in the alert store, counted when they act.

:class:`SilenceBook` creates, expires and prunes :class:`~sloguard.alerting.silences.Silence`
objects (the pure rules live in :mod:`sloguard.alerting.silences`), answers which silences mute
an alert's labels at a given time (the state machine's ``silencer``), and counts what silences
and acknowledgements kept from the receivers in
``sloguard_notifications_suppressed_total{reason}``.

Example::

    book = SilenceBook(store, registry)
    s = book.add([parse_matcher("slo=checkout")], starts_at=now + 3600, ends_at=now + 7200,
                 created_by="ana", comment="database upgrade", now=now)   # a maintenance window
    book.silencer(now + 4000)({"slo": "checkout"})                          # (s.id,)
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from prometheus_client import CollectorRegistry, Counter

from sloguard.alerting.silences import Matcher, Silence, expire, new_silence, silenced_by
from sloguard.alerting.state import Silencer
from sloguard.alerting.storebase import AlertStore

__all__ = ["SilenceBook"]


class SilenceBook:
    """Every stored silence by id: pending, active, and expired ones until pruned."""

    def __init__(self, store: AlertStore, registry: CollectorRegistry | None = None) -> None:
        """``registry`` gets ``sloguard_notifications_suppressed_total`` (None: no metric)."""
        self.store = store
        self.by_id: dict[str, Silence] = {s.id: s for s in store.silences()}
        self._suppressed = (
            Counter(
                "sloguard_notifications_suppressed",
                "Notifications not sent because their alert was silenced or acknowledged, "
                "counted per receiver they would have gone to.",
                ["reason"],
                registry=registry,
            )
            if registry is not None
            else None
        )

    def all(self) -> list[Silence]:
        """Every silence, latest end first."""
        return sorted(self.by_id.values(), key=lambda s: (-s.ends_at, s.id))

    def silencer(self, now: float) -> Silencer:
        """Which silences mute an alert's labels at ``now``."""
        silences = list(self.by_id.values())
        return lambda labels: silenced_by(labels, silences, now)

    def add(
        self,
        matchers: Sequence[Matcher],
        *,
        starts_at: float,
        ends_at: float,
        created_by: str,
        comment: str,
        now: float,
    ) -> Silence:
        """Create and store a silence (a maintenance window when it starts later); it applies
        from the next evaluation. Raise :class:`~sloguard.alerting.silences.SilenceError`."""
        silence = new_silence(
            uuid.uuid4().hex, matchers, starts_at=starts_at, ends_at=ends_at,
            created_by=created_by, comment=comment, now=now,
        )  # fmt: skip
        self.store.save_silence(silence)
        self.by_id[silence.id] = silence
        return silence

    def expire(self, silence_id: str, now: float) -> Silence:
        """End a silence now (kept for audit until pruned); KeyError when unknown."""
        silence = expire(self.by_id[silence_id], now)
        self.store.save_silence(silence)
        self.by_id[silence_id] = silence
        return silence

    def prune(self, before: float) -> int:
        """Forget silences that ended before ``before`` (and suppressions recorded before it)."""
        gone = self.store.prune_silences(before)
        self.by_id = {k: s for k, s in self.by_id.items() if s.ends_at >= before}
        return gone

    def count(self, reason: str, receivers: int) -> None:
        """Count notifications kept from ``receivers`` receivers for ``reason``."""
        if self._suppressed is not None and receivers:
            self._suppressed.labels(reason).inc(receivers)
