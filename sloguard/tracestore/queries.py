"""The SQL of the trace store's queries: each filter combination with the index that serves it.

Pure: filters in, ``(sql, args)`` out. Every query walks an index in its ORDER BY order and stops
at ``LIMIT``, so its cost depends on the rows returned, not on the rows stored
(``tests/test_tracestore_plans.py`` checks the plans at 1 000 000 stored steps). Where more than
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

Query = tuple[str, list[Any]]


def _where(terms: list[str]) -> str:
    return " WHERE " + " AND ".join(terms) if terms else ""


def list_traces(
    *,
    agent: str | None,
    status: str | None,
    since: float | None,
    until: float | None,
    limit: int,
) -> Query:
    """Summaries, newest start first; ``agent``: traces where it worked."""
    terms: list[str] = []
    args: list[Any] = []
    if agent is not None:
        # The agent's rows carry the trace's start: walk them newest first, join the summary.
        terms.append("a.agent = ?")
        args.append(agent)
        time_col = "a.started_at"
        source = "trace_agents a CROSS JOIN traces t ON t.seq = a.seq"
        order = "a.started_at DESC, a.seq DESC"
    else:
        time_col = "t.started_at"
        index = "traces_status" if status is not None else "traces_started"
        source = f"traces t INDEXED BY {index}"
        order = "t.started_at DESC, t.seq DESC"
    if status is not None:
        terms.append("t.status = ?")
        args.append(status)
    if since is not None:
        terms.append(f"{time_col} >= ?")
        args.append(since)
    if until is not None:
        terms.append(f"{time_col} < ?")
        args.append(until)
    sql = f"SELECT {SUMMARY_COLUMNS} FROM {source}{_where(terms)} ORDER BY {order} LIMIT ?"
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
    terms: list[str] = []
    args: list[Any] = []
    if workflow_id is not None:
        terms.append("workflow_id = ?")
        args.append(workflow_id)
    if agent is not None:
        terms.append("agent = ?")
        args.append(agent)
    if since_us is not None:
        terms.append("at_us >= ?")
        args.append(since_us)
    if until_us is not None:
        terms.append("at_us < ?")
        args.append(until_us)
    index = (
        "decisions_workflow"
        if workflow_id is not None
        else "decisions_agent"
        if agent is not None
        else "decisions_at"
    )
    sql = (
        f"SELECT {columns} FROM decisions INDEXED BY {index}{_where(terms)}"
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
    terms: list[str] = []
    args: list[Any] = []
    index = "events_received"
    # later assignments win: the most selective filter picks the index
    for column, value in (("type", type), ("agent", agent), ("trace_id", trace_id)):
        if value is not None:
            terms.append(f"{column} = ?")
            args.append(value)
            index = f"events_{column.removesuffix('_id')}"
    if since is not None:
        terms.append("received_at >= ?")
        args.append(since)
    if until is not None:
        terms.append("received_at < ?")
        args.append(until)
    sql = (
        f"SELECT received_at, body FROM events INDEXED BY {index}{_where(terms)}"
        " ORDER BY received_at DESC, id DESC LIMIT ?"
    )
    return sql, [*args, limit]
