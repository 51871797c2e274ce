"""``/api/v1/traces``: stored traces and the debugging tools over them (DESIGN §3).

- ``GET /api/v1/traces?agent=&status=ok|error&since=&until=&limit=`` — summaries, newest first
  (``since`` / ``until`` in unix seconds, ``limit`` 1..1000, default 50);
- ``GET /api/v1/traces/{id}`` — the trace, its text tree and its anomalies (``id``
  percent-encoded; the ingest refuses ids this route could not open: with ``/``, or ``.``,
  ``..``, ``compare``, see :mod:`sloguard.ingest.bounds`);
- ``GET /api/v1/traces/{id}/mermaid`` — a Mermaid sequence diagram (``text/plain``);
- ``GET /api/v1/traces/{id}/svg`` — the same diagram drawn as SVG (``image/svg+xml``);
- ``GET /api/v1/traces/compare?a=&b=`` — compare two runs; without ``b``, the successful run
  most similar to ``a`` is chosen.
- ``GET /api/v1/decisions?workflow_id=&agent=&since=&until=&limit=`` — the newest decision
  records (``limit`` default 1000), oldest first, ``since`` / ``until`` bounding when decided;
  with ``workflow_id``, also the anomalies of that workflow's decision chain (those involving a
  listed decision); an unknown workflow answers 404;
- ``GET /api/v1/anomalies?agent=&trace_id=&since=&until=&limit=`` — anomalies counted in
  ``agent_anomalies_total`` (detected in ingested traces and decision chains, or reported by
  agents as ``anomaly`` events), newest first, ``since`` / ``until`` bounding when received.

Reading one trace, its diagrams and comparisons cost work in proportion to the trace (the views
are capped: see :mod:`sloguard.analysis.views.tree` and :mod:`sloguard.analysis.compare`); at
most :data:`MAX_CONCURRENT_READS` of them run at once (:class:`ReadLimit`); a few more wait
for a slot, a short while (the page asks for a trace's SVG, Mermaid and comparison at once),
and past that a read answers 503 with ``Retry-After``. Comparison without ``b`` looks at the
newest :data:`~sloguard.analysis.compare.MAX_BASELINES` successful runs.

Bad query values answer 400 naming the parameter (times must be unix seconds from 0 to
:data:`MAX_TIME`, the end of year 9999); unknown trace ids answer 404.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import APIRouter, HTTPException, Query, Response
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel

from sloguard.analysis.anomalies import MAX_TOOL_CALLS, trace_anomalies
from sloguard.analysis.compare import MAX_BASELINES, compare, most_similar_successful
from sloguard.analysis.decisions import LOW_CONFIDENCE, find_anomalies
from sloguard.analysis.views.mermaid import sequence_diagram
from sloguard.analysis.views.svg import sequence_svg
from sloguard.analysis.views.tree import text_tree
from sloguard.ingest.anomalywatch import CHAIN_LIMIT
from sloguard.sdk.trace import ResponseTrace
from sloguard.tracestore.base import TraceStore
from sloguard.tracestore.model import STATUSES

MAX_LIMIT = 1000
#: The latest time a query may name: 9999-12-31T23:59:59Z (what a datetime holds; in
#: microseconds, what the store compares decision times in, it fits a 64-bit integer).
MAX_TIME = 253_402_300_799.0
#: Expensive reads (a trace, its diagrams, a comparison) answered at once by default.
MAX_CONCURRENT_READS = 2
#: Reads that may wait for a slot, and for how long (seconds), before a 503.
MAX_WAITING_READS = 4
READ_WAIT = 5.0


class ReadLimit:
    """At most ``slots`` expensive reads at once; up to ``waiting`` more wait ``wait`` seconds
    for a slot; any other is refused with 503 + Retry-After.

    Example::

        reads = ReadLimit(2)
        with reads.slot():   # raises HTTPException(503) when no slot came free in time
            ...
    """

    def __init__(
        self,
        slots: int = MAX_CONCURRENT_READS,
        *,
        waiting: int = MAX_WAITING_READS,
        wait: float = READ_WAIT,
        retry_after: int = 1,
    ) -> None:
        if slots < 1 or retry_after < 1 or waiting < 0 or not wait >= 0:
            raise ValueError(
                "slots and retry_after must be >= 1, waiting and wait >= 0, got "
                f"{slots}, {retry_after}, {waiting}, {wait}"
            )
        self.slots = slots
        self.waiting = waiting
        self.wait = wait
        self.retry_after = retry_after
        self._free = threading.BoundedSemaphore(slots)
        self._lock = threading.Lock()
        self._queued = 0

    def try_acquire(self) -> bool:
        """Take a slot if one is free (never waits)."""
        return self._free.acquire(blocking=False)

    def release(self) -> None:
        """Give back a slot taken with :meth:`try_acquire`."""
        self._free.release()

    def _acquire(self) -> bool:
        if self.try_acquire():
            return True
        with self._lock:
            if self._queued >= self.waiting:
                return False
            self._queued += 1
        try:
            return self._free.acquire(timeout=self.wait)
        finally:
            with self._lock:
                self._queued -= 1

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the block; 503 with ``Retry-After`` when none came free in time."""
        if not self._acquire():
            raise HTTPException(
                503,
                f"busy: {self.slots} trace reads already running, try again shortly",
                headers={"Retry-After": str(self.retry_after)},
            )
        try:
            yield
        finally:
            self.release()


def _time(name: str, value: str | None) -> float | None:
    if value is None:
        return None
    try:
        t = float(value)
    except ValueError:
        t = math.nan
    if not 0 <= t <= MAX_TIME:  # NaN and infinities too
        raise HTTPException(
            400,
            f"query parameter {name} must be unix seconds from 0 to {MAX_TIME:.0f}, got {value!r}",
        )
    return t


def _limit(value: str | None, default: int = 50) -> int:
    if value is None:
        return default
    try:
        n = int(value)
    except ValueError:
        n = 0
    if not 1 <= n <= MAX_LIMIT:
        raise HTTPException(
            400, f"query parameter limit must be an integer from 1 to {MAX_LIMIT}, got {value!r}"
        )
    return n


def trace_detail(trace: ResponseTrace, *, max_tool_calls: int = MAX_TOOL_CALLS) -> dict[str, Any]:
    """Return a trace with its text tree and anomalies (the body of ``GET …/traces/{id}``)."""
    return {
        "trace": trace.as_dict(),
        "tree": text_tree(trace),
        "anomalies": [a.as_dict() for a in trace_anomalies(trace, max_tool_calls=max_tool_calls)],
    }


def decision_detail(
    store: TraceStore,
    workflow_id: str,
    *,
    agent: str | None = None,
    since: float | None = None,
    until: float | None = None,
    limit: int = MAX_LIMIT,
    low_confidence: float = LOW_CONFIDENCE,
    max_tool_calls: int = MAX_TOOL_CALLS,
) -> dict[str, Any]:
    """Return a workflow's decisions (filtered; the newest ``limit``, oldest first) and the
    anomalies of its chain.

    The anomalies are found on the workflow's chain, unfiltered (a loop needs every handoff of
    it; the newest :data:`~sloguard.ingest.anomalywatch.CHAIN_LIMIT` records); those involving at
    least
    one listed decision are returned. Raises :class:`LookupError` when the workflow has no
    stored decisions.
    """
    chain = store.decisions(workflow_id=workflow_id, limit=CHAIN_LIMIT)
    if not chain:
        raise LookupError(f"no stored decisions for workflow {workflow_id!r}")
    if agent is None and since is None and until is None:
        listed = chain[-limit:]
    else:
        listed = store.decisions(
            workflow_id=workflow_id, agent=agent, since=since, until=until, limit=limit
        )
    shown = set(listed)
    found = find_anomalies(chain, low_confidence=low_confidence, max_tool_calls=max_tool_calls)
    return {
        "workflow_id": workflow_id,
        "decisions": [d.as_dict() for d in listed],
        "anomalies": [a.as_dict() for a in found if any(d in shown for d in a.decisions)],
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
    base = most_similar_successful(run_a, store.successful(limit=MAX_BASELINES))
    if base is None:
        raise LookupError(f"no successful stored trace to compare {a!r} with")
    return {"baseline": base.trace.trace_id, "automatic": True, **base.comparison.as_dict()}


class _Detail(BaseModel):
    """The body of a refused read: what is wrong."""

    detail: str


_DETAIL_JSON = {"application/json": {"schema": _Detail.model_json_schema()}}
#: What every read of this router may answer besides 200 (and FastAPI's own 422); always JSON,
#: also on the routes whose 200 is text (Mermaid) or SVG.
_ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"content": _DETAIL_JSON, "description": "a query parameter out of range (named)"},
    404: {"content": _DETAIL_JSON, "description": "no such trace or workflow"},
    503: {"content": _DETAIL_JSON, "description": "too many expensive reads at once (Retry-After)"},
}


def traces_router(
    store: TraceStore,
    *,
    low_confidence: float = LOW_CONFIDENCE,
    max_tool_calls: int = MAX_TOOL_CALLS,
    reads: ReadLimit | None = None,
) -> APIRouter:
    """Routes answering from ``store``; anomalies are found with the given thresholds;
    ``reads`` bounds the expensive reads running at once (default :class:`ReadLimit`)."""
    router = APIRouter(prefix="/api/v1", tags=["traces"], responses=_ERRORS)
    _add_trace_routes(router, store, reads or ReadLimit(), max_tool_calls=max_tool_calls)
    _add_decision_routes(
        router, store, low_confidence=low_confidence, max_tool_calls=max_tool_calls
    )
    return router


def _stored(store: TraceStore, trace_id: str) -> ResponseTrace:
    """The stored trace ``trace_id``; 404 if there is none."""
    trace = store.get(trace_id)
    if trace is None:
        raise HTTPException(404, f"no stored trace with id {trace_id!r}")
    return trace


def _add_trace_routes(
    router: APIRouter, store: TraceStore, reads: ReadLimit, *, max_tool_calls: int
) -> None:
    """``/traces``: list, compare, one trace, its diagram as Mermaid text and as SVG."""

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

    # before /traces/{trace_id}, which would take "compare" for an id
    @router.get("/traces/compare")
    def compare_traces(
        a: str = Query(..., description="the run to explain (typically a failed one)"),
        b: str | None = Query(None, description="the run to compare with (default: chosen)"),
    ) -> dict[str, Any]:
        try:
            with reads.slot():
                return comparison(store, a, b)
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get("/traces/{trace_id}")
    def get_trace(trace_id: str) -> dict[str, Any]:
        with reads.slot():
            trace = store.get(trace_id)
            summary = store.summary(trace_id)
            if trace is None or summary is None:
                raise HTTPException(404, f"no stored trace with id {trace_id!r}")
            detail = trace_detail(trace, max_tool_calls=max_tool_calls)
            return {"summary": summary.as_dict(), **detail}

    @router.get("/traces/{trace_id}/mermaid", response_class=PlainTextResponse)
    def get_mermaid(trace_id: str) -> PlainTextResponse:
        with reads.slot():
            return PlainTextResponse(sequence_diagram(_stored(store, trace_id)))

    @router.get("/traces/{trace_id}/svg", response_class=Response)
    def get_svg(trace_id: str) -> Response:
        """The sequence diagram drawn as SVG (what the web page shows)."""
        with reads.slot():
            return Response(sequence_svg(_stored(store, trace_id)), media_type="image/svg+xml")


def _add_decision_routes(
    router: APIRouter, store: TraceStore, *, low_confidence: float, max_tool_calls: int
) -> None:
    """``/decisions`` (a workflow's chain with its anomalies) and ``/anomalies``."""

    @router.get("/decisions")
    def list_decisions(
        workflow_id: str | None = Query(None, description="one workflow's chain, with anomalies"),
        agent: str | None = Query(None, description="only decisions of this agent"),
        since: str | None = Query(None, description="decided at or after (unix seconds)"),
        until: str | None = Query(None, description="decided before (unix seconds)"),
        limit: str | None = Query(None, description=f"at most this many, 1..{MAX_LIMIT} (1000)"),
    ) -> dict[str, Any]:
        start, end = _time("since", since), _time("until", until)
        n = _limit(limit, MAX_LIMIT)
        if workflow_id is None:
            found = store.decisions(agent=agent, since=start, until=end, limit=n)
            return {"decisions": [d.as_dict() for d in found]}
        try:
            return decision_detail(
                store,
                workflow_id,
                agent=agent,
                since=start,
                until=end,
                limit=n,
                low_confidence=low_confidence,
                max_tool_calls=max_tool_calls,
            )
        except LookupError as exc:
            raise HTTPException(404, str(exc)) from None

    @router.get("/anomalies")
    def list_anomalies(
        agent: str | None = Query(None, description="only anomalies of this agent"),
        trace_id: str | None = Query(None, description="only anomalies found in this trace"),
        since: str | None = Query(None, description="received at or after (unix seconds)"),
        until: str | None = Query(None, description="received before (unix seconds)"),
        limit: str | None = Query(None, description=f"at most this many, 1..{MAX_LIMIT} (50)"),
    ) -> dict[str, Any]:
        found = store.events(
            type="anomaly",
            agent=agent,
            trace_id=trace_id,
            since=_time("since", since),
            until=_time("until", until),
            limit=_limit(limit),
        )
        return {"anomalies": found}
