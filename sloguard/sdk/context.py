"""Context variables for the current trace and step (async-safe: each task has its own copy)."""

from __future__ import annotations

from sloguard.sdk.trace import ResponseTrace, TraceRecord, current_step_var, current_trace_var

__all__ = ["current_ids", "current_step", "current_step_var", "current_trace", "current_trace_var"]


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
