"""Where the embedded source keeps its counter samples: the :class:`SampleStore` protocol, the
arithmetic both stores share, and the SQLite store (one file, one writing process).

A **reading** is one series' current value in the registry: ``(metric, labels as sorted JSON,
raw value)``. :meth:`SampleStore.append` stores one sample per reading at ``now``, holding the
*reset-adjusted* value (:func:`adjusted`: a counter that restarts at 0 keeps growing here), so
``increase`` over a window is ``adj(end) - adj(start)`` per series and old samples can be thinned
freely without losing counts. A series is a metric, its labels and, in a shared store, the
**process** that sampled it: each process adjusts its own counters, and a window's count is the
sum of each process's increase (:mod:`sloguard.sources.pgsamples`).

Two stores pass one contract suite (``tests/contract/test_samplestore_contract.py``):

- :class:`SqliteSampleStore` — one SQLite file, written by this process only (the default);
- :class:`~sloguard.sources.pgsamples.PgSampleStore` — the shared PostgreSQL database
  (``storage.url``), written by every replica under its own process name.

Every failure of a store is a :class:`SampleStoreError` (the source reports it to its health and
answers :class:`~sloguard.sources.base.QueryError`); a failed append or compaction changes
nothing, in the store or in what the store remembers.

Example::

    store = SqliteSampleStore(data_dir / "samples.sqlite")
    store.append([("agent_calls_total", '{"status": "ok"}', 12.0)], now=1_700_000_000.0)
    store.increases(selector, start=1_699_999_000.0, end=1_700_000_000.0)
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple, Protocol

from sloguard.durations import DAY, HOUR
from sloguard.errors import SloguardError
from sloguard.slo.promql import Selector
from sloguard.sources.samplecounts import Series

__all__ = [
    "DOWNSAMPLING", "Reading", "SampleStore", "SampleStoreError", "SqliteSampleStore", "Thinning",
    "adjusted", "thinning",
]  # fmt: skip

#: One series' current value: metric, labels (JSON, sorted keys), raw counter value.
Reading = tuple[str, str, float]

#: (age beyond which, keep one sample per this many seconds)
DOWNSAMPLING = ((DAY, 600.0), (2 * HOUR, 60.0))


class SampleStoreError(SloguardError):
    """A sample store could not write or read (the storage's own words)."""


class Thinning(NamedTuple):
    """Keep only the last sample of each ``step``-second bucket in ``[lower, upper)``."""

    lower: float
    upper: float
    step: float


def adjusted(previous: tuple[float, float] | None, raw: float) -> float:
    """The reset-adjusted value of a reading ``raw`` after the series' previous ``(raw, adj)``.

    Example::

        adjusted(None, 5.0)           # 5.0: a new series counts from 0
        adjusted((5.0, 5.0), 8.0)     # 8.0
        adjusted((8.0, 8.0), 2.0)     # 10.0: the counter restarted, 2 events since
    """
    if previous is None:
        return raw
    last_raw, last_adj = previous
    return last_adj + (raw - last_raw if raw >= last_raw else raw)


def thinning(now: float, retention: float, fine_for: float, finest: float | None) -> list[Thinning]:
    """The ranges compaction thins at ``now``: samples older than ``fine_for`` keep one per
    minute, older than a day one per 10 minutes, never fewer than one per ``finest`` (the SLOs'
    finest time slice); nothing beyond ``retention`` (deleted anyway).

    Example::

        thinning(100 * DAY, 30 * DAY, 2 * HOUR, None)[0].step   # 60.0
    """
    rules = sorted((max(age, fine_for), step) for age, step in DOWNSAMPLING)
    out = []
    for i, (age, coarse) in enumerate(rules):
        step = coarse if finest is None else min(coarse, finest)
        upper = now - age
        lower = now - (rules[i + 1][0] if i + 1 < len(rules) else retention)
        if lower < upper:
            out.append(Thinning(lower, upper, step))
    return out


class SampleStore(Protocol):
    """Counter samples of one or more processes (see the module docstring)."""

    #: True when other processes write into the same store (a slice is then final only a
    #: little after this process's own newest sample).
    shared: bool

    @property
    def first(self) -> float:
        """The time of the oldest stored sample (``inf`` when there is none)."""
        ...

    @property
    def sampled(self) -> float:
        """The time of the newest sample this process stored (0 when none)."""
        ...

    def append(self, readings: Iterable[Reading], now: float) -> int:
        """Store one sample per reading at ``now`` (a series whose newest sample is at or after
        ``now`` is skipped: never write into the past); return how many. All or nothing."""
        ...

    def increases(
        self, selector: Selector, start: float, end: float
    ) -> list[tuple[dict[str, str], float]]:
        """``adj(end) - adj(start)`` (0 before the first sample) of each series matching
        ``selector`` with a sample at or before ``end``, with its labels."""
        ...

    def histories(self, selector: Selector, lowest: float, end: float) -> Series:
        """Samples ``(ts, adj)`` of each matching series in ``[lowest, end]``, plus the last one
        before ``lowest`` (a window's start falls between samples)."""
        ...

    def compact(self, cutoff: float, ranges: Sequence[Thinning]) -> int:
        """Delete the samples before ``cutoff`` and thin ``ranges``; return how many were
        deleted. All or nothing."""
        ...

    def count(self) -> int:
        """How many samples are stored."""
        ...

    def close(self) -> None:
        """Release the store's connections."""
        ...


_SCHEMA = """
CREATE TABLE IF NOT EXISTS series (
    id INTEGER PRIMARY KEY,
    metric TEXT NOT NULL,
    labels TEXT NOT NULL,
    UNIQUE (metric, labels)
);
CREATE TABLE IF NOT EXISTS samples (
    series INTEGER NOT NULL,
    ts REAL NOT NULL,
    raw REAL NOT NULL,
    adj REAL NOT NULL,
    PRIMARY KEY (series, ts)
) WITHOUT ROWID;
"""


class SqliteSampleStore:
    """Samples in one SQLite file (``:memory:`` by default), written by this process only.
    Opening a file that cannot be opened raises :class:`sqlite3.Error` (the caller names it).

    Example::

        store = SqliteSampleStore("samples.sqlite")
        store.append([("agent_calls_total", "{}", 3.0)], now=60.0)
    """

    shared = False

    def __init__(self, path: str | Path = ":memory:") -> None:
        #: The connection (tests inject storage failures through it).
        self.db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(_SCHEMA)
        self._series: dict[tuple[str, str], int] = {}
        self._last: dict[int, tuple[float, float, float]] = {}  # id -> (ts, raw, adj)
        for sid, metric, labels in self.db.execute("SELECT id, metric, labels FROM series"):
            self._series[(metric, labels)] = sid
        rows = self.db.execute(
            "SELECT s.series, s.ts, s.raw, s.adj FROM samples s JOIN "
            "(SELECT series, MAX(ts) AS ts FROM samples GROUP BY series) m "
            "ON s.series = m.series AND s.ts = m.ts"
        )
        for sid, ts, raw, adj in rows:
            self._last[sid] = (ts, raw, adj)
        first = self.db.execute("SELECT MIN(ts) FROM samples").fetchone()[0]
        self._first = float("inf") if first is None else float(first)

    @property
    def first(self) -> float:
        """The time of the oldest stored sample (``inf`` when there is none)."""
        return self._first

    @property
    def sampled(self) -> float:
        """The time of the newest sample stored (0 when none)."""
        return max((v[0] for v in self._last.values()), default=0.0)

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        """Roll back a failed write whole; map SQLite's errors to :class:`SampleStoreError`."""
        try:
            yield
        except sqlite3.Error as exc:
            # SQLite may have rolled back already (an I/O error), or be closed: nothing to undo
            with contextlib.suppress(sqlite3.Error):
                if self.db.in_transaction:
                    self.db.execute("ROLLBACK")
            raise SampleStoreError(str(exc)) from exc

    def append(self, readings: Iterable[Reading], now: float) -> int:
        """Store one sample per reading at ``now``; return how many (see :class:`SampleStore`)."""
        with self._mapped():
            return self._append(readings, now)

    def _append(self, readings: Iterable[Reading], now: float) -> int:
        rows: list[tuple[int, float, float, float]] = []
        series: dict[tuple[str, str], int] = {}
        last: dict[int, tuple[float, float, float]] = {}
        self.db.execute("BEGIN")
        for metric, labels, raw in readings:
            sid = self._series.get((metric, labels)) or series.get((metric, labels))
            if sid is None:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO series (metric, labels) VALUES (?, ?)", (metric, labels)
                )
                sid = cur.lastrowid
                if not sid:
                    found = self.db.execute(
                        "SELECT id FROM series WHERE metric=? AND labels=?", (metric, labels)
                    ).fetchone()
                    sid = int(found[0])
                series[(metric, labels)] = sid
            previous = last.get(sid) or self._last.get(sid)
            if previous is not None and now <= previous[0]:
                continue  # never write into the past (clock went backwards or duplicate tick)
            adj = adjusted(None if previous is None else previous[1:], raw)
            last[sid] = (now, raw, adj)
            rows.append((sid, now, raw, adj))
        if rows:
            self.db.executemany(
                "INSERT OR REPLACE INTO samples (series, ts, raw, adj) VALUES (?, ?, ?, ?)", rows
            )
        self.db.execute("COMMIT")
        # only what is stored is remembered: a failed sample leaves no trace in the caches
        self._series.update(series)
        self._last.update(last)
        self._first = min(self._first, now) if rows else self._first
        return len(rows)

    def compact(self, cutoff: float, ranges: Sequence[Thinning]) -> int:
        """Delete samples before ``cutoff``, thin ``ranges``; return how many were deleted."""
        with self._mapped():
            self.db.execute("BEGIN")
            deleted = self.db.execute("DELETE FROM samples WHERE ts < ?", (cutoff,)).rowcount
            for lower, upper, step in ranges:
                # keep the last sample of each `step` bucket in [lower, upper)
                deleted += self.db.execute(
                    "DELETE FROM samples WHERE ts >= ? AND ts < ? AND (series, ts) NOT IN ("
                    " SELECT series, MAX(ts) FROM samples WHERE ts >= ? AND ts < ?"
                    " GROUP BY series, CAST(ts / ? AS INTEGER))",
                    (lower, upper, lower, upper, step),
                ).rowcount
            self.db.execute("COMMIT")
        return deleted

    def count(self) -> int:
        """How many samples are stored."""
        with self._mapped():
            return int(self.db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    def increases(
        self, selector: Selector, start: float, end: float
    ) -> list[tuple[dict[str, str], float]]:
        """Each matching series' increase over ``(start, end]`` (see :class:`SampleStore`)."""
        with self._mapped():
            rows = self.db.execute(
                "SELECT s.labels,"
                " (SELECT adj FROM samples WHERE series = s.id AND ts <= ?"
                "  ORDER BY ts DESC LIMIT 1),"
                " (SELECT adj FROM samples WHERE series = s.id AND ts <= ?"
                "  ORDER BY ts DESC LIMIT 1)"
                " FROM series s WHERE s.metric = ?",
                (end, start, selector.metric),
            ).fetchall()
        out = []
        for labels_json, at_end, at_start in rows:
            if at_end is None:
                continue  # series born after the window
            labels: dict[str, str] = json.loads(labels_json)
            if not selector.matches(labels):
                continue
            out.append((labels, float(at_end) - float(at_start if at_start is not None else 0.0)))
        return out

    def histories(self, selector: Selector, lowest: float, end: float) -> Series:
        """Each matching series' samples in ``[lowest, end]`` and the last before ``lowest``."""
        out: Series = []
        with self._mapped():
            found = self.db.execute(
                "SELECT id, labels FROM series WHERE metric = ?", (selector.metric,)
            ).fetchall()
            for sid, labels_json in found:
                labels: dict[str, str] = json.loads(labels_json)
                if not selector.matches(labels):
                    continue
                rows = self.db.execute(
                    "SELECT ts, adj FROM samples WHERE series = ? AND ts <= ? AND ts >= COALESCE("
                    "(SELECT MAX(ts) FROM samples WHERE series = ? AND ts <= ?), ?) ORDER BY ts",
                    (sid, end, sid, lowest, lowest),
                ).fetchall()
                out.append((labels, ([float(t) for t, _ in rows], [float(a) for _, a in rows])))
        return out

    def close(self) -> None:
        """Close the database."""
        self.db.close()
