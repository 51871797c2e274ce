"""The trace store's footprint: what it holds, the bytes it takes, the free space around it.

- :func:`free_bytes`: free bytes on the file system of the store (``None`` when unknown);
- :func:`space_problem`: why writes are refused below ``traces.min_free_bytes``, or None;
- :func:`space_budget`: the bytes retention may keep within the disk's headroom
  (:func:`within_headroom`: a retention bounded by it);
- :func:`read_stats`: counts and bytes (:class:`StoreStats`), what ``TraceStore.stats`` returns.

Example::

    space_budget(100 * MiB, used=100 * MiB, free=10 * MiB, min_free=64 * MiB)   # 46 MiB
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import shutil
from dataclasses import dataclass

from sloguard.tracestore.database import Database
from sloguard.tracestore.retention import MiB, Retention

#: Free bytes kept on the data dir's file system by default (``traces.min_free_bytes``).
MIN_FREE_BYTES = 64 * MiB


@dataclass(frozen=True, slots=True)
class StoreStats:
    """What a trace store holds (:meth:`TraceStore.stats`)."""

    traces: int
    steps: int
    decisions: int
    events: int
    oldest_stored_at: float | None
    """Unix seconds the oldest stored trace was stored (``None`` without traces)."""
    newest_stored_at: float | None
    used_bytes: int
    """Bytes of the database pages in use: what ``max_bytes`` bounds."""
    file_bytes: int
    """Bytes on disk: the database file and its write-ahead log."""


def free_bytes(path: str) -> int | None:
    """Free bytes (for unprivileged users) on the file system holding ``path``; None if unknown."""
    if path == ":memory:" or path.startswith("file:"):
        return None
    try:
        return shutil.disk_usage(os.path.dirname(os.path.abspath(path))).free
    except OSError:
        return None


def space_budget(limit: int, used: int, free: int | None, min_free: int) -> int:
    """The bytes of database pages the store may keep: ``limit``, within the disk's headroom.

    ``used`` bytes are in use and ``free`` bytes free on the file system; the store may hold
    what it has plus the headroom above ``min_free``, so below ``min_free`` it gives back the
    shortfall. Example: 100 MiB in use, 10 MiB free, a 64 MiB minimum → 46 MiB. Retention
    prunes from 90 % of the budget down to 80 %, so the store starts giving back before the
    headroom is gone.
    """
    if free is None or min_free <= 0:
        return limit
    return max(0, min(limit, used + free - min_free))


def within_headroom(retention: Retention, used: int, free: int | None, min_free: int) -> Retention:
    """``retention`` with its byte bound shrunk to :func:`space_budget`, when that is lower."""
    budget = space_budget(retention.db_bytes, used, free, min_free)
    if budget < retention.db_bytes:
        return dataclasses.replace(retention, space_limit=budget)
    return retention


def space_problem(free: int | None, min_free: int) -> str | None:
    """Why a write is refused with ``free`` bytes free and a minimum of ``min_free``, or None."""
    if min_free <= 0 or free is None or free >= min_free:
        return None
    return (
        f"refusing writes: {free / MiB:.1f} MiB free on the data dir's file system, "
        f"below traces.min_free_bytes ({min_free / MiB:.1f} MiB)"
    )


def file_bytes(path: str) -> int:
    """The bytes the store at ``path`` takes on disk: the database file and its write-ahead log."""
    total = 0
    for suffix in ("", "-wal"):
        with contextlib.suppress(OSError):  # no file (yet), or ":memory:"
            total += os.stat(path + suffix).st_size
    return total


def read_stats(db: Database, path: str) -> StoreStats:
    """What the store at ``path`` holds (counts the decision and event rows: a scan of an index,
    tens of milliseconds at a million rows)."""
    (traces, steps, oldest, newest) = db.read(
        "SELECT COUNT(*), COALESCE(SUM(steps), 0), MIN(stored_at), MAX(stored_at) FROM traces"
    )[0]
    (decisions,) = db.read("SELECT COUNT(*) FROM decisions")[0]
    (events,) = db.read("SELECT COUNT(*) FROM events")[0]
    return StoreStats(
        traces=traces,
        steps=steps,
        decisions=decisions,
        events=events,
        oldest_stored_at=oldest,
        newest_stored_at=newest,
        used_bytes=db.used_bytes(),
        file_bytes=file_bytes(path),
    )
