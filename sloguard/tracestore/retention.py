"""Retention of the trace store: by age, by count (steps, decisions, events) and by bytes.

One :func:`prune` pass, in this order:

1. **age** — traces, decisions and events stored more than ``max_age_seconds`` ago go;
2. **counts** — the oldest traces go until at most ``max_steps`` steps remain; decisions and
   events keep their newest ``max_decisions`` / ``max_events`` rows;
3. **bytes** — ``max_bytes`` bounds the database file *and* its write-ahead log. The log gets
   :attr:`Retention.wal_bytes` (a 16th of ``max_bytes``, 64 KiB to 4 MiB: it is checkpointed at
   that size and truncated back to it), twice over for the transaction that passes it; the
   database pages get the rest, :attr:`Retention.db_bytes`. When the pages in use pass
   :data:`PRUNE_AT` of that, the oldest share of every table goes (the same share of each, so a
   flood of one kind does not wipe out the others) until they are below :data:`PRUNE_TO`; the
   space between the two is what new data can fill before the pass gets there (the store wakes
   its pruner as soon as a write crosses :data:`PRUNE_AT`);
4. freed pages go back to the file system (``PRAGMA incremental_vacuum``) and the log is
   checkpointed into the file and truncated.

"Oldest" is the order of storing. Deletes run in chunks, each its own short transaction, so
ingest is never held up by more than one chunk, and a chunk's changes fit in the log's share
(:attr:`Retention.chunk` rows, at most :data:`CHUNK`). Every step walks an index or the primary
key, so a pass costs in proportion to what it drops plus one scan of the narrow ``traces`` table
for the step total. One write transaction larger than the log's share (a very large ingest batch
into a very small store) still grows the log for a moment; it is truncated at the next
checkpoint.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sloguard.tracestore.database import Database
from sloguard.tracestore.model import overflow

MiB = 1024 * 1024
#: A bytes pass starts above this share of ``max_bytes``…
PRUNE_AT = 0.9
#: …and frees down to this share.
PRUNE_TO = 0.8
#: The most rows deleted per transaction (traces: half of it, with bodies and agent rows).
CHUNK = 1000
_WAL_MIN = 64 * 1024
_WAL_MAX = 4 * MiB
#: Bytes passes before giving up for this round (each frees the share still missing).
_ROUNDS = 8


@dataclass(frozen=True, slots=True)
class Retention:
    """How much the trace store keeps; every bound must be positive.

    Example::

        Retention(max_age_seconds=86400, max_bytes=64 * MiB)
    """

    max_age_seconds: float = 7 * 86400.0
    max_steps: int = 1_000_000
    max_decisions: int = 1_000_000
    max_events: int = 1_000_000
    max_bytes: int = 512 * MiB
    #: A cap on the database pages' share, set for one pass by the free-space rule
    #: (:func:`sloguard.tracestore.footprint.space_budget`); None: ``max_bytes`` alone decides.
    space_limit: int | None = None

    def __post_init__(self) -> None:
        problems = [
            f"{name} must be > 0, got {value!r}"
            for name, value in (
                ("max_age_seconds", self.max_age_seconds),
                ("max_steps", self.max_steps),
                ("max_decisions", self.max_decisions),
                ("max_events", self.max_events),
                ("max_bytes", self.max_bytes),
            )
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0)
        ]
        if self.space_limit is not None and self.space_limit < 0:
            problems.append(f"space_limit must be >= 0, got {self.space_limit!r}")
        if problems:
            raise ValueError("invalid retention: " + "; ".join(problems))

    @property
    def wal_bytes(self) -> int:
        """The write-ahead log's share of ``max_bytes``: its checkpoint and truncation size."""
        return max(_WAL_MIN, min(_WAL_MAX, self.max_bytes // 16))

    @property
    def db_bytes(self) -> int:
        """The database pages' share of ``max_bytes`` (the log's share taken twice), at most
        ``space_limit``."""
        share = max(0, self.max_bytes - 2 * self.wal_bytes)
        return share if self.space_limit is None else min(share, self.space_limit)

    @property
    def high_water(self) -> int:
        """Bytes of database pages above which a bytes pass starts."""
        return int(self.db_bytes * PRUNE_AT)

    @property
    def chunk(self) -> int:
        """Rows deleted per transaction: a transaction's changed pages fit in the log's share
        (a row of a table indexed by a random key, ids or workflows, changes about a page)."""
        return max(8, min(CHUNK, self.wal_bytes // 8192))


@dataclass(slots=True)
class Pruned:
    """What one :func:`prune` pass dropped, and the bytes in use before and after it."""

    traces: int = 0
    steps: int = 0
    decisions: int = 0
    events: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    reasons: dict[str, int] = field(default_factory=dict)
    """Rows dropped per reason (``age``, ``steps``, ``decisions``, ``events``, ``bytes``)."""

    @property
    def rows(self) -> int:
        """Traces, decisions and events dropped."""
        return self.traces + self.decisions + self.events


class _Pass:
    def __init__(self, db: Database, chunk: int, cancel: threading.Event | None) -> None:
        self.db = db
        self.chunk = chunk
        self.cancel = cancel
        self.result = Pruned()

    @property
    def cancelled(self) -> bool:
        return self.cancel is not None and self.cancel.is_set()

    def drop_traces(self, where: str, args: list[Any], reason: str) -> int:
        """Drop the traces selected by ``where`` (chunk by chunk); return how many."""
        dropped = 0
        while not self.cancelled:
            with self.db.transaction() as c:
                seqs = [
                    r[0]
                    for r in c.execute(
                        f"SELECT seq FROM traces WHERE {where} LIMIT ?",
                        (*args, max(4, self.chunk // 2)),
                    )
                ]
                if not seqs:
                    break
                marks = ",".join("?" * len(seqs))
                (steps,) = c.execute(
                    f"SELECT COALESCE(SUM(steps), 0) FROM traces WHERE seq IN ({marks})", seqs
                ).fetchone()
                for table in ("trace_agents", "trace_bodies", "traces"):
                    c.execute(f"DELETE FROM {table} WHERE seq IN ({marks})", seqs)
            dropped += len(seqs)
            self.result.traces += len(seqs)
            self.result.steps += steps
        self._count(reason, dropped)
        return dropped

    def drop_rows(self, table: str, where: str, args: list[Any], reason: str) -> int:
        """Drop the decisions or events selected by ``where``; return how many."""
        dropped = 0
        while not self.cancelled:
            with self.db.transaction() as c:
                n = c.execute(
                    f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} "
                    "LIMIT ?)",
                    (*args, self.chunk),
                ).rowcount
            dropped += n
            if n < self.chunk:
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

    def id_range(self, table: str) -> tuple[int, int] | None:
        key = "seq" if table == "traces" else "id"
        # two subqueries: each is one step down the key; MIN and MAX in one query scan it all
        lo, hi = self.db.read(
            f"SELECT (SELECT MIN({key}) FROM {table}), (SELECT MAX({key}) FROM {table})"
        )[0]
        return None if lo is None else (lo, hi)


def prune(
    db: Database, retention: Retention, now: float, cancel: threading.Event | None = None
) -> Pruned:
    """Run one retention pass (see the module docstring); stop early when ``cancel`` is set."""
    p = _Pass(db, retention.chunk, cancel)
    p.result.bytes_before = db.used_bytes()
    cutoff = now - retention.max_age_seconds
    p.drop_traces("stored_at < ?", [cutoff], "age")
    p.drop_rows("decisions", "stored_at < ?", [cutoff], "age")
    p.drop_rows("events", "received_at < ?", [cutoff], "age")
    _by_steps(p, retention.max_steps)
    for table, limit in (("decisions", retention.max_decisions), ("events", retention.max_events)):
        span = p.id_range(table)
        if span is not None and span[1] - limit >= span[0]:
            # Keep the newest ``limit`` ids: at most ``limit`` rows, with no count of the table.
            p.drop_rows(table, "id <= ?", [span[1] - limit], table)
    _by_bytes(p, retention)
    if p.result.rows:
        db.reclaim()
    p.result.bytes_after = db.used_bytes()
    return p.result


def _by_steps(p: _Pass, max_steps: int) -> None:
    with p.db.lock:
        (total,) = p.db.conn.execute("SELECT COALESCE(SUM(steps), 0) FROM traces").fetchone()
        if total <= max_steps:
            return
        cursor = p.db.conn.execute("SELECT seq, steps FROM traces ORDER BY seq")
        drop = overflow(cursor, total, max_steps)
        cursor.close()
    if drop:
        p.drop_traces("seq <= ?", [drop[-1]], "steps")


def _by_bytes(p: _Pass, retention: Retention) -> None:
    if p.db.used_bytes() <= retention.high_water:
        return

    def drop(table: str, cut: int) -> int:
        if table == "traces":
            return p.drop_traces("seq <= ?", [cut], "bytes")
        return p.drop_rows(table, "id <= ?", [cut], "bytes")

    shed_oldest(
        p.db.used_bytes, retention.db_bytes * PRUNE_TO, lambda: p.cancelled, p.id_range, drop
    )


def shed_oldest(
    used_bytes: Callable[[], int],
    target: float,
    cancelled: Callable[[], bool],
    id_range: Callable[[str], tuple[int, int] | None],
    drop: Callable[[str, int], int],
) -> None:
    """Drop the same oldest share of traces, decisions and events, in rounds, until the store
    uses ``target`` bytes or less (both stores' byte bound: SQLite here, PostgreSQL in
    :mod:`~sloguard.tracestore.pgretention`). ``drop(table, cut)`` removes the rows with an id
    (``seq`` for traces) up to ``cut`` and says how many went."""
    for _ in range(_ROUNDS):
        used = used_bytes()
        if used <= target or cancelled():
            return
        share = min(1.0, (used - target) / used + 0.01)
        dropped = 0
        for table in ("traces", "decisions", "events"):
            span = id_range(table)
            if span is not None:
                lo, hi = span
                dropped += drop(table, lo + math.ceil(share * (hi - lo + 1)) - 1)
        if not dropped:
            return
