"""The trace store: traces, decision records and plain events in one bounded SQLite file.

Example::

    store = TraceStore("data/traces.sqlite", max_bytes=64 * MiB)
    store.put(trace, now=time.time())
    store.put_decisions([record], now=time.time())
    for s in store.list(status="error", limit=10):
        print(s.trace_id, s.agent)
    store.decisions(workflow_id="wf-001")        # the decision chain, oldest first
    store.prune(now=time.time())
"""

from __future__ import annotations

import builtins
import contextlib
import sqlite3
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from sloguard.analysis.decisionrecord import DecisionRecord
from sloguard.errors import InvalidRecord
from sloguard.sdk.redact import Redactor
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore import queries
from sloguard.tracestore.database import SCHEMA_VERSION, Database
from sloguard.tracestore.footprint import (
    MIN_FREE_BYTES,
    StoreStats,
    free_bytes,
    read_stats,
    space_budget,
    space_problem,
    within_headroom,
)
from sloguard.tracestore.footprint import file_bytes as _file_bytes
from sloguard.tracestore.model import (
    Status,
    TraceSummary,
    agent_rows,
    checked_limit,
    checked_now,
    decode_body,
    encode_body,
    not_traces,
    summarize,
)
from sloguard.tracestore.records import (
    DECISION_COLUMNS,
    decision_of_row,
    decision_rows,
    event_of_row,
    event_rows,
    micros_of_seconds,
)
from sloguard.tracestore.retention import MiB, Pruned, Retention, prune
from sloguard.tracestore.storehealth import StorageFailure, StoreHealth

#: The free-space helpers live in :mod:`sloguard.tracestore.footprint`; kept importable here.
__all__ = [
    "MIN_FREE_BYTES",
    "SqliteTraceStore",
    "StoreStats",
    "TraceStore",
    "free_bytes",
    "space_budget",
]

#: Ids per ``IN (…)`` list (SQLite allows 32 766 parameters per statement).
_IN_LIMIT = 500


def _summary(row: Sequence[Any]) -> TraceSummary:
    trace_id, started_at, agent, status, steps, cost = row
    return TraceSummary(trace_id, started_at, agent, status, steps, cost)


_limit = checked_limit
_now = checked_now


class SqliteTraceStore:
    """Traces, decisions and events in SQLite (WAL), bounded by :meth:`prune`; implements the
    :class:`~sloguard.tracestore.base.TraceStore` protocol (the default store).

    One connection is shared by threads under a lock. ``max_*`` bound what :meth:`prune` keeps
    (see :mod:`sloguard.tracestore.retention`); ``on_full``, when set, is called (from the
    writing thread) after a write leaves the file past the point where pruning starts, so a
    pruner can run before the next interval (:class:`~sloguard.tracestore.pruner.TracePruner`
    sets it).

    Free disk space: a write is refused (:class:`StorageFailure`, operation ``free_space``)
    while the file system of the store has less than ``min_free_bytes`` free (``free_bytes(path)``
    tells, injectable for tests; 0 turns the rule off), and :meth:`prune` keeps the store within
    the headroom above it (:func:`space_budget`).
    A write SQLite fails (disk full, I/O error) raises :class:`StorageFailure` too. Both are
    reported to :attr:`health` (counted through ``on_failure(store, operation)``, logged once
    per change, a reason for ``/readyz``); :meth:`check` (the pruner runs it after each pass)
    finds out when writing works again.

    Example::

        store = SqliteTraceStore(tmp_path / "traces.sqlite", max_age_seconds=3600)
        store.put(trace, now=1_700_000_000.0)
        store.get(trace.trace_id)
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        max_age_seconds: float = 7 * 86400,
        max_steps: int = 1_000_000,
        max_decisions: int = 1_000_000,
        max_events: int = 1_000_000,
        max_bytes: int = 512 * MiB,
        redactor: Redactor | None = None,
        min_free_bytes: int = MIN_FREE_BYTES,
        free_bytes: Callable[[str], int | None] = free_bytes,
        on_failure: Callable[[str, str], None] | None = None,
    ) -> None:
        if min_free_bytes < 0:
            raise ValueError(f"min_free_bytes must be >= 0, got {min_free_bytes!r}")
        self.min_free_bytes = min_free_bytes
        self._free_bytes = free_bytes
        #: Failures of this store's writes and pruning (``store="traces"``).
        self.health = StoreHealth("traces", on_failure=on_failure)
        self.retention = Retention(
            max_age_seconds=max_age_seconds,
            max_steps=max_steps,
            max_decisions=max_decisions,
            max_events=max_events,
            max_bytes=max_bytes,
        )
        self.path = str(path)
        self._redactor = redactor or Redactor()
        self._db = Database(path, wal_bytes=self.retention.wal_bytes)
        self.on_full: Callable[[], None] | None = None

    # --- retention settings (kept as attributes for callers of the first version) -------------
    @property
    def max_age_seconds(self) -> float:
        """Seconds a trace, decision or event is kept after it was stored."""
        return self.retention.max_age_seconds

    @property
    def max_steps(self) -> int:
        """Steps kept in all (the oldest traces go first)."""
        return self.retention.max_steps

    def close(self) -> None:
        """Close the database."""
        self._db.close()

    # --- writing ------------------------------------------------------------------------------
    def _space_problem(self) -> str | None:
        """Why a write is refused for lack of free space, or None."""
        if self.min_free_bytes <= 0:
            return None
        return space_problem(self._free_bytes(self.path), self.min_free_bytes)

    @contextlib.contextmanager
    def _writing(self, now: float) -> Iterator[sqlite3.Connection]:
        """A write transaction, refused below the free-space minimum; failures reported."""
        problem = self._space_problem()
        if problem is not None:
            self.health.failed("free_space", problem, now)
            if self.on_full is not None:
                self.on_full()  # prune now: the shortfall is taken from the store
            raise StorageFailure(f"trace store: {problem}")
        try:
            with self._db.transaction() as c:
                yield c
        except (sqlite3.OperationalError, sqlite3.InternalError) as exc:
            self.health.failed("write", f"{type(exc).__name__}: {exc}", now)
            raise StorageFailure(f"trace store: cannot write: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if type(exc) is not sqlite3.DatabaseError:  # integrity, data: not the storage
                raise
            self.health.failed("write", f"{type(exc).__name__}: {exc}", now)
            raise StorageFailure(f"trace store: cannot write: {exc}") from exc
        self.health.succeeded(("write", "free_space"), now)

    def check(self, now: float) -> bool:
        """Probe whether writing works (free space, then a one-page write); return whether.

        A success clears the write failures of :attr:`health`; a failure is not counted again.
        """
        if self._space_problem() is not None:
            return False
        try:
            with self._db.transaction() as c:
                c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")  # rewrites page 1
        except sqlite3.Error:
            return False
        self.health.succeeded(("write", "free_space"), now)
        return True

    def put(self, trace: ResponseTrace, now: float) -> TraceSummary:
        """Store ``trace`` (redacted), replacing one with the same id; return its summary."""
        return self.put_traces([trace], now)[0]

    def put_traces(self, traces: Sequence[ResponseTrace], now: float) -> list[TraceSummary]:
        """Store ``traces`` in one transaction (a later one replaces an earlier one with the
        same id); return their summaries. Raise :class:`~sloguard.errors.InvalidRecord`, storing
        nothing, when an item is not a :class:`ResponseTrace`."""
        stored_at = _now(now)
        bad = not_traces(traces)
        if bad:
            raise InvalidRecord("; ".join(bad))
        if not traces:
            return []
        # Encoding (the costly part) happens before taking the lock.
        prepared: dict[str, tuple[TraceSummary, bytes, builtins.list[tuple[str, bool]]]] = {}
        for t in traces:
            prepared.pop(t.trace_id, None)  # the last one of an id wins
            prepared[t.trace_id] = (summarize(t), encode_body(t, self._redactor), agent_rows(t))
        ids = list(prepared)
        with self._writing(stored_at) as c:
            for i in range(0, len(ids), _IN_LIMIT):  # replaced traces go first
                chunk = ids[i : i + _IN_LIMIT]
                marks = ",".join("?" * len(chunk))
                sql = f"SELECT seq FROM traces WHERE trace_id IN ({marks})"
                old = [r[0] for r in c.execute(sql, chunk)]
                if old:
                    seq_marks = ",".join("?" * len(old))
                    for table in ("trace_agents", "trace_bodies", "traces"):
                        c.execute(f"DELETE FROM {table} WHERE seq IN ({seq_marks})", old)
            (top,) = c.execute("SELECT COALESCE(MAX(seq), 0) FROM traces").fetchone()
            trace_rows, bodies, agents = [], [], []
            for seq, (s, body, rows) in enumerate(prepared.values(), start=top + 1):
                trace_rows.append(
                    (seq, s.trace_id, s.started_at, stored_at, s.agent, s.status, s.steps, s.cost)
                )
                bodies.append((seq, body))
                agents += [(agent, s.started_at, seq, failed) for agent, failed in rows]
            c.executemany(queries.INSERT_TRACE, trace_rows)
            c.executemany(queries.INSERT_BODY, bodies)
            c.executemany(queries.INSERT_AGENT, agents)
        self._check_full()
        return [s for s, _, _ in prepared.values()]

    def put_decisions(self, records: Sequence[DecisionRecord], now: float) -> None:
        """Store decision records in one transaction (long texts clipped, see
        :mod:`sloguard.tracestore.records`); raise :class:`~sloguard.errors.InvalidRecord`
        naming every item that is not a :class:`DecisionRecord`, storing nothing."""
        rows = decision_rows(records, _now(now))
        if rows:
            with self._writing(now) as c:
                c.executemany(queries.INSERT_DECISION, rows)
            self._check_full()

    def put_events(self, events: Sequence[Mapping[str, Any]], now: float) -> None:
        """Store plain events (as posted to ``/v1/events``) in one transaction, redacted; raise
        :class:`~sloguard.errors.InvalidRecord` naming every bad event, storing nothing."""
        rows = event_rows(events, _now(now), self._redactor)
        if rows:
            with self._writing(now) as c:
                c.executemany(queries.INSERT_EVENT, rows)
            self._check_full()

    def _check_full(self) -> None:
        if self.on_full is not None and self._db.file_pages_bytes() > self.retention.high_water:
            self.on_full()

    # --- reading ------------------------------------------------------------------------------
    def get(self, trace_id: str) -> ResponseTrace | None:
        """Return the stored trace, or ``None`` when there is none with this id."""
        rows = self._db.read(queries.BODY_BY_ID, (trace_id,))
        return decode_body(rows[0][0]) if rows else None

    def summary(self, trace_id: str) -> TraceSummary | None:
        """Return the summary of a stored trace, or ``None``."""
        rows = self._db.read(queries.SUMMARY_BY_ID, (trace_id,))
        return _summary(rows[0]) if rows else None

    def list(
        self,
        *,
        agent: str | None = None,
        status: Status | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 50,
    ) -> builtins.list[TraceSummary]:
        """Return the newest traces first, filtered.

        ``agent``: traces where that agent ran (or a tool ran inside it); ``since`` / ``until``:
        unix seconds bounding the trace's start (inclusive, exclusive).
        """
        sql, args = queries.list_traces(
            agent=agent, status=status, since=since, until=until, limit=_limit(limit)
        )
        return [_summary(r) for r in self._db.read(sql, args)]

    def failing(self, agent: str | None = None, limit: int = 3) -> builtins.list[TraceSummary]:
        """Return the newest failed traces; with ``agent``, those where that agent's work failed."""
        if agent is None:
            return self.list(status="error", limit=limit)
        sql, args = queries.failing(agent, _limit(limit))
        return [_summary(r) for r in self._db.read(sql, args)]

    def successful(self, limit: int = 200) -> builtins.list[ResponseTrace]:
        """Return the newest successful traces (baselines for a failed run)."""
        rows = self._db.read(queries.SUCCESSFUL, (_limit(limit),))
        return [decode_body(r[0]) for r in rows]

    def decisions(
        self,
        *,
        workflow_id: str | None = None,
        agent: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> builtins.list[DecisionRecord]:
        """Return decision records oldest first (a decision chain); the newest ``limit`` when
        more match. ``since`` / ``until``: unix seconds bounding the decision's timestamp
        (inclusive, exclusive)."""
        sql, args = queries.decisions(
            columns=DECISION_COLUMNS,
            workflow_id=workflow_id,
            agent=agent,
            since_us=None if since is None else micros_of_seconds(since),
            until_us=None if until is None else micros_of_seconds(until),
            limit=_limit(limit),
        )
        rows = self._db.read(sql, args)
        return [decision_of_row(r) for r in reversed(rows)]

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
        """Return stored events newest first, each with its ``received_at`` (unix seconds).

        ``agent`` matches an event's ``agent`` (``source_agent`` for handoffs); ``since`` /
        ``until`` bound the time received (inclusive, exclusive).
        """
        sql, args = queries.events(
            type=type,
            agent=agent,
            trace_id=trace_id,
            since=since,
            until=until,
            limit=_limit(limit),
        )
        return [event_of_row(body, received_at) for received_at, body in self._db.read(sql, args)]

    # --- retention ----------------------------------------------------------------------------
    def prune(self, now: float, *, cancel: threading.Event | None = None) -> Pruned:
        """Drop what the retention bounds no longer allow (see
        :mod:`sloguard.tracestore.retention`); return what was dropped. Runs in short
        transactions, so it may run in a thread beside writers; stops early when ``cancel``
        is set. The byte bound shrinks to the disk's headroom above ``min_free_bytes``
        (:func:`space_budget`). A failure is reported to :attr:`health` and raised."""
        at = _now(now)
        retention = self.retention
        if self.min_free_bytes > 0:
            used, free = self.used_bytes(), self._free_bytes(self.path)
            retention = within_headroom(retention, used, free, self.min_free_bytes)
        try:
            result = prune(self._db, retention, at, cancel)
        except sqlite3.Error as exc:
            self.health.failed("prune", f"{type(exc).__name__}: {exc}", at)
            raise
        self.health.succeeded(("prune",), at)
        return result

    def stats(self) -> StoreStats:
        """Return what the store holds (counts the decision and event rows: a scan of an index,
        tens of milliseconds at a million rows)."""
        return read_stats(self._db, self.path)

    def used_bytes(self) -> int:
        """Return the bytes of the database pages in use (what ``max_bytes`` bounds)."""
        return self._db.used_bytes()

    def file_bytes(self) -> int:
        """Return the bytes the store takes on disk: the database file and its write-ahead log."""
        return _file_bytes(self.path)

    @property
    def auto_vacuum(self) -> str:
        """``incremental`` when retention can shrink the file (see
        :mod:`sloguard.tracestore.database`), else ``none`` or ``full``."""
        return self._db.auto_vacuum


#: The first name, for callers that build it (annotations want ``tracestore.base.TraceStore``).
TraceStore = SqliteTraceStore
