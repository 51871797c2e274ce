"""Embedded SLI source: sample the process's own counters into SQLite; answer window counts.

With no Prometheus configured, the evaluator reads SLO counters from the process's registry.
At every tick :meth:`EmbeddedSource.sample` stores one sample per series of the counters the SLOs
use. Samples hold a *reset-adjusted* value (a counter that restarts at 0 after a process restart
keeps growing here), so ``increase`` over a window is ``adj(at) - adj(at - window)`` and older
samples can be thinned freely without losing counts:

- samples older than ``fine_for`` keep one per minute, older than a day one per 10 minutes;
- samples older than ``retention`` are deleted.

A time-slice SLO (``budgeting: timeslices`` or ``ratio_timeslices``) is answered in slices:
each slice's increases from the samples around its bounds, then
:func:`sloguard.slo.timeslices.slice_counts`; older samples are then thinned no further than one
per slice, so a slice never loses its samples (a slice shorter than the sample interval is
refused when the SLO file is loaded).

The store survives restarts (``path`` on disk). ``kind: ratio`` SLIs need Prometheus and raise
:class:`~sloguard.sources.base.QueryError` here.

:meth:`EmbeddedSource.range_counts` answers a chart's history (many evenly spaced times) from one
read of the samples involved, with the same arithmetic as :meth:`~EmbeddedSource.window_counts`.

A sample that cannot be stored (disk full, I/O error) is rolled back whole and changes nothing
the source remembers; until a later sample is stored, every window ends at a stale sample, so
:meth:`EmbeddedSource.window_counts` raises :class:`~sloguard.sources.base.QueryError` naming
the failure (those SLOs are ``error``, not ``no_data`` or a stale ``ok``). Failures of sampling,
queries and compaction are reported to :attr:`EmbeddedSource.health` (counted, logged once per
change, a reason for ``/readyz``); none of them raises out of :meth:`~EmbeddedSource.sample` or
:meth:`~EmbeddedSource.compact`.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from sloguard.durations import DAY, HOUR
from sloguard.slo.promql import CounterSLI, Selector, counter_sli
from sloguard.slo.spec import SLO, InstanceLabels
from sloguard.slo.timeslices import slice_ends
from sloguard.sources.base import QueryError, Steps, WindowCounts, instance_key
from sloguard.sources.samplecounts import (
    History,
    clamped,
    slice_events,
    sliced,
    window_from_samples,
)
from sloguard.tracestore.storehealth import StoreHealth

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

#: One time-slice SLO's event counts per slice, by the slice's end.
_Slices = dict[float, WindowCounts]

#: (age beyond which, keep one sample per this many seconds)
DOWNSAMPLING = ((DAY, 600.0), (2 * HOUR, 60.0))


class EmbeddedSource:
    """Sampler + SLI source over SQLite.

    Example::

        source = EmbeddedSource(registry, slos, path=data_dir / "samples.sqlite", interval=10)
        source.sample(now)                      # at every tick
        await source.window_counts(slo, 3600, now)
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        slos: Sequence[SLO] = (),
        *,
        path: str | Path = ":memory:",
        interval: float = 30.0,
        retention: float | None = None,
        fine_for: float = 2 * HOUR,
        health: StoreHealth | None = None,
    ) -> None:
        self.registry = registry
        #: Failures of this store's sampling, queries and compaction (``store="samples"``).
        self.health = health if health is not None else StoreHealth("samples")
        self.interval = interval
        self.resolution = 4 * interval
        self.fine_for = fine_for
        self._db = sqlite3.connect(str(path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(_SCHEMA)
        self._series: dict[tuple[str, str], int] = {}
        self._last: dict[int, tuple[float, float, float]] = {}  # id -> (ts, raw, adj)
        self._load()
        self._metrics: frozenset[str] = frozenset()
        self._retention = retention
        self._finest: float | None = None  # the SLOs' finest time slice: never thinned below
        #: a slice's event counts per instance, once a sample at or after its end is stored
        self._slice_cache: dict[tuple[CounterSLI, tuple[str, ...], float], _Slices] = {}
        self.samples_written = 0
        self.set_slos(slos)

    def _load(self) -> None:
        for sid, metric, labels in self._db.execute("SELECT id, metric, labels FROM series"):
            self._series[(metric, labels)] = sid
        rows = self._db.execute(
            "SELECT s.series, s.ts, s.raw, s.adj FROM samples s JOIN "
            "(SELECT series, MAX(ts) AS ts FROM samples GROUP BY series) m "
            "ON s.series = m.series AND s.ts = m.ts"
        )
        for sid, ts, raw, adj in rows:
            self._last[sid] = (ts, raw, adj)
        first = self._db.execute("SELECT MIN(ts) FROM samples").fetchone()[0]
        self._first = float("inf") if first is None else float(first)

    def set_slos(self, slos: Sequence[SLO]) -> None:
        """Sample the counters these SLOs need (and keep them for their longest window)."""
        metrics: set[str] = set()
        longest = 0.0
        slices = [slo.budgeting.slice for slo in slos if slo.budgeting.sliced]
        self._finest = min(slices, default=None)
        for slo in slos:
            counters = counter_sli(slo)
            if counters is not None:
                metrics.update(s.metric for s in counters.selectors())
            longest = max(longest, *slo.windows()) if slo.windows() else longest
        self._metrics = frozenset(metrics)
        if self._retention is None or self._retention < longest:
            self._retention = max(longest * 1.1, self._retention or 0.0)

    # --- sampling --------------------------------------------------------------------------------
    def _read_registry(self) -> Iterable[tuple[str, str, float]]:
        wanted = self._metrics
        for family in self.registry.collect():
            for s in family.samples:
                if s.name in wanted:
                    yield s.name, json.dumps(s.labels, sort_keys=True), float(s.value)

    def sample(self, now: float) -> int:
        """Store one sample of every wanted series at ``now``; return how many (0 on failure).

        A failure is rolled back whole and reported to :attr:`health` (see the module docstring).
        """
        return self._guarded("sample", "cannot store samples", self._sample, now)

    def _rollback(self) -> None:
        if self._db.in_transaction:
            # SQLite may have rolled back already (an I/O error): then nothing is open
            with contextlib.suppress(sqlite3.Error):
                self._db.execute("ROLLBACK")

    def _sample(self, now: float) -> int:
        rows: list[tuple[int, float, float, float]] = []
        series: dict[tuple[str, str], int] = {}
        last: dict[int, tuple[float, float, float]] = {}
        self._db.execute("BEGIN")
        for metric, labels, raw in self._read_registry():
            sid = self._series.get((metric, labels)) or series.get((metric, labels))
            if sid is None:
                cur = self._db.execute(
                    "INSERT OR IGNORE INTO series (metric, labels) VALUES (?, ?)", (metric, labels)
                )
                sid = cur.lastrowid
                if not sid:
                    found = self._db.execute(
                        "SELECT id FROM series WHERE metric=? AND labels=?", (metric, labels)
                    ).fetchone()
                    sid = int(found[0])
                series[(metric, labels)] = sid
            previous = last.get(sid) or self._last.get(sid)
            if previous is not None and now <= previous[0]:
                continue  # never write into the past (clock went backwards or duplicate tick)
            if previous is None:
                adj = raw
            else:
                _, last_raw, last_adj = previous
                adj = last_adj + (raw - last_raw if raw >= last_raw else raw)  # reset: restart
            last[sid] = (now, raw, adj)
            rows.append((sid, now, raw, adj))
        if rows:
            self._db.executemany(
                "INSERT OR REPLACE INTO samples (series, ts, raw, adj) VALUES (?, ?, ?, ?)", rows
            )
        self._db.execute("COMMIT")
        # only what is stored is remembered: a failed sample leaves no trace in the caches
        self._series.update(series)
        self._last.update(last)
        self._first = min(self._first, now) if rows else self._first
        self.samples_written += len(rows)
        return len(rows)

    def compact(self, now: float) -> int:
        """Delete samples past retention and thin old ones; return how many were deleted.

        A failure is rolled back and reported to :attr:`health`; 0 is returned.
        """
        return self._guarded("compact", "cannot compact samples", self._compact, now)

    def _guarded(self, operation: str, what: str, work: Callable[[float], int], now: float) -> int:
        """Run one write; a failure is rolled back whole and reported to health (0 returned)."""
        try:
            done = work(now)
        except sqlite3.Error as exc:
            self._rollback()
            self.health.failed(operation, f"{what}: {exc}", now)
            return 0
        self.health.succeeded((operation,), now)
        return done

    def _compact(self, now: float) -> int:
        retention = self._retention or 30 * DAY
        rules = sorted((max(age, self.fine_for), step) for age, step in DOWNSAMPLING)
        self._db.execute("BEGIN")
        deleted = self._db.execute("DELETE FROM samples WHERE ts < ?", (now - retention,)).rowcount
        for i, (age, coarse) in enumerate(rules):
            step = coarse if self._finest is None else min(coarse, self._finest)
            upper = now - age
            lower = now - (rules[i + 1][0] if i + 1 < len(rules) else retention)
            if lower >= upper:
                continue
            # keep the last sample of each `step` bucket in [lower, upper)
            deleted += self._db.execute(
                "DELETE FROM samples WHERE ts >= ? AND ts < ? AND (series, ts) NOT IN ("
                " SELECT series, MAX(ts) FROM samples WHERE ts >= ? AND ts < ?"
                " GROUP BY series, CAST(ts / ? AS INTEGER))",
                (lower, upper, lower, upper, step),
            ).rowcount
        self._db.execute("COMMIT")
        for cache in self._slice_cache.values():
            for end in [e for e in cache if e < now - retention]:
                del cache[end]
        return deleted

    def sample_count(self) -> int:
        """How many samples are stored."""
        return int(self._db.execute("SELECT COUNT(*) FROM samples").fetchone()[0])

    # --- answering ---------------------------------------------------------------------------
    def _increases(
        self, selector: Selector, start: float, end: float
    ) -> list[tuple[dict[str, str], float]]:
        rows = self._db.execute(
            "SELECT s.labels,"
            " (SELECT adj FROM samples WHERE series = s.id AND ts <= ? ORDER BY ts DESC LIMIT 1),"
            " (SELECT adj FROM samples WHERE series = s.id AND ts <= ? ORDER BY ts DESC LIMIT 1)"
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

    def _sum_terms(
        self, terms: Any, group_by: tuple[str, ...], start: float, end: float
    ) -> dict[InstanceLabels, float]:
        sums: dict[InstanceLabels, float] = {}
        for sign, selector in terms:
            for labels, inc in self._increases(selector, start, end):
                key = instance_key(labels, group_by)
                sums[key] = sums.get(key, 0.0) + sign * inc
        return sums

    async def window_counts(self, slo: SLO, window: float, at: float) -> WindowCounts:
        """Counts per instance of ``slo`` over ``(at - window, at]``."""
        counters = self._counters(slo)
        try:
            if slo.budgeting.sliced:
                answer = self._slices(slo, counters, window, at)
                self.health.succeeded(("query",), at)
                return answer
            bad = self._sum_terms(counters.bad, slo.group_by, at - window, at)
            total = self._sum_terms(counters.total, slo.group_by, at - window, at)
        except sqlite3.Error as exc:
            self.health.failed("query", f"cannot read samples: {exc}", at)
            raise QueryError(f"SLO {slo.name!r}: embedded store failed: {exc}") from exc
        self.health.succeeded(("query",), at)
        return clamped(bad, total)

    async def range_counts(
        self, slo: SLO, windows: Sequence[float], steps: Steps
    ) -> Mapping[float, Sequence[WindowCounts]]:
        """Per window, what :meth:`window_counts` answers at each of ``steps.times()``, from one
        read of the samples involved (a chart's history; same arithmetic, point by point)."""
        counters = self._counters(slo)
        times = steps.times()
        if slo.budgeting.sliced:
            try:
                return {w: [self._slices(slo, counters, w, at) for at in times] for w in windows}
            except sqlite3.Error as exc:
                raise QueryError(f"SLO {slo.name!r}: embedded store failed: {exc}") from exc
        lowest = steps.start - max(windows, default=0.0) - slo.budgeting.slice
        try:
            series = {
                sel: self._histories(sel, lowest, steps.end)
                for sel in {s for _, s in (*counters.bad, *counters.total)}
            }
        except sqlite3.Error as exc:
            self.health.failed("query", f"cannot read samples: {exc}", steps.end)
            raise QueryError(f"SLO {slo.name!r}: embedded store failed: {exc}") from exc
        self.health.succeeded(("query",), steps.end)
        return {
            window: [window_from_samples(slo, counters, series, window, at) for at in times]
            for window in windows
        }

    def _slices(self, slo: SLO, counters: CounterSLI, window: float, at: float) -> WindowCounts:
        """A time-slice SLO's slice counts over ``(at - window, at]``: each slice's events read
        once and kept when final (a sample at or after its end is stored); slices ending
        before the first sample hold nothing and are skipped."""
        b = slo.budgeting
        ends = [e for e in slice_ends(window, at, b.slice) if e >= self._first]
        cache = self._slice_cache.setdefault((counters, slo.group_by, b.slice), {})
        missing = [e for e in ends if e not in cache]
        fresh: dict[float, WindowCounts] = {}
        if missing:
            lowest, sampled = (
                missing[0] - b.slice,
                max((v[0] for v in self._last.values()), default=0.0),
            )
            series = {
                sel: self._histories(sel, lowest, missing[-1]) for sel in set(counters.selectors())
            }
            for end in missing:
                fresh[end] = slice_events(counters, series, slo.group_by, end, b.slice)
                if end <= sampled:
                    cache[end] = fresh[end]
        return sliced(b, (fresh[e] if e in fresh else cache[e] for e in ends))

    def _counters(self, slo: SLO) -> CounterSLI:
        """The SLO's counters; :class:`QueryError` when this source cannot answer it."""
        try:
            counters: CounterSLI | None = counter_sli(slo)
        except ValueError as exc:  # an SLO the loader would refuse (latency without threshold)
            raise QueryError(f"SLO {slo.name!r}: cannot read its counters: {exc}") from exc
        if counters is None:
            raise QueryError(
                f"SLO {slo.name!r}: kind {slo.sli.kind.value!r} needs Prometheus "
                "(set prometheus.url); the embedded source only knows sloguard's own metrics"
            )
        unstored = self.health.error("sample")
        if unstored is not None:
            raise QueryError(f"SLO {slo.name!r}: embedded samples are not stored: {unstored}")
        return counters

    def _histories(
        self, selector: Selector, lowest: float, end: float
    ) -> list[tuple[dict[str, str], History]]:
        """Samples ``(ts, adj)`` of each matching series in ``[lowest, end]``, plus the last one
        before ``lowest`` (a window's start falls between samples)."""
        out = []
        found = self._db.execute(
            "SELECT id, labels FROM series WHERE metric = ?", (selector.metric,)
        ).fetchall()
        for sid, labels_json in found:
            labels: dict[str, str] = json.loads(labels_json)
            if not selector.matches(labels):
                continue
            rows = self._db.execute(
                "SELECT ts, adj FROM samples WHERE series = ? AND ts <= ? AND ts >= COALESCE("
                "(SELECT MAX(ts) FROM samples WHERE series = ? AND ts <= ?), ?) ORDER BY ts",
                (sid, end, sid, lowest, lowest),
            ).fetchall()
            out.append((labels, ([float(t) for t, _ in rows], [float(a) for _, a in rows])))
        return out

    async def aclose(self) -> None:
        """Close the database."""
        self._db.close()
