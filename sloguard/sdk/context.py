"""Context variables for the current trace and step (async-safe: each task has its own copy)."""

from __future__ import annotations

from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sloguard.sdk.trace import ResponseTrace, TraceRecord

current_step_var: ContextVar[TraceRecord | None] = ContextVar("sloguard_step", default=None)
current_trace_var: ContextVar[ResponseTrace | None] = ContextVar("sloguard_trace", default=None)


def current_step() -> TraceRecord | None:
    """Return the innermost open step of this context, if any."""
    return current_step_var.get()


def current_trace() -> ResponseTrace | None:
    """Return the trace of this context: the current step's, else the one set by a workflow."""
    step = current_step_var.get()
    if step is not None and step.trace is not None:
        return step.trace
    return current_trace_var.get()


def current_ids() -> tuple[str | None, str | None]:
    """Return (trace_id, step_id) of this context, for log lines."""
    step = current_step_var.get()
    if step is not None:
        return step.trace_id, step.step_id
    trace = current_trace_var.get()
    return (trace.trace_id if trace is not None else None), None
