"""Embedded SLI source: sample the process's own counters into a store; answer window counts.

With no Prometheus configured, the evaluator reads SLO counters from the process's registry.
At every tick :meth:`EmbeddedSource.sample` stores one sample per series of the counters the SLOs
use, in a :class:`~sloguard.sources.samplestore.SampleStore`: a SQLite file (the default) or the
shared PostgreSQL database (``storage.url``, :mod:`sloguard.sources.pgsamples`), where every
replica samples its own registry under its own process name and a window's count is the sum of
the processes' increases. Samples hold a *reset-adjusted* value (a counter that restarts at 0
after a process restart keeps growing here), so ``increase`` over a window is
``adj(at) - adj(at - window)`` and older samples can be thinned freely without losing counts:

- samples older than ``fine_for`` keep one per minute, older than a day one per 10 minutes;
- samples older than ``retention`` are deleted.

A time-slice SLO (``budgeting: timeslices`` or ``ratio_timeslices``) is answered in slices:
each slice's increases from the samples around its bounds, then
:func:`sloguard.slo.timeslices.slice_counts`; older samples are then thinned no further than one
per slice, so a slice never loses its samples (a slice shorter than the sample interval is
refused when the SLO file is loaded).

The store survives restarts (``path`` on disk, or the database). ``kind: ratio`` SLIs need
Prometheus and raise :class:`~sloguard.sources.base.QueryError` here.

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

import json
import sqlite3
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from prometheus_client import CollectorRegistry

from sloguard.durations import DAY, HOUR
from sloguard.errors import ConfigError, MissingExtra, Problem
from sloguard.slo.promql import CounterSLI, counter_sli
from sloguard.slo.spec import SLO, InstanceLabels
from sloguard.slo.timeslices import slice_ends
from sloguard.sources.base import QueryError, Steps, WindowCounts, instance_key
from sloguard.sources.samplecounts import clamped, slice_events, sliced, window_from_samples
from sloguard.sources.samplestore import (
    DOWNSAMPLING,
    Reading,
    SampleStore,
    SampleStoreError,
    SqliteSampleStore,
    thinning,
)
from sloguard.tracestore.storehealth import StoreHealth

__all__ = ["DOWNSAMPLING", "EmbeddedSource", "open_sample_store"]

#: One time-slice SLO's event counts per slice, by the slice's end.
_Slices = dict[float, WindowCounts]


class EmbeddedSource:
    """Sampler + SLI source over a :class:`~sloguard.sources.samplestore.SampleStore` (SQLite
    at ``path`` unless ``store`` is given, e.g. the shared PostgreSQL one).

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
        store: SampleStore | None = None,
    ) -> None:
        self.registry = registry
        #: Failures of this store's sampling, queries and compaction (``store="samples"``).
        self.health = health if health is not None else StoreHealth("samples")
        self.interval = interval
        self.resolution = 4 * interval
        self.fine_for = fine_for
        #: Where the samples are kept.
        self.store: SampleStore = store if store is not None else SqliteSampleStore(path)
        self._metrics: frozenset[str] = frozenset()
        self._retention = retention
        self._finest: float | None = None  # the SLOs' finest time slice: never thinned below
        #: a slice's event counts per instance, once a sample at or after its end is stored
        self._slice_cache: dict[tuple[CounterSLI, tuple[str, ...], float], _Slices] = {}
        self.samples_written = 0
        self.set_slos(slos)

    @property
    def _db(self) -> sqlite3.Connection:
        """The SQLite store's connection (tests inject storage failures through it)."""
        if not isinstance(self.store, SqliteSampleStore):
            raise AttributeError("the samples are not in SQLite")
        return self.store.db

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
    def _read_registry(self) -> Iterable[Reading]:
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

    def _sample(self, now: float) -> int:
        stored = self.store.append(list(self._read_registry()), now)
        self.samples_written += stored
        return stored

    def compact(self, now: float) -> int:
        """Delete samples past retention and thin old ones; return how many were deleted.

        A failure is rolled back and reported to :attr:`health`; 0 is returned.
        """
        return self._guarded("compact", "cannot compact samples", self._compact, now)

    def _guarded(self, operation: str, what: str, work: Callable[[float], int], now: float) -> int:
        """Run one write; a failure is rolled back whole and reported to health (0 returned)."""
        try:
            done = work(now)
        except SampleStoreError as exc:
            self.health.failed(operation, f"{what}: {exc}", now)
            return 0
        self.health.succeeded((operation,), now)
        return done

    def _compact(self, now: float) -> int:
        retention = self._retention or 30 * DAY
        ranges = thinning(now, retention, self.fine_for, self._finest)
        deleted = self.store.compact(now - retention, ranges)
        for cache in self._slice_cache.values():
            for end in [e for e in cache if e < now - retention]:
                del cache[end]
        return deleted

    def sample_count(self) -> int:
        """How many samples are stored."""
        return self.store.count()

    # --- answering ---------------------------------------------------------------------------
    def _sum_terms(
        self, terms: Any, group_by: tuple[str, ...], start: float, end: float
    ) -> dict[InstanceLabels, float]:
        sums: dict[InstanceLabels, float] = {}
        for sign, selector in terms:
            for labels, inc in self.store.increases(selector, start, end):
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
        except SampleStoreError as exc:
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
            except SampleStoreError as exc:
                raise QueryError(f"SLO {slo.name!r}: embedded store failed: {exc}") from exc
        lowest = steps.start - max(windows, default=0.0) - slo.budgeting.slice
        try:
            series = {
                sel: self.store.histories(sel, lowest, steps.end)
                for sel in {s for _, s in (*counters.bad, *counters.total)}
            }
        except SampleStoreError as exc:
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
        ends = [e for e in slice_ends(window, at, b.slice) if e >= self.store.first]
        cache = self._slice_cache.setdefault((counters, slo.group_by, b.slice), {})
        missing = [e for e in ends if e not in cache]
        fresh: dict[float, WindowCounts] = {}
        if missing:
            lowest, sampled = missing[0] - b.slice, self._final_before()
            series = {
                sel: self.store.histories(sel, lowest, missing[-1])
                for sel in set(counters.selectors())
            }
            for end in missing:
                fresh[end] = slice_events(counters, series, slo.group_by, end, b.slice)
                if end <= sampled:
                    cache[end] = fresh[end]
        return sliced(b, (fresh[e] if e in fresh else cache[e] for e in ends))

    def _final_before(self) -> float:
        """Slices ending at or before this time are final: this process stored a sample at or
        after their end (in a shared store two intervals later: the other writers' ticks)."""
        margin = 2 * self.interval if self.store.shared else 0.0
        return self.store.sampled - margin

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

    async def aclose(self) -> None:
        """Close the store."""
        self.store.close()


def open_sample_store(
    path: Path,
    *,
    url: str | None = None,
    password: str | None = None,
    pool_size: int = 2,
    timeout: float = 10.0,
    process: str = "",
) -> SampleStore:
    """The SQLite file at ``path``, or with ``url`` the shared PostgreSQL database (extra
    ``postgres``), written as ``process``. Raise :class:`~sloguard.errors.ConfigError` when the
    file or the database cannot be used, :class:`~sloguard.errors.MissingExtra` without psycopg.

    Example::

        open_sample_store(data_dir / "samples.sqlite")       # SQLite
        open_sample_store(data_dir / "samples.sqlite", url="postgresql://sloguard@db/sloguard",
                          process="pod-1:9464")                # shared
    """
    if url is None:
        try:
            return SqliteSampleStore(path)
        except sqlite3.Error as exc:  # the store opens its file unmapped: say which file
            message = (
                f"cannot open the embedded samples: {exc}; check that the user sloguard runs "
                "as can write this file and its directory"
            )
            raise ConfigError([Problem(str(path), None, "", message)]) from exc
    try:  # psycopg is imported only when a database is configured
        from sloguard.sources.pgsamples import open_pg_sample_store
    except ImportError as exc:
        if not (exc.name or "").startswith("psycopg"):
            raise
        raise MissingExtra("storage.url", "postgres", exc.name or "psycopg") from None
    return open_pg_sample_store(
        url, password=password, pool_size=pool_size, timeout=timeout, process=process
    )
