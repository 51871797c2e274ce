"""The trace store's SQLite file: schema, pragmas, migration, and one connection under a lock.

Tables (schema version 2, ``PRAGMA user_version``):

- ``traces`` — one narrow row per trace (summary columns; ``seq`` is the order of storing, so
  the oldest traces are the lowest ``seq``), indexed by id, start, store time and status;
- ``trace_bodies`` — the trace's compressed JSON, kept apart so that scanning summaries (the
  step total of retention, listings) never reads bodies;
- ``trace_agents`` — one row per agent per trace with whether that agent's work failed: finds
  the traces of an agent, and its failing ones through a partial index, without a row per step;
- ``decisions`` — decision records by workflow, agent, decision time and store time;
- ``events`` — plain ingest events by type, agent, trace id and time received.

Pragmas: WAL, so readers (``sloguard trace``, the API) never wait for the writer; and
``synchronous=NORMAL``, the usual choice under WAL: a commit does not wait for fsync, so a power
loss or OS crash may lose the last transactions but never corrupts the file, and an application
crash loses nothing. For debugging data that is the right trade (``FULL`` fsyncs every ingest
batch). ``auto_vacuum=INCREMENTAL`` (settable only before the first table exists) lets retention
give freed pages back to the file system (``PRAGMA incremental_vacuum``).

Files of schema version 0 (the first trace store: a ``steps`` table with a row per step) are
migrated on open and rewritten once with ``VACUUM``, which also turns incremental auto-vacuum
on; that takes time in proportion to the file and needs as much free disk space. If ``VACUUM``
cannot run (the disk is full, another process reads the file), the file keeps working without
shrinking: freed pages are reused, and retention bounds the pages in use either way.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sloguard.errors import ConfigError, Problem, SloguardError

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    seq INTEGER PRIMARY KEY, trace_id TEXT NOT NULL UNIQUE,
    started_at REAL NOT NULL, stored_at REAL NOT NULL,
    agent TEXT NOT NULL, status TEXT NOT NULL, steps INTEGER NOT NULL, cost REAL
);
CREATE INDEX IF NOT EXISTS traces_started ON traces (started_at);
CREATE INDEX IF NOT EXISTS traces_stored ON traces (stored_at);
CREATE INDEX IF NOT EXISTS traces_status ON traces (status, started_at);
CREATE TABLE IF NOT EXISTS trace_bodies (seq INTEGER PRIMARY KEY, body BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS trace_agents (
    agent TEXT NOT NULL, started_at REAL NOT NULL, seq INTEGER NOT NULL,
    failed INTEGER NOT NULL,
    PRIMARY KEY (agent, started_at, seq)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS trace_agents_failed ON trace_agents (agent, started_at) WHERE failed;
CREATE INDEX IF NOT EXISTS trace_agents_seq ON trace_agents (seq);
CREATE TABLE IF NOT EXISTS decisions (
    id INTEGER PRIMARY KEY, at_us INTEGER NOT NULL, utc_offset_s INTEGER NOT NULL,
    stored_at REAL NOT NULL, workflow_id TEXT, agent TEXT NOT NULL,
    decision_type TEXT NOT NULL, chosen TEXT NOT NULL, confidence REAL NOT NULL,
    options BLOB NOT NULL, reasoning TEXT NOT NULL, input_summary TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_workflow ON decisions (workflow_id, at_us);
CREATE INDEX IF NOT EXISTS decisions_agent ON decisions (agent, at_us);
CREATE INDEX IF NOT EXISTS decisions_at ON decisions (at_us);
CREATE INDEX IF NOT EXISTS decisions_stored ON decisions (stored_at);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, received_at REAL NOT NULL, type TEXT NOT NULL,
    agent TEXT, trace_id TEXT, body BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS events_type ON events (type, received_at);
CREATE INDEX IF NOT EXISTS events_agent ON events (agent, received_at);
CREATE INDEX IF NOT EXISTS events_trace ON events (trace_id, received_at);
CREATE INDEX IF NOT EXISTS events_received ON events (received_at);
"""

# Version 0 → 2: keep every trace (bodies stay JSON text, which decode_body reads), rebuild the
# per-agent rows from the per-step rows, drop the step rows.
_MIGRATE_V0 = """
DROP INDEX IF EXISTS traces_started;
DROP INDEX IF EXISTS traces_stored;
DROP INDEX IF EXISTS traces_status;
DROP INDEX IF EXISTS steps_trace;
DROP INDEX IF EXISTS steps_agent;
DROP INDEX IF EXISTS steps_start;
ALTER TABLE traces RENAME TO traces_v0;
{schema}
INSERT INTO traces (trace_id, started_at, stored_at, agent, status, steps, cost)
    SELECT trace_id, started_at, stored_at, agent, status, steps, cost FROM traces_v0
    ORDER BY stored_at, started_at;
INSERT INTO trace_bodies (seq, body)
    SELECT t.seq, o.json FROM traces t JOIN traces_v0 o ON o.trace_id = t.trace_id;
INSERT INTO trace_agents (agent, started_at, seq, failed)
    SELECT s.agent, t.started_at, t.seq, MAX(s.status = 'error')
    FROM steps s JOIN traces t ON t.trace_id = s.trace_id
    WHERE s.agent IS NOT NULL GROUP BY t.seq, s.agent;
DROP TABLE traces_v0;
DROP TABLE steps;
"""

#: The most pages (of ``PAGE_SIZE``) the write-ahead log grows to before it is checkpointed.
WAL_PAGES = 1000
PAGE_SIZE = 4096


class StoreVersionError(SloguardError):
    """The trace store file was written by a newer sloguard."""


def _cannot_open(path: str, what: str, exc: sqlite3.Error) -> ConfigError:
    """The ConfigError for a store file SQLite cannot open or set up (``what``: its name)."""
    message = (
        f"cannot open {what}: {exc}; check that the user sloguard runs as can write this file "
        "and its directory"
    )
    return ConfigError([Problem(path, None, "", message)])


class Database:
    """One SQLite connection shared by threads under a lock.

    ``wal_bytes`` bounds the write-ahead log: it is checkpointed every ``wal_bytes`` of
    changes (at most :data:`WAL_PAGES` pages) and truncated back to that size afterwards.

    Example::

        db = Database("traces.sqlite")
        with db.transaction() as conn:
            conn.execute("DELETE FROM events")
        db.read("SELECT COUNT(*) FROM traces")
    """

    def __init__(self, path: str | Path, *, wal_bytes: int = WAL_PAGES * PAGE_SIZE) -> None:
        self.path = str(path)
        self.lock = threading.Lock()
        try:
            conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        except sqlite3.Error as exc:
            raise _cannot_open(self.path, "the trace store", exc) from exc
        self.conn = conn
        try:
            self._setup(wal_bytes)
        except sqlite3.Error as exc:  # read-only file or directory, not a database, ...
            conn.close()
            raise _cannot_open(self.path, "the trace store", exc) from exc
        except BaseException:
            conn.close()
            raise

    def _setup(self, wal_bytes: int) -> None:
        c = self.conn
        new = not c.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchone()
        if new:
            # Only takes effect before the first table exists (see the module docstring).
            c.execute("PRAGMA auto_vacuum=INCREMENTAL")
        c.execute("PRAGMA journal_mode=WAL")
        c.execute("PRAGMA synchronous=NORMAL")  # why: see the module docstring
        pages = max(16, min(WAL_PAGES, wal_bytes // PAGE_SIZE))
        c.execute(f"PRAGMA wal_autocheckpoint={pages}")
        c.execute(f"PRAGMA journal_size_limit={pages * PAGE_SIZE}")
        c.execute("PRAGMA cache_size=-16384")  # KiB: the indexes of ~1M steps stay cached
        version = c.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreVersionError(
                f"{self.path}: trace store schema {version} is newer than this sloguard "
                f"understands ({SCHEMA_VERSION}); upgrade sloguard or use another file"
            )
        legacy = version < SCHEMA_VERSION and self._has_table("steps")
        c.execute("BEGIN IMMEDIATE")
        try:
            # statement by statement: executescript() would commit first
            if legacy:
                for statement in _statements(_MIGRATE_V0.format(schema=_SCHEMA)):
                    c.execute(statement)
            else:
                for statement in _statements(_SCHEMA):
                    c.execute(statement)
            c.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except BaseException:
            c.execute("ROLLBACK")
            raise
        c.execute("COMMIT")
        if legacy and self.auto_vacuum != "incremental":
            self._rewrite()

    def _rewrite(self) -> None:
        try:
            self.conn.execute("PRAGMA auto_vacuum=INCREMENTAL")
            self.conn.execute("VACUUM")
        except sqlite3.OperationalError:
            pass  # still bounded, only not shrinking (module docstring)

    def _has_table(self, name: str) -> bool:
        row = self.conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    @property
    def auto_vacuum(self) -> str:
        """``none``, ``full`` or ``incremental``: whether freed pages can leave the file."""
        mode = self.conn.execute("PRAGMA auto_vacuum").fetchone()[0]
        return {0: "none", 1: "full", 2: "incremental"}[mode]

    def close(self) -> None:
        """Close the connection."""
        with self.lock:
            self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """Hold the lock and a write transaction; commit at the end, roll back on error."""
        with self.lock:
            self.conn.execute("BEGIN IMMEDIATE")
            try:
                yield self.conn
            except BaseException:
                self._rollback()
                raise
            try:
                self.conn.execute("COMMIT")
            except BaseException:  # a failed COMMIT (disk full) may leave the transaction open
                self._rollback()
                raise

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            # SQLite may have rolled back already (an I/O error): then nothing is open
            with contextlib.suppress(sqlite3.Error):
                self.conn.execute("ROLLBACK")

    def read(self, sql: str, args: Sequence[Any] = ()) -> list[Any]:
        """Return every row of a query, run under the lock."""
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def used_bytes(self) -> int:
        """Return the bytes of the pages in use (the file's pages minus its free list)."""
        with self.lock:
            return self._pages_in_use() * self._page_size()

    def file_pages_bytes(self) -> int:
        """Return the bytes of every page of the database (``page_count × page_size``)."""
        with self.lock:
            return int(self.conn.execute("PRAGMA page_count").fetchone()[0]) * self._page_size()

    def _pages_in_use(self) -> int:
        pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
        free = self.conn.execute("PRAGMA freelist_count").fetchone()[0]
        return int(pages) - int(free)

    def _page_size(self) -> int:
        return int(self.conn.execute("PRAGMA page_size").fetchone()[0])

    def reclaim(self) -> None:
        """Give free pages back to the file system and checkpoint the log into the file."""
        with self.lock:
            # executescript steps the pragma to its end; execute() stops after one step (the
            # pragma has no result columns), which frees a single page.
            self.conn.executescript("PRAGMA incremental_vacuum;")
            # The database file only shrinks when the log is checkpointed into it; TRUNCATE also
            # empties the log file. Busy (a reader holds an old snapshot) is not an error: the
            # next checkpoint finishes the job.
            self.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]
