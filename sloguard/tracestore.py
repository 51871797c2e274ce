"""Stored traces for the debugging tools (SQLite): ``sloguard trace …`` and ``/api/v1/traces``.

One row per trace (its summary and its JSON, parameters redacted) and one row per step (agent,
call type, status, start) so traces can be found by agent, status and time without parsing them.
Retention is by age (time stored) and by size (total steps; the oldest traces go first).

The pure helpers (:func:`summarize`, :func:`storable`, :func:`step_rows`, :func:`overflow`)
take values and return values; :class:`TraceStore` is the I/O around them.

Example::

    store = TraceStore("data/traces.sqlite")
    store.put(trace, now=time.time())
    for s in store.list(status="error", limit=10):
        print(s.trace_id, s.agent)
    store.prune(now=time.time())
"""

from __future__ import annotations

import builtins
import json
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal

from sloguard.conventions import CallType
from sloguard.sdk.redact import Redactor
from sloguard.sdk.trace import ResponseTrace, TraceRecord
from sloguard.sdk.traceparse import parse_trace

Status = Literal["ok", "error"]
STATUSES: tuple[Status, ...] = ("ok", "error")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS traces (
    trace_id TEXT PRIMARY KEY, started_at REAL NOT NULL, stored_at REAL NOT NULL,
    agent TEXT NOT NULL, status TEXT NOT NULL, steps INTEGER NOT NULL, cost REAL,
    json TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS traces_started ON traces (started_at);
CREATE INDEX IF NOT EXISTS traces_stored ON traces (stored_at);
CREATE INDEX IF NOT EXISTS traces_status ON traces (status, started_at);
CREATE TABLE IF NOT EXISTS steps (
    trace_id TEXT NOT NULL, step_id TEXT NOT NULL, agent TEXT, call_type TEXT NOT NULL,
    status TEXT NOT NULL, start REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS steps_trace ON steps (trace_id);
CREATE INDEX IF NOT EXISTS steps_agent ON steps (agent, status, start);
CREATE INDEX IF NOT EXISTS steps_start ON steps (start);
"""


@dataclass(frozen=True, slots=True)
class TraceSummary:
    """One stored trace without its steps: what ``trace list`` shows."""

    trace_id: str
    started_at: float
    """Unix seconds of the earliest step start."""
    agent: str
    """The first agent of the trace (its root agent), ``""`` when it has no agent step."""
    status: Status
    steps: int
    """Steps in all, those of nested callee traces included."""
    cost: float | None

    def as_dict(self) -> dict[str, Any]:
        """Return the summary as JSON-friendly values."""
        return asdict(self)


# --- pure helpers --------------------------------------------------------------------------------
def _agent_of(step: TraceRecord) -> str | None:
    return step.name if step.call_type is CallType.AGENT else step.scope_agent


def summarize(trace: ResponseTrace) -> TraceSummary:
    """Return the summary of ``trace`` (callee traces nested in agent invocations included)."""
    steps = list(trace.walk())
    agents = [s.name for s in steps if s.call_type is CallType.AGENT]
    costs = [s.cost for s in steps if s.cost is not None]
    return TraceSummary(
        trace_id=trace.trace_id,
        started_at=min((s.start_time.timestamp() for s in steps), default=0.0),
        agent=agents[0] if agents else "",
        status="error" if any(s.failed for s in steps) else "ok",
        steps=len(steps),
        cost=sum(costs) if costs else None,
    )


def step_rows(trace: ResponseTrace) -> list[tuple[str, str, str | None, str, str, float]]:
    """Return ``(trace_id, step_id, agent, call_type, status, start)`` for every step.

    ``agent`` is the step's own name for agent steps, else its enclosing agent.
    """
    return [
        (
            trace.trace_id,
            s.step_id,
            _agent_of(s),
            s.call_type.value,
            "error" if s.failed else "ok",
            s.start_time.timestamp(),
        )
        for s in trace.walk()
    ]


def _storable_step(step: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    out = dict(step)
    out["parameters"] = redactor.clean(out.get("parameters"))
    requests = out.get("requests")
    if isinstance(requests, dict):
        out["requests"] = redactor.clean(requests)
    nested = out.pop("response_trace", None)
    if nested is not None:
        # The flat shape has no place for a callee trace: keep it as the spec's agent invocation.
        out["step_action"] = {
            "agent_invocation": {
                "agent_name": out.get("name"),
                "agent_url": out.pop("agent_url", None),
                "requests": out.get("requests"),
                "response_trace": storable(nested, redactor),
            }
        }
    return out


def storable(data: dict[str, Any], redactor: Redactor) -> dict[str, Any]:
    """Return ``ResponseTrace.as_dict()`` output with parameters and requests redacted.

    The result is what :func:`~sloguard.sdk.traceparse.parse_trace` reads back, callee traces
    included.
    """
    return {
        "trace_id": data["trace_id"],
        "steps": [_storable_step(s, redactor) for s in data.get("steps", [])],
    }


def overflow(oldest_first: Iterable[tuple[str, int]], total: int, max_steps: int) -> list[str]:
    """Return the ids of the oldest traces to drop so that at most ``max_steps`` steps remain."""
    drop: list[str] = []
    for trace_id, steps in oldest_first:
        if total <= max_steps:
            break
        drop.append(trace_id)
        total -= steps
    return drop


def _summary(row: Sequence[Any]) -> TraceSummary:
    trace_id, started_at, agent, status, steps, cost = row
    return TraceSummary(trace_id, started_at, agent, status, steps, cost)


# --- the store -----------------------------------------------------------------------------------
_SUMMARY_COLUMNS = "trace_id, started_at, agent, status, steps, cost"


class TraceStore:
    """SQLite in WAL mode; one connection shared by threads under a lock.

    Example::

        store = TraceStore(tmp_path / "traces.sqlite", max_age_seconds=3600)
        store.put(trace, now=1_700_000_000.0)
        store.get(trace.trace_id)
    """

    def __init__(
        self,
        path: str | Path = ":memory:",
        *,
        max_age_seconds: float = 7 * 86400,
        max_steps: int = 1_000_000,
        redactor: Redactor | None = None,
    ) -> None:
        self.max_age_seconds = max_age_seconds
        self.max_steps = max_steps
        self._redactor = redactor or Redactor()
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    def put(self, trace: ResponseTrace, now: float) -> TraceSummary:
        """Store ``trace`` (redacted), replacing one with the same id; return its summary."""
        summary = summarize(trace)
        text = json.dumps(storable(trace.as_dict(), self._redactor), default=str)
        rows = step_rows(trace)
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                self._delete([trace.trace_id])
                self._db.execute(
                    "INSERT INTO traces (trace_id, started_at, stored_at, agent, status, steps,"
                    " cost, json) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        summary.trace_id,
                        summary.started_at,
                        now,
                        summary.agent,
                        summary.status,
                        summary.steps,
                        summary.cost,
                        text,
                    ),
                )
                self._db.executemany("INSERT INTO steps VALUES (?, ?, ?, ?, ?, ?)", rows)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return summary

    def get(self, trace_id: str) -> ResponseTrace | None:
        """Return the stored trace, or ``None`` when there is none with this id."""
        with self._lock:
            row = self._db.execute(
                "SELECT json FROM traces WHERE trace_id = ?", (trace_id,)
            ).fetchone()
        return None if row is None else parse_trace(json.loads(row[0]))

    def summary(self, trace_id: str) -> TraceSummary | None:
        """Return the summary of a stored trace, or ``None``."""
        with self._lock:
            row = self._db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM traces WHERE trace_id = ?", (trace_id,)
            ).fetchone()
        return None if row is None else _summary(row)

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
        where: builtins.list[str] = []
        args: builtins.list[Any] = []
        if agent is not None:
            where.append("trace_id IN (SELECT trace_id FROM steps WHERE agent = ?)")
            args.append(agent)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if since is not None:
            where.append("started_at >= ?")
            args.append(since)
        if until is not None:
            where.append("started_at < ?")
            args.append(until)
        sql = f"SELECT {_SUMMARY_COLUMNS} FROM traces"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY started_at DESC, trace_id LIMIT ?"
        with self._lock:
            rows = self._db.execute(sql, (*args, limit)).fetchall()
        return [_summary(r) for r in rows]

    def failing(self, agent: str | None = None, limit: int = 3) -> builtins.list[TraceSummary]:
        """Return the newest failed traces; with ``agent``, those where that agent's work failed."""
        if agent is None:
            return self.list(status="error", limit=limit)
        with self._lock:
            rows = self._db.execute(
                f"SELECT {_SUMMARY_COLUMNS} FROM traces WHERE trace_id IN"
                " (SELECT trace_id FROM steps WHERE agent = ? AND status = 'error')"
                " ORDER BY started_at DESC, trace_id LIMIT ?",
                (agent, limit),
            ).fetchall()
        return [_summary(r) for r in rows]

    def successful(self, limit: int = 200) -> builtins.list[ResponseTrace]:
        """Return the newest successful traces (baselines for a failed run)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT json FROM traces WHERE status = 'ok' ORDER BY started_at DESC LIMIT ?",
                (limit,),
            ).fetchall()
        return [parse_trace(json.loads(r[0])) for r in rows]

    def prune(self, now: float) -> int:
        """Drop traces stored more than ``max_age_seconds`` ago, then the oldest ones until at
        most ``max_steps`` steps remain; return how many traces were dropped."""
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                old = [
                    r[0]
                    for r in self._db.execute(
                        "SELECT trace_id FROM traces WHERE stored_at < ?",
                        (now - self.max_age_seconds,),
                    )
                ]
                self._delete(old)
                (total,) = self._db.execute("SELECT COALESCE(SUM(steps), 0) FROM traces").fetchone()
                big: builtins.list[str] = []
                if total > self.max_steps:
                    rows = self._db.execute(
                        "SELECT trace_id, steps FROM traces ORDER BY stored_at, started_at"
                    )
                    big = overflow(rows, total, self.max_steps)
                    self._delete(big)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return len(old) + len(big)

    def _delete(self, trace_ids: Sequence[str]) -> None:
        for i in range(0, len(trace_ids), 500):
            chunk = trace_ids[i : i + 500]
            marks = ",".join("?" * len(chunk))
            self._db.execute(f"DELETE FROM steps WHERE trace_id IN ({marks})", chunk)
            self._db.execute(f"DELETE FROM traces WHERE trace_id IN ({marks})", chunk)
