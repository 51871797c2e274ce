"""The trace store on the shared PostgreSQL database (``storage.url``): every sidecar writes its
traces there and every replica reads them, so an alert's failing-trace links and the page show
traces ingested anywhere.

Same contract as the SQLite file (:class:`~sloguard.tracestore.base.TraceStore`, one suite in
``tests/contract/``); the schema is the ``traces`` component, migrated at start
(:mod:`sloguard.tracestore.pgqueries`, :mod:`sloguard.postgres.migrations`); retention is
:mod:`sloguard.tracestore.pgretention` (no free-space rule: the database owns its disk).

Two writers storing the same trace id at once: each transaction deletes the old rows and
inserts its own; the one that loses the race on the unique id retries, so the last to commit
wins, as in SQLite. Text columns cannot hold NUL characters in PostgreSQL: in decision texts
and event index columns a NUL is stored as U+FFFD (bodies are bytes and keep it).

Example::

    store = open_pg_trace_store("postgresql://sloguard@db:5432/sloguard", max_age_seconds=86400)
    store.put(trace, now=time.time())
    store.failing(agent="planner", limit=3)
"""

from __future__ import annotations

import builtins
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import errors as pgerrors
from psycopg_pool import PoolTimeout

from sloguard.analysis.decisionrecord import DecisionRecord
from sloguard.errors import InvalidRecord
from sloguard.postgres.migrations import Component, Migration
from sloguard.postgres.pool import Conn, Postgres, connect, one_line
from sloguard.sdk.redact import Redactor
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore import pgqueries as q
from sloguard.tracestore import pgretention
from sloguard.tracestore.footprint import StoreStats
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
from sloguard.tracestore.retention import PRUNE_AT, MiB, Pruned, Retention
from sloguard.tracestore.storehealth import StorageFailure, StoreHealth

__all__ = ["TRACES", "PgTraceStore", "open_pg_trace_store"]

#: The trace store's part of the shared schema.
TRACES = Component("traces", tuple(Migration(i + 1, sql) for i, sql in enumerate(q.MIGRATIONS)))

_RETRIES = 3
_DOWN = (psycopg.OperationalError, psycopg.InterfaceError, PoolTimeout)


def _summary(row: Sequence[Any]) -> TraceSummary:
    trace_id, started_at, agent, status, steps, cost = row
    return TraceSummary(trace_id, started_at, agent, status, steps, cost)


class PgTraceStore:
    """Traces, decisions and events in PostgreSQL, bounded by :meth:`prune` (see the module
    docstring). Thread-safe: each call takes a connection of the pool. ``db`` may be shared with
    other stores (each migrates its own component: ``db.migrate(TRACES)``); ``owns_db``: close
    it with the store.

    Example::

        store = PgTraceStore(connect(url, components=[TRACES]), max_bytes=64 * MiB)
    """

    def __init__(
        self,
        db: Postgres,
        *,
        max_age_seconds: float = 7 * 86400,
        max_steps: int = 1_000_000,
        max_decisions: int = 1_000_000,
        max_events: int = 1_000_000,
        max_bytes: int = 512 * MiB,
        redactor: Redactor | None = None,
        on_failure: Callable[[str, str], None] | None = None,
        owns_db: bool = False,
    ) -> None:
        self._db = db
        self._owns_db = owns_db
        self.path = db.where
        self.health = StoreHealth("traces", on_failure=on_failure)
        self.retention = Retention(
            max_age_seconds=max_age_seconds,
            max_steps=max_steps,
            max_decisions=max_decisions,
            max_events=max_events,
            max_bytes=max_bytes,
        )
        self._redactor = redactor or Redactor()
        self.on_full: Callable[[], None] | None = None
        self._lock = threading.Lock()
        self._used = pgretention.used_bytes(db)  # an estimate between prune passes

    def close(self) -> None:
        """Close the pool when this store opened it (a pool shared by stores stays open)."""
        if self._owns_db:
            self._db.close()

    # --- writing ------------------------------------------------------------------------------
    @contextmanager
    def _writing(self, now: float) -> Iterator[Conn]:
        try:
            with self._db.connection() as conn, conn.transaction():
                yield conn
        except _DOWN as exc:
            self.health.failed("write", f"{type(exc).__name__}: {one_line(exc)}", now)
            raise StorageFailure(f"trace store: cannot write: {one_line(exc)}") from exc
        except psycopg.DataError as exc:
            raise InvalidRecord(f"cannot store: {one_line(exc)}") from exc
        self.health.succeeded(("write",), now)

    def _wrote(self, n: int) -> None:
        with self._lock:
            self._used += n
            full = self._used > self.retention.max_bytes * PRUNE_AT
        if full and self.on_full is not None:
            self.on_full()

    def check(self, now: float) -> bool:
        """Probe whether writing works (a transaction that takes a transaction id); return
        whether. A success clears the write failures of :attr:`health`."""
        try:
            with self._db.connection() as conn, conn.transaction():
                conn.execute("SELECT pg_current_xact_id()")
        except (psycopg.Error, PoolTimeout):
            return False
        self.health.succeeded(("write",), now)
        return True

    def put(self, trace: ResponseTrace, now: float) -> TraceSummary:
        """Store ``trace`` (redacted), replacing one with the same id; return its summary."""
        return self.put_traces([trace], now)[0]

    def put_traces(self, traces: Sequence[ResponseTrace], now: float) -> list[TraceSummary]:
        """Store ``traces`` in one transaction (the last of an id wins); return their summaries.
        Raise :class:`~sloguard.errors.InvalidRecord`, storing nothing, for an item that is not
        a :class:`ResponseTrace`."""
        stored_at = checked_now(now)
        bad = not_traces(traces)
        if bad:
            raise InvalidRecord("; ".join(bad))
        if not traces:
            return []
        prepared: dict[str, tuple[TraceSummary, bytes, builtins.list[tuple[str, bool]]]] = {}
        for t in traces:
            prepared.pop(t.trace_id, None)
            prepared[t.trace_id] = (summarize(t), encode_body(t, self._redactor), agent_rows(t))
        rows = [
            (s.trace_id, s.started_at, stored_at, s.agent, s.status, s.steps, s.cost, body,
             q.ROW_OVERHEAD * (1 + len(agents)) + len(body))
            for s, body, agents in prepared.values()
        ]  # fmt: skip
        for attempt in range(_RETRIES):
            try:
                self._insert_traces(rows, prepared, stored_at)
                break
            except pgerrors.UniqueViolation:  # another writer stored one of these ids just now
                if attempt == _RETRIES - 1:
                    raise
        self._wrote(sum(r[-1] for r in rows))
        return [s for s, _, _ in prepared.values()]

    def _insert_traces(
        self,
        rows: builtins.list[tuple[Any, ...]],
        prepared: Mapping[str, tuple[TraceSummary, bytes, builtins.list[tuple[str, bool]]]],
        stored_at: float,
    ) -> None:
        with self._writing(stored_at) as conn:
            conn.execute("DELETE FROM traces WHERE trace_id = ANY(%s)", (list(prepared),))
            seqs = [
                int(r[0])
                for r in conn.execute(
                    "SELECT nextval(pg_get_serial_sequence('traces', 'seq'))"
                    " FROM generate_series(1, %s)",
                    (len(rows),),
                )
            ]
            with conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO traces (seq, trace_id, started_at, stored_at, agent, status,"
                    " steps, cost, body, bytes) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
                    [(seq, *row) for seq, row in zip(seqs, rows, strict=True)],
                )
                agents = [
                    (agent, s.started_at, seq, failed)
                    for seq, (s, _, names) in zip(seqs, prepared.values(), strict=True)
                    for agent, failed in names
                ]
                if agents:
                    cur.executemany(q.INSERT_AGENT, agents)

    def put_decisions(self, records: Sequence[DecisionRecord], now: float) -> None:
        """Store decision records in one transaction (long texts clipped); raise
        :class:`~sloguard.errors.InvalidRecord` naming every item that is not a
        :class:`DecisionRecord`, storing nothing."""
        rows = [tuple(q.no_nul(v) for v in r) for r in decision_rows(records, checked_now(now))]
        if rows:
            sized = [(*r, q.row_bytes(r)) for r in rows]
            with self._writing(now) as conn, conn.cursor() as cur:
                cur.executemany(q.INSERT_DECISION, sized)
            self._wrote(sum(r[-1] for r in sized))

    def put_events(self, events: Sequence[Mapping[str, Any]], now: float) -> None:
        """Store plain events in one transaction, redacted; raise
        :class:`~sloguard.errors.InvalidRecord` naming every bad event, storing nothing."""
        events_in = event_rows(events, checked_now(now), self._redactor)
        rows = [tuple(q.no_nul(v) for v in r) for r in events_in]
        if rows:
            sized = [(*r, q.row_bytes(r)) for r in rows]
            with self._writing(now) as conn, conn.cursor() as cur:
                cur.executemany(q.INSERT_EVENT, sized)
            self._wrote(sum(r[-1] for r in sized))

    # --- reading ------------------------------------------------------------------------------
    def _read(self, sql: str, args: Sequence[Any]) -> builtins.list[tuple[Any, ...]]:
        try:
            with self._db.connection() as conn:
                return conn.execute(sql, args).fetchall()
        except _DOWN as exc:
            raise StorageFailure(f"trace store: cannot read: {one_line(exc)}") from exc

    def get(self, trace_id: str) -> ResponseTrace | None:
        """Return the stored trace, or ``None`` when there is none with this id."""
        rows = self._read(q.BODY_BY_ID, (trace_id,))
        return decode_body(bytes(rows[0][0])) if rows else None

    def summary(self, trace_id: str) -> TraceSummary | None:
        """Return the summary of a stored trace, or ``None``."""
        rows = self._read(q.SUMMARY_BY_ID, (trace_id,))
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
        """Return the newest traces first, filtered (as :meth:`SqliteTraceStore.list`)."""
        sql, args = q.list_traces(
            agent=agent, status=status, since=since, until=until, limit=checked_limit(limit)
        )
        return [_summary(r) for r in self._read(sql, args)]

    def failing(self, agent: str | None = None, limit: int = 3) -> builtins.list[TraceSummary]:
        """Return the newest failed traces; with ``agent``, those where that agent's work failed."""
        if agent is None:
            return self.list(status="error", limit=limit)
        sql, args = q.failing(agent, checked_limit(limit))
        return [_summary(r) for r in self._read(sql, args)]

    def successful(self, limit: int = 200) -> builtins.list[ResponseTrace]:
        """Return the newest successful traces (baselines for a failed run)."""
        rows = self._read(q.SUCCESSFUL, (checked_limit(limit),))
        return [decode_body(bytes(r[0])) for r in rows]

    def decisions(
        self,
        *,
        workflow_id: str | None = None,
        agent: str | None = None,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
    ) -> builtins.list[DecisionRecord]:
        """Return decision records oldest first; the newest ``limit`` when more match."""
        sql, args = q.decisions(
            columns=DECISION_COLUMNS,
            workflow_id=workflow_id,
            agent=agent,
            since_us=None if since is None else micros_of_seconds(since),
            until_us=None if until is None else micros_of_seconds(until),
            limit=checked_limit(limit),
        )
        rows = self._read(sql, args)
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
        """Return stored events newest first, each with its ``received_at`` (unix seconds)."""
        sql, args = q.events(
            type=type,
            agent=agent,
            trace_id=trace_id,
            since=since,
            until=until,
            limit=checked_limit(limit),
        )
        return [event_of_row(bytes(body), at) for at, body in self._read(sql, args)]

    # --- retention ----------------------------------------------------------------------------
    def prune(self, now: float, *, cancel: threading.Event | None = None) -> Pruned:
        """Drop what the retention bounds no longer allow (:mod:`~.pgretention`); return what
        was dropped. A failure is reported to :attr:`health` and raised as
        :class:`StorageFailure`."""
        at = checked_now(now)
        try:
            result = pgretention.prune(self._db, self.retention, at, cancel)
        except (psycopg.Error, PoolTimeout) as exc:
            self.health.failed("prune", f"{type(exc).__name__}: {one_line(exc)}", at)
            raise StorageFailure(f"trace store: cannot prune: {one_line(exc)}") from exc
        self.health.succeeded(("prune",), at)
        with self._lock:
            self._used = result.bytes_after
        return result

    def stats(self) -> StoreStats:
        """Return what the store holds; ``file_bytes`` is the tables' and indexes' size on the
        server (``pg_total_relation_size``)."""
        rows = self._read(
            "SELECT COUNT(*), COALESCE(SUM(steps), 0), MIN(stored_at), MAX(stored_at),"
            " (SELECT COUNT(*) FROM decisions), (SELECT COUNT(*) FROM events),"
            " pg_total_relation_size('traces') + pg_total_relation_size('trace_agents')"
            " + pg_total_relation_size('decisions') + pg_total_relation_size('events')"
            " FROM traces",
            (),
        )
        traces, steps, oldest, newest, decisions, events, on_disk = rows[0]
        return StoreStats(
            traces=int(traces),
            steps=int(steps),
            decisions=int(decisions),
            events=int(events),
            oldest_stored_at=oldest,
            newest_stored_at=newest,
            used_bytes=self.used_bytes(),
            file_bytes=int(on_disk),
        )

    def used_bytes(self) -> int:
        """Return the logical bytes the store holds (what ``max_bytes`` bounds)."""
        try:
            return pgretention.used_bytes(self._db)
        except _DOWN as exc:
            raise StorageFailure(f"trace store: cannot read: {one_line(exc)}") from exc


def open_pg_trace_store(
    url: str,
    *,
    password: str | None = None,
    pool_size: int = 8,
    timeout: float = 10.0,
    **bounds: Any,
) -> PgTraceStore:
    """Connect to ``url``, migrate the ``traces`` component and return the store (``bounds``:
    the keyword arguments of :class:`PgTraceStore`). Raise
    :class:`~sloguard.errors.ConfigError` when the database cannot be used (see
    :func:`sloguard.postgres.pool.connect`)."""
    db = connect(url, password=password, components=[TRACES], max_size=pool_size, timeout=timeout)
    try:
        return PgTraceStore(db, owns_db=True, **bounds)
    except BaseException:
        db.close()
        raise
