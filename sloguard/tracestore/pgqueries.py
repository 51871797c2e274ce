"""The trace store's schema and queries on PostgreSQL (:mod:`sloguard.tracestore.pgstore`).

Pure: filters in, ``(sql, args)`` out, ``%s`` placeholders. The tables mirror the SQLite file
(:mod:`sloguard.tracestore.database`) with two differences: a trace's body (its redacted JSON,
zlib-compressed as in SQLite: the same codec reads both) is a ``BYTEA`` column of ``traces``,
which PostgreSQL keeps out of line (TOAST) so scans of the summary columns never read it; and
each row carries ``bytes``, its logical size, whose sum is what ``traces.max_bytes`` bounds.
``trace_agents`` rows go with their trace (``ON DELETE CASCADE``).

Indexes serve the same queries as in SQLite: traces by start (and status), the agent's rows by
``(agent, started_at, seq)`` with a partial index for its failing work, decisions by workflow,
agent and time, events by trace id, agent, type and time; ties in time are broken by ``seq`` /
``id``, the order of storing, newest first.

Example::

    sql, args = list_traces(agent="planner", status=None, since=None, until=None, limit=10)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

__all__ = [
    "BODY_BY_ID",
    "INSERT_AGENT",
    "INSERT_DECISION",
    "INSERT_EVENT",
    "INSERT_TRACE",
    "MIGRATIONS",
    "ROW_OVERHEAD",
    "SUCCESSFUL",
    "SUMMARY_BY_ID",
    "decisions",
    "events",
    "failing",
    "list_traces",
    "no_nul",
    "row_bytes",
]

#: Version n of the ``traces`` component is ``MIGRATIONS[n - 1]``; append, never edit.
MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE traces (
        seq BIGSERIAL PRIMARY KEY, trace_id TEXT NOT NULL UNIQUE,
        started_at DOUBLE PRECISION NOT NULL, stored_at DOUBLE PRECISION NOT NULL,
        agent TEXT NOT NULL, status TEXT NOT NULL, steps INTEGER NOT NULL,
        cost DOUBLE PRECISION, body BYTEA NOT NULL, bytes BIGINT NOT NULL
    );
    CREATE INDEX traces_started ON traces (started_at DESC, seq DESC);
    CREATE INDEX traces_stored ON traces (stored_at);
    CREATE INDEX traces_status ON traces (status, started_at DESC, seq DESC);
    CREATE TABLE trace_agents (
        agent TEXT NOT NULL, started_at DOUBLE PRECISION NOT NULL,
        seq BIGINT NOT NULL REFERENCES traces (seq) ON DELETE CASCADE,
        failed BOOLEAN NOT NULL,
        PRIMARY KEY (agent, started_at, seq)
    );
    CREATE INDEX trace_agents_failed ON trace_agents (agent, started_at DESC, seq DESC)
        WHERE failed;
    CREATE INDEX trace_agents_seq ON trace_agents (seq);
    CREATE TABLE decisions (
        id BIGSERIAL PRIMARY KEY, at_us BIGINT NOT NULL, utc_offset_s INTEGER NOT NULL,
        stored_at DOUBLE PRECISION NOT NULL, workflow_id TEXT, agent TEXT NOT NULL,
        decision_type TEXT NOT NULL, chosen TEXT NOT NULL, confidence DOUBLE PRECISION NOT NULL,
        options BYTEA NOT NULL, reasoning TEXT NOT NULL, input_summary TEXT NOT NULL,
        bytes BIGINT NOT NULL
    );
    CREATE INDEX decisions_workflow ON decisions (workflow_id, at_us);
    CREATE INDEX decisions_agent ON decisions (agent, at_us);
    CREATE INDEX decisions_at ON decisions (at_us);
    CREATE INDEX decisions_stored ON decisions (stored_at);
    CREATE TABLE events (
        id BIGSERIAL PRIMARY KEY, received_at DOUBLE PRECISION NOT NULL, type TEXT NOT NULL,
        agent TEXT, trace_id TEXT, body BYTEA NOT NULL, bytes BIGINT NOT NULL
    );
    CREATE INDEX events_type ON events (type, received_at);
    CREATE INDEX events_agent ON events (agent, received_at);
    CREATE INDEX events_trace ON events (trace_id, received_at);
    CREATE INDEX events_received ON events (received_at);
    """,
)

_SUMMARY = "t.trace_id, t.started_at, t.agent, t.status, t.steps, t.cost"

SUMMARY_BY_ID = f"SELECT {_SUMMARY} FROM traces t WHERE t.trace_id = %s"
BODY_BY_ID = "SELECT body FROM traces WHERE trace_id = %s"
SUCCESSFUL = (
    "SELECT body FROM traces WHERE status = 'ok' ORDER BY started_at DESC, seq DESC LIMIT %s"
)

INSERT_TRACE = (
    "INSERT INTO traces (trace_id, started_at, stored_at, agent, status, steps, cost, body, bytes)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING seq"
)
INSERT_AGENT = "INSERT INTO trace_agents (agent, started_at, seq, failed) VALUES (%s, %s, %s, %s)"
INSERT_DECISION = (
    "INSERT INTO decisions (at_us, utc_offset_s, stored_at, workflow_id, agent, decision_type,"
    " chosen, confidence, options, reasoning, input_summary, bytes) VALUES"
    " (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
)
INSERT_EVENT = (
    "INSERT INTO events (received_at, type, agent, trace_id, body, bytes)"
    " VALUES (%s, %s, %s, %s, %s, %s)"
)

Query = tuple[str, list[Any]]

#: Bytes counted per row beyond its body or texts (tuple header, index entries).
ROW_OVERHEAD = 64


def row_bytes(row: Sequence[Any]) -> int:
    """A row's logical size: its texts and bytes plus :data:`ROW_OVERHEAD`.

    Example::

        row_bytes((1.0, "tool_call", b"{}"))   # 64 + 9 + 2 = 75
    """
    return ROW_OVERHEAD + sum(len(v) for v in row if isinstance(v, str | bytes))


def no_nul(value: Any) -> Any:
    """``value`` with NUL characters as U+FFFD when it is text (PostgreSQL's text holds no NUL).

    Example::

        no_nul("a\x00b")   # "a\ufffdb"
    """
    return value.replace("\x00", "\ufffd") if isinstance(value, str) else value


def _where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    given = [(sql, value) for sql, value in conditions if value is not None]
    clause = " WHERE " + " AND ".join(sql for sql, _ in given) if given else ""
    return clause, [value for _, value in given]


def list_traces(
    *,
    agent: str | None,
    status: str | None,
    since: float | None,
    until: float | None,
    limit: int,
) -> Query:
    """Summaries, newest start first; ``agent``: traces where it worked."""
    if agent is not None:
        time_col = "a.started_at"
        source = "trace_agents a JOIN traces t ON t.seq = a.seq"
        order = "a.started_at DESC, a.seq DESC"
    else:
        time_col, source, order = "t.started_at", "traces t", "t.started_at DESC, t.seq DESC"
    where, args = _where(
        ("a.agent = %s", agent),
        ("t.status = %s", status),
        (f"{time_col} >= %s", since),
        (f"{time_col} < %s", until),
    )
    sql = f"SELECT {_SUMMARY} FROM {source}{where} ORDER BY {order} LIMIT %s"
    return sql, [*args, limit]


def failing(agent: str, limit: int) -> Query:
    """Summaries of the traces where ``agent``'s work failed, newest first."""
    sql = (
        f"SELECT {_SUMMARY} FROM trace_agents a JOIN traces t ON t.seq = a.seq"
        " WHERE a.agent = %s AND a.failed ORDER BY a.started_at DESC, a.seq DESC LIMIT %s"
    )
    return sql, [agent, limit]


def decisions(
    *,
    columns: str,
    workflow_id: str | None,
    agent: str | None,
    since_us: int | None,
    until_us: int | None,
    limit: int,
) -> Query:
    """Decision rows, newest decision first (the store reverses them into a chain)."""
    where, args = _where(
        ("workflow_id = %s", workflow_id),
        ("agent = %s", agent),
        ("at_us >= %s", since_us),
        ("at_us < %s", until_us),
    )
    sql = f"SELECT {columns} FROM decisions{where} ORDER BY at_us DESC, id DESC LIMIT %s"
    return sql, [*args, limit]


def events(
    *,
    type: str | None,
    agent: str | None,
    trace_id: str | None,
    since: float | None,
    until: float | None,
    limit: int,
) -> Query:
    """``(received_at, body)`` of events, newest first."""
    where, args = _where(
        ("type = %s", type),
        ("agent = %s", agent),
        ("trace_id = %s", trace_id),
        ("received_at >= %s", since),
        ("received_at < %s", until),
    )
    sql = f"SELECT received_at, body FROM events{where} ORDER BY received_at DESC, id DESC LIMIT %s"
    return sql, [*args, limit]
