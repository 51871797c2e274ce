"""The :class:`TraceStore` protocol: what the daemon, the API, ingest and the commands use of a
trace store. Two implementations pass one contract suite (``tests/contract/``):

- :class:`~sloguard.tracestore.store.SqliteTraceStore` — one bounded SQLite file (the default);
- :class:`~sloguard.tracestore.pgstore.PgTraceStore` — the shared PostgreSQL database
  (``storage.url``), written by every sidecar and read by every replica.

Example::

    def newest_failures(store: TraceStore) -> list[str]:
        return [s.trace_id for s in store.failing(limit=5)]
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Protocol

from sloguard.analysis.decisionrecord import DecisionRecord
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore.footprint import StoreStats
from sloguard.tracestore.model import Status, TraceSummary
from sloguard.tracestore.retention import Pruned
from sloguard.tracestore.storehealth import StoreHealth

__all__ = ["TraceStore"]


class TraceStore(Protocol):
    """Traces, decision records and events, bounded by :meth:`prune`.

    Writes raise :class:`~sloguard.tracestore.storehealth.StorageFailure` when the storage
    cannot take them (reported to :attr:`health`) and
    :class:`~sloguard.errors.InvalidRecord` for items that cannot be stored. ``on_full``, when
    set, is called after a write leaves the store past the point where pruning starts.

    Example::

        store.put(trace, now=1_700_000_000.0)
        store.get(trace.trace_id)
    """

    health: StoreHealth
    on_full: Callable[[], None] | None

    def close(self) -> None:
        """Release the store's connections."""

    def check(self, now: float) -> bool:
        """Probe whether writing works again; clear the write failures of :attr:`health`."""

    def put(self, trace: ResponseTrace, now: float) -> TraceSummary:
        """Store one trace (redacted), replacing one with the same id."""

    def put_traces(self, traces: Sequence[ResponseTrace], now: float) -> list[TraceSummary]:
        """Store traces in one transaction (the last of an id wins); all or nothing."""

    def put_decisions(self, records: Sequence[DecisionRecord], now: float) -> None:
        """Store decision records in one transaction."""

    def put_events(self, events: Sequence[Mapping[str, Any]], now: float) -> None:
        """Store plain events in one transaction, redacted."""

    def get(self, trace_id: str) -> ResponseTrace | None:
        """The stored trace, or None."""

    def summary(self, trace_id: str) -> TraceSummary | None:
        """The summary of a stored trace, or None."""

    def list(
        self,
        *,
        agent: str | None = None,
        status: Status | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
    ) -> builtins.list[TraceSummary]:
        """Summaries, newest start first, filtered (``since`` inclusive, ``until`` exclusive)."""

    def failing(self, agent: str | None = None, limit: int = 3) -> builtins.list[TraceSummary]:
        """The newest failed traces; with ``agent``, those where that agent's work failed."""

    def successful(self, limit: int = 200) -> builtins.list[ResponseTrace]:
        """The newest successful traces."""

    def decisions(
        self,
        *,
        workflow_id: str | None = None,
        agent: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> builtins.list[DecisionRecord]:
        """Decision records oldest first; the newest ``limit`` when more match."""

    def events(
        self,
        *,
        type: str | None = None,
        agent: str | None = None,
        trace_id: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> builtins.list[dict[str, Any]]:
        """Stored events newest first, each with its ``received_at``."""

    def prune(self, now: float, *, cancel: threading.Event | None = None) -> Pruned:
        """Drop what the retention bounds no longer allow; return what was dropped."""

    def stats(self) -> StoreStats:
        """What the store holds."""

    def used_bytes(self) -> int:
        """The bytes ``max_bytes`` bounds."""
