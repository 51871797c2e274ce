"""Retention of the PostgreSQL trace store: by age, by count and by bytes, as in SQLite.

One :func:`prune` pass, in the order of :mod:`sloguard.tracestore.retention`:

1. **age** — traces, decisions and events stored more than ``max_age_seconds`` ago go;
2. **counts** — the oldest traces go until at most ``max_steps`` steps remain (one window query
   finds the cut); decisions and events keep their newest ``max_decisions`` / ``max_events``
   ids;
3. **bytes** — ``max_bytes`` bounds the *logical* bytes: the sum of every row's ``bytes``
   column (its compressed body or texts plus a fixed overhead per row). Above
   :data:`~sloguard.tracestore.retention.PRUNE_AT` of it the oldest share of every table goes
   until the sum is below :data:`~sloguard.tracestore.retention.PRUNE_TO`. The relations on
   disk (``pg_total_relation_size``, shown by ``stats().file_bytes``) are larger by their
   indexes and free space, and shrink only when PostgreSQL's (auto)vacuum reclaims it: sizing
   the database's disk is the database's business.

The disk's free space is not watched (``traces.min_free_bytes`` applies to the SQLite file on
the data dir only): the database server owns its disk. Deletes run in chunks of :data:`CHUNK`
rows, each its own transaction, so several replicas may prune at once (a row already gone is
simply not deleted twice).

Example::

    result = prune(db, Retention(max_age_seconds=86400), now=time.time())
"""

from __future__ import annotations

import threading
from typing import Any

from sloguard.postgres.pool import Postgres
from sloguard.tracestore.retention import PRUNE_AT, PRUNE_TO, Pruned, Retention, shed_oldest

__all__ = ["CHUNK", "prune", "used_bytes"]

#: Rows deleted per transaction.
CHUNK = 500

_USED = (
    "SELECT (SELECT COALESCE(SUM(bytes), 0) FROM traces)"
    " + (SELECT COALESCE(SUM(bytes), 0) FROM decisions)"
    " + (SELECT COALESCE(SUM(bytes), 0) FROM events)"
)


def used_bytes(db: Postgres) -> int:
    """The logical bytes the store holds (what ``max_bytes`` bounds)."""
    with db.connection() as conn:
        row = conn.execute(_USED).fetchone()
    return int(row[0]) if row else 0


class _Pass:
    def __init__(self, db: Postgres, cancel: threading.Event | None) -> None:
        self.db = db
        self.cancel = cancel
        self.result = Pruned()

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def drop_traces(self, where: str, args: list[Any], reason: str) -> int:
        dropped = 0
        sql = (
            f"DELETE FROM traces WHERE seq IN (SELECT seq FROM traces WHERE {where}"
            " ORDER BY seq LIMIT %s) RETURNING steps"
        )
        while not self.cancelled:
            with self.db.connection() as conn, conn.transaction():
                steps = [int(r[0]) for r in conn.execute(sql, (*args, CHUNK)).fetchall()]
            dropped += len(steps)
            self.result.traces += len(steps)
            self.result.steps += sum(steps)
            if len(steps) < CHUNK:
                break
        self._count(reason, dropped)
        return dropped

    def drop_rows(self, table: str, where: str, args: list[Any], reason: str) -> int:
        dropped = 0
        sql = (
            f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where}"
            " ORDER BY id LIMIT %s)"
        )
        while not self.cancelled:
            with self.db.connection() as conn, conn.transaction():
                n = conn.execute(sql, (*args, CHUNK)).rowcount
            dropped += n
            if n < CHUNK:
                break
        if table == "decisions":
            self.result.decisions += dropped
        else:
            self.result.events += dropped
        self._count(reason, dropped)
        return dropped

    def _count(self, reason: str, n: int) -> None:
        if n:
            self.result.reasons[reason] = self.result.reasons.get(reason, 0) + n

    def one(self, sql: str, args: tuple[Any, ...] = ()) -> tuple[Any, ...] | None:
        with self.db.connection() as conn:
            return conn.execute(sql, args).fetchone()

    def id_range(self, table: str) -> tuple[int, int] | None:
        key = "seq" if table == "traces" else "id"
        row = self.one(f"SELECT MIN({key}), MAX({key}) FROM {table}")
        return None if row is None or row[0] is None else (int(row[0]), int(row[1]))


def prune(
    db: Postgres, retention: Retention, now: float, cancel: threading.Event | None = None
) -> Pruned:
    """Run one retention pass (see the module docstring); stop early when ``cancel`` is set."""
    p = _Pass(db, cancel)
    p.result.bytes_before = used_bytes(db)
    cutoff = now - retention.max_age_seconds
    p.drop_traces("stored_at < %s", [cutoff], "age")
    p.drop_rows("decisions", "stored_at < %s", [cutoff], "age")
    p.drop_rows("events", "received_at < %s", [cutoff], "age")
    cut = p.one(
        "SELECT seq FROM (SELECT seq, SUM(steps) OVER (ORDER BY seq DESC) AS kept FROM traces) s"
        " WHERE kept > %s ORDER BY seq DESC LIMIT 1",
        (retention.max_steps,),
    )
    if cut is not None:
        p.drop_traces("seq <= %s", [cut[0]], "steps")
    for table, limit in (("decisions", retention.max_decisions), ("events", retention.max_events)):
        span = p.id_range(table)
        if span is not None and span[1] - limit >= span[0]:
            p.drop_rows(table, "id <= %s", [span[1] - limit], table)
    _by_bytes(p, retention.max_bytes)
    p.result.bytes_after = used_bytes(db)
    return p.result


def _by_bytes(p: _Pass, max_bytes: int) -> None:
    if used_bytes(p.db) <= max_bytes * PRUNE_AT:
        return

    def drop(table: str, cut: int) -> int:
        if table == "traces":
            return p.drop_traces("seq <= %s", [cut], "bytes")
        return p.drop_rows(table, "id <= %s", [cut], "bytes")

    shed_oldest(
        lambda: used_bytes(p.db), max_bytes * PRUNE_TO, lambda: p.cancelled, p.id_range, drop
    )
