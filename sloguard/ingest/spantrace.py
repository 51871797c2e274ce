"""OTLP spans as sloguard traces, for the trace store (``sloguard trace``, ``/api/v1/traces``).

:func:`span_traces` turns the spans of a committed OTLP batch, grouped by trace id, into
:class:`~sloguard.sdk.trace.ResponseTrace` objects, one step per span that means something to
an agent system, read the way the metrics read it (:mod:`.spanmap`):

=============  ================================================================================
span           step
=============  ================================================================================
agent          AGENT step named after the agent, with its own model, tokens and cost
tool           TOOL step named after the tool
workflow       HOST step named after the workflow
inference      no step: its model, tokens and cost go to the nearest agent step above it (else
               the nearest workflow step), as the SDK's ``add_usage`` does; when the agent span
               reports the tokens itself, or no such step is in the batch, to none
other          no step (HTTP and database spans, the caller's view of a remote call): the steps
               below it hang from the nearest step above it
=============  ================================================================================

Times, latency and the error (status error or ``error.type``: the step fails, with the error
type and the status message) come from the span; the cost is the one the metrics recorded
(priced from the table when the span gave none). Span attributes are not kept: they may carry
prompts, and the store keeps what debugging needs. Steps are built as flat trace JSON and read
by :func:`~sloguard.sdk.traceparse.parse_trace`, the one parser of traces.

Spans of one trace often arrive in several requests (an exporter sends what has ended). A step
whose parent is not in the batch keeps its parent's span id, and :class:`SpanTraceWriter` merges
each new trace with the one stored under its id (steps by id, the newer wins), so the tree
completes as batches arrive. Two requests of the same trace stored at the same moment are
serialized by the writer's lock, in one process.

Example::

    writer = SpanTraceWriter(store, watch.store_traces)
    writer.write([mapping], now=time.time())      # after the batch was committed
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Final, Protocol

import structlog

from sloguard import conventions as c
from sloguard.conventions import CallType
from sloguard.ingest.semconv import Role
from sloguard.ingest.spanmap import SpanKey, SpanMapping
from sloguard.sdk.trace import ResponseTrace, parse_trace
from sloguard.sdk.traceparse import resolve_scopes

__all__ = ["SpanTraceWriter", "merge_traces", "span_traces"]

log = structlog.get_logger(__name__)

_STEP_TYPES: Final = {
    Role.AGENT: CallType.AGENT,
    Role.TOOL: CallType.TOOL,
    Role.WORKFLOW: CallType.HOST,
}
_USAGE: Final = ("input_tokens", "output_tokens", "total_tokens", "cost")


def _add(step: dict[str, Any], mapping: SpanMapping, key: SpanKey) -> None:
    """Add the usage of span ``key`` to a step being built (several calls accumulate).

    The total is the span's own, else input + output (as ``TraceRecord.add_usage`` adds it).
    """
    m = mapping.meanings[key]
    i, o, t = m.input_tokens, m.output_tokens, m.total_tokens
    if t is None and (i is not None or o is not None):
        t = (i or 0) + (o or 0)
    for field, value in zip(_USAGE, (i, o, t, mapping.cost(key)), strict=True):
        if value is not None:
            step[field] = (step.get(field) or 0) + value
    if m.model is not None:
        step["model"] = m.model


def _error(mapping: SpanMapping, key: SpanKey) -> tuple[str | None, str | None]:
    """(error, error type) of a failed span, else (None, None)."""
    if not mapping.meanings[key].failed:
        return None, None
    span = mapping.spans[key]
    kind = span.attributes.get(c.ERROR_TYPE)
    kind = str(kind) if kind not in (None, "") else None
    message = span.status_message or None
    text = f"{kind}: {message}" if kind and message else kind or message or "error"
    return text, kind or "error"


def _parent_step(mapping: SpanMapping, key: SpanKey, steps: dict[SpanKey, Any]) -> str | None:
    """The nearest step above ``key``: through spans that are no step, to the batch's edge."""
    span = mapping.spans[key]
    hops = 0
    while span.parent_span_id is not None and hops < 1024:
        parent = (span.trace_id, span.parent_span_id)
        if parent in steps or parent not in mapping.spans:
            return span.parent_span_id  # a step here, or (maybe) one in another batch
        span, hops = mapping.spans[parent], hops + 1
    return None


def _step_json(step: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    for field, key in (
        ("model", c.GEN_AI_REQUEST_MODEL),
        ("input_tokens", c.GEN_AI_INPUT_TOKENS),
        ("output_tokens", c.GEN_AI_OUTPUT_TOKENS),
        ("error_type", c.ERROR_TYPE),
    ):
        value = step.pop(field, None)
        if value is not None:
            attributes[key] = value
    step["additional_attributes"] = attributes
    return step


def span_traces(mapping: SpanMapping) -> list[ResponseTrace]:
    """Return the traces of a mapped batch, one per trace id (see the module table)."""
    steps: dict[SpanKey, dict[str, Any]] = {}
    for key, m in mapping.meanings.items():
        call_type = _STEP_TYPES.get(m.role)
        if call_type is None:
            continue
        span = mapping.spans[key]
        error, error_type = _error(mapping, key)
        step: dict[str, Any] = {
            "step_id": span.span_id,
            "trace_id": span.trace_id,
            "call_type": call_type.value,
            "name": m.name or c.UNKNOWN_VALUE,
            "start_time": span.start_ns / 1e9,
            "end_time": span.end_ns / 1e9,
            "latency": (span.end_ns - span.start_ns) / 1e6,
            "error": error,
            "error_type": error_type,
        }
        _add(step, mapping, key)
        steps[key] = step
    for key, m in mapping.meanings.items():
        if m.role is Role.INFERENCE and m.has_usage and mapping.counts_usage(key):
            above = mapping.above(key)
            owner = above.agent or above.workflow
            if owner is not None and owner in steps:
                _add(steps[owner], mapping, key)
    by_trace: dict[str, list[dict[str, Any]]] = {}
    for key in sorted(steps, key=lambda k: mapping.spans[k].end_ns):  # in completion order
        step = steps[key]
        step["parent_step_id"] = _parent_step(mapping, key, steps)
        by_trace.setdefault(key[0], []).append(_step_json(step))
    return [
        parse_trace({"trace_id": trace_id, "steps": flat}, max_steps=len(flat))
        for trace_id, flat in by_trace.items()
    ]


def merge_traces(stored: ResponseTrace | None, new: ResponseTrace) -> ResponseTrace:
    """Return ``new`` with the steps of ``stored`` it does not have (same id: ``new`` wins).

    Steps are ordered by end time; each step's enclosing agent and host are resolved again, as
    a step may now hang under a step of the other batch.
    """
    if stored is None:
        return new
    ids = {s.step_id for s in new.steps}
    steps = [s for s in stored.steps if s.step_id not in ids] + new.steps
    steps.sort(key=lambda s: s.end_time or s.start_time)
    merged = ResponseTrace(new.trace_id, steps)
    for s in steps:
        s.trace = merged
    resolve_scopes(merged)
    return merged


class _Stored(Protocol):
    def get(self, trace_id: str) -> ResponseTrace | None: ...


#: Store committed traces (``AnomalyWatch.store_traces``): the traces, the time, and what was
#: stored under their ids before (read here already, so the store is not read twice).
StoreFn = Callable[[Sequence[ResponseTrace], float, Mapping[str, ResponseTrace | None]], object]


class SpanTraceWriter:
    """Store the traces of committed OTLP batches, merged with what is stored under their ids."""

    def __init__(self, store: _Stored, put: StoreFn) -> None:
        self._store = store
        self._put = put
        self._lock = threading.Lock()

    def write(self, mappings: Sequence[SpanMapping], now: float) -> list[ResponseTrace]:
        """Build, merge and store the traces of ``mappings``; return what was stored.

        A failure is logged, not raised: the batch's metrics are recorded already, and failing
        the request would only make the exporter send it again.
        """
        try:
            traces = [t for m in mappings for t in span_traces(m)]
            if not traces:
                return []
            with self._lock:  # read-merge-write of one trace id at a time
                before: dict[str, ResponseTrace | None] = {}
                current: dict[str, ResponseTrace] = {}
                for t in traces:  # traces of one id in several mappings merge in order
                    if t.trace_id not in before:
                        before[t.trace_id] = self._store.get(t.trace_id)
                    base = current.get(t.trace_id, before[t.trace_id])
                    current[t.trace_id] = merge_traces(base, t)
                merged = list(current.values())
                self._put(merged, now, before)
        except Exception:
            log.exception("storing OTLP traces failed", spans=sum(len(m.spans) for m in mappings))
            return []
        return merged
