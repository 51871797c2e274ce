"""OTLP/HTTP trace ingest: decode a request, map its spans to metric updates, record them.

The router calls :meth:`~sloguard.ingest.intake.Intake.handle_otlp`, which runs the three steps
below and answers with :func:`export_response` on success (HTTP 200, same content type as the
request), or with a 4xx naming every problem. A batch with a problem records nothing.

The steps live in their own modules, so each can be tested alone:

- :mod:`.otlpwire` — :func:`parse_otlp` decodes protobuf or JSON into
  :class:`~sloguard.ingest.semconv.SpanRecord` values; :func:`export_response` answers;
- :mod:`.spanmap` — :func:`map_spans` / :class:`~sloguard.ingest.spanmap.SpanMapping` (pure)
  turn each trace's span tree into updates (agent and tool calls, usage, handoffs);
- this module — :func:`apply` checks every update, then records them all;
- :mod:`.spantrace` — the same spans as sloguard traces, for the trace store.

:func:`handle_otlp` chains them for callers that need no more (tests, embedding).

Example::

    accepted, problems = handle_otlp(recorder, body, request.headers["content-type"])
    if problems:
        return JSONResponse({"problems": list(problems)}, status_code=400)
    content, media_type = export_response(request.headers["content-type"])
    return Response(content, media_type=media_type)
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

from sloguard import conventions as c
from sloguard.errors import InvalidRecord
from sloguard.ingest.otlpwire import (
    JSON,
    MAX_PROBLEMS,
    PROTOBUF,
    InvalidOtlp,
    export_response,
    media_type,
    parse_otlp,
)
from sloguard.ingest.spanmap import (
    AgentCall,
    Handoff,
    PriceFn,
    ToolCall,
    Update,
    Usage,
    WorkflowRun,
    map_spans,
)
from sloguard.sdk.arguments import split_tokens
from sloguard.sdk.recorder import Recorder

__all__ = [
    "JSON",
    "MAX_PROBLEMS",
    "PROTOBUF",
    "AgentCall",
    "Handoff",
    "InvalidOtlp",
    "OtlpResult",
    "PriceFn",
    "ToolCall",
    "Update",
    "Usage",
    "WorkflowRun",
    "apply",
    "export_response",
    "handle_otlp",
    "map_spans",
    "media_type",
    "parse_otlp",
    "record_update",
]

_STATUSES = frozenset(c.Status)


class OtlpResult(NamedTuple):
    """What :func:`handle_otlp` did: spans accepted, or the problems (then nothing recorded)."""

    accepted_spans: int
    problems: tuple[str, ...]


# --- checking: the recorder's rules, without touching a metric -------------------------------
def _check_name(problems: list[str], field: str, value: object) -> None:
    if not isinstance(value, str) or not value:
        problems.append(f"{field} must be a non-empty string, got {value!r}")


def _check_number(problems: list[str], field: str, value: object) -> None:
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float):
        ok = False
    else:
        ok = math.isfinite(value) and value >= 0
    if not ok:
        problems.append(f"{field} must be a finite number >= 0, got {value!r}")


def _check_tokens(problems: list[str], update: AgentCall | Usage) -> None:
    try:
        split_tokens(update.input_tokens, update.output_tokens, update.total_tokens)
    except InvalidRecord as exc:
        problems.append(str(exc))


def _problems(index: int, update: Update) -> list[str]:
    """Check ``update`` the way :class:`Recorder` does, without touching a metric."""
    found: list[str] = []
    if isinstance(update, Handoff):
        _check_name(found, "source", update.source)
        _check_name(found, "target", update.target)
    elif isinstance(update, WorkflowRun):
        _check_name(found, "workflow", update.workflow)
        _check_number(found, "duration", update.duration)
        _check_number(found, "cost", update.cost)
    else:
        _check_name(found, "agent", update.agent)
        if isinstance(update, ToolCall):
            _check_name(found, "tool", update.tool)
        if isinstance(update, AgentCall | ToolCall):
            if update.status not in _STATUSES:
                found.append(f"status must be success or error, got {update.status!r}")
            _check_number(found, "duration", update.duration)
        if isinstance(update, AgentCall | Usage):
            _check_tokens(found, update)
            _check_number(found, "cost", update.cost)
            if update.model is not None:
                _check_name(found, "model", update.model)
    if not found:
        return found
    where = f"update {index} ({type(update).__name__})"  # only for an answer: built lazily
    return [f"{where}: {p}" for p in found]


# --- recording -----------------------------------------------------------------------------------
def record_update(recorder: Recorder, update: Update) -> None:
    """Make the one recorder call of ``update``."""
    if isinstance(update, AgentCall):
        recorder.agent_call(
            update.agent,
            update.status,
            update.duration,
            model=update.model,
            input_tokens=update.input_tokens,
            output_tokens=update.output_tokens,
            total_tokens=update.total_tokens,
            cost=update.cost,
            trace_id=update.trace_id,
        )
    elif isinstance(update, ToolCall):
        recorder.tool_call(
            update.agent, update.tool, update.status, update.duration, trace_id=update.trace_id
        )
    elif isinstance(update, Usage):
        recorder.usage(
            update.agent,
            update.model,
            input_tokens=update.input_tokens,
            output_tokens=update.output_tokens,
            total_tokens=update.total_tokens,
            cost=update.cost,
        )
    elif isinstance(update, WorkflowRun):
        recorder.workflow_run(
            update.workflow,
            update.status,
            update.duration,
            cost=update.cost,
            tokens=update.tokens,
            trace_id=update.trace_id,
        )
    else:
        recorder.handoff(update.source, update.target)


def apply(recorder: Recorder, updates: Sequence[Update]) -> None:
    """Record ``updates`` after checking all of them; raise :class:`InvalidOtlp` if any is bad.

    A batch with a problem records nothing.
    """
    problems = [p for i, u in enumerate(updates) for p in _problems(i, u)]
    if problems:
        raise InvalidOtlp(problems)
    for update in updates:
        record_update(recorder, update)


def handle_otlp(
    recorder: Recorder, body: bytes, content_type: str, *, price: PriceFn | None = None
) -> OtlpResult:
    """Decode, map and record one OTLP/HTTP traces request; never raises for bad input.

    Returns ``(accepted_spans, ())`` when the batch was recorded, ``(0, problems)`` when it
    was rejected (nothing recorded). An unsupported content type is one of the problems; check
    :func:`media_type` first to answer it with 415.
    """
    try:
        spans = parse_otlp(body, content_type)
        apply(recorder, map_spans(spans, price=price))
    except InvalidOtlp as exc:
        return OtlpResult(0, exc.problems)
    return OtlpResult(len(spans), ())
