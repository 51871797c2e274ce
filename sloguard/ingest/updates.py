"""The metric updates a span mapping produces: one named tuple per recorder call (pure).

Updates are named tuples (immutable, and built at a third of a frozen dataclass's cost, one or
two per span); their field counts differ, so no two kinds ever compare equal.
"""

from __future__ import annotations

from typing import NamedTuple

from sloguard import conventions as c

__all__ = ["AgentCall", "Handoff", "ToolCall", "Update", "Usage", "WorkflowRun", "add_usage"]


class AgentCall(NamedTuple):
    """One finished agent invocation (see :meth:`Recorder.agent_call`)."""

    agent: str
    status: c.Status
    duration: float
    model: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None
    trace_id: str | None = None


class ToolCall(NamedTuple):
    """One finished tool call of ``agent`` (see :meth:`Recorder.tool_call`)."""

    agent: str
    tool: str
    status: c.Status
    duration: float
    trace_id: str | None = None


class Usage(NamedTuple):
    """Tokens and cost of ``agent`` on ``model`` (see :meth:`Recorder.usage`)."""

    agent: str
    model: str | None
    input_tokens: int | None = None
    output_tokens: int | None = None
    total_tokens: int | None = None
    cost: float | None = None


class Handoff(NamedTuple):
    """One handoff from ``source`` to ``target`` (see :meth:`Recorder.handoff`)."""

    source: str
    target: str


class WorkflowRun(NamedTuple):
    """One end-to-end run: a trace's root (see :meth:`Recorder.workflow_run`)."""

    workflow: str
    status: c.Status
    duration: float
    cost: float | None
    tokens: int | None
    trace_id: str
    workflow_flag: None = None  # six fields: never equal to an update of another kind


Update = AgentCall | ToolCall | Usage | Handoff | WorkflowRun


def add_usage(totals: list[float | None], u: AgentCall | Usage) -> None:
    """Add ``u``'s cost and tokens (input + output, else the total) to ``[cost, tokens]``."""
    if u.cost is not None:
        totals[0] = (totals[0] or 0.0) + u.cost
    i, o, t = u.input_tokens, u.output_tokens, u.total_tokens
    n = (i or 0) + (o or 0) if i is not None or o is not None else t
    if n is not None:
        totals[1] = (totals[1] or 0) + n
