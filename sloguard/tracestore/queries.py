"""The SQL of the trace store's queries: each filter combination with the index that serves it.

Pure: filters in, ``(sql, args)`` out. Every query walks an index in its ORDER BY order and stops
at ``LIMIT``, so its cost depends on the rows returned, not on the rows stored
(``tests/tracestore/test_plans.py`` checks the plans at 1 000 000 stored steps). Where more than
one index could serve a query, ``INDEXED BY`` names the most selective one instead of leaving
the choice to the planner, which has no statistics (the store never runs ``ANALYZE``):

- traces: by agent through ``trace_agents`` (its failing work through a partial index), else by
  status, else by start time; ties in time are broken by the order of storing, newest first;
- decisions: by workflow, else agent, else decision time;
- events: by trace id, else agent, else type, else time received.
"""

from __future__ import annotations

from typing import Any

SUMMARY_COLUMNS = "t.trace_id, t.started_at, t.agent, t.status, t.steps, t.cost"

SUMMARY_BY_ID = f"SELECT {SUMMARY_COLUMNS} FROM traces t WHERE t.trace_id = ?"
BODY_BY_ID = (
    "SELECT b.body FROM traces t CROSS JOIN trace_bodies b ON b.seq = t.seq WHERE t.trace_id = ?"
)
SUCCESSFUL = (
    "SELECT b.body FROM traces t INDEXED BY traces_status CROSS JOIN trace_bodies b"
    " ON b.seq = t.seq WHERE t.status = 'ok' ORDER BY t.started_at DESC, t.seq DESC LIMIT ?"
)

#: The writes: a trace's summary row, body and agent rows; a decision row; an event row.
INSERT_TRACE = "INSERT INTO traces VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
INSERT_BODY = "INSERT INTO trace_bodies VALUES (?, ?)"
INSERT_AGENT = "INSERT INTO trace_agents VALUES (?, ?, ?, ?)"
INSERT_DECISION = (
    "INSERT INTO decisions (at_us, utc_offset_s, stored_at, workflow_id, agent, decision_type,"
    " chosen, confidence, options, reasoning, input_summary) VALUES"
    " (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_EVENT = (
    "INSERT INTO events (received_at, type, agent, trace_id, body) VALUES (?, ?, ?, ?, ?)"
)

Query = tuple[str, list[Any]]


def _where(*conditions: tuple[str, Any]) -> tuple[str, list[Any]]:
    """Return `` WHERE …`` (or ``""``) and its args for the ``(sql, value)`` pairs whose value
    is not ``None``."""
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
        # The agent's rows carry the trace's start: walk them newest first, join the summary.
        time_col = "a.started_at"
        source = "trace_agents a CROSS JOIN traces t ON t.seq = a.seq"
        order = "a.started_at DESC, a.seq DESC"
    else:
        time_col = "t.started_at"
        index = "traces_status" if status is not None else "traces_started"
        source = f"traces t INDEXED BY {index}"
        order = "t.started_at DESC, t.seq DESC"
    where, args = _where(
        ("a.agent = ?", agent),
        ("t.status = ?", status),
        (f"{time_col} >= ?", since),
        (f"{time_col} < ?", until),
    )
    sql = f"SELECT {SUMMARY_COLUMNS} FROM {source}{where} ORDER BY {order} LIMIT ?"
    return sql, [*args, limit]


def failing(agent: str, limit: int) -> Query:
    """Summaries of the traces where ``agent``'s work failed, newest first."""
    sql = (
        f"SELECT {SUMMARY_COLUMNS} FROM trace_agents a INDEXED BY trace_agents_failed"
        " CROSS JOIN traces t ON t.seq = a.seq WHERE a.agent = ? AND a.failed"
        " ORDER BY a.started_at DESC, a.seq DESC LIMIT ?"
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
        ("workflow_id = ?", workflow_id),
        ("agent = ?", agent),
        ("at_us >= ?", since_us),
        ("at_us < ?", until_us),
    )
    index = (
        "decisions_workflow"
        if workflow_id is not None
        else "decisions_agent"
        if agent is not None
        else "decisions_at"
    )
    sql = (
        f"SELECT {columns} FROM decisions INDEXED BY {index}{where}"
        " ORDER BY at_us DESC, id DESC LIMIT ?"
    )
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
    # the most selective filter given picks the index
    index = (
        "events_trace"
        if trace_id is not None
        else "events_agent"
        if agent is not None
        else "events_type"
        if type is not None
        else "events_received"
    )
    where, args = _where(
        ("type = ?", type),
        ("agent = ?", agent),
        ("trace_id = ?", trace_id),
        ("received_at >= ?", since),
        ("received_at < ?", until),
    )
    sql = (
        f"SELECT received_at, body FROM events INDEXED BY {index}{where}"
        " ORDER BY received_at DESC, id DESC LIMIT ?"
    )
    return sql, [*args, limit]
