"""``/api/v1/traces``: stored traces and the debugging tools over them (DESIGN §3).

- ``GET /api/v1/traces?agent=&status=ok|error&since=&until=&limit=`` — summaries, newest first
  (``since`` / ``until`` in unix seconds, ``limit`` 1..1000, default 50);
- ``GET /api/v1/traces/{id}`` — the trace, its text tree and its anomalies;
- ``GET /api/v1/traces/{id}/mermaid`` — a Mermaid sequence diagram (``text/plain``);
- ``GET /api/v1/traces/compare?a=&b=`` — compare two runs; without ``b``, the successful run
  most similar to ``a`` is chosen.

Bad query values answer 400 naming the parameter; unknown trace ids answer 404.
"""

from __future__ import annotations

import math
from typing import Any

from fastapi import APIRouter, HTTPException, Query
from fastapi.responses import PlainTextResponse

from sloguard.debug import (
    compare,
    most_similar_successful,
    sequence_diagram,
    text_tree,
    trace_anomalies,
)
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore import STATUSES, TraceStore

MAX_LIMIT = 1000


def _time(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        t = float(value)
    except ValueError:
        t = math.nan
    if not math.isfinite(t):
        raise HTTPException(400, f"query parameter {name} must be unix seconds, got {value!r}")
    return t


def _limit(value: str | None) -> int:
    if value is None:
        return 50
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LIMIT:
        raise HTTPException(
            400, f"query parameter limit must be an integer from 1 to {MAX_LIMIT}, got {value!r}"
        )
    return n


def trace_detail(trace: ResponseTrace) -> dict[str, Any]:
    """Return a trace with its text tree and anomalies (the body of ``GET …/traces/{id}``)."""
    return {
        "trace": trace.as_dict(),
        "tree": text_tree(trace),
        "anomalies": [a.as_dict() for a in trace_anomalies(trace)],
    }


def comparison(store: TraceStore, a: str, b: str | None) -> dict[str, Any]:
    """Compare stored runs ``a`` and ``b``, or ``a`` with its most similar successful run.

    The result is :meth:`RunComparison.as_dict` plus ``baseline`` (the other run's id) and
    ``automatic`` (true when the baseline was chosen). A chosen baseline is run A (the good
    run, as :func:`most_similar_successful` compares) and ``a`` is run B.
    Raises :class:`LookupError` naming what is missing.
    """
    run_a = store.get(a)
    if run_a is None:
        raise LookupError(f"no stored trace with id {a!r}")
    if b is not None:
        run_b = store.get(b)
        if run_b is None:
            raise LookupError(f"no stored trace with id {b!r}")
        return {"baseline": b, "automatic": False, **compare(run_a, run_b).as_dict()}
    base = most_similar_successful(run_a, store.successful())
    if base is None:
        raise LookupError(f"no successful stored trace to compare {a!r} with")
    return {"baseline": base.trace.trace_id, "automatic": True, **base.comparison.as_dict()}


def traces_router(store: TraceStore) -> APIRouter:
    """Routes answering from ``store``."""
    router = APIRouter(prefix="/api/v1", tags=["traces"])

    # Plain ``def``: FastAPI runs them in worker threads, so SQLite never blocks the loop.
    @router.get("/traces")
    def list_traces(
        agent: str | None = Query(None, description="only traces where this agent ran"),
        status: str | None = Query(None, description=f"only traces with this status: {STATUSES}"),
        since: str | None = Query(None, description="traces started at or after (unix seconds)"),
        until: str | None = Query(None, description="traces started before (unix seconds)"),
        limit: str | None = Query(None, description=f"at most this many, 1..{MAX_LIMIT} (50)"),
    ) -> dict[str, Any]:
        if status is not None and status not in STATUSES:
            raise HTTPException(
                400, f"query parameter status must be one of {list(STATUSES)}, got {status!r}"
            )
        found = store.list(
            agent=agent,
            status="ok" if status == "ok" else "error" if status == "error" else None,
            since=_time("since", since),
            until=_time("until", until),
            limit=_limit(limit),
        )
        return {"traces": [s.as_dict() for s in found]}

    @router.get("/traces/compare")
    def compare_traces(
        a: str = Query(..., description="the run to explain (typically a failed one)"),
        b: str | None = Query(None, description="the run to compare with (default: chosen)"),
    ) -> dict[str, Any]:
        try:
            return comparison(store, a, b)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get("/traces/{trace_id}")
    def get_trace(trace_id: str) -> dict[str, Any]:
        trace = store.get(trace_id)
        summary = store.summary(trace_id)
        if trace is None or summary is None:
            raise HTTPException(404, f"no stored trace with id {trace_id!r}")
        return {"summary": summary.as_dict(), **trace_detail(trace)}

    @router.get("/traces/{trace_id}/mermaid", response_class=PlainTextResponse)
    def get_mermaid(trace_id: str) -> PlainTextResponse:
        trace = store.get(trace_id)
        if trace is None:
            raise HTTPException(404, f"no stored trace with id {trace_id!r}")
        return PlainTextResponse(sequence_diagram(trace))

    return router
