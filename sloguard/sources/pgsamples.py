"""The embedded source's samples on the shared PostgreSQL database (``storage.url``).

Every replica samples its own registry into the same tables under its own **process** name
(the daemon gives ``host:port``): a series is ``(process, metric, labels)``, each process
reset-adjusts its own counters (:func:`~sloguard.sources.samplestore.adjusted`), and a reader
gets one increase per process and series, which the source sums per instance. So N replicas
behind one load balancer, each counting the requests it took, answer the fleet's counts; a
replica that restarts under the same name continues its series (a counter reset is an increase
from 0, as in SQLite), one that comes back under a new name starts new series and its old ones
stop counting where their last sample was. Two live processes must never share a name: their
counters would be read as one counter resetting at every sample.

Compaction deletes every process's samples past retention and thins them (one replica at a
time: the others skip while a transaction-scoped advisory lock is held), then forgets the
series of other processes that have no sample left. A slice of a time-slice SLO is final two
intervals after this process's newest sample (other replicas' ticks may commit a little later).

The schema is the ``samples`` component (:mod:`sloguard.postgres.migrations`), migrated at
start. Every failure is a :class:`~sloguard.sources.samplestore.SampleStoreError`.

Example::

    db = connect("postgresql://sloguard@db:5432/sloguard", components=[SAMPLES])
    store = PgSampleStore(db, process="sloguard-0:9464", owns_db=True)
    source = EmbeddedSource(registry, slos, interval=10, store=store)
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg_pool import PoolTimeout

from sloguard.errors import ConfigError, Problem
from sloguard.postgres.migrations import Component, Migration
from sloguard.postgres.pool import Postgres, connect, one_line
from sloguard.slo.promql import Selector
from sloguard.sources.samplecounts import History, Series
from sloguard.sources.samplestore import Reading, SampleStoreError, Thinning, adjusted

__all__ = ["COMPACT_LOCK", "SAMPLES", "PgSampleStore", "open_pg_sample_store"]

_MIGRATIONS = (
    """
    CREATE TABLE sample_series (
        id BIGSERIAL PRIMARY KEY,
        process TEXT NOT NULL,
        metric TEXT NOT NULL,
        labels TEXT NOT NULL,
        UNIQUE (process, metric, labels)
    );
    CREATE INDEX sample_series_metric ON sample_series (metric);
    CREATE TABLE samples (
        series BIGINT NOT NULL REFERENCES sample_series (id) ON DELETE CASCADE,
        ts DOUBLE PRECISION NOT NULL,
        raw DOUBLE PRECISION NOT NULL,
        adj DOUBLE PRECISION NOT NULL,
        PRIMARY KEY (series, ts)
    );
    CREATE INDEX samples_ts ON samples (ts)
    """,
)

#: The embedded samples' part of the shared schema.
SAMPLES = Component("samples", tuple(Migration(i + 1, sql) for i, sql in enumerate(_MIGRATIONS)))

#: The advisory lock one compaction holds (a bigint key): "samples" in ASCII.
COMPACT_LOCK = 0x73616D706C6573

_SERIES = """
INSERT INTO sample_series (process, metric, labels) VALUES (%s, %s, %s)
ON CONFLICT (process, metric, labels) DO UPDATE SET metric = EXCLUDED.metric
RETURNING id
"""
_INSERT = """
INSERT INTO samples (series, ts, raw, adj) VALUES (%s, %s, %s, %s)
ON CONFLICT (series, ts) DO UPDATE SET raw = EXCLUDED.raw, adj = EXCLUDED.adj
"""
_LOAD = """
SELECT s.id, s.metric, s.labels, l.ts, l.raw, l.adj FROM sample_series s
JOIN LATERAL (
    SELECT ts, raw, adj FROM samples WHERE series = s.id ORDER BY ts DESC LIMIT 1
) l ON true
WHERE s.process = %s
"""
_INCREASES = """
SELECT s.labels,
    (SELECT adj FROM samples WHERE series = s.id AND ts <= %(end)s ORDER BY ts DESC LIMIT 1),
    (SELECT adj FROM samples WHERE series = s.id AND ts <= %(start)s ORDER BY ts DESC LIMIT 1)
FROM sample_series s WHERE s.metric = %(metric)s
"""
_HISTORIES = """
SELECT s.id, s.labels, d.ts, d.adj FROM sample_series s JOIN samples d ON d.series = s.id
WHERE s.metric = %(metric)s AND d.ts <= %(end)s AND d.ts >= COALESCE(
    (SELECT MAX(ts) FROM samples WHERE series = s.id AND ts <= %(lowest)s), %(lowest)s)
ORDER BY s.id, d.ts
"""
_THIN = """
DELETE FROM samples WHERE ts >= %(lower)s AND ts < %(upper)s AND (series, ts) NOT IN (
    SELECT series, MAX(ts) FROM samples WHERE ts >= %(lower)s AND ts < %(upper)s
    GROUP BY series, floor(ts / %(step)s))
"""
_FORGET = """
DELETE FROM sample_series s WHERE s.process <> %s
AND NOT EXISTS (SELECT 1 FROM samples WHERE series = s.id)
"""


class PgSampleStore:
    """Samples of many processes in PostgreSQL (see the module docstring); this one writes as
    ``process``. ``db`` may be shared with other stores once it migrated :data:`SAMPLES`;
    ``owns_db``: close it with the store.

    Example::

        store = PgSampleStore(connect(url, components=[SAMPLES]), process="pod-1:9464")
    """

    shared = True

    def __init__(self, db: Postgres, *, process: str, owns_db: bool = False) -> None:
        if not process:
            raise ValueError("PgSampleStore: process must name this process, e.g. host:port")
        self._db = db
        self.process = process
        self._owns_db = owns_db
        self._series: dict[tuple[str, str], int] = {}
        #: (metric, labels) -> (ts, raw, adj) of this process's newest sample of the series
        self._last: dict[tuple[str, str], tuple[float, float, float]] = {}
        with self._mapped(), self._db.connection() as conn:
            for sid, metric, labels, ts, raw, adj in conn.execute(_LOAD.encode(), (process,)):
                self._series[(metric, labels)] = int(sid)
                self._last[(metric, labels)] = (float(ts), float(raw), float(adj))
            first = conn.execute(b"SELECT MIN(ts) FROM samples").fetchone()
        self._first = float("inf") if first is None or first[0] is None else float(first[0])

    @property
    def first(self) -> float:
        """The time of the oldest sample of any process when the store opened or last
        compacted, or of this process's samples since (``inf`` when there is none)."""
        return self._first

    @property
    def sampled(self) -> float:
        """The time of the newest sample this process stored (0 when none)."""
        return max((v[0] for v in self._last.values()), default=0.0)

    @contextmanager
    def _mapped(self) -> Iterator[None]:
        try:
            yield
        except (psycopg.Error, PoolTimeout) as exc:
            raise SampleStoreError(one_line(exc)) from exc

    def append(self, readings: Iterable[Reading], now: float) -> int:
        """Store one sample per reading at ``now`` as this process; return how many."""
        rows: list[tuple[int, float, float, float]] = []
        series: dict[tuple[str, str], int] = {}
        last: dict[tuple[str, str], tuple[float, float, float]] = {}
        try:
            with self._mapped(), self._db.connection() as conn, conn.transaction():
                for metric, labels, raw in readings:
                    key = (metric, labels)
                    previous = last.get(key) or self._last.get(key)
                    if previous is not None and now <= previous[0]:
                        continue  # never write into the past
                    sid = self._series.get(key) or series.get(key)
                    if sid is None:
                        found = conn.execute(_SERIES.encode(), (self.process, metric, labels))
                        sid = int(found.fetchone()[0])  # type: ignore[index]
                        series[key] = sid
                    adj = adjusted(None if previous is None else previous[1:], raw)
                    last[key] = (now, raw, adj)
                    rows.append((sid, now, raw, adj))
                if rows:
                    conn.cursor().executemany(_INSERT.encode(), rows)
        except SampleStoreError:
            self._series.clear()  # a series forgotten meanwhile is made again on the next try
            raise
        self._series.update(series)
        self._last.update(last)
        self._first = min(self._first, now) if rows else self._first
        return len(rows)

    def compact(self, cutoff: float, ranges: Sequence[Thinning]) -> int:
        """Delete samples before ``cutoff`` and thin ``ranges`` (every process's), then forget
        the other processes' series that have no sample left; return how many samples were
        deleted (0 when another replica is compacting)."""
        with self._mapped(), self._db.connection() as conn, conn.transaction():
            got = conn.execute(b"SELECT pg_try_advisory_xact_lock(%s)", (COMPACT_LOCK,))
            if not got.fetchone()[0]:  # type: ignore[index]
                return 0
            deleted = conn.execute(b"DELETE FROM samples WHERE ts < %s", (cutoff,)).rowcount
            for lower, upper, step in ranges:
                args = {"lower": lower, "upper": upper, "step": step}
                deleted += conn.execute(_THIN.encode(), args).rowcount
            conn.execute(_FORGET.encode(), (self.process,))
            first = conn.execute(b"SELECT MIN(ts) FROM samples").fetchone()
        if first is not None and first[0] is not None:
            self._first = float(first[0])
        return max(deleted, 0)

    def count(self) -> int:
        """How many samples are stored (of every process)."""
        return int(self._one(b"SELECT COUNT(*) FROM samples", ())[0])

    def increases(
        self, selector: Selector, start: float, end: float
    ) -> list[tuple[dict[str, str], float]]:
        """Each matching series' increase over ``(start, end]``, one per process."""
        args = {"start": start, "end": end, "metric": selector.metric}
        out = []
        for labels_json, at_end, at_start in self._all(_INCREASES.encode(), args):
            if at_end is None:
                continue  # series born after the window
            labels: dict[str, str] = json.loads(labels_json)
            if selector.matches(labels):
                out.append((labels, float(at_end) - float(at_start or 0.0)))
        return out

    def histories(self, selector: Selector, lowest: float, end: float) -> Series:
        """Each matching series' samples in ``[lowest, end]`` and the last before ``lowest``,
        one history per process."""
        args = {"metric": selector.metric, "lowest": lowest, "end": end}
        found: dict[int, tuple[dict[str, str], History]] = {}
        for sid, labels_json, ts, adj in self._all(_HISTORIES.encode(), args):
            if sid not in found:
                labels: dict[str, str] = json.loads(labels_json)
                found[sid] = (labels, ([], []))
            found[sid][1][0].append(float(ts))
            found[sid][1][1].append(float(adj))
        return [(labels, h) for labels, h in found.values() if selector.matches(labels)]

    def close(self) -> None:
        """Close the pool when this store opened it (a shared pool stays open)."""
        if self._owns_db:
            self._db.close()

    def _one(self, sql: bytes, args: Any) -> tuple[Any, ...]:
        rows = self._all(sql, args)
        return rows[0]

    def _all(self, sql: bytes, args: Any) -> list[tuple[Any, ...]]:
        with self._mapped(), self._db.connection() as conn:
            return conn.execute(sql, args).fetchall()


def open_pg_sample_store(
    url: str,
    *,
    process: str,
    password: str | None = None,
    pool_size: int = 2,
    timeout: float = 10.0,
) -> PgSampleStore:
    """Connect to ``url``, migrate the ``samples`` component and return the store, writing as
    ``process``. Raise :class:`~sloguard.errors.ConfigError` when the database cannot be used
    (see :func:`sloguard.postgres.pool.connect`).

    Example::

        open_pg_sample_store("postgresql://sloguard@db/sloguard", process="pod-1:9464")
    """
    db = connect(
        url,
        password=password,
        components=[SAMPLES],
        max_size=pool_size,
        timeout=timeout,
        application_name="sloguard-samples",
    )
    try:
        return PgSampleStore(db, process=process, owns_db=True)
    except SampleStoreError as exc:
        db.close()
        problem = Problem(db.where, None, "storage.url", f"cannot read the samples: {exc}")
        raise ConfigError([problem]) from None
    except BaseException:
        db.close()
        raise
